"""Spark (local) against DuckDB on one machine: features and scoring, time and peak memory (run it by hand).

    pip install -e ".[spark,bench]"
    python benchmarks/engines.py --customers 1000000 2000000 4000000

For each size, writes the synthetic Parquet inputs of benchmarks/features.py
(10 transactions and 10 events per customer), then measures each engine in a
fresh process: reading and validating the inputs and building the features
(the engine's own work), then scoring the feature table with models trained
on the demo retailer and writing the CRM export (the same code for both
engines). Peak memory is the largest resident set of the measuring process
and all its children together, sampled every 0.1 s: for Spark that counts
the JVM. It checks that both engines wrote byte-identical feature and score
files; a difference stops the run. ``--no-scoring`` measures features only.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from features import write_inputs  # benchmarks/features.py
from scoring import _config, _models  # benchmarks/scoring.py

AS_OF = "2026-01-01"


class TreeMemory:
    """The peak of the summed resident memory of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.1) -> None:
        self.peak_bytes = 0
        self._process, self._every_s = psutil.Process(pid), every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self._process, *self._process.children(recursive=True)]
                total = 0
                for process in tree:
                    try:
                        total += process.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                self.peak_bytes = max(self.peak_bytes, total)
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self._every_s)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak_bytes / 2**30, 2)


def measure(folder: Path, engine: str, scoring: bool, spark_memory: str) -> dict:
    """In a fresh process: the engine's features, then (with ``scoring``) scores and the export."""
    import pandas as pd

    from tierwise.io import write_parquet

    config = _config(folder, reasons=100_000)
    figures: dict = {"engine": engine}
    began = time.perf_counter()
    if engine == "duckdb":
        from tierwise.features import build_features
        from tierwise.io import read_config_inputs

        inputs = read_config_inputs(config)
        # Asked of DuckDB: inputs.transactions would copy every transaction into pandas and inflate the peak.
        last = inputs.engine.rows("SELECT MAX(ts) FROM transactions")[0][0]
        features = build_features(inputs, as_of=AS_OF, config=config.features)
        del inputs
    else:
        from tierwise.spark import last_transaction, read_spark_inputs, spark_features, spark_session, utc_session

        spark = spark_session(config.spark.model_copy(update={"master": "local[*]", "settings": {
            "spark.driver.memory": spark_memory, "spark.ui.enabled": "false"}}))
        spark.sparkContext.setLogLevel("ERROR")
        started = time.perf_counter()
        figures["jvm_start_s"] = round(started - began, 1)
        with utc_session(spark):
            inputs = read_spark_inputs(spark, config.data, config.features)
            features = spark_features(inputs, as_of=AS_OF, config=config)
            last = last_transaction(inputs)
    built = time.perf_counter()
    write_parquet(features, folder / f"features_{engine}.parquet")
    figures.update(customers=len(features), features_s=round(built - began, 1))
    if scoring:
        from tierwise.inference import EXPORT_SCHEMA_VERSION, build_outreach_list, export_terms, score_feature_table
        from tierwise.io import write_export

        with open(folder / "models.pickle", "rb") as handle:
            models = pickle.load(handle)
        scoring_began = time.perf_counter()
        scores, _ = score_feature_table(features, last_transaction=pd.Timestamp(last), config=config, models=models)
        outreach = build_outreach_list(scores, config.outreach)
        write_export(outreach, folder / f"out_{engine}", scores=scores, schema_version=EXPORT_SCHEMA_VERSION,
                     model_version=models.version, as_of=scores["as_of"].iloc[0], scored_at="benchmark",
                     horizons={"churn_horizon_days": int(models.metadata["churn_horizon_days"]),
                               "value_horizon_days": int(scores["value_horizon_days"].iloc[0])},
                     terms=export_terms(config.outreach, config.export))
        figures["scores_and_export_s"] = round(time.perf_counter() - scoring_began, 1)
    figures["total_s"] = round(time.perf_counter() - began, 1)
    return figures


def _measure_in_fresh_process(folder: Path, engine: str, scoring: bool, spark_memory: str) -> dict:
    command = [sys.executable, __file__, "--measure", str(folder), "--engine", engine, "--spark-memory", spark_memory]
    process = subprocess.Popen([*command, *([] if scoring else ["--no-scoring"])], stdout=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    out, _ = process.communicate()
    peak = memory.stop()
    if process.returncode:
        raise SystemExit(f"{engine} failed with exit code {process.returncode}")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_tree_rss_gib": peak}


def _same_bytes(folder: Path, names: list[str]) -> None:
    for name in names:
        duckdb_file, spark_file = (folder / name.format(engine=e) for e in ("duckdb", "spark"))
        if duckdb_file.read_bytes() != spark_file.read_bytes():
            raise SystemExit(f"the engines wrote different {name.format(engine='*')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--no-scoring", dest="scoring", action="store_false")
    parser.add_argument("--spark-memory", default="8g", help="spark.driver.memory (local mode: the whole JVM heap)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=["duckdb", "spark"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.engine, args.scoring, args.spark_memory)))
        return
    print(f"load before: {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}; {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.scoring:
            began = time.perf_counter()
            models, _ = _models(_config(folder, reasons=100_000))
            with open(folder / "models.pickle", "wb") as handle:
                pickle.dump(models, handle)
            print(f"trained the demo models in {time.perf_counter() - began:.0f} s (not timed)", file=sys.stderr)
        for customers in args.customers:
            began = time.perf_counter()
            write_inputs(folder, customers, 10 * customers, 10 * customers)
            print(f"{customers:,} customers: inputs written in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            for engine in ("duckdb", "spark"):
                figures = {"customers": customers, **_measure_in_fresh_process(folder, engine, args.scoring,
                                                                               args.spark_memory)}
                print(json.dumps(figures), file=sys.stderr)
                rows.append(figures)
            names = ["features_{engine}.parquet"]
            if args.scoring:
                names += [f"out_{{engine}}/{n}" for n in ("scores.parquet", "outreach.csv", "control.csv")]
            _same_bytes(folder, names)
            print(f"{customers:,} customers: both engines wrote identical {', '.join(names)}", file=sys.stderr)
    print(f"load after: {' '.join(f'{x:.2f}' for x in psutil.getloadavg())}", file=sys.stderr)
    columns = ["customers", "engine", "jvm_start_s", "features_s", "scores_and_export_s", "total_s", "peak_tree_rss_gib"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(f"{row[c]:,}" if isinstance(row.get(c), int) else str(row.get(c, "-"))
                                for c in columns) + " |")


if __name__ == "__main__":
    main()
