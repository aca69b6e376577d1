"""What weighing the BG/NBD forecast in the churn calibration costs (run by hand).

    python benchmarks/bgnbd_calibration.py [--customers 1000000]

On the synthetic retailer: the time to fit the churn model with and without
``bgnbd_in_calibration`` on the demo backtest snapshots (the BG/NBD is fitted
on the validation rows, at most 200,000 of them), and the time to score
churn probabilities for ``--customers`` rows (the 20,000-customer test rows
repeated) with each calibration (the faster of two runs).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from _demo_backtest import demo_churn_backtest

from tierwise.models import history_from_features
from tierwise.training import churn_metrics
from tierwise.training._backtest import _fit_churn
from tierwise.training._btyd import fit_bgnbd


def _seconds(work, *args) -> float:
    began = time.perf_counter()
    work(*args)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="rows to score with each calibration")
    args = parser.parse_args()

    backtest = demo_churn_backtest()
    config, builder, columns, plan, test = (
        backtest.config, backtest.builder, backtest.columns, backtest.plan, backtest.test
    )
    builder.stacked(plan.train, builder.churn_rows)  # build every snapshot before the clocks start
    builder.churn_rows(plan.validation)
    repeated = pd.concat([test[columns]] * -(-args.customers // len(test)), ignore_index=True).head(args.customers)

    history = history_from_features(repeated.head(200_000))
    print(f"BG/NBD fit on {len(history):,} rows: {_seconds(fit_bgnbd, history):.1f} s")
    print(f"{'calibration':<30} {'fit s':>6} {'ROC AUC':>8} {'Brier':>7} {'score s per ' + format(len(repeated), ','):>18}")
    for label, weigh in (("Platt", False), ("Platt + BG/NBD forecast", True)):
        churn_model = config.training.churn_model.model_copy(update={"bgnbd_in_calibration": weigh})
        began = time.perf_counter()
        model, _ = _fit_churn(builder, plan, columns, config.training.model_copy(update={"churn_model": churn_model}))
        fitted = time.perf_counter() - began
        metrics = churn_metrics(test["lapsed"], model.predict_proba(test[columns])[:, 1], is_probability=True)
        scored = min(_seconds(model.predict_proba, repeated) for _ in range(2))
        print(f"{label:<30} {fitted:>6.1f} {metrics['roc_auc']:>8.4f} {metrics['brier']:>7.4f} {scored:>18.1f}")


if __name__ == "__main__":
    main()
