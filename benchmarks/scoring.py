"""End-to-end scoring speed and memory at scale (not a test: run it by hand).

    python benchmarks/scoring.py --customers 1000000 --transactions 10000000 --events 10000000 --reasons 100000

Trains both models on the 20,000-customer demo retailer (not timed), writes
synthetic Parquet inputs of the given size, then times in one fresh process:
reading and validating the inputs, building features, both predictions, tiers,
exact SHAP reasons for the top of the outreach list, and writing
scores.parquet and the CRM export (outreach list CSV and Parquet, manifest).
Peak memory is that process's own.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _process import measure_in_fresh_process, peak_rss_gib, print_figures
from features import write_inputs  # benchmarks/features.py

from tierwise.config import DataConfig, EventsSource, TierwiseConfig, TransactionsSource, demo_config


def _config(folder: Path, reasons: int) -> TierwiseConfig:
    return TierwiseConfig(
        data=DataConfig(
            transactions=TransactionsSource(path=str(folder / "transactions.parquet")),
            events=EventsSource(path=str(folder / "events.parquet")),
        ),
        features=demo_config("unused").features,
        scoring={"reasons_top_n": reasons, "staleness_limit_days": 10_000},
    )


def _models(scoring_config: TierwiseConfig):
    """The three models trained on the demo retailer, without its customer table (the big inputs have none).

    They are declared trained for the benchmark's data source: the big inputs are
    the demo's kind of data under other column mappings, scored on purpose.
    """
    from tierwise.inference import ScoringModels
    from tierwise.inputs import inputs_from_frames
    from tierwise.synthetic import generate_demo_data
    from tierwise.training import data_source_metadata, train_models

    demo = generate_demo_data(20_000, seed=7)
    config = demo_config("unused")
    inputs = inputs_from_frames(demo.transactions, events=demo.events, data=config.data, features=config.features)
    trained = train_models(inputs, features=config.features, training=config.training)
    metadata = {"churn_horizon_days": config.training.churn_horizon_days,
                "active_lookback_days": config.training.active_lookback_days,
                "value_horizon_days": trained.value_plan.horizon_days, **data_source_metadata(scoring_config)}
    return ScoringModels(trained.churn, trained.value, trained.retained_value, metadata, "benchmark"), trained


def measure(folder: Path, reasons: int) -> dict:
    from tierwise.inference import EXPORT_SCHEMA_VERSION, build_outreach_list, export_terms, score_customers
    from tierwise.io import read_config_inputs, write_export

    config = _config(folder, reasons)
    models, trained = _models(config)
    began = time.perf_counter()
    inputs = read_config_inputs(config)
    loaded = time.perf_counter()
    scores = score_customers(inputs, as_of="2026-01-01", config=config, models=models)
    scored = time.perf_counter()
    outreach = build_outreach_list(scores, config.outreach)
    write_export(outreach, folder / "out", scores=scores, schema_version=EXPORT_SCHEMA_VERSION,
                 model_version=models.version, as_of=scores["as_of"].iloc[0], scored_at="benchmark",
                 horizons={"churn_horizon_days": int(models.metadata["churn_horizon_days"]),
                           "value_horizon_days": int(scores["value_horizon_days"].iloc[0])},
                 terms=export_terms(config.outreach, config.export))
    written = time.perf_counter()
    return {
        "customers_scored": len(scores),
        "on_outreach_list": len(outreach),
        "with_reasons": int(scores["reason_1"].notna().sum()),
        "churn_trees": trained.churn.best_iteration_,
        "read_and_validate_s": round(loaded - began, 1),
        "features_predictions_tiers_reasons_s": round(scored - loaded, 1),
        "outreach_list_and_writes_s": round(written - scored, 1),
        "total_s": round(written - began, 1),
        "peak_rss_gib": peak_rss_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--reasons", type=int, default=100_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.reasons)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_inputs(folder, args.customers, args.transactions, args.events)
        figures = measure_in_fresh_process(__file__, str(folder), "--reasons", str(args.reasons))
    print_figures(figures)


if __name__ == "__main__":
    main()
