"""The ``tierwise`` command: a thin shell over the library.

Each command parses its options, calls library functions and prints a short
summary. Errors the user can fix (:class:`TierwiseError`) become one line on
stderr and exit code 2, in :func:`main` alone.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from rich.text import Text

import tierwise
from tierwise.api import deliver as deliver_scores
from tierwise.api import fit, load_scoring_models, read_inputs
from tierwise.api import score as score_customers
from tierwise.config import PURCHASES_UNIT, TierwiseConfig, demo_config, load_config, path_overrides
from tierwise.errors import ExitCode, InputWarning, TierwiseError
from tierwise.features import build_features, check_customers_known, normalize_as_of
from tierwise.inputs import InputData
from tierwise.io import check_output_file, lock_folder, write_demo_data, write_parquet
from tierwise.progress import PROGRESS_LOGGER
from tierwise.synthetic import generate_demo_data

try:  # typer >= 0.22 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Predict who is about to lapse and what each customer is worth, as forward-looking tiers.\n\n"
         "Exit codes: " + "; ".join(f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode) + ".",
)


class Messages:
    """Where the command's status lines, warnings and progress go: stderr, as text or as JSON lines.

    Text on a terminal uses rich (colours, spinners); text elsewhere is one
    unwrapped line per message. ``--log-format json`` writes one JSON object
    per line (``time`` in ISO 8601, ``level``, ``message``); ``--quiet`` keeps
    only warnings and errors. Progress (spinners) shows only as text on a
    terminal.
    """

    def __init__(self) -> None:
        self.quiet = False
        self.json = False
        self._stderr = sys.stderr
        self._console = Console(stderr=True, soft_wrap=True)
        self._spinner: tuple[Any, str] | None = None

    def configure(self, *, quiet: bool, log_format: str) -> None:
        """Apply ``--quiet`` and ``--log-format``.

        Under either, what other libraries print to stderr themselves (MLflow's
        "Successfully registered model", progress bars) is caught: dropped
        when quiet, turned into JSON records otherwise, so that a job's log
        holds only what it asked for.

        Parameters
        ----------
        quiet : bool
            Drop status lines, progress and info records; warnings and errors still show.
        log_format : {"text", "json"}
            ``"json"`` writes one JSON object a line on stderr instead of text.
        """
        import os

        self.quiet, self.json = quiet, log_format == "json"
        self._stderr = getattr(sys.stderr, "target", sys.stderr)
        self._console = Console(file=self._stderr, soft_wrap=True)
        if self.quiet or self.json:
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
            sys.stderr = _StrayOutput(self)

    @property
    def shows_progress(self) -> bool:
        """Whether spinners and progress lines are shown: text on a terminal, not quiet.

        Returns
        -------
        bool
            True when text goes to a terminal and ``--quiet`` is not set.
        """
        return not (self.quiet or self.json) and self._console.is_terminal

    def print(self, message: Any, *, level: str = "info", **_: Any) -> None:
        """One status line (rich markup allowed); warnings and errors pass ``level``.

        Parameters
        ----------
        message : object
            The line; rich markup is rendered on a terminal and stripped elsewhere.
        level : {"info", "warning", "error"}
            Info lines are dropped under ``--quiet``.
        **_ : object
            Structured fields for the JSON format; ignored by the text format.
        """
        if self.quiet and level == "info":
            return
        if self.json:
            plain = Text.from_markup(message).plain if isinstance(message, str) else str(message)
            for prefix in ("warning: ", "error: ", "note: "):
                plain = plain.removeprefix(prefix)
            self.emit(level, plain)
        else:
            self._console.print(message, highlight=False, soft_wrap=True)

    def emit(self, level: str, message: str, **fields: Any) -> None:
        """One JSON object on stderr.

        Parameters
        ----------
        level : str
            The record's level, e.g. ``"info"``.
        message : str
            The message, rich markup removed.
        **fields : object
            Extra keys of the JSON object (e.g. ``logger``).
        """
        record = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "level": level,
                  "message": message, **fields}
        self._stderr.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._stderr.flush()

    def restore(self) -> None:
        """Give stderr back (before a traceback is printed, say)."""
        if isinstance(sys.stderr, _StrayOutput):
            sys.stderr = sys.stderr.target

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner while a long step runs, on a terminal only; the library's progress shows beside it.

        Parameters
        ----------
        message : str
            What the step does, shown beside the spinner.

        Yields
        ------
        None
            Control while the step runs.
        """
        if not self.shows_progress:
            yield
            return
        with self._console.status(message) as spinner:
            self._spinner = (spinner, message)
            try:
                yield
            finally:
                self._spinner = None

    def show_progress(self, step: str) -> None:
        """Show one step of the library's progress (see :mod:`tierwise.progress`) beside the running spinner.

        Parameters
        ----------
        step : str
            The progress message, e.g. ``"building features as of 2025-06-01 (2 of 5)"``.
        """
        if self._spinner is not None:
            spinner, message = self._spinner
            spinner.update(f"{message}\n  [dim]{escape(step)}[/dim]")

    def handler(self) -> logging.Handler:
        """The logging handler that writes the library's log records like the status lines.

        Returns
        -------
        logging.Handler
            A handler that writes JSON records under ``--log-format json``, status lines otherwise.
        """
        if self.json:
            return _JsonHandler(self)
        if self._console.is_terminal:
            return RichHandler(console=self._console, show_path=False, show_time=False)
        handler = logging.StreamHandler(self._stderr)
        handler.setFormatter(_PlainFormatter())
        return handler


class _ProgressHandler(logging.Handler):
    """Shows the library's progress records in the spinner of the step that runs."""

    def __init__(self, messages: Messages) -> None:
        super().__init__(logging.INFO)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.show_progress(str(getattr(record, "progress", record.getMessage())))


class _PlainFormatter(logging.Formatter):
    """One unwrapped line a record: the message, after ``warning:`` or ``error:`` when it is one."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


class _StrayOutput:
    """Stands in for stderr under --quiet or --log-format json: whole lines become records, or nothing."""

    def __init__(self, messages: Messages) -> None:
        self.messages = messages
        self.target = messages._stderr
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.replace("\r", "\n").split("\n")
        for line in lines:
            if line.strip() and self.messages.json and not self.messages.quiet:
                self.messages.emit("info", line.strip(), source="stderr")
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered but a partial line."""

    def isatty(self) -> bool:
        return False


class _JsonHandler(logging.Handler):
    def __init__(self, messages: Messages) -> None:
        super().__init__()
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.emit(record.levelname.lower(), record.getMessage(), logger=record.name)


console = Messages()
# What a command holds until it ends (the config's MLflow store); main closes it.
_command_resources = ExitStack()
# Where tierwise demo writes its data inside its --out folder, and generate by default: configs/demo.yaml reads there.
DEMO_DATA = "data"

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML config file; its relative paths are relative to it.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="KEY=VALUE", help="Override a config key, repeatable: --set features.order_grouping=line."),
]
TransactionsOption = Annotated[Path | None, typer.Option(help="Transactions file; keeps the config's columns and format.")]
EventsOption = Annotated[Path | None, typer.Option(help="Engagement events file; keeps the config's columns and format.")]
CustomersOption = Annotated[Path | None, typer.Option(help="Customer table file; keeps the config's columns and format.")]
EngineOption = Annotated[
    Literal["duckdb", "spark"],
    typer.Option("--engine", help="duckdb (this machine) or spark (spark.master of the config; pip install "
                                  "'tierwise[spark]')."),
]
TuneOption = Annotated[
    int, typer.Option("--tune", min=0, help="Optuna trials per model on the validation snapshot (0: defaults).")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tierwise {tierwise.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors: no status lines, "
                                                               "progress or result tables.")] = False,
    log_format: Annotated[
        Literal["text", "json"], typer.Option("--log-format", help="text, or json: one JSON object a line on stderr "
                                                                   "(time, level, message).")
    ] = "text",
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", metavar="URI", help="The MLflow store, e.g. sqlite:///mlruns/mlflow.db; "
                                                                           "overrides MLFLOW_TRACKING_URI and registry.tracking_uri.")
    ] = None,
) -> None:
    """Predict who is about to lapse and what each customer is worth, as forward-looking tiers."""
    import os

    console.configure(quiet=quiet, log_format=log_format)
    _configure_logging()
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri


def _remove_logging() -> None:
    """Take the command's log and progress handlers off again (they write to this command's stderr)."""
    for logger in (logging.getLogger(), logging.getLogger(PROGRESS_LOGGER)):
        for handler in list(logger.handlers):
            if getattr(handler, "_tierwise", False) or isinstance(handler, _ProgressHandler):
                logger.removeHandler(handler)


def _configure_logging() -> None:
    _remove_logging()
    root = logging.getLogger()
    handler = console.handler()
    handler._tierwise = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING if console.quiet else logging.INFO)
    # Progress only on a terminal (not under --quiet, in JSON logs or in a job's plain log): it does not propagate.
    progress = logging.getLogger(PROGRESS_LOGGER)
    if console.shows_progress:
        progress.addHandler(_ProgressHandler(console))
        progress.setLevel(logging.INFO)


def _configure(
    config_path: Path, overrides: list[str] | None, transactions: Path | None, events: Path | None,
    customers: Path | None, tune: int = 0,
) -> TierwiseConfig:
    paths = path_overrides(transactions=transactions, events=events, customers=customers)
    cfg = load_config(config_path, [*(overrides or []), *([f"training.tuning_trials={tune}"] if tune else []), *paths])
    # The config's store for the rest of the command (MLFLOW_TRACKING_URI and --tracking-uri still win).
    from tierwise.models import using_tracking_uri

    _command_resources.enter_context(using_tracking_uri(cfg.registry.tracking_uri))
    return cfg


def _read_inputs(config: TierwiseConfig) -> InputData:
    return read_inputs(config)


def _read_spark_inputs(ctx: typer.Context, config: TierwiseConfig):
    """The inputs read and checked on a Spark session held (in UTC) until the command ends; warnings as on DuckDB."""
    from tierwise.spark import read_spark_inputs, spark_session, utc_session

    spark = ctx.with_resource(utc_session(spark_session(config.spark)))
    inputs = read_spark_inputs(spark, config.data, config.features)
    for message in inputs.warnings:
        warnings.warn(message, InputWarning, stacklevel=2)
    return inputs


def _stdout() -> Console:
    return Console(width=None if sys.stdout.isatty() else 120, quiet=console.quiet)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(metavar="FOLDER", help="Folder to write transactions, events and customers into; the default is "
                                           "where configs/demo.yaml reads them.")] = Path("tierwise-demo") / "data",
    customers: Annotated[int, typer.Option("--customers", min=1, help="Number of customers.")] = 20_000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; the same seed gives the same files.")] = 7,
    file_format: Annotated[Literal["parquet", "csv"], typer.Option("--format", help="parquet or csv.")] = "parquet",
    end: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="First day not simulated, YYYY-MM-DD (default 2026-01-01, or with --outreach "
                                         "the list's as_of + its longest horizon if later).")
    ] = None,
    outreach: Annotated[
        Path | None, typer.Option(metavar="FOLDER", help="A tierwise score --out folder, or an outreach file with its manifest.json "
                                          "beside it: simulate what happened after that list was worked.")
    ] = None,
    outreach_effect: Annotated[
        float | None, typer.Option("--outreach-effect", help="With --outreach: the relative lowering of the "
                                                                 "contacted customers' lapse hazard, in [0, 1).")
    ] = None,
) -> None:
    """Write the synthetic demo retailer (2023-01-01 to 2026-01-01, or to --end).

    With --outreach and --outreach-effect, the world of the same --customers and
    --seed as the list was scored on, in which the contacted customers stay
    longer after its as_of; also writes outreach_effect.json (the true effects)
    and outreach_truth.parquet (each listed customer's outcomes with and
    without contact).
    """
    from tierwise.io import read_outreach_list, write_outreach_truth
    from tierwise.synthetic import simulate_outreach_effect

    if (outreach is None) != (outreach_effect is None):
        raise TierwiseError("--outreach and --outreach-effect go together: name the list and the effect")
    if outreach_effect is not None and not 0.0 <= outreach_effect < 1.0:
        raise TierwiseError(f"--outreach-effect: {outreach_effect} is not in [0, 1) (a relative lowering of the lapse hazard)")
    stop = None
    if end is not None:
        try:
            stop = normalize_as_of(end)
        except TierwiseError:
            raise TierwiseError(f"--end: {end!r} is not a date YYYY-MM-DD") from None
    truth_paths: list[Path] = []
    if outreach is None or outreach_effect is None:  # both or neither, checked above
        demo = generate_demo_data(customers, seed=seed, end=stop)
    else:
        listed, settings = read_outreach_list(outreach)
        simulation = simulate_outreach_effect(
            listed, n_customers=customers, seed=seed, as_of=normalize_as_of(settings["as_of"]), effect=outreach_effect,
            churn_horizon_days=int(settings["churn_horizon_days"]),
            value_horizon_days=int(settings["value_horizon_days"]), end=stop,
        )
        demo = simulation.data
    paths = write_demo_data(demo, out, file_format)
    if outreach is not None:
        truth_paths = write_outreach_truth(simulation.summary, simulation.outcomes, out)
    console.print(
        f"Wrote {len(demo.transactions):,} transactions, {len(demo.events):,} events and "
        f"{len(demo.customers):,} customers to {out}/ ({', '.join(p.name for p in [*paths, *truth_paths])})"
    )
    if outreach is not None:
        _print_outreach_truth(simulation.summary, _stdout())


def _print_outreach_truth(summary: dict, out: Console) -> None:
    counts, windows = summary["counts"], summary["windows"]
    table = Table(title=f"Simulated effect of the outreach at {summary['as_of']} (hazard lowered by "
                        f"{summary['effect']:.0%}; {counts['contacted']:,} contacted, {counts['control']:,} control)")
    for header in ("outcome", "window", "contacted: without", "with", "effect", "listed: effect"):
        table.add_column(header, justify="left" if header in ("outcome", "window") else "right")
    for key, outcome in (("retention", "retention"), ("conversion", "conversion"), ("revenue_per_customer", "revenue")):
        contacted, listed = summary["true_effects"]["contacted"][key], summary["true_effects"]["listed"][key]
        table.add_row(
            key.replace("_", " "), f"{windows[outcome]['days']} days", _truth_figure(contacted["without"], outcome),
            _truth_figure(contacted["with"], outcome), _truth_figure(contacted["effect"], outcome, signed=True),
            _truth_figure(listed["effect"], outcome, signed=True),
        )
    out.print(table)


def _truth_figure(value: float | None, outcome: str, *, signed: bool = False) -> str:
    """A revenue in money, a rate in percent, an effect on a rate in points."""
    if value is None:
        return "-"
    if outcome == "revenue":
        return f"{value:+,.2f}" if signed else f"{value:,.2f}"
    return f"{value * 100:+.2f} pts" if signed else f"{value:.2%}"


@app.command()
def features(
    ctx: typer.Context,
    config: ConfigOption,
    as_of: Annotated[str, typer.Option("--as-of", metavar="YYYY-MM-DD", help="Cutoff date, YYYY-MM-DD: features use only records before it.")],
    out: Annotated[Path, typer.Option(metavar="FILE", help="Parquet file to write the features to.")],
    transactions: TransactionsOption = None,
    events: EventsOption = None,
    customers: CustomersOption = None,
    set_: SetOption = None,
    engine: EngineOption = "duckdb",
) -> None:
    """Build point-in-time features for every customer seen before --as-of."""
    cfg = _configure(config, set_, transactions, events, customers)
    cutoff = normalize_as_of(as_of)
    check_output_file(out, label="--out")
    if engine == "spark":
        from tierwise.spark import spark_features

        frame = spark_features(_read_spark_inputs(ctx, cfg), as_of=cutoff, config=cfg)
    else:
        inputs = _read_inputs(cfg)
        frame = build_features(inputs, as_of=cutoff, config=cfg.features)
        check_customers_known(frame, inputs, as_of=cutoff)
    write_parquet(frame, out)
    console.print(
        f"Features as of {cutoff.date()}: {len(frame):,} customers x {frame.shape[1] - 2} features -> {out}"
    )


_CHURN_COLUMNS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "brier": "Brier", "log_loss": "log loss",
                  "precision_top_decile": "prec@10%", "lift_top_decile": "lift@10%"}
_VALUE_COLUMNS = {"spearman": "Spearman", "normalized_gini": "norm. Gini", "top_decile_revenue_share": "top10% share",
                  "mae": "MAE", "total_predicted": "pred. total", "total_actual": "actual total"}


def _number(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"


def _snapshots(plan) -> str:
    count = len(plan.train)
    return f"trained on {count} snapshot{'s' if count > 1 else ''}"


def _print_backtest(result) -> None:
    out = _stdout()
    if result is None:
        out.print("No backtest: the data are too short for one with these settings (see the warning); the models are not judged")
        return
    rows = result.training_rows
    for title, table, columns in (
        (f"Churn backtest at {result.churn_plan.test.date()} ({result.churn_plan.horizon_days}-day horizon; "
         f"{_snapshots(result.churn_plan)}, {rows['churn']:,} rows)", result.churn, _CHURN_COLUMNS),
        (f"Value backtest at {result.value_plan.test.date()} ({result.value_plan.horizon_days}-day window; "
         f"{_snapshots(result.value_plan)}, {rows['value']:,} rows)", result.value, _VALUE_COLUMNS),
        (f"Retained-value backtest at {result.retained_value_plan.test.date()} "
         f"({result.retained_value_plan.horizon_days}-day window, customers active at the cutoff who bought again "
         f"within {result.churn_plan.horizon_days} days; {_snapshots(result.retained_value_plan)}, "
         f"{rows['retained_value']:,} rows)", result.retained_value, _VALUE_COLUMNS),
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
    """Fit on the latest snapshots, backtest when the data hold one, and record the run and both models in MLflow."""
    from tierwise.training import tracking_uri

    cfg = _configure(config, set_, transactions, events, customers, tune)
    inputs = _read_inputs(cfg)
    with console.status("Backtesting and training the churn, value and retained-value models..."):
        fitted = fit(config=cfg, inputs=inputs)
    _print_backtest(fitted.backtest)
    run = fitted.run
    console.print(
        f"MLflow run {run.run_id} in {tracking_uri()}: {cfg.registry.churn_model_name} v{run.churn_version}, "
        f"{cfg.registry.value_model_name} v{run.value_version}, {cfg.registry.retained_value_model_name} "
        f"v{run.retained_value_version} are '{'champion' if run.promoted else 'candidate'}'"
    )
    if not run.promoted:
        console.print(f"Not made champion: {run.promotion_note}; to use them anyway: tierwise promote --config {config}")


@app.command()
def promote(
    config: ConfigOption,
    set_: SetOption = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, metavar="N", help="Make version N of the churn model champion, "
                                                                          "with the other models of its training run.")
    ] = None,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Make the champion before the last promotion champion again.")
    ] = False,
) -> None:
    """Make the candidate versions of the three models (or --version N, or the previous ones) the champion."""
    from tierwise.training import promote as promote_versions

    cfg = _configure(config, set_, None, None, None)
    moved = promote_versions(cfg.registry, version=version, rollback=rollback)
    console.print("champion -> " + ", ".join(f"{name} v{number}" for name, number in moved.items()))


ModelOption = Annotated[
    str, typer.Option("--model", metavar="champion|candidate|N|runs:/ID", help="champion, candidate, a version number, or runs:/<run id>.")
]
AllowOtherSourceOption = Annotated[
    bool, typer.Option("--allow-other-source", help="Score with a model trained for another data source anyway.")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", metavar="YYYY-MM-DD", help="Cutoff date, YYYY-MM-DD; default: the day after the last transaction.")
]


def _load_models(cfg: TierwiseConfig, model: str):
    """Find and check the models before any data is read: a wrong model is refused in seconds."""
    return load_scoring_models(cfg, model)


def _explicit_cutoff(as_of: str | None):
    """``--as-of`` parsed before any data is read, so a malformed date is refused at once."""
    return None if as_of is None else normalize_as_of(as_of)


def _scoring_cutoff(inputs, cutoff):
    from tierwise.inference import default_as_of

    if cutoff is not None:
        return cutoff
    if isinstance(inputs, InputData):
        cutoff = default_as_of(inputs)
    else:
        from tierwise.spark import default_spark_as_of

        cutoff = default_spark_as_of(inputs)
    console.print(f"as_of not given: scoring as of {cutoff.date()}, the day after the last transaction")
    return cutoff


def _list_title(outreach, *, churn_horizon_days: int, value_horizon_days: int) -> str:
    """What the printed top ten is, in the words of how it is ranked."""
    lapse = f"P(lapse within {churn_horizon_days} days)"
    at_risk = f"expected spend over the next {value_horizon_days} days if retained x {lapse}"
    if outreach.rank_by == "churn_probability":
        return f"The ten customers most likely to lapse ({lapse})"
    if outreach.rank_by == "value_at_risk":
        return f"The ten customers with the most value at risk ({at_risk})"
    return (f"The ten customers whose contact is expected to save the most, net of its cost (value at risk x save "
            f"rate {outreach.save_rate:.0%} - cost per contact {outreach.cost_per_contact or 0:,.2f}; value at risk = "
            f"{at_risk})")


def _print_summary(scores, listed, out: Console, *, outreach, churn_horizon_days: int, unit: str = "") -> None:
    """The tiers, then the first ten customers to contact of ``listed`` (the list as delivered)."""
    by_tier = scores.groupby("tier", sort=False).agg(
        customers=("customer_id", "size"), value_at_risk=("value_at_risk", "sum"), predicted_value=("predicted_value", "sum"),
    ).sort_values("value_at_risk", ascending=False)
    table = Table(title=f"Tiers as of {scores['as_of'].iloc[0].date()}" + (f" (value in {unit})" if unit else ""))
    for header in ("tier", "customers", "value at risk", "predicted value", "action"):
        table.add_column(header, justify="left" if header in ("tier", "action") else "right")
    actions = scores.drop_duplicates("tier").set_index("tier")["tier_action"]
    for tier, row in by_tier.iterrows():
        table.add_row(str(tier), f"{int(row['customers']):,}", f"{row['value_at_risk']:,.0f}",
                      f"{row['predicted_value']:,.0f}", str(actions[tier]))
    out.print(table)
    # The control customers drawn from the list are left out: they must not be contacted.
    top = listed[~listed["control"]].head(10)
    at_risk = Table(title=_list_title(outreach, churn_horizon_days=churn_horizon_days,
                                      value_horizon_days=int(scores["value_horizon_days"].iloc[0])))
    numbers = ("#", "P(lapse)", "retained value", "value at risk")
    for header in ("#", "customer", "P(lapse)", "retained value", "value at risk", "tier", "reasons"):
        at_risk.add_column(header, justify="right" if header in numbers else "left")
    for _, row in top.iterrows():
        reasons = "; ".join(r for r in (row["reason_1"], row["reason_2"], row["reason_3"]) if isinstance(r, str))
        at_risk.add_row(str(row["list_position"]), str(row["customer_id"]), f"{row['churn_probability']:.2f}",
                        f"{row['retained_value']:,.0f}", f"{row['value_at_risk']:,.0f}", str(row["tier"]), reasons)
    out.print(at_risk)


def _value_unit(cfg: TierwiseConfig) -> str:
    """The unit to print beside value figures: only when it is not the data's money (a log without amounts)."""
    return PURCHASES_UNIT if cfg.export.currency == PURCHASES_UNIT else ""


def _print_delivery(delivery, cfg: TierwiseConfig, *, report: bool) -> None:
    """What :func:`tierwise.deliver` wrote, in a few lines."""
    summary, manifest, out_dir = delivery.summary, delivery.manifest, delivery.folder
    unit = _value_unit(cfg)
    line = (f"Outreach list: {summary['customers']:,} customers ({summary['contacted']:,} to contact, "
            f"{summary['control']:,} held out as control), expected saving {summary['expected_saving']:,.0f}"
            + (f" {unit}" if unit else ""))
    if cfg.outreach.cost_per_contact is not None:
        line += f" for a contact cost of {summary['contact_cost']:,.0f} (net {summary['expected_net']:,.0f})"
    console.print(line)
    movers = delivery.movers
    if delivery.previous is None:
        console.print("Movers: none known without a previous run (movers.csv has only its header)")
    else:
        console.print(f"Movers: {len(movers):,} customers moved into an at-risk tier since "
                      f"{delivery.previous.as_of.date()} (value at risk {movers['value_at_risk'].sum():,.0f}) -> "
                      f"{out_dir / 'movers.csv'}")
    console.print(f"Wrote {out_dir}/scores.parquet, outreach.csv and .parquet (to contact), control.csv and .parquet "
                  f"(do not contact), movers.csv and .parquet and manifest.json ({manifest['row_count']:,} and "
                  f"{manifest['control_row_count']:,} rows, schema v{manifest['schema_version']})")
    drift = delivery.scores.attrs.get("tierwise", {}).get("drift")
    if drift is not None:
        console.print(f"Drift since training ({drift['reference_as_of']}): {len(drift['severe'])} severe, "
                      f"{len(drift['warning'])} warnings -> {out_dir / 'drift.json'}")
    if report:
        console.print(f"Report -> {out_dir / 'report.html'}")
    if delivery.database_rows is not None:
        table, as_of = cfg.export.table, delivery.scores["as_of"].iloc[0]
        console.print(f"Replaced the {as_of.date()} rows of {table} and {table}_control with this list's "
                      f"{delivery.database_rows:,} rows, and of {table}_tiers with everyone's tier")


@app.command()
def score(
    ctx: typer.Context,
    config: ConfigOption,
    out: Annotated[Path, typer.Option(metavar="FOLDER", help="Folder for scores.parquet (everyone) and outreach.csv (ranked list).")],
    as_of: AsOfOption = None,
    model: ModelOption = "champion",
    rank_by: Annotated[
        Literal["value_at_risk", "expected_net_saving", "churn_probability"] | None,
        typer.Option(help="Order the list by value_at_risk (default), expected_net_saving or "
                          "churn_probability (most likely to lapse first).")
    ] = None,
    top: Annotated[int | None, typer.Option("--top", min=1, help="At most this many customers on the list.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the table that gets the list.")] = None,
    reasons_for: Annotated[
        str | None, typer.Option(metavar="N|all", help="Customers at the top of the list who get reasons: a number or 'all'.")
    ] = None,
    transactions: TransactionsOption = None,
    events: EventsOption = None,
    customers: CustomersOption = None,
    set_: SetOption = None,
    allow_other_source: AllowOtherSourceOption = False,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write report.html beside the export.")] = True,
    previous: Annotated[
        Path | None, typer.Option("--previous", metavar="FOLDER", help="The earlier run to compare tiers with; default: the latest "
                                                        "earlier run beside --out, else the database's tiers table.")
    ] = None,
    engine: EngineOption = "duckdb",
) -> None:
    """Score every customer known at the cutoff: risk, value, tier, action and reasons, and who moved since last time."""
    from tierwise.monitoring import find_previous_run

    if reasons_for is not None and reasons_for != "all" and not reasons_for.isdigit():
        raise TierwiseError(f"--reasons-for: {reasons_for!r} is not a number or 'all'")
    flags = [f"outreach.rank_by={rank_by}"] if rank_by else []
    flags += [f"outreach.top_k={top}"] if top else []
    flags += [f"export.database_url={db}"] if db else []
    flags += ["scoring.allow_other_source=true"] if allow_other_source else []
    flags += [f"scoring.reasons_top_n={'null' if reasons_for == 'all' else reasons_for}"] if reasons_for else []
    cfg = _configure(config, [*(set_ or []), *flags], transactions, events, customers)
    explicit = _explicit_cutoff(as_of)
    if cfg.export.database_url:
        from tierwise.io import check_database

        check_database(cfg.export.database_url)
    ctx.with_resource(lock_folder(out))  # held until the command ends, however it ends
    if explicit is not None:  # a wrong --previous is refused before any heavy work
        find_previous_run(out, as_of=explicit, config=cfg, explicit=previous)
    models = _load_models(cfg, model)
    inputs = _read_spark_inputs(ctx, cfg) if engine == "spark" else _read_inputs(cfg)
    with console.status("Scoring every customer..."):
        scores = score_customers(models, config=cfg, inputs=inputs, as_of=explicit)
    delivery = deliver_scores(scores, out, config=cfg, previous=previous, report=report)
    console.print(delivery.previous_note)
    _print_summary(delivery.scores, delivery.outreach, _stdout(), outreach=cfg.outreach,
                   churn_horizon_days=int(models.metadata["churn_horizon_days"]), unit=_value_unit(cfg))
    console.print(f"Scored {len(scores):,} customers as of {scores['as_of'].iloc[0].date()} with {models.version}")
    _print_delivery(delivery, cfg, report=report)


@app.command("report")
def report_command(
    run: Annotated[Path, typer.Option("--run", metavar="FOLDER", help="The --out folder of a tierwise score run.")],
) -> None:
    """Write the run's report.html: one page, readable offline, for the people who act on the list."""
    from tierwise.io import read_run, read_run_drift, read_run_evaluation, write_run_report
    from tierwise.reporting import build_report, read_model_card

    if not run.is_dir():  # checked before the lock, which would create the folder
        raise TierwiseError(f"--run: {run} is not a folder; name the --out folder of a tierwise score run")
    with lock_folder(run):
        scores, outreach, manifest = read_run(run)
        card = read_model_card(str(manifest.get("model_version", "")))
        page = build_report(scores, outreach, manifest, model_card=card,
                            evaluation=read_run_evaluation(run, manifest), drift=read_run_drift(run))
        path = write_run_report(run, page)
    console.print(f"Report -> {path}", highlight=False)


def _print_evaluation(evaluation, out: Console) -> None:
    """The outreach's effects with their intervals, then the realized model quality beside the backtest."""
    level = f"{evaluation.confidence_level:.0%}"
    windows = ", ".join(f"{name} {w.matured_days}/{w.horizon_days} days" for name, w in evaluation.windows.items())
    effects = Table(title=f"The outreach's effect since {evaluation.as_of}, contacted minus control "
                          f"(matured: {windows}; {level} intervals)")
    for header in ("group", "contacted", "control", "retention", "conversion", "revenue / customer", "retention verdict"):
        effects.add_column(header, justify="left" if header in ("group", "retention verdict") else "right")

    def shown(effect) -> str:
        scale, unit = (1, "") if effect.outcome == "revenue_per_customer" else (100, " pts")
        if effect.estimate is None:
            return "-"
        interval = "" if effect.lower is None else f" [{effect.lower * scale:+.1f}, {effect.upper * scale:+.1f}]"
        return f"{effect.estimate * scale:+.1f}{unit}{interval}"

    groups = list(dict.fromkeys(e.group for e in evaluation.effects))
    for group in groups:
        retention = evaluation.effect("retention", group)
        effects.add_row(group, f"{retention.n_contacted:,}", f"{retention.n_control:,}", shown(retention),
                        shown(evaluation.effect("conversion", group)),
                        shown(evaluation.effect("revenue_per_customer", group)), retention.verdict)
    out.print(effects)
    incremental, power = evaluation.incremental, evaluation.power
    revenue = incremental["revenue"]
    if revenue["estimate"] is not None:
        line = f"Incremental revenue: {revenue['estimate']:,.0f}"
        if revenue["lower"] is not None:
            line += f" [{revenue['lower']:,.0f}, {revenue['upper']:,.0f}]"
        if incremental["return_on_cost"] is not None:
            line += f"; return on the contact cost {incremental['return_on_cost']['estimate']:+.0%}"
        out.print(line)
    if power["minimum_detectable_effect"] is not None:
        out.print(f"Smallest retention effect this list could detect ({power['power']:.0%} power, two-sided "
                  f"{power['alpha']:.0%}): {power['minimum_detectable_effect'] * 100:.1f} points")
    quality = Table(title="Realized model quality beside the backtest")
    for header in ("measure", "since the run", "backtest"):
        quality.add_column(header, justify="left" if header == "measure" else "right")
    for kind, figures in (("churn", evaluation.churn_quality), ("value", evaluation.value_quality)):
        for name, value in figures["realized"].items():
            before = figures["backtest"].get(name)
            quality.add_row(f"{kind} {name}", "-" if value is None else f"{value:.4f}",
                            "-" if before is None else f"{before:.4f}")
    out.print(quality)
    for note in evaluation.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


@app.command()
def evaluate(
    config: ConfigOption,
    run: Annotated[Path, typer.Option("--run", metavar="FOLDER", help="The --out folder of an earlier tierwise score run.")],
    transactions: TransactionsOption = None,
    events: EventsOption = None,
    customers: CustomersOption = None,
    set_: SetOption = None,
) -> None:
    """Judge an earlier run on what happened since its as_of: the outreach's effect and the models' quality."""
    from tierwise.io import read_run

    cfg = _configure(config, set_, transactions, events, customers)
    if not run.is_dir():  # checked before the lock, which would create the folder
        raise TierwiseError(f"--run: {run} is not a folder; name the --out folder of a tierwise score run")
    with lock_folder(run):
        read_run(run)  # a wrong folder is refused before the data are read
        evaluation = _evaluate_run(run, _read_inputs(cfg), cfg)
    _print_evaluation(evaluation, _stdout())
    _log_evaluation(evaluation)


def _evaluate_run(run: Path, inputs: InputData, cfg: TierwiseConfig):
    """Evaluate a run (the caller holds its lock), write evaluation.json and the report with it."""
    from tierwise.io import read_run, read_run_drift, write_run_evaluation, write_run_report
    from tierwise.monitoring import evaluate_run, read_run_backtest
    from tierwise.reporting import build_report

    scores, outreach, manifest = read_run(run)
    card = read_run_backtest(manifest)
    evaluation = evaluate_run(run, inputs, config=cfg, backtest=card)
    document = evaluation.to_dict()
    path = write_run_evaluation(run, document)
    write_run_report(run, build_report(scores, outreach, manifest, model_card=card, evaluation=document,
                                       drift=read_run_drift(run)))
    console.print(f"Evaluation -> {path}; report -> {run / 'report.html'}", highlight=False)
    return evaluation


def _log_evaluation(evaluation) -> None:
    from tierwise.monitoring import log_evaluation

    problem = log_evaluation(evaluation)
    if problem is None:
        console.print(f"Logged to MLflow run {evaluation.model_run_id}")
    else:
        console.print(f"[yellow]warning:[/] not logged to MLflow ({problem}); the files are written", highlight=False,
                      soft_wrap=True)


@app.command()
def explain(
    config: ConfigOption,
    customer: Annotated[str, typer.Option("--customer", help="Customer id.")],
    as_of: AsOfOption = None,
    model: ModelOption = "champion",
    plot: Annotated[Path | None, typer.Option(metavar="FILE", help="Save shap's waterfall plot of the customer to this PNG file.")] = None,
    transactions: TransactionsOption = None,
    events: EventsOption = None,
    customers: CustomersOption = None,
    set_: SetOption = None,
    allow_other_source: AllowOtherSourceOption = False,
) -> None:
    """Print one customer's full churn breakdown: every feature's value, contribution and meaning."""
    from tierwise.inference import churn_explanation, explain_customer, plot_explanation
    from tierwise.io import atomic_path

    allow = ["scoring.allow_other_source=true"] if allow_other_source else []
    cfg = _configure(config, [*(set_ or []), *allow], transactions, events, customers)
    explicit = _explicit_cutoff(as_of)
    models = _load_models(cfg, model)
    inputs = _read_inputs(cfg)
    cutoff = _scoring_cutoff(inputs, explicit)
    explanation = explain_customer(inputs, customer, as_of=cutoff, config=cfg, models=models)
    out = _stdout()
    attrs = explanation.attrs
    bgnbd = attrs["bgnbd_lapse_probability"]
    weighed = "" if bgnbd is None else f"; BG/NBD forecast {bgnbd:.1%} weighed in calibration"
    table = Table(title=f"Customer {customer} as of {cutoff.date()}: churn probability {attrs['churn_probability']:.1%} "
                        f"(uncalibrated {attrs['raw_probability']:.1%}{weighed}; average log-odds {attrs['bias']:+.3f})")
    for header in ("feature", "value", "contribution", "in words", "what it is"):
        table.add_column(header, justify="right" if header in ("value", "contribution") else "left")
    for _, row in explanation.iterrows():
        value = row["value"]
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        table.add_row(row["feature"], shown, f"{row['contribution']:+.4f}", row["sentence"], f"{row['description']} ({row['unit']})")
    out.print(table)
    if plot is not None:
        import matplotlib.pyplot as plt

        shap_values = churn_explanation(inputs, as_of=cutoff, config=cfg, models=models, customers=[customer])
        figure = plot_explanation(shap_values[0], customer_id=customer, churn_probability=attrs["churn_probability"])
        with atomic_path(plot) as temporary:
            figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        console.print(f"SHAP waterfall plot -> {plot}")


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(metavar="FOLDER", help="Working folder for the demo's data (in data/, where "
                                                             "configs/demo.yaml reads) and outputs.")] = Path("tierwise-demo"),
    customers: Annotated[int, typer.Option("--customers", min=100, help="Number of synthetic customers.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    outreach_effect: Annotated[
        float, typer.Option("--outreach-effect", min=0.0, max=0.99,
                            help="The simulated outreach's relative lowering of the contacted customers' lapse hazard.")
    ] = 0.3,
) -> None:
    """Run the whole loop on the built-in synthetic retailer.

    Generate, train and register, score and deliver the list, then simulate the year after it with an outreach of
    known effect and evaluate the list against that.
    """
    from tierwise.inference import default_as_of
    from tierwise.io import write_outreach_truth
    from tierwise.synthetic import simulate_outreach_effect
    from tierwise.training import tracking_uri

    ctx.with_resource(lock_folder(out))  # a second demo into the same folder is refused, not interleaved
    data_dir = out / DEMO_DATA
    with console.status("[1/4] Generating the synthetic retailer..."):
        demo_data = generate_demo_data(customers, seed=seed)
        write_demo_data(demo_data, data_dir)
    console.print(
        f"[1/4] Generated {customers:,} customers, {len(demo_data.transactions):,} transactions and "
        f"{len(demo_data.events):,} events -> {data_dir}/"
    )
    cfg = demo_config(data_dir)
    inputs = _read_inputs(cfg)
    with console.status("[2/4] Backtesting and training the churn, value and retained-value models..."):
        fitted = fit(config=cfg, inputs=inputs)
    run = fitted.run
    _print_backtest(fitted.backtest)
    console.print(
        f"[2/4] Trained and registered {cfg.registry.churn_model_name} v{run.churn_version}, "
        f"{cfg.registry.value_model_name} v{run.value_version} and {cfg.registry.retained_value_model_name} "
        f"v{run.retained_value_version} (MLflow run {run.run_id}, store {tracking_uri()})"
    )
    cutoff = default_as_of(inputs)
    # The models this demo just trained, whether or not an earlier demo's models stay champion.
    models = fitted.models
    with console.status(f"[3/4] Scoring every customer as of {cutoff.date()}..."):
        scores = score_customers(fitted, config=cfg, inputs=inputs, as_of=cutoff)
    delivery = deliver_scores(scores, out, config=cfg, compare=False)
    listed = delivery.outreach
    _print_summary(delivery.scores, listed, _stdout(), outreach=cfg.outreach,
                   churn_horizon_days=int(models.metadata["churn_horizon_days"]))
    console.print(f"[3/4] Scored {len(scores):,} customers as of {cutoff.date()}")
    _print_delivery(delivery, cfg, report=True)

    after_dir = out / "after"
    horizons = {"churn_horizon_days": int(models.metadata["churn_horizon_days"]),
                "value_horizon_days": int(scores["value_horizon_days"].iloc[0])}
    with console.status(f"[4/4] Simulating the {max(horizons.values())} days after the list, the contacted customers' "
                        f"lapse hazard lowered by {outreach_effect:.0%}, and evaluating the list..."):
        simulation = simulate_outreach_effect(listed, n_customers=customers, seed=seed, as_of=cutoff,
                                              effect=outreach_effect, **horizons)
        write_demo_data(simulation.data, after_dir)
        write_outreach_truth(simulation.summary, simulation.outcomes, after_dir)
        after_cfg = demo_config(after_dir)
        evaluation = _evaluate_run(out, _read_inputs(after_cfg), after_cfg)
    _print_evaluation(evaluation, _stdout())
    _log_evaluation(evaluation)
    measured, truth = evaluation.effect("retention"), simulation.summary["true_effects"]["listed"]["retention"]
    interval = "" if measured.lower is None else f" [{measured.lower * 100:+.1f}, {measured.upper * 100:+.1f}]"
    estimate = "not measurable" if measured.estimate is None else f"{measured.estimate * 100:+.1f} points{interval}"
    console.print(f"[4/4] Retention effect of the outreach: measured {estimate} ({measured.n_contacted:,} contacted vs "
                  f"{measured.n_control:,} control); simulated {truth['effect'] * 100:+.1f} points on the same "
                  f"customers -> {after_dir}/outreach_effect.json", highlight=False, soft_wrap=True)


benchmark_app = typer.Typer(no_args_is_help=True, help="Benchmarks on real data.")
app.add_typer(benchmark_app, name="benchmark")


@benchmark_app.command("cdnow")
def benchmark_cdnow(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Default: the bundled configs/cdnow.yaml settings.")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", metavar="FILE", help="Write all figures to this JSON file.")] = None,
    chart: Annotated[Path, typer.Option(metavar="FILE", help="PNG decile chart of the longest holdout's value predictions.")] = Path(
        "cdnow_deciles.png"
    ),
    split: Annotated[
        Literal["literature", "development", "development-121d", "development-91d"],
        typer.Option(help="literature: calibration to 1997-09-30, 39- and 13-week holdouts. development (and the "
                          "-121d and -91d cuts): scaled-down copies inside the calibration period, for design choices."),
    ] = "literature",
    set_: SetOption = None,
) -> None:
    """Tierwise vs BG/NBD + Gamma-Gamma, RFM and recency on CDNOW, all on the same customers and holdouts."""
    import json

    from tierwise.config import cdnow_config
    from tierwise.evaluation import plot_decile_chart, run_cdnow_benchmark
    from tierwise.io import atomic_path

    cfg = load_config(config, set_ or []) if config is not None else cdnow_config(set_ or [])
    with console.status("Running tierwise, BG/NBD + Gamma-Gamma and the RFM baselines on CDNOW..."):
        result = run_cdnow_benchmark(_read_inputs(cfg), cfg, split=split)
    out = _stdout()
    names = {**_CHURN_COLUMNS, **_VALUE_COLUMNS, "predicted_over_actual": "pred/actual"}
    for holdout in result.churn:
        for kind, table in (("churn", result.churn[holdout]), ("value", result.value[holdout])):
            columns = [c for c in table.columns if c not in ("total_predicted", "total_actual")]
            rich_table = Table(
                title=f"CDNOW {kind}, {holdout} holdout from {result.split.calibration_end.date()} "
                      f"({len(result.predictions[holdout]):,} customers)"
            )
            rich_table.add_column("method")
            for column in columns:
                rich_table.add_column(names.get(column, column), justify="right")
            for method, row in table.iterrows():
                rich_table.add_row(method, *(_number(row[c]) for c in columns))
            out.print(rich_table)
    bg, gg = result.bgnbd, result.gamma_gamma
    out.print(f"BG/NBD r={bg['r']:.3f} alpha={bg['alpha']:.3f} a={bg['a']:.3f} b={bg['b']:.3f}; "
              f"Gamma-Gamma p={gg['p']:.3f} q={gg['q']:.3f} gamma={gg['gamma']:.3f}")
    out.print(f"tierwise value model: a {result.value_horizon_days}-day window, scaled to each holdout's length")
    out.print("wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
    figure = plot_decile_chart(result)
    with atomic_path(chart) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    console.print(f"Decile chart -> {chart}")
    if json_path is not None:
        with atomic_path(json_path) as temporary:
            temporary.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        console.print(f"Figures -> {json_path}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Input warnings from the library as the command's own warning lines; others as Python prints them."""
    if issubclass(category, InputWarning):
        console.print(f"[yellow]warning:[/] {escape(str(message))}", level="warning")
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main() -> None:
    """The ``tierwise`` command: run it, and turn a problem the user can fix into one line and its exit code."""
    console.restore()
    console.configure(quiet=False, log_format="text")
    _configure_logging()
    warnings.showwarning = _show_warning
    warnings.simplefilter("always", InputWarning)
    try:
        with _command_resources:
            code = app(standalone_mode=False, prog_name="tierwise")
    except typer.Abort:
        _fail("interrupted", ExitCode.FAILED)
    except click_exceptions.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "tierwise"
        _fail(f"{exc.format_message().replace('Value error, ', '')} (see {command} -h)", ExitCode.BAD_INPUT)
    except click_exceptions.ClickException as exc:
        _fail(exc.format_message(), ExitCode.BAD_INPUT)
    except TierwiseError as exc:
        _fail(str(exc), exc.exit_code)
    except OSError as exc:
        if exc.filename is None:
            raise
        # A path the user named that cannot be used as asked: a folder where a file belongs, a file in the way, ...
        _fail(f"{exc.filename}: {exc.strerror or exc}", ExitCode.BAD_INPUT)
    except Exception as exc:
        mlflow_errors = sys.modules.get("mlflow.exceptions")
        if mlflow_errors is None or not isinstance(exc, mlflow_errors.MlflowException):
            console.restore()  # a bug: its traceback goes to the real stderr
            raise
        from tierwise.training import tracking_uri

        _fail(f"MLflow store {tracking_uri()}: {str(exc).strip().splitlines()[0][:300]}", ExitCode.NO_MODEL)
    finally:
        console.restore()
        _remove_logging()
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: ExitCode) -> None:
    """The one line a user sees for a problem they can fix, and its exit code (see :class:`ExitCode`)."""
    console.print(f"[red]error:[/] {escape(message)}", level="error")
    sys.exit(int(code))
