"""Training speed and memory at scale (not a test: run it by hand).

    python benchmarks/training.py --customers 1000000
    python benchmarks/training.py --customers 300000 --backtest --max-rows-per-snapshot none

Draws the synthetic retailer with that many customers (events thinned to
--events rows) and writes it as Parquet; then, in a fresh process so that peak
memory is training's own, reads and validates it and fits both models on
--snapshots rolling snapshots plus the validation snapshot, as `tierwise train`
does after its backtest, with snapshots sampled to --max-rows-per-snapshot
(default: the config's; `none` keeps every row). With --backtest it also runs
the backtest and prints its churn ROC AUC, to compare sampled with unsampled.
Prints wall time per step and peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _process import measure_in_fresh_process, peak_rss_gib, print_figures

from tierwise.config import TrainingConfig, demo_config
from tierwise.io import read_config_inputs, write_demo_data
from tierwise.synthetic import DemoData, generate_demo_data


def measure(folder: Path, snapshots: int, max_rows: int | None, backtest: bool) -> dict:
    from tierwise.training import run_backtest, train_models
    from tierwise.training._snapshots import SnapshotBuilder

    config = demo_config(folder)
    began = time.perf_counter()
    inputs = read_config_inputs(config)
    loaded = time.perf_counter()
    training = TrainingConfig(training_snapshots=snapshots, max_rows_per_snapshot=max_rows)
    builder = SnapshotBuilder(inputs, config.features, training)
    models = train_models(inputs, features=config.features, training=training, builder=builder)
    trained = time.perf_counter()
    figures = {}
    if backtest:
        result = run_backtest(inputs, features=config.features, training=training, builder=builder)
        figures = {"backtest_churn_roc_auc": round(result.metrics()["churn_model_roc_auc"], 4),
                   "backtest_value_gini": round(result.metrics()["value_model_normalized_gini"], 4),
                   "backtest_s": round(time.perf_counter() - trained, 1)}
    return {
        # Counted in DuckDB: len(inputs.transactions) would copy the tables into pandas and inflate the peak.
        "transactions": inputs.engine.rows("SELECT COUNT(*) FROM transactions")[0][0],
        "events": inputs.engine.rows("SELECT COUNT(*) FROM events")[0][0],
        "churn_training_rows": sum(len(builder.churn_rows(c)) for c in models.churn_plan.train),
        "snapshots": len(models.churn_plan.train),
        "churn_rounds": models.churn.best_iteration_,
        "value_rounds": models.value.best_iteration_,
        "read_and_validate_s": round(loaded - began, 1),
        "features_labels_and_fits_s": round(trained - loaded, 1),
        "sampled_snapshots": len(builder.sampled),
        **figures,
        "peak_rss_gib": peak_rss_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--snapshots", type=int, default=TrainingConfig().training_snapshots)
    parser.add_argument("--max-rows-per-snapshot", default=str(TrainingConfig().max_rows_per_snapshot),
                        help="rows kept per snapshot, or none")
    parser.add_argument("--backtest", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        max_rows = None if args.max_rows_per_snapshot == "none" else int(args.max_rows_per_snapshot)
        print(json.dumps(measure(args.measure, args.snapshots, max_rows, args.backtest)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        demo = generate_demo_data(args.customers, seed=11)
        events = demo.events.sample(n=min(args.events, len(demo.events)), random_state=0).sort_index()
        write_demo_data(DemoData(demo.transactions, events, demo.customers), tmp)
        del demo, events
        options = ["--snapshots", str(args.snapshots), "--max-rows-per-snapshot", args.max_rows_per_snapshot]
        figures = measure_in_fresh_process(__file__, tmp, *options, *(["--backtest"] if args.backtest else []))
    print_figures({"customers": args.customers, **figures})


if __name__ == "__main__":
    main()
