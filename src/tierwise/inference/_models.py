"""Loading the registered models from MLflow: inference's only link to training."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import get_model_info

from tierwise.config import RegistryConfig
from tierwise.errors import TierwiseError
from tierwise.training import ChurnModel, ValueModel
from tierwise.training._models import restore_model
from tierwise.training._tracking import connect


@dataclass(frozen=True)
class ScoringModels:
    churn: ChurnModel
    value: ValueModel
    metadata: dict
    version: str


def _uris(registry: RegistryConfig, model: str) -> tuple[str, str]:
    if model.startswith("runs:/"):
        run = model.removeprefix("runs:/").strip("/")
        return f"runs:/{run}/churn_model", f"runs:/{run}/value_model"
    marker = f"/{model}" if model.isdigit() else f"@{model}"
    return f"models:/{registry.churn_model_name}{marker}", f"models:/{registry.value_model_name}{marker}"


def load_models(registry: RegistryConfig, model: str = "champion") -> ScoringModels:
    """Load both models by alias (``champion``, ``candidate``), version number, or ``runs:/<run id>``."""
    client = connect()
    churn_uri, value_uri = _uris(registry, model)
    loaded = []
    for uri in (churn_uri, value_uri):
        try:
            info = get_model_info(uri)
            booster = mlflow.lightgbm.load_model(uri)
        except (MlflowException, OSError) as exc:
            raise TierwiseError(
                f"model: cannot load {uri} ({str(exc).splitlines()[0][:160]}); run tierwise train first"
            ) from None
        loaded.append((restore_model(booster, info.metadata or {}), info.metadata or {}))
    (churn, churn_meta), (value, value_meta) = loaded
    if list(churn.feature_names_in_) != list(value.feature_names_in_):
        raise TierwiseError(f"model: {churn_uri} and {value_uri} were trained on different features")
    if model.startswith("runs:/"):
        version = model
    else:
        versions = []
        for name in (registry.churn_model_name, registry.value_model_name):
            found = client.get_model_version(name, model) if model.isdigit() else client.get_model_version_by_alias(name, model)
            versions.append(f"{name} v{found.version}")
        version = ", ".join(versions)
    return ScoringModels(churn=churn, value=value, metadata={**value_meta, **churn_meta}, version=version)
