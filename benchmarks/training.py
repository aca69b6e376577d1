"""Training speed and memory at scale (not a test: run it by hand).

    python benchmarks/training.py --customers 1000000 --snapshots 4

Draws the synthetic retailer with that many customers (events thinned to
--events rows), then fits both models on --snapshots rolling snapshots plus
the validation snapshot, as `tierwise train` does after its backtest. Prints
wall time per step and peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import time

from tierwise.config import TrainingConfig, demo_config
from tierwise.inputs import inputs_from_frames
from tierwise.synthetic import generate_demo_data
from tierwise.training import train_models
from tierwise.training._snapshots import SnapshotBuilder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--snapshots", type=int, default=4)
    args = parser.parse_args()

    began = time.perf_counter()
    demo = generate_demo_data(args.customers, seed=11)
    events = demo.events.sample(n=min(args.events, len(demo.events)), random_state=0).sort_index()
    config = demo_config("unused")
    inputs = inputs_from_frames(
        demo.transactions, events=events, customers=demo.customers, data=config.data, features=config.features
    )
    prepared = time.perf_counter()
    training = TrainingConfig(training_snapshots=args.snapshots)
    builder = SnapshotBuilder(inputs, config.features, training)
    models = train_models(inputs, features=config.features, training=training, builder=builder)
    trained = time.perf_counter()
    churn_rows = sum(len(builder.churn_rows(c)) for c in models.churn_plan.train)
    print(f"customers: {args.customers:,}; transactions: {len(inputs.transactions):,}; events: {len(inputs.events):,}")
    print(f"churn training rows: {churn_rows:,} over {len(models.churn_plan.train)} snapshots; "
          f"churn rounds {models.churn.best_iteration_}, value rounds {models.value.best_iteration_}")
    print(f"generate + validate inputs: {prepared - began:.1f} s")
    print(f"features, labels and both fits: {trained - prepared:.1f} s")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
