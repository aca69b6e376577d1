"""What a smaller churn model costs in backtest AUC and saves in SHAP time (run by hand).

    python benchmarks/churn_model_size.py

Backtests churn models of several tree shapes on the 20,000-customer demo
retailer and times exact TreeSHAP (LightGBM pred_contrib) on the test rows.
"""

from __future__ import annotations

import time

from _demo_backtest import demo_churn_backtest

from tierwise.config import ChurnModelConfig
from tierwise.inference import churn_contributions
from tierwise.training import churn_metrics
from tierwise.training._backtest import _fit_churn

SHAPES = {
    "63 leaves, no depth limit, 400 rounds": ChurnModelConfig(num_leaves=63, max_depth=-1, max_rounds=400),
    "31 leaves, depth 6, 400 rounds": ChurnModelConfig(num_leaves=31, max_depth=6, max_rounds=400),
    "15 leaves, depth 4, 400 rounds": ChurnModelConfig(num_leaves=15, max_depth=4, max_rounds=400),
    "15 leaves, depth 4, 150 rounds (default)": ChurnModelConfig(),
    "7 leaves, depth 3, 150 rounds": ChurnModelConfig(num_leaves=7, max_depth=3, max_rounds=150),
}


def main() -> None:
    backtest = demo_churn_backtest()
    config, builder, columns, plan, test = (
        backtest.config, backtest.builder, backtest.columns, backtest.plan, backtest.test
    )
    print(f"{'churn model':<42} {'trees':>5} {'ROC AUC':>8} {'PR AUC':>7} {'SHAP rows/s':>12}")
    for label, shape in SHAPES.items():
        training = config.training.model_copy(update={"churn_model": shape})
        model, _ = _fit_churn(builder, plan, columns, training)
        metrics = churn_metrics(test["lapsed"], model.predict_proba(test[columns])[:, 1], is_probability=True)
        began = time.perf_counter()
        churn_contributions(model, test[columns])
        rate = len(test) / (time.perf_counter() - began)
        print(f"{label:<42} {model.best_iteration_:>5} {metrics['roc_auc']:>8.4f} {metrics['pr_auc']:>7.4f} {rate:>12,.0f}")


if __name__ == "__main__":
    main()
