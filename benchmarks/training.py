"""Training speed and memory at scale (not a test: run it by hand).

    python benchmarks/training.py --customers 1000000 --snapshots 4

Draws the synthetic retailer with that many customers (events thinned to
--events rows) and writes it as Parquet; then, in a fresh process so that peak
memory is training's own, reads and validates it and fits both models on
--snapshots rolling snapshots plus the validation snapshot, as `tierwise train`
does after its backtest. Prints wall time per step and peak resident memory.
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


def measure(folder: Path, snapshots: int) -> dict:
    from tierwise.training import train_models
    from tierwise.training._snapshots import SnapshotBuilder

    config = demo_config(folder)
    began = time.perf_counter()
    inputs = read_config_inputs(config)
    loaded = time.perf_counter()
    training = TrainingConfig(training_snapshots=snapshots)
    builder = SnapshotBuilder(inputs, config.features, training)
    models = train_models(inputs, features=config.features, training=training, builder=builder)
    trained = time.perf_counter()
    return {
        "transactions": len(inputs.transactions),
        "events": len(inputs.events),
        "churn_training_rows": sum(len(builder.churn_rows(c)) for c in models.churn_plan.train),
        "snapshots": len(models.churn_plan.train),
        "churn_rounds": models.churn.best_iteration_,
        "value_rounds": models.value.best_iteration_,
        "read_and_validate_s": round(loaded - began, 1),
        "features_labels_and_fits_s": round(trained - loaded, 1),
        "peak_rss_gib": peak_rss_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--snapshots", type=int, default=4)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.snapshots)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        demo = generate_demo_data(args.customers, seed=11)
        events = demo.events.sample(n=min(args.events, len(demo.events)), random_state=0).sort_index()
        write_demo_data(DemoData(demo.transactions, events, demo.customers), tmp)
        del demo, events
        figures = measure_in_fresh_process(__file__, tmp, "--snapshots", str(args.snapshots))
    print_figures({"customers": args.customers, **figures})


if __name__ == "__main__":
    main()
