"""Writing to MLflow: one run per training, models registered with aliases.

The store defaults to ``mlruns/`` in the working directory (a SQLite database
for runs and the registry); ``MLFLOW_TRACKING_URI`` overrides it. With a local
SQLite store, artifacts go to ``artifacts/`` beside the database file; other
stores keep their own artifact configuration. Nothing is set at import: the
URI is applied when a run starts.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tierwise.config import RegistryConfig, TierwiseConfig
from tierwise.errors import ModelNotFoundError, TierwiseError
from tierwise.features import attribute_columns, describe_features
from tierwise.inputs import InputData
from tierwise.models import (
    connect,
    data_source_metadata,
    log_pyfunc_model,
    log_scorer,
    saved_metadata,
    sqlite_store_path,
    tracking_uri,
)
from tierwise.models._store import store_lock
from tierwise.training._backtest import BacktestResult, TrainedModels
from tierwise.training._labels import transaction_span
from tierwise.training._plots import backtest_figures
from tierwise.training._snapshots import snapshot_shortfall

logger = logging.getLogger(__name__)

CANDIDATE, CHAMPION = "candidate", "champion"
PROMOTION_METRIC = "churn_model_roc_auc"
# Model-version tags: what a version was trained on, so that promotion compares like with like.
SOURCE_TAG, TEST_CUTOFF_TAG, ROC_AUC_TAG = "data_source_signature", "backtest_test_cutoff", "backtest_churn_roc_auc"
# Backtest figures a version is tagged with besides its churn ROC AUC: what it is judged by in the registry UI.
BACKTEST_TAGS = {
    "backtest_churn_pr_auc": "churn_model_pr_auc", "backtest_churn_brier": "churn_model_brier",
    "backtest_churn_lift_top_decile": "churn_model_lift_top_decile", "backtest_value_spearman": "value_model_spearman",
    "backtest_value_normalized_gini": "value_model_normalized_gini",
}
# A registered model's tag naming the version that was champion before the last promotion, for a rollback.
PREVIOUS_CHAMPION_TAG = "tierwise_previous_champion"


def _artifact_location(uri: str, experiment: str) -> str | None:
    database = sqlite_store_path(uri)
    if database is None:
        return None
    folder = re.sub(r"[^0-9A-Za-z._-]+", "_", experiment).strip("._") or "experiment"
    return (database.resolve().parent / "artifacts" / folder).as_uri()


def _experiment_id(client: MlflowClient, name: str) -> str:
    with store_lock(client.tracking_uri):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        return client.create_experiment(name, artifact_location=_artifact_location(client.tracking_uri, name))


def data_fingerprint(inputs: InputData) -> dict:
    """Row counts, date range and a content hash of the inputs, to tell data sets apart.

    Inputs validated in DuckDB are summarised there (an order-independent sum of row hashes), so the
    tables are never copied into pandas for it; inputs given as pandas frames are hashed as frames.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).

    Returns
    -------
    dict
        ``transactions``, ``events``, ``customers_table`` (row counts), ``customers_in_transactions``,
        ``first_transaction``, ``last_transaction`` and ``content_hash``; logged with the run.
    """
    if inputs.engine is not None:
        engine = inputs.engine
        tables = ["transactions", "events"] + ([] if inputs.customers is None else ["customers"])
        counts, hashes = {}, []
        for table in tables:
            count, content = engine.rows(f"SELECT COUNT(*), SUM(HASH(t)::HUGEINT) FROM {table} t")[0]
            counts[table] = count
            hashes.append(str(content))
        customers, first, last = engine.rows(
            "SELECT COUNT(DISTINCT customer_id), MIN(ts), MAX(ts) FROM transactions"
        )[0]
        return {
            "transactions": int(counts["transactions"]),
            "events": int(counts["events"]),
            "customers_table": int(counts.get("customers", 0)),
            "customers_in_transactions": int(customers),
            "first_transaction": str(pd.Timestamp(first)),
            "last_transaction": str(pd.Timestamp(last)),
            "content_hash": hashlib.sha256("|".join(hashes).encode()).hexdigest(),
        }
    digest = hashlib.sha256()
    for frame in (inputs.transactions, inputs.events, inputs.customers):
        if frame is not None:
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    tx = inputs.transactions
    return {
        "transactions": len(tx),
        "events": len(inputs.events),
        "customers_table": 0 if inputs.customers is None else len(inputs.customers),
        "customers_in_transactions": int(tx["customer_id"].nunique()),
        "first_transaction": str(tx["ts"].min()),
        "last_transaction": str(tx["ts"].max()),
        "content_hash": digest.hexdigest(),
    }


def _flat_params(config: TierwiseConfig) -> dict[str, str]:
    flat: dict[str, str] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = str(value)[:500]

    walk("", {"features": config.features.model_dump(), "training": config.training.model_dump()})
    return flat


@dataclass(frozen=True)
class TrainingRun:
    """What one training run recorded in MLflow.

    Attributes
    ----------
    run_id : str
        The MLflow run.
    churn_version, value_version, retained_value_version : str or None
        The registered versions of the three models.
    promoted : bool
        Whether the versions became the champion.
    promotion_note : str
        Why they were (or were not) promoted, in a few words.
    scorer_version : str or None
        The registered scorer (the pyfunc that scores with all three models).
    """

    run_id: str
    churn_version: str | None
    value_version: str | None
    retained_value_version: str | None
    promoted: bool
    promotion_note: str = ""
    scorer_version: str | None = None


@dataclass(frozen=True)
class VersionRecord:
    """What promotion compares: a registered version's data source, backtest test cutoff and churn ROC AUC.

    Attributes
    ----------
    version : str
        The registered version.
    signature : str or None
        The data source signature it was trained for.
    test_cutoff : str or None
        Its backtest's test cutoff.
    roc_auc : float or None
        Its backtest churn ROC AUC.
    """

    version: str
    signature: str | None
    test_cutoff: str | None
    roc_auc: float | None


def promotion_decision(new: VersionRecord, champion: VersionRecord | None, *, auto_promote: bool) -> tuple[bool, str]:
    """Whether a new version replaces the champion, and why in a few words.

    Only like is compared with like: the champion is replaced when there is
    none, or when both were trained for the same data source, backtested at
    the same test cutoff, and the new churn ROC AUC is higher.

    Parameters
    ----------
    new : VersionRecord
        The version just registered.
    champion : VersionRecord or None
        The current champion.
    auto_promote : bool
        ``registry.auto_promote``; when off, only a first version becomes champion.

    Returns
    -------
    promote : bool
        Whether the new version becomes champion.
    reason : str
        Why, e.g. "its backtest churn ROC AUC 0.8123 beats the champion's 0.8011".
    """
    if champion is None:
        return True, "there was no champion"
    if not auto_promote:
        return False, "registry.auto_promote is off"
    if champion.signature is None:
        return False, f"the champion (v{champion.version}) has no data source signature (trained by an older tierwise)"
    if champion.signature != new.signature:
        return False, f"the champion (v{champion.version}) was trained for another data source"
    if new.roc_auc is None:
        return False, "it has no backtest to compare with the champion's"
    if champion.test_cutoff != new.test_cutoff or champion.roc_auc is None:
        return False, (f"the champion (v{champion.version}) was backtested at {champion.test_cutoff or 'no cutoff'}, "
                       f"this version at {new.test_cutoff}: another test period")
    if new.roc_auc <= champion.roc_auc:
        return False, (f"its backtest churn ROC AUC {new.roc_auc:.4f} does not beat the champion's "
                       f"{champion.roc_auc:.4f} (v{champion.version})")
    return True, f"its backtest churn ROC AUC {new.roc_auc:.4f} beats the champion's {champion.roc_auc:.4f}"


def _champion_record(client: MlflowClient, name: str) -> VersionRecord | None:
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    tags = version.tags or {}
    roc_auc = tags.get(ROC_AUC_TAG)
    return VersionRecord(
        str(version.version), tags.get(SOURCE_TAG), tags.get(TEST_CUTOFF_TAG), None if roc_auc is None else float(roc_auc)
    )


def _log_model(model, kind: str, name: str, metadata: dict) -> str:
    """Log one model as tierwise's pyfunc (see :mod:`tierwise.models`) and register it as ``name``; its version."""
    info = log_pyfunc_model(
        model, name=f"{kind}_model", metadata={**saved_metadata(model, kind), **metadata}, registered_model_name=name,
    )
    return str(info.registered_model_version)


def _log_scorer(config: TierwiseConfig, models: TrainedModels, common: dict) -> str:
    """Log and register the scorer pyfunc: the three models with the scoring and tier settings of ``config``."""
    kinds = {"churn": models.churn, "value": models.value, "retained_value": models.retained_value}
    info = log_scorer(
        kinds, {kind: {**saved_metadata(model, kind), **common} for kind, model in kinds.items()},
        scoring=config.scoring, tiers=config.tiers, registered_model_name=_model_names(config.registry)[3],
    )
    return str(info.registered_model_version)


def _log_backtest(result: BacktestResult) -> None:
    mlflow.log_metrics(result.metrics())
    mlflow.log_dict(
        {
            "churn_test_cutoff": str(result.churn_plan.test_cutoff.date()),
            "value_test_cutoff": str(result.value_plan.test_cutoff.date()),
            "retained_value_test_cutoff": str(result.retained_value_plan.test_cutoff.date()),
            "value_label_days": result.value_plan.horizon_days,
            "training_rows": result.training_rows,
            "churn": result.churn.to_dict(orient="index"),
            "value": result.value.to_dict(orient="index"),
            "retained_value": result.retained_value.to_dict(orient="index"),
        },
        "backtest.json",
    )
    mlflow.log_text(result.reliability_before.to_csv(), "reliability_before_calibration.csv")
    mlflow.log_text(result.reliability_after.to_csv(), "reliability_after_calibration.csv")
    for file_name, figure in backtest_figures(result).items():
        mlflow.log_figure(figure, f"plots/{file_name}")


def log_training(
    config: TierwiseConfig,
    inputs: InputData,
    result: BacktestResult | None,
    models: TrainedModels,
    *,
    drift_reference: dict | None = None,
    sampled_snapshots: dict[str, int] | None = None,
) -> TrainingRun:
    """Record one training run and register the three models and the scorer; aliases follow :func:`promotion_decision`.

    ``result`` is None when no backtest fitted the data: then no backtest
    metric is logged, and the versions become champion only if there is none.
    All versions carry tags naming the data set, its source signature, the
    last transaction trained on and, with a backtest, its test cutoff and
    churn ROC AUC. ``drift_reference`` (see
    :func:`tierwise.monitoring.drift_reference`) goes into the churn model's
    metadata, so that scoring can check drift against it.

    Parameters
    ----------
    config : TierwiseConfig
        The settings, logged as parameters; ``registry`` names the models.
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    result : BacktestResult or None
        The backtest, or None when the data hold none.
    models : TrainedModels
        The models to register.
    drift_reference : dict, optional
        The churn model's drift reference.
    sampled_snapshots : dict of str to int, optional
        Snapshots sampled down to ``training.max_rows_per_snapshot``, per model, logged as parameters.

    Returns
    -------
    TrainingRun
        The run and the registered versions.

    Raises
    ------
    TierwiseError
        When the config's model names are not resolved.
    """
    client = connect()
    experiment_id = _experiment_id(client, config.registry.experiment)
    registry = config.registry
    churn_name, value_name, retained_name, scorer_name = _model_names(registry)
    source = data_source_metadata(config)
    signature = source["data_source_signature"]
    trained_through = str(transaction_span(inputs)[1])
    # The cutoff the final churn model learned its newest labels at: what the models know the world as of.
    as_of = str((models.churn_plan.validation if (models.churn.config and models.churn.config.refit_on_validation)
                 else models.churn_plan.train[-1]).date())
    run_name = f"train {config.data.name or 'default'} as of {as_of}" + (
        "" if result is None else f" (backtest at {result.churn_plan.test_cutoff.date()})")
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params(_flat_params(config))
        # Snapshots larger than training.max_rows_per_snapshot were sampled: which, and how many rows each had.
        mlflow.log_param("training.sampled_snapshots", len(sampled_snapshots or {}))
        if sampled_snapshots:
            mlflow.log_dict(sampled_snapshots, "sampled_snapshots.json")
        mlflow.log_params({f"fitted.churn_model.{k}": str(v) for k, v in models.churn.config.model_dump().items()})
        mlflow.log_params({f"fitted.value_model.{k}": str(v) for k, v in models.value.config.model_dump().items()})
        mlflow.log_params(
            {f"fitted.retained_value_model.{k}": str(v) for k, v in models.retained_value.config.model_dump().items()}
        )
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        mlflow.log_dict(data_fingerprint(inputs), "data_fingerprint.json")
        if result is None:
            mlflow.log_dict({"backtest": None, "reason": snapshot_shortfall(inputs, config.training, for_backtest=True)}, "backtest.json")
        else:
            _log_backtest(result)
        specs = describe_features(config.features, attribute_columns(inputs))
        mlflow.log_dict(
            # A list: log_dict writes any JSON value, though its annotation says dict.
            [{"name": s.name, "description": s.description, "unit": s.unit, "kind": s.kind} for s in specs],  # type: ignore[arg-type]
            "features.json",
        )
        common = {
            "features": config.features.model_dump(mode="json"),
            "trained_through": trained_through,
            "churn_horizon_days": config.training.churn_horizon_days,
            "active_lookback_days": config.training.active_lookback_days,
            "max_rows_per_snapshot": config.training.max_rows_per_snapshot,
            "sampled_snapshots": len(sampled_snapshots or {}),
            # The window the value model learned and predicts, which a short log makes shorter than configured.
            "value_horizon_days": models.value_plan.horizon_days,
            **source,
        }
        churn_version = _log_model(
            models.churn, "churn", churn_name,
            {**common, **({} if drift_reference is None else {"drift_reference": drift_reference})},
        )
        value_version = _log_model(models.value, "value", value_name, common)
        # E[value | no lapse within the churn horizon]: the value a contact can protect.
        retained_version = _log_model(
            models.retained_value, "retained_value", retained_name, common,
        )
        scorer_version = _log_scorer(config, models, common)
    record = VersionRecord(
        str(churn_version), signature,
        None if result is None else str(result.churn_plan.test_cutoff.date()),
        None if result is None else float(result.metrics()[PROMOTION_METRIC]),
    )
    tags = {"data_name": str(config.data.name), SOURCE_TAG: signature, "trained_through": trained_through,
            "as_of": as_of, "data_source": _data_paths(config), "mlflow_run_name": run_name}
    if result is not None:
        tags.update({TEST_CUTOFF_TAG: record.test_cutoff, ROC_AUC_TAG: repr(record.roc_auc)})
        figures = result.metrics()
        tags.update({tag: f"{figures[key]:.4f}" for tag, key in BACKTEST_TAGS.items() if key in figures})
    versions = {churn_name: churn_version, value_name: value_version, retained_name: retained_version,
                scorer_name: scorer_version}
    for name, version in versions.items():
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    promoted, why = _set_aliases(client, registry, versions, record)
    return TrainingRun(run.info.run_id, churn_version, value_version, retained_version, promoted, why, scorer_version)


def _data_paths(config: TierwiseConfig) -> str:
    """The files a model was trained on, as a version tag: ``transactions=...; events=...``."""
    sources = {name: getattr(config.data, name) for name in ("transactions", "events", "customers")}
    return "; ".join(f"{name}={source.path}" for name, source in sources.items() if source is not None)


def _set_aliases(client, registry: RegistryConfig, versions: dict[str, str], record: VersionRecord) -> tuple[bool, str]:
    champion = _champion_record(client, _model_names(registry)[0])
    for name, version in versions.items():
        client.set_registered_model_alias(name, CANDIDATE, version)
    promote_now, why = promotion_decision(record, champion, auto_promote=registry.auto_promote)
    if promote_now:
        promote(registry, client=client)
    return promote_now, why


def _model_names(registry: RegistryConfig) -> tuple[str, str, str, str]:
    """The churn, value, retained-value and scorer model names, as :meth:`RegistryConfig.for_data` resolved them."""
    names = (registry.churn_model_name, registry.value_model_name, registry.retained_value_model_name,
             registry.scorer_model_name)
    if any(name is None for name in names):
        raise TierwiseError("registry: the model names are not resolved; build the config with tierwise.load_config "
                            "or TierwiseConfig, which names them after data.name")
    churn, value, retained_value, scorer = (str(name) for name in names)
    return churn, value, retained_value, scorer


def _versions_of_run(client: MlflowClient, registry: RegistryConfig, churn_version: str) -> dict[str, str]:
    """The versions of the four models registered by the run that registered churn version ``churn_version``."""
    name = _model_names(registry)[0]
    try:
        churn = client.get_model_version(name, churn_version)
    except MlflowException:
        raise ModelNotFoundError(f"registry: model '{name}' has no version {churn_version} in {tracking_uri()}") from None
    versions = {name: str(churn.version)}
    for other in _model_names(registry)[1:]:
        found = [v for v in client.search_model_versions(f"name = '{other}'") if v.run_id == churn.run_id]
        if not found:
            raise ModelNotFoundError(f"registry: model '{other}' has no version from the run of {name} v{churn_version}")
        versions[other] = str(found[0].version)
    return versions


def promote(
    registry: RegistryConfig, *, client: MlflowClient | None = None, version: str | int | None = None,
    rollback: bool = False,
) -> dict[str, str]:
    """Move the ``champion`` alias of the three models and the scorer; returns each model's new champion version.

    Parameters
    ----------
    registry : RegistryConfig
        Names the models.
    client : MlflowClient, optional
        A client on the store; default: :func:`tierwise.models.connect`.
    version : str or int, optional
        The churn model's version to make champion, with the versions of the
        other models from the same training run; default: the ``candidate``.
    rollback : bool
        Make the champion before the last promotion champion again.

    Returns
    -------
    dict
        Model name -> its champion version now.

    Raises
    ------
    ModelNotFoundError
        When there is no candidate, no such version, or nothing to roll back to.
    """
    client = client or connect()
    names = _model_names(registry)
    if version is not None and rollback:
        raise TierwiseError("promote: give a version or a rollback, not both")
    if rollback:
        tags = client.get_registered_model(names[0]).tags
        if PREVIOUS_CHAMPION_TAG not in tags:
            raise ModelNotFoundError(f"registry: model '{names[0]}' has no earlier champion to roll "
                                     "back to (none was replaced by a promotion)")
        wanted = _versions_of_run(client, registry, tags[PREVIOUS_CHAMPION_TAG])
    elif version is not None:
        wanted = _versions_of_run(client, registry, str(version))
    else:
        wanted = {}
        for name in names:
            try:
                wanted[name] = str(client.get_model_version_by_alias(name, CANDIDATE).version)
            except MlflowException:
                raise ModelNotFoundError(
                    f"registry: model '{name}' has no '{CANDIDATE}' version in {tracking_uri()}; run tierwise train first"
                ) from None
    for name, target in wanted.items():
        try:
            current = str(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            current = None
        if current is not None and current != target:
            client.set_registered_model_tag(name, PREVIOUS_CHAMPION_TAG, current)
        client.set_registered_model_alias(name, CHAMPION, target)
    return wanted


def log_run_evaluation(
    run_id: str, metrics: dict[str, float], *, step: int, timestamp_ms: int, document: dict, artifact_file: str
) -> None:
    """Add an evaluation of a run's models to that (finished) run: metrics at ``step``, ``document`` as JSON.

    A local SQLite store that does not exist is not created: the run cannot be there.

    Parameters
    ----------
    run_id : str
        The MLflow run of the models evaluated.
    metrics : dict of str to float
        The figures to log.
    step : int
        The metrics' step (days since the run's as_of).
    timestamp_ms : int
        The metrics' timestamp, in milliseconds since the epoch.
    document : dict
        The whole evaluation, logged as a JSON artifact.
    artifact_file : str
        The artifact's path inside the run.

    Raises
    ------
    TierwiseError
        When the local MLflow store does not exist.
    """
    from mlflow.entities import Metric

    database = sqlite_store_path(tracking_uri())
    if database is not None and not database.exists():
        raise TierwiseError(f"no MLflow store at {database}")
    client = connect()
    client.log_batch(run_id, metrics=[Metric(key, float(value), timestamp_ms, step) for key, value in metrics.items()])
    client.log_dict(run_id, document, artifact_file)
