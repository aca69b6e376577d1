"""Loading the registered models from MLflow: inference's only link to training."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import get_model_info
from mlflow.tracking import MlflowClient

from tierwise.config import RegistryConfig, TierwiseConfig
from tierwise.errors import ModelNotFoundError
from tierwise.models import (
    ChurnPredictor,
    TierwiseModel,
    ValuePredictor,
    connect,
    data_source_differences,
    data_source_signature,
    describe_data_source,
    expect_kind,
    sqlite_store_path,
    tracking_uri,
)


@dataclass(frozen=True)
class ScoringModels:
    """The churn, value and retained-value models, with the metadata logged beside them.

    Attributes
    ----------
    churn : ChurnPredictor
        P(lapse within the churn horizon).
    value : ValuePredictor
        Net spend over the value horizon.
    retained_value : ValuePredictor
        Net spend over the value horizon, given no lapse.
    metadata : dict
        The churn model's metadata: horizons, data source, drift reference, ...
    version : str
        The churn model's registered version, written into the scores' ``model_version``.
    run_id : str or None
        The MLflow run that trained them.
    """

    churn: ChurnPredictor
    value: ValuePredictor
    retained_value: ValuePredictor
    metadata: dict
    version: str
    run_id: str | None = None


@dataclass(frozen=True)
class _Located:
    uri: str
    label: str
    location: str
    run_id: str | None


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:160]


def _locate_version(client: MlflowClient, name: str, model: str, store: str) -> _Located:
    try:
        client.get_registered_model(name)
    except MlflowException:
        raise ModelNotFoundError(f"model: no registered model '{name}' in {store}; run tierwise train first") from None
    what = f"version {model}" if model.isdigit() else f"alias '{model}'"
    try:
        found = client.get_model_version(name, model) if model.isdigit() else client.get_model_version_by_alias(name, model)
        location = client.get_model_version_download_uri(name, found.version)
    except MlflowException:
        raise ModelNotFoundError(f"model: registered model '{name}' has no {what} in {store}") from None
    return _Located(f"models:/{name}/{found.version}", f"{name} v{found.version}", location, found.run_id)


# The artifact and registered-model stems of the three models, in the order ScoringModels holds them.
_KINDS = ("churn", "value", "retained_value")


def _locate_run(client: MlflowClient, run_id: str, store: str) -> tuple[_Located, ...]:
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ModelNotFoundError(f"model: no run '{run_id}' in {store}") from None
    logged = {
        found.name: found.artifact_location
        for found in client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
        )
    }
    return tuple(
        _Located(f"runs:/{run_id}/{kind}_model", f"the {kind.replace('_', '-')} model of run {run_id}",
                 logged.get(f"{kind}_model", f"{run.info.artifact_uri}/{kind}_model"), run_id)
        for kind in _KINDS
    )


def _locate_models(registry: RegistryConfig, model: str) -> tuple[_Located, ...]:
    """Find the three models in the store without loading them; refuses a missing store, model, alias or version."""
    store = tracking_uri()
    database = sqlite_store_path(store)
    if database is not None and not database.exists():
        raise ModelNotFoundError(
            f"model: no MLflow store at {database} (set MLFLOW_TRACKING_URI to the store tierwise train wrote to); "
            "run tierwise train first"
        )
    client = connect()
    if model.startswith("runs:/"):
        return _locate_run(client, model.removeprefix("runs:/").strip("/"), store)
    return tuple(_locate_version(client, getattr(registry, f"{kind}_model_name"), model, store) for kind in _KINDS)


def _load_pyfunc_model(uri: str) -> ChurnPredictor | ValuePredictor:
    """The predictor inside a model logged as tierwise's pyfunc: what ``mlflow.pyfunc.load_model`` predicts with."""
    python_model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    if not isinstance(python_model, TierwiseModel):
        raise ModelNotFoundError(f"model: {uri} is not a tierwise model (logged by an older tierwise?); run tierwise train again")
    return python_model.model_


def load_models(registry: RegistryConfig, model: str = "champion") -> ScoringModels:
    """Load the churn, value and retained-value models by alias (``champion``, ``candidate``), version number, or ``runs:/<run id>``.

    A store, registered model, alias or version that does not exist is named
    as such; a model that is registered but whose files are gone is reported
    as missing, with where they should be. ``run_id`` is the MLflow run that
    logged the churn model; its metadata's ``drift_reference`` (absent in
    models trained by an older tierwise) is what scoring checks drift against.

    Parameters
    ----------
    registry : RegistryConfig
        The registered model names (and the store, through
        ``MLFLOW_TRACKING_URI`` or ``registry.tracking_uri``).
    model : str
        ``champion``, ``candidate``, a version number, or ``runs:/<run id>``.

    Returns
    -------
    ScoringModels
        The three models, their metadata, version label and training run.

    Raises
    ------
    ModelNotFoundError
        When the store, a model, the alias or version, or its files are
        missing, or a model of the wrong kind is registered under a name.

    Examples
    --------
    >>> models = load_models(load_config("configs/demo.yaml").registry, "champion")  # doctest: +SKIP
    >>> models.version  # doctest: +SKIP
    'tierwise-demo-churn v1, tierwise-demo-value v1, tierwise-demo-retained-value v1'
    """
    located = _locate_models(registry, model)
    loaded = []
    for found in located:
        try:
            info = get_model_info(found.uri)
            predictor = _load_pyfunc_model(found.uri)
        except (MlflowException, OSError) as exc:
            raise ModelNotFoundError(
                f"model: the files of {found.label} are missing or unreadable at {found.location} ({_first_line(exc)})"
            ) from None
        loaded.append((predictor, info.metadata or {}))
    (churn_model, churn_meta), (value_model, value_meta), (retained_model, _) = loaded
    churn = expect_kind(churn_model, ChurnPredictor, located[0].uri)
    value = expect_kind(value_model, ValuePredictor, located[1].uri)
    retained = expect_kind(retained_model, ValuePredictor, located[2].uri)
    for found, (other, _) in zip(located[1:], loaded[1:], strict=True):
        if list(churn.feature_names_in_) != list(other.feature_names_in_):
            raise ModelNotFoundError(f"model: {located[0].uri} and {found.uri} were trained on different features")
    version = model if model.startswith("runs:/") else ", ".join(found.label for found in located)
    # The training run behind the churn model: where its backtest lives and where evaluations of its scores go.
    metadata = {**value_meta, **churn_meta, "mlflow_run_id": located[0].run_id}
    return ScoringModels(
        churn=churn, value=value, retained_value=retained, metadata=metadata, version=version, run_id=located[0].run_id,
    )


def check_data_source(models: ScoringModels, config: TierwiseConfig) -> None:
    """Refuse a model trained for another data source than ``config`` reads.

    The source is what defines the data (inputs, column mappings, formats,
    customer attributes, feature settings), not file paths nor contents:
    newer data from the same source is fine. ``scoring.allow_other_source``
    (``--allow-other-source``) lets a model from another source score anyway.

    Parameters
    ----------
    models : ScoringModels
        The churn, value and retained-value models (see :func:`load_models`).
    config : TierwiseConfig
        The config the data will be read with.

    Raises
    ------
    TierwiseError
        When the sources differ (saying how) and ``scoring.allow_other_source`` is off.
    """
    if config.scoring.allow_other_source:
        return
    override = "or allow it with --allow-other-source (scoring.allow_other_source)"
    trained = models.metadata.get("data_source")
    if trained is None:
        raise ModelNotFoundError(
            f"model: {models.version} has no data source signature (trained by an older tierwise); "
            f"retrain it with tierwise train, {override}"
        )
    current = describe_data_source(config)
    if models.metadata.get("data_source_signature") == data_source_signature(current):
        return
    trained_name, current_name = models.metadata.get("data_name"), config.data.name
    names = f" (data set '{trained_name}', here '{current_name}')" if trained_name != current_name else ""
    detail = data_source_differences(trained, current) or "its signature differs"
    raise ModelNotFoundError(
        f"model: {models.version} was trained for another data source{names}: {detail}; "
        f"train a model on this data, {override}"
    )
