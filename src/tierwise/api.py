"""The public API: :func:`fit`, :func:`score` and :func:`deliver`, for notebooks and jobs alike.

Each takes pandas DataFrames (transactions, events, customers, named as in
the config's ``data`` section) or reads the files the config names, and a
config as a :class:`~tierwise.config.TierwiseConfig`, a mapping or a YAML
path. The ``tierwise`` command's ``train`` and ``score`` call exactly these.

Warnings about the inputs (suspicious but usable data) are issued as
:class:`~tierwise.errors.InputWarning` through Python's :mod:`warnings`, so
a notebook shows them under the cell.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import pandas as pd

from tierwise.config import TierwiseConfig, config_from_dict, load_config
from tierwise.errors import InputWarning, TierwiseError
from tierwise.features import normalize_as_of
from tierwise.inputs import InputData, inputs_from_frames
from tierwise.io import read_config_inputs, read_table

# The modelling modules load MLflow and LightGBM: imported where used, so that importing the API stays quick.
if TYPE_CHECKING:
    from tierwise.inference import ScoringModels
    from tierwise.monitoring import PreviousRun
    from tierwise.spark import SparkInputs
    from tierwise.training import BacktestResult, TrainingRun

logger = logging.getLogger(__name__)

ConfigLike = TierwiseConfig | Mapping[str, Any] | str | PathLike | None
ModelsLike = Union["FitResult", "ScoringModels", str]  # noqa: UP007 (names defined below: a | needs them now)

# The key of ``scores.attrs`` that carries what :func:`deliver` needs from scoring.
SCORING_CONTEXT = "tierwise"
_TABLES = ("transactions", "events", "customers")


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` trained: the models as scoring loads them, the backtest and the MLflow run.

    Attributes
    ----------
    models : ScoringModels
        The churn, value and retained-value models, loaded back from the run
        that registered them (what :func:`score` uses).
    backtest : BacktestResult or None
        The backtest beside the baselines; None when the data are too short
        for one (a warning says why).
    run : TrainingRun
        The MLflow run id, the registered versions and whether they were
        made champion.
    config : TierwiseConfig
        The config the models were trained with; :func:`score` uses it when
        given none.
    """

    models: ScoringModels
    backtest: BacktestResult | None
    run: TrainingRun
    config: TierwiseConfig


@dataclass(frozen=True)
class Delivery:
    """What :func:`deliver` wrote.

    Attributes
    ----------
    folder : Path
        The export folder.
    scores : pandas.DataFrame
        Everyone's scores, with ``previous_tier`` and ``tier_since`` from the
        previous run.
    outreach : pandas.DataFrame
        The list as delivered, contacts and control customers.
    movers : pandas.DataFrame
        Customers who moved into an at-risk tier since the previous run.
    manifest : dict
        The manifest written last.
    summary : dict
        Contacts, control size, expected saving and contact cost.
    previous : PreviousRun or None
        The run the tiers were compared with.
    previous_note : str
        One line saying which previous run was used, or why none.
    database_rows : int or None
        Rows written to ``export.database_url``'s table; None when unset.
    """

    folder: Path
    scores: pd.DataFrame
    outreach: pd.DataFrame
    movers: pd.DataFrame
    manifest: dict
    summary: dict
    previous: PreviousRun | None
    previous_note: str
    database_rows: int | None


def resolve_config(config: ConfigLike, overrides: Sequence[str] = (), *, with_frames: Sequence[str] = ()) -> TierwiseConfig:
    """A validated config from an object, a mapping or a YAML file, with dotted overrides applied.

    Parameters
    ----------
    config : TierwiseConfig, mapping, str, path or None
        The settings; None takes every default.
    overrides : sequence of str
        ``section.key=value`` strings applied on top, as ``--set`` does.
    with_frames : sequence of str
        The tables given as DataFrames (``transactions``, ``events``,
        ``customers``): a config without a source or a path for them gets
        one named after the DataFrame (its column mapping, or the defaults,
        applies).

    Returns
    -------
    TierwiseConfig
        The validated, frozen config; relative paths in a YAML file resolve
        against the file's folder.

    Raises
    ------
    ConfigError
        When the config or an override is invalid.

    Examples
    --------
    >>> resolve_config({"data": {"transactions": {"path": "tx.csv"}}}).data.transactions.path
    'tx.csv'
    """
    if isinstance(config, (str, PathLike)):
        loaded = load_config(config, overrides)
        return loaded if not with_frames else _with_frame_sources(loaded.model_dump(mode="json"), with_frames, ())
    if isinstance(config, TierwiseConfig):
        if not overrides and not with_frames:
            return config
        raw = config.model_dump(mode="json")
    else:
        raw = deepcopy(dict(config or {}))
    return _with_frame_sources(raw, with_frames, overrides)


def _with_frame_sources(raw: dict[str, Any], tables: Sequence[str], overrides: Sequence[str]) -> TierwiseConfig:
    data = raw.setdefault("data", {}) if isinstance(raw.get("data", {}), dict) else raw["data"]
    if isinstance(data, dict):
        for table in tables:
            if data.get(table) is None:
                data[table] = {"path": f"{table} DataFrame"}
            elif isinstance(data[table], dict) and not data[table].get("path"):
                data[table] = {**data[table], "path": f"{table} DataFrame"}
    return config_from_dict(raw, overrides=overrides)


def _given(transactions: pd.DataFrame | None, events: pd.DataFrame | None, customers: pd.DataFrame | None) -> list[str]:
    frames = dict(zip(_TABLES, (transactions, events, customers), strict=True))
    for name, frame in frames.items():
        if frame is not None and not isinstance(frame, pd.DataFrame):
            raise TierwiseError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    return [name for name, frame in frames.items() if frame is not None]


def read_inputs(
    config: TierwiseConfig,
    *,
    transactions: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
) -> InputData:
    """Validate the inputs: each table from its DataFrame when given, else from the file the config names.

    Each warning about the data is issued as an :class:`~tierwise.errors.InputWarning`.

    Parameters
    ----------
    config : TierwiseConfig
        Its ``data`` section maps the columns (and names the files not given).
    transactions, events, customers : pandas.DataFrame, optional
        The tables, columns named as in ``config.data``.

    Returns
    -------
    InputData
        The canonical tables and the warnings found on the way.

    Raises
    ------
    InputDataError
        When a table breaks the data contract.
    """
    frames = dict(zip(_TABLES, (transactions, events, customers), strict=True))
    if all(frame is None for frame in frames.values()):
        inputs = read_config_inputs(config)
    else:
        origins: dict[str, str] = {}
        for name in _TABLES:
            source = getattr(config.data, name)
            if frames[name] is None and source is not None and not source.path.endswith(" DataFrame"):
                frames[name] = read_table(source.path, source.format, header=source.header)
                origins[name] = source.path
        if frames["transactions"] is None:
            raise TierwiseError("transactions: no DataFrame given and the config names no transactions file")
        inputs = inputs_from_frames(
            frames["transactions"], data=config.data, features=config.features, events=frames["events"],
            customers=frames["customers"], origins=origins,
        )
    for message in inputs.warnings:
        warnings.warn(message, InputWarning, stacklevel=3)
    return inputs


@contextmanager
def _store(config: TierwiseConfig) -> Iterator[None]:
    from tierwise.models import using_tracking_uri

    with using_tracking_uri(config.registry.tracking_uri):
        yield


def fit(
    transactions: pd.DataFrame | None = None,
    *,
    events: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    config: ConfigLike = None,
    overrides: Sequence[str] = (),
    inputs: InputData | None = None,
) -> FitResult:
    """Backtest, fit the churn, value and retained-value models on the latest snapshots, and register them in MLflow.

    Parameters
    ----------
    transactions, events, customers : pandas.DataFrame, optional
        The tables, columns named as in the config's ``data`` section; a table
        not given is read from the file the config names.
    config : TierwiseConfig, mapping, str or path, optional
        The settings (a YAML path, a mapping of sections, or the object).
    overrides : sequence of str
        ``section.key=value`` strings applied on top of the config.
    inputs : InputData, optional
        Tables already validated (by :func:`read_inputs`); the DataFrames are
        then not read.

    Returns
    -------
    FitResult
        The models (loaded back from the run, as scoring sees them), the
        backtest (None without room for one), the MLflow run and the config.

    Raises
    ------
    TierwiseError
        For bad input or settings, in one line.

    Examples
    --------
    >>> import tierwise
    >>> fitted = tierwise.fit(transactions, events=events, customers=customers,
    ...                       config="configs/demo.yaml")  # doctest: +SKIP
    >>> fitted.backtest.churn  # doctest: +SKIP
    """
    from tierwise.inference import load_models
    from tierwise.training import train_and_register

    cfg = resolve_config(config, overrides, with_frames=_given(transactions, events, customers))
    if inputs is None:
        inputs = read_inputs(cfg, transactions=transactions, events=events, customers=customers)
    with _store(cfg):
        backtest, run = train_and_register(inputs, cfg)
        models = load_models(cfg.registry, f"runs:/{run.run_id}")
    return FitResult(models=models, backtest=backtest, run=run, config=cfg)


def load_scoring_models(config: ConfigLike = None, model: str = "champion") -> ScoringModels:
    """The registered models by alias (``champion``, ``candidate``), version number or ``runs:/<run id>``.

    They are checked against the config's data source before any data is read.

    Parameters
    ----------
    config : TierwiseConfig, mapping, str or path, optional
        Names the registered models and the store (``registry``).
    model : str
        Which versions.

    Returns
    -------
    ScoringModels
        The churn, value and retained-value models with their versions and
        training metadata, ready for :func:`score`.

    Raises
    ------
    TierwiseError
        When the store, model or version does not exist (saying where it
        looked), or the models were trained for another data source.
    """
    from tierwise.inference import check_data_source, load_models

    cfg = resolve_config(config)
    with _store(cfg):
        models = load_models(cfg.registry, model)
    check_data_source(models, cfg)
    return models


def score(
    models: ModelsLike = "champion",
    transactions: pd.DataFrame | None = None,
    *,
    events: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    config: ConfigLike = None,
    as_of: str | dt.date | pd.Timestamp | None = None,
    overrides: Sequence[str] = (),
    inputs: InputData | SparkInputs | None = None,
) -> pd.DataFrame:
    """Score every customer known before ``as_of``: risk, value, tier, action and reasons.

    Parameters
    ----------
    models : FitResult, ScoringModels or str
        What :func:`fit` returned, loaded models, or a registered version:
        ``champion``, ``candidate``, a number or ``runs:/<run id>``.
    transactions, events, customers : pandas.DataFrame, optional
        The tables, columns named as in the config's ``data`` section; a table
        not given is read from the file the config names.
    config : TierwiseConfig, mapping, str or path, optional
        The settings; default: the config :func:`fit` trained with.
    as_of : date-like, optional
        The cutoff, ``YYYY-MM-DD``; default: the day after the last transaction.
    overrides : sequence of str
        ``section.key=value`` strings applied on top of the config.
    inputs : InputData or SparkInputs, optional
        Tables already validated: by :func:`read_inputs`, or on Spark by
        :func:`tierwise.spark.read_spark_inputs` (the features are then built
        on Spark and scored here, equal to the DuckDB engine's).

    Returns
    -------
    pandas.DataFrame
        One row per customer in the columns of
        :data:`tierwise.inference.SCORE_COLUMNS`, most at risk first. Its
        ``attrs["tierwise"]`` carries the drift figures, the models' run and
        the config, which :func:`deliver` uses.

    Raises
    ------
    TierwiseError
        For bad input, a missing model, or a model trained for other data.

    Examples
    --------
    >>> scores = tierwise.score(fitted, transactions, events=events, customers=customers)  # doctest: +SKIP
    >>> scores.groupby("tier")["value_at_risk"].sum()  # doctest: +SKIP
    """
    from tierwise.inference import ScoringModels, default_as_of, score_with_drift

    if config is None and isinstance(models, FitResult):
        config = models.config
    cfg = resolve_config(config, overrides, with_frames=_given(transactions, events, customers))
    cutoff = None if as_of is None else normalize_as_of(as_of)
    if isinstance(models, FitResult):
        loaded = models.models
    elif isinstance(models, ScoringModels):
        loaded = models
    else:
        loaded = load_scoring_models(cfg, models)
    if inputs is None:
        inputs = read_inputs(cfg, transactions=transactions, events=events, customers=customers)
    with _store(cfg):
        if isinstance(inputs, InputData):
            cutoff = _default_cutoff(cutoff, lambda: default_as_of(inputs))
            scores, drift = score_with_drift(inputs, as_of=cutoff, config=cfg, models=loaded,
                                             rank_by=cfg.outreach.rank_by)
        else:  # Spark: the features are built there; the models, ranks and reasons run here, as on DuckDB
            from tierwise.spark import default_spark_as_of, spark_scores

            cutoff = _default_cutoff(cutoff, lambda: default_spark_as_of(inputs))
            scores, drift = spark_scores(inputs, as_of=cutoff, config=cfg, models=loaded, rank_by=cfg.outreach.rank_by)
    scores.attrs[SCORING_CONTEXT] = {
        "drift": drift, "model_run_id": loaded.run_id,
        "churn_horizon_days": int(loaded.metadata["churn_horizon_days"]),
        "mlflow_run_id": loaded.metadata.get("mlflow_run_id"), "config": cfg,
    }
    return scores


def _default_cutoff(given: pd.Timestamp | None, day_after_data: Callable[[], pd.Timestamp]) -> pd.Timestamp:
    """``given``, else the day after the last transaction (asked of the engine only then), said in the log."""
    if given is not None:
        return given
    cutoff = day_after_data()
    logger.info("as_of not given: scoring as of %s, the day after the last transaction", cutoff.date())
    return cutoff


def _report_page(scores: pd.DataFrame, outreach: pd.DataFrame, manifest: dict, *, drift: dict | None) -> str:
    from tierwise.reporting import build_report, read_model_card

    return build_report(scores, outreach, manifest, model_card=read_model_card(str(manifest["model_version"])),
                        drift=drift)


def deliver(
    scores: pd.DataFrame,
    out: str | PathLike,
    *,
    config: ConfigLike = None,
    previous: str | PathLike | None = None,
    compare: bool = True,
    report: bool = True,
    overrides: Sequence[str] = (),
) -> Delivery:
    """Write the CRM export of :func:`score`'s frame into the folder ``out``, manifest last.

    The folder gets scores.parquet (everyone), outreach.csv and .parquet (to
    contact), control.csv and .parquet (held out: do not contact), movers.csv
    and .parquet, drift.json, report.html and manifest.json; with
    ``export.database_url`` set, the database tables are filled too, and the
    drift figures are logged to the models' MLflow run.

    Parameters
    ----------
    scores : pandas.DataFrame
        What :func:`score` returned (its ``attrs["tierwise"]`` included).
    out : str or path
        The export folder; created if needed, and held for this run (a
        second run into it is refused).
    config : TierwiseConfig, mapping, str or path, optional
        The settings: outreach, export, tiers; default: the config the
        scores were made with.
    previous : str or path, optional
        The earlier run folder to compare tiers with; default: the latest
        earlier run beside ``out``, else the database's tiers table.
    compare : bool
        Compare with a previous run at all; False leaves ``previous_tier``
        unknown and the movers empty.
    report : bool
        Write report.html.
    overrides : sequence of str
        ``section.key=value`` strings applied on top of the config.

    Returns
    -------
    Delivery
        The folder written, with the outreach and control frames and the
        manifest as written to disk.

    Raises
    ------
    TierwiseError
        When the scores lack the scoring context, the folder cannot be
        written, or the previous run does not fit.
    DeliveryError
        When the database write failed after the files were written.

    Examples
    --------
    >>> delivery = tierwise.deliver(scores, "runs/2026-01-01", config="configs/demo.yaml")  # doctest: +SKIP
    >>> delivery.outreach.head()  # doctest: +SKIP
    """
    from tierwise.errors import DeliveryError
    from tierwise.inference import (
        EXPORT_SCHEMA_VERSION,
        build_outreach_list,
        export_terms,
        log_drift,
        outreach_summary,
        risk_band_terms,
    )
    from tierwise.io import lock_folder, replace_outreach_rows, write_export
    from tierwise.monitoring import (
        PreviousRunSearch,
        at_risk_tiers,
        carry_tiers,
        find_previous_run,
        movers_csv_frame,
        run_identity,
        tier_movers,
    )

    context = scores.attrs.get(SCORING_CONTEXT)
    if context is None:
        raise TierwiseError("scores: not a frame tierwise.score returned (its attrs['tierwise'] is missing); "
                            "deliver the frame as scored")
    if scores.empty:
        raise TierwiseError("scores: no customers to deliver")
    if config is None:
        cfg = resolve_config(context["config"], overrides)
    else:
        cfg = resolve_config(config, overrides, with_frames=("transactions",))
    folder = Path(out)
    drift = context["drift"]
    with lock_folder(folder, join=True):
        as_of = pd.Timestamp(scores["as_of"].iloc[0])
        if compare:
            search = find_previous_run(folder, as_of=as_of, config=cfg, explicit=previous)
        else:
            search = PreviousRunSearch(run=None, note="No previous run compared with (compare=False)")
        carried = carry_tiers(scores, search.run)
        listed = build_outreach_list(carried, cfg.outreach)
        movers = tier_movers(carried, listed, at_risk_tiers(cfg.tiers))
        manifest = write_export(
            listed, folder, scores=carried, schema_version=EXPORT_SCHEMA_VERSION,
            model_version=str(carried["model_version"].iloc[0]), as_of=as_of,
            scored_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            horizons={"churn_horizon_days": int(context["churn_horizon_days"]),
                      "value_horizon_days": int(carried["value_horizon_days"].iloc[0])},
            terms={**export_terms(cfg.outreach, cfg.export),
                   "risk_bands": risk_band_terms(carried["churn_probability"], config=cfg.scoring),
                   "model_run_id": context.get("mlflow_run_id"),
                   **run_identity(cfg),
                   "previous_run": None if search.run is None else search.run.manifest_entry(carried),
                   "movers_row_count": len(movers)},
            report=(lambda s, o, m: _report_page(s, o, m, drift=drift)) if report else None,
            tables={"movers.csv": movers_csv_frame(movers), "movers.parquet": movers},
            drift=drift,
        )
    written = None
    if cfg.export.database_url:
        try:
            written = replace_outreach_rows(listed, cfg.export.database_url, cfg.export.table, as_of=as_of,
                                            tiers=carried[["customer_id", "tier", "tier_since"]])
        except TierwiseError as exc:
            raise DeliveryError(f"{exc} (the files in {folder} are written)") from None
    if drift is not None:
        with _store(cfg):
            log_drift(drift, context["model_run_id"])
    return Delivery(
        folder=folder, scores=carried, outreach=listed, movers=movers, manifest=manifest,
        summary=outreach_summary(listed, cfg.outreach), previous=search.run, previous_note=search.note,
        database_rows=written,
    )
