"""The ``tierwise`` command: a thin shell over the library.

Each command parses its options, calls library functions and prints a short
summary. Errors the user can fix (:class:`TierwiseError`) become one line on
stderr and exit code 2, in :func:`main` alone.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from tierwise.config import TierwiseConfig, demo_config, load_config
from tierwise.errors import TierwiseError
from tierwise.features import build_features, normalize_as_of
from tierwise.inputs import InputData
from tierwise.io import read_config_inputs, write_demo_data, write_parquet
from tierwise.synthetic import generate_demo_data

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Predict who is about to lapse and what each customer is worth, as forward-looking tiers.",
)
console = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")]
SetOption = Annotated[
    Optional[list[str]], typer.Option("--set", help="Override a config key: --set features.order_grouping=line.")
]
TransactionsOption = Annotated[Optional[Path], typer.Option(help="Transactions file; keeps the config's columns and format.")]
EventsOption = Annotated[Optional[Path], typer.Option(help="Engagement events file; keeps the config's columns and format.")]
TuneOption = Annotated[
    int, typer.Option("--tune", min=0, help="Optuna trials per model on the validation snapshot (0: defaults).")
]
CustomersOption = Annotated[Optional[Path], typer.Option(help="Customer table file; keeps the config's columns and format.")]


def _configure(
    config_path: Path, overrides: list[str] | None, transactions, events, customers, tune: int = 0
) -> TierwiseConfig:
    config = load_config(config_path, [*(overrides or []), *([f"training.tuning_trials={tune}"] if tune else [])])
    return config.with_paths(transactions=transactions, events=events, customers=customers)


def _read_inputs(config: TierwiseConfig) -> InputData:
    inputs = read_config_inputs(config)
    for warning in inputs.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    return inputs


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write transactions, events and customers into.")] = Path("demo"),
    customers: Annotated[int, typer.Option("--customers", min=1, help="Number of customers.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    file_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Write the synthetic demo retailer (2023-01-01 to 2026-01-01)."""
    if file_format not in ("parquet", "csv"):
        raise TierwiseError(f"--format: {file_format!r} is not one of parquet, csv")
    demo = generate_demo_data(customers, seed=seed)
    paths = write_demo_data(demo, out, file_format)  # type: ignore[arg-type]
    console.print(
        f"Wrote {len(demo.transactions):,} transactions, {len(demo.events):,} events and "
        f"{len(demo.customers):,} customers to {out}/ ({', '.join(p.name for p in paths)})"
    )


@app.command()
def features(
    config: ConfigOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Cutoff date: features use only records before it.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write the features to.")],
    transactions: TransactionsOption = None,
    events: EventsOption = None,
    customers: CustomersOption = None,
    set_: SetOption = None,
) -> None:
    """Build point-in-time features for every customer seen before --as-of."""
    cfg = _configure(config, set_, transactions, events, customers)
    cutoff = normalize_as_of(as_of)
    inputs = _read_inputs(cfg)
    frame = build_features(inputs, as_of=cutoff, config=cfg.features)
    write_parquet(frame, out)
    console.print(
        f"Features as of {cutoff.date()}: {len(frame):,} customers x {frame.shape[1] - 2} features -> {out}"
    )


_CHURN_COLUMNS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "brier": "Brier", "log_loss": "log loss",
                  "precision_top_decile": "prec@10%", "lift_top_decile": "lift@10%"}
_VALUE_COLUMNS = {"spearman": "Spearman", "normalized_gini": "norm. Gini", "top_decile_revenue_share": "top10% share",
                  "mae": "MAE", "total_predicted": "pred. total", "total_actual": "actual total"}


def _stdout() -> Console:
    return Console(width=None if sys.stdout.isatty() else 120)


def _number(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"


def _print_backtest(result) -> None:
    out = _stdout()
    for title, table, columns in (
        (f"Churn backtest at {result.churn_plan.test.date()} ({result.churn_plan.horizon_days}-day horizon)",
         result.churn, _CHURN_COLUMNS),
        (f"Value backtest at {result.value_plan.test.date()} ({result.value_plan.horizon_days}-day window)",
         result.value, _VALUE_COLUMNS),
    ):
        rich_table = Table(title=title)
        rich_table.add_column("method")
        for header in columns.values():
            rich_table.add_column(header, justify="right")
        for method, row in table.iterrows():
            rich_table.add_row(method, *(_number(row[c]) for c in columns))
        out.print(rich_table)
    calibration = Table(title="Churn reliability at the test cutoff, before and after calibration")
    for header in ("bin", "n before", "mean p before", "observed", "n after", "mean p after", "observed "):
        calibration.add_column(header, justify="right")
    before, after = result.reliability_before, result.reliability_after
    for label in before.index.union(after.index):
        cells = []
        for table in (before, after):
            if label in table.index:
                row = table.loc[label]
                cells += [f"{int(row['customers']):,}", f"{row['mean_predicted']:.3f}", f"{row['observed_rate']:.3f}"]
            else:
                cells += ["0", "-", "-"]
        calibration.add_row(label, *cells)
    out.print(calibration)


@app.command()
def backtest(
    config: ConfigOption,
    transactions: TransactionsOption = None,
    events: EventsOption = None,
    customers: CustomersOption = None,
    set_: SetOption = None,
    tune: TuneOption = 0,
) -> None:
    """Train on the past and judge at the latest fully observed cutoff, beside the baselines; registers nothing."""
    from tierwise.training import run_backtest

    cfg = _configure(config, set_, transactions, events, customers, tune)
    result = run_backtest(_read_inputs(cfg), features=cfg.features, training=cfg.training)
    _print_backtest(result)


@app.command()
def train(
    config: ConfigOption,
    transactions: TransactionsOption = None,
    events: EventsOption = None,
    customers: CustomersOption = None,
    set_: SetOption = None,
    tune: TuneOption = 0,
) -> None:
    """Backtest, fit on the latest snapshots, and record the run and both models in MLflow."""
    from tierwise.training import tracking_uri, train_and_register

    cfg = _configure(config, set_, transactions, events, customers, tune)
    result, run = train_and_register(_read_inputs(cfg), cfg)
    _print_backtest(result)
    console.print(
        f"MLflow run {run.run_id} in {tracking_uri()}: {cfg.registry.churn_model_name} v{run.churn_version}, "
        f"{cfg.registry.value_model_name} v{run.value_version} are '{'champion' if run.promoted else 'candidate'}'"
    )


@app.command()
def promote(config: ConfigOption, set_: SetOption = None) -> None:
    """Make the candidate versions of both models the champion."""
    from tierwise.training import promote as promote_candidates

    cfg = load_config(config, set_ or [])
    moved = promote_candidates(cfg.registry)
    console.print("champion -> " + ", ".join(f"{name} v{version}" for name, version in moved.items()))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Working folder for the demo's data.")] = Path("tierwise-demo"),
    customers: Annotated[int, typer.Option("--customers", min=100, help="Number of synthetic customers.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Run the pipeline on the built-in synthetic retailer: generate, build features, train and register."""
    from tierwise.training import tracking_uri, train_and_register

    data_dir = out / "data"
    with console.status("Generating the synthetic retailer..."):
        demo_data = generate_demo_data(customers, seed=seed)
        write_demo_data(demo_data, data_dir)
    console.print(
        f"[1/2] Generated {customers:,} customers, {len(demo_data.transactions):,} transactions and "
        f"{len(demo_data.events):,} events -> {data_dir}/"
    )
    cfg = demo_config(data_dir)
    with console.status("Backtesting and training the churn and value models..."):
        result, run = train_and_register(_read_inputs(cfg), cfg)
    _print_backtest(result)
    console.print(
        f"[2/2] Trained and registered {cfg.registry.churn_model_name} v{run.churn_version} and "
        f"{cfg.registry.value_model_name} v{run.value_version} (MLflow run {run.run_id}, store {tracking_uri()})"
    )
    console.print("Scoring, tiers and reasons are not part of this version yet: the demo stops after training.")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)])
    try:
        app()
    except TierwiseError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
