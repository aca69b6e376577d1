"""What a smaller churn model costs in backtest AUC and saves in SHAP time (run by hand).

    python benchmarks/churn_model_size.py

Backtests churn models of several tree shapes on the 20,000-customer demo
retailer and times exact TreeSHAP (LightGBM pred_contrib) on the test rows.
"""

from __future__ import annotations

import time

from tierwise.config import ChurnModelConfig, demo_config
from tierwise.inference import churn_contributions
from tierwise.inputs import inputs_from_frames
from tierwise.synthetic import generate_demo_data
from tierwise.training import churn_metrics, model_features, plan_snapshots
from tierwise.training._backtest import _fit_churn
from tierwise.training._snapshots import SnapshotBuilder

SHAPES = {
    "63 leaves, no depth limit, 400 rounds": ChurnModelConfig(num_leaves=63, max_depth=-1, max_rounds=400),
    "31 leaves, depth 6, 400 rounds": ChurnModelConfig(num_leaves=31, max_depth=6, max_rounds=400),
    "15 leaves, depth 4, 400 rounds": ChurnModelConfig(num_leaves=15, max_depth=4, max_rounds=400),
    "15 leaves, depth 4, 150 rounds (default)": ChurnModelConfig(),
    "7 leaves, depth 3, 150 rounds": ChurnModelConfig(num_leaves=7, max_depth=3, max_rounds=150),
}


def main() -> None:
    demo = generate_demo_data(20_000, seed=7)
    config = demo_config("unused")
    inputs = inputs_from_frames(
        demo.transactions, events=demo.events, customers=demo.customers, data=config.data, features=config.features
    )
    builder = SnapshotBuilder(inputs, config.features, config.training)
    columns = model_features(inputs, config.features)
    plan = plan_snapshots(inputs, config.training, horizon_days=config.training.churn_horizon_days, for_backtest=True)
    test = builder.churn_rows(plan.test)
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
