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

from tierwise.config import TierwiseConfig, load_config
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
CustomersOption = Annotated[Optional[Path], typer.Option(help="Customer table file; keeps the config's columns and format.")]


def _configure(config_path: Path, overrides: list[str] | None, transactions, events, customers) -> TierwiseConfig:
    config = load_config(config_path, overrides or [])
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


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Working folder for the demo's data and outputs.")] = Path("tierwise-demo"),
    customers: Annotated[int, typer.Option("--customers", min=100, help="Number of synthetic customers.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Run the pipeline on the built-in synthetic retailer."""
    from tierwise.config import demo_config

    data_dir = out / "data"
    demo_data = generate_demo_data(customers, seed=seed)
    write_demo_data(demo_data, data_dir)
    console.print(f"[1/2] Generated {customers:,} customers, {len(demo_data.transactions):,} transactions -> {data_dir}/")
    cfg = demo_config(data_dir)
    inputs = _read_inputs(cfg)
    cutoff = normalize_as_of("2025-01-01")
    frame = build_features(inputs, as_of=cutoff, config=cfg.features)
    write_parquet(frame, out / "features.parquet")
    console.print(f"[2/2] Built {frame.shape[1] - 2} features for {len(frame):,} customers as of {cutoff.date()}")
    _print_feature_summary(frame)
    console.print("Training and scoring are not part of this version yet; the demo stops after the features.")


def _print_feature_summary(frame) -> None:
    table = Table(title="Feature summary (median over customers)")
    table.add_column("feature")
    table.add_column("median", justify="right")
    for name in ("recency_days", "frequency_orders", "monetary_total", "rhythm_gap_mean_days", "spend_trend_90d_vs_prior_90d"):
        if name in frame:
            table.add_row(name, f"{frame[name].median():,.2f}")
    Console().print(table)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)])
    try:
        app()
    except TierwiseError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
