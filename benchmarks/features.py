"""Feature-engine speed and memory at scale (not a test: run it by hand).

    python benchmarks/features.py --customers 1000000 --transactions 10000000 --events 10000000

Writes synthetic Parquet inputs to a temporary folder, then measures two steps,
each in a fresh process so that peak memory is the step's own:

- the floor: a bare DuckDB group-by over the same files (per customer, the count,
  sum and latest timestamp of the transactions before as_of, joined with the count
  of events before as_of), fetched into pandas;
- tierwise: reading and validating the inputs (``read_inputs``) and building the
  point-in-time features (``build_features``).

Prints wall time and peak resident memory of each, and tierwise's time as a
multiple of the floor (the target is 3x at most), so that the load of the
machine at the time cancels out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _process import measure_in_fresh_process, peak_rss_gib, print_figures


def write_inputs(folder: Path, customers: int, transactions: int, events: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.arange(customers).astype(str))
    start = np.datetime64("2023-01-01T00:00:00", "s")
    span_s = 3 * 365 * 86_400
    # Skewed activity: a few customers own most of the rows.
    weights = rng.gamma(0.8, 1.0, customers)
    weights /= weights.sum()
    who = rng.choice(customers, transactions, p=weights)
    pd.DataFrame(
        {
            "customer_id": ids[who],
            "timestamp": start + rng.integers(0, span_s, transactions).astype("timedelta64[s]"),
            "amount": np.round(rng.lognormal(3.5, 0.8, transactions) * np.where(rng.random(transactions) < 0.03, -1, 1), 2),
        }
    ).to_parquet(folder / "transactions.parquet")
    who = rng.choice(customers, events, p=weights)
    types = np.array(["visit", "email_open", "email_click", "complaint", "return", "support_ticket"])
    pd.DataFrame(
        {
            "customer_id": ids[who],
            "timestamp": start + rng.integers(0, span_s, events).astype("timedelta64[s]"),
            "event_type": types[rng.choice(len(types), events, p=[0.5, 0.3, 0.1, 0.03, 0.03, 0.04])],
        }
    ).to_parquet(folder / "events.parquet")


def measure_floor(folder: Path, as_of: str) -> dict:
    import duckdb

    began = time.perf_counter()
    frame = duckdb.connect().execute(
        f"""
        WITH t AS (
          SELECT customer_id, COUNT(*) AS lines, SUM(amount) AS spend, MAX(timestamp) AS last_ts
          FROM read_parquet('{folder / "transactions.parquet"}') WHERE timestamp < TIMESTAMP '{as_of}' GROUP BY customer_id
        ), e AS (
          SELECT customer_id, COUNT(*) AS events
          FROM read_parquet('{folder / "events.parquet"}') WHERE timestamp < TIMESTAMP '{as_of}' GROUP BY customer_id
        )
        SELECT * FROM t FULL OUTER JOIN e USING (customer_id)
        """
    ).df()
    return {"customers_out": len(frame), "total_s": round(time.perf_counter() - began, 2), "peak_rss_gib": peak_rss_gib()}


def measure(folder: Path, as_of: str) -> dict:
    from tierwise.config import DataConfig, EventsSource, TransactionsSource, demo_config
    from tierwise.features import build_features
    from tierwise.io import read_inputs

    data = DataConfig(
        transactions=TransactionsSource(path=str(folder / "transactions.parquet")),
        events=EventsSource(path=str(folder / "events.parquet")),
    )
    features = demo_config("unused").features
    began = time.perf_counter()
    inputs = read_inputs(data, features)
    loaded = time.perf_counter()
    frame = build_features(inputs, as_of=as_of, config=features)
    built = time.perf_counter()
    return {
        "customers_out": len(frame),
        "features": frame.shape[1] - 2,
        "read_and_validate_s": round(loaded - began, 2),
        "build_features_s": round(built - loaded, 2),
        "total_s": round(built - began, 2),
        "peak_rss_gib": peak_rss_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--as-of", default="2025-07-01")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps((measure_floor if args.floor else measure)(args.measure, args.as_of)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        write_inputs(folder, args.customers, args.transactions, args.events)
        print(f"generated inputs in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        floor = measure_in_fresh_process(__file__, str(folder), "--as-of", args.as_of, "--floor")
        figures = measure_in_fresh_process(__file__, str(folder), "--as-of", args.as_of)
    print_figures(
        {
            "customers": args.customers,
            "transactions": args.transactions,
            "events": args.events,
            **{f"floor_{key}": value for key, value in floor.items()},
            **{f"tierwise_{key}": value for key, value in figures.items()},
            "tierwise_over_floor": round(figures["total_s"] / floor["total_s"], 1),
        }
    )


if __name__ == "__main__":
    main()
