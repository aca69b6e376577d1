"""Writing to MLflow: one run per training, models registered with aliases.

The store defaults to ``mlruns/`` in the working directory (a SQLite database
for runs and the registry; MLflow keeps artifacts beside it); ``MLFLOW_TRACKING_URI``
overrides it. Nothing is set at import: the URI is applied when a run starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from tierwise.config import RegistryConfig, TierwiseConfig
from tierwise.errors import TierwiseError
from tierwise.features import attribute_columns, describe_features
from tierwise.inputs import InputData
from tierwise.training._backtest import BacktestResult, TrainedModels
from tierwise.training._plots import backtest_figures
from tierwise.training._snapshots import snapshot_shortfall

logger = logging.getLogger(__name__)

STORE_DIR = Path("mlruns")
CANDIDATE, CHAMPION = "candidate", "champion"
PROMOTION_METRIC = "churn_model_roc_auc"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the SQLite store under ./mlruns."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(STORE_DIR / 'mlflow.db').resolve()}"


def connect() -> MlflowClient:
    uri = tracking_uri()
    if uri.startswith("sqlite:///") and "MLFLOW_TRACKING_URI" not in os.environ:
        STORE_DIR.mkdir(exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name)


def data_fingerprint(inputs: InputData) -> dict:
    """Row counts, date range and a content hash of the inputs, to tell data sets apart."""
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
        "sha256": digest.hexdigest(),
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


def _signature_sample(frame: pd.DataFrame) -> pd.DataFrame:
    sample = frame.head(50).copy()
    for column in sample.columns:
        if isinstance(sample[column].dtype, pd.CategoricalDtype):
            sample[column] = sample[column].astype("object")
    return sample


@dataclass(frozen=True)
class TrainingRun:
    run_id: str
    churn_version: str | None
    value_version: str | None
    promoted: bool


def _champion_metric(client: MlflowClient, name: str) -> float | None:
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    if not version.run_id:
        return None
    return client.get_run(version.run_id).data.metrics.get(PROMOTION_METRIC, float("-inf"))


def _log_model(model, kind: str, name: str, sample: pd.DataFrame, metadata: dict, register: bool) -> str | None:
    output = model.predict_proba(sample)[:, 1] if kind == "churn" else model.predict(sample)
    info = mlflow.lightgbm.log_model(
        model.booster_,
        name=f"{kind}_model",
        signature=infer_signature(_signature_sample(sample), np.asarray(output)),
        registered_model_name=name if register else None,
        metadata={
            "tierwise_kind": kind,
            "feature_names": list(model.feature_names_in_),
            "categories": model.categories_,
            "best_iteration": model.best_iteration_,
            **metadata,
        },
    )
    return str(info.registered_model_version) if register else None


def _log_backtest(result: BacktestResult) -> None:
    mlflow.log_metrics(result.metrics())
    mlflow.log_dict(
        {
            "churn_test_cutoff": str(result.churn_plan.test.date()),
            "value_test_cutoff": str(result.value_plan.test.date()),
            "value_label_days": result.value_plan.horizon_days,
            "training_rows": result.training_rows,
            "churn": result.churn.to_dict(orient="index"),
            "value": result.value.to_dict(orient="index"),
        },
        "backtest.json",
    )
    mlflow.log_text(result.reliability_before.to_csv(), "reliability_before_calibration.csv")
    mlflow.log_text(result.reliability_after.to_csv(), "reliability_after_calibration.csv")
    for file_name, figure in backtest_figures(result).items():
        mlflow.log_figure(figure, f"plots/{file_name}")


def log_training(
    config: TierwiseConfig, inputs: InputData, result: BacktestResult | None, models: TrainedModels, *,
    sample: pd.DataFrame,
) -> TrainingRun:
    """Record one training run and register both models; aliases follow the promotion rule.

    ``result`` None: the data held no backtest; backtest.json records why and no
    backtest metrics are logged.
    """
    client = connect()
    experiment_id = _experiment_id(client, config.registry.experiment)
    registry = config.registry
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(_flat_params(config))
        mlflow.log_params({f"fitted.churn_model.{k}": str(v) for k, v in models.churn.config.model_dump().items()})
        mlflow.log_params({f"fitted.value_model.{k}": str(v) for k, v in models.value.config.model_dump().items()})
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        mlflow.log_dict(data_fingerprint(inputs), "data_fingerprint.json")
        if result is None:
            mlflow.log_dict({"backtest": None, "reason": snapshot_shortfall(inputs, config.training, for_backtest=True)}, "backtest.json")
        else:
            _log_backtest(result)
        specs = describe_features(config.features, attribute_columns(inputs))
        mlflow.log_dict(
            [{"name": s.name, "description": s.description, "unit": s.unit, "kind": s.kind} for s in specs], "features.json"
        )
        common = {
            "features": config.features.model_dump(mode="json"),
            "trained_through": str(inputs.transactions["ts"].max()),
            "churn_horizon_days": config.training.churn_horizon_days,
            "active_lookback_days": config.training.active_lookback_days,
            # The window the value model learned and predicts, which a short log makes shorter than configured.
            "value_horizon_days": models.value_plan.horizon_days,
        }
        churn_version = _log_model(
            models.churn, "churn", registry.churn_model_name, sample,
            {**common, "calibration": models.churn.calibration_}, register=True,
        )
        value_version = _log_model(
            models.value, "value", registry.value_model_name, sample,
            common, register=True,
        )
    score = None if result is None else result.metrics()[PROMOTION_METRIC]
    promoted = _set_aliases(client, registry, churn_version, value_version, score)
    return TrainingRun(run.info.run_id, churn_version, value_version, promoted)


def _set_aliases(client, registry: RegistryConfig, churn_version, value_version, score: float | None) -> bool:
    """Both versions become candidate; champion when there is none yet, or when ``score`` beats it (no backtest: never)."""
    for name, version in ((registry.churn_model_name, churn_version), (registry.value_model_name, value_version)):
        client.set_registered_model_alias(name, CANDIDATE, version)
    champion_score = _champion_metric(client, registry.churn_model_name)
    promote_now = champion_score is None or (registry.auto_promote and score is not None and score > champion_score)
    if promote_now:
        promote(registry, client=client)
    return promote_now


def promote(registry: RegistryConfig, *, client: MlflowClient | None = None) -> dict[str, str]:
    """Move the ``champion`` alias of both models to their ``candidate`` versions."""
    client = client or connect()
    moved = {}
    for name in (registry.churn_model_name, registry.value_model_name):
        try:
            candidate = client.get_model_version_by_alias(name, CANDIDATE)
        except MlflowException:
            raise TierwiseError(f"registry: model '{name}' has no '{CANDIDATE}' version; run tierwise train first") from None
        client.set_registered_model_alias(name, CHAMPION, candidate.version)
        moved[name] = candidate.version
    return moved
