"""Predict who is about to lapse and what each customer is worth: tierwise.

The public API, for notebooks and jobs: :func:`tierwise.fit` trains and
registers the models, :func:`tierwise.score` scores customers into tiers,
:func:`tierwise.deliver` writes the CRM export (see :mod:`tierwise.api`).
The package reads like the pipeline: :mod:`tierwise.features` ->
:mod:`tierwise.training` -> :mod:`tierwise.inference`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierwise.config import TierwiseConfig, load_config
from tierwise.errors import ConfigError, ExitCode, InputDataError, InputWarning, TierwiseError

if TYPE_CHECKING:
    from tierwise.api import Delivery, FitResult, deliver, fit, score

__all__ = [
    "ConfigError",
    "Delivery",
    "ExitCode",
    "FitResult",
    "InputDataError",
    "InputWarning",
    "TierwiseConfig",
    "TierwiseError",
    "deliver",
    "fit",
    "load_config",
    "score",
]
__version__ = "0.1.0"

# Imported on first use: ``import tierwise`` stays light (no MLflow, LightGBM) for the config and the CLI's --version.
_API = {"Delivery", "FitResult", "deliver", "fit", "score"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from tierwise import api

        return getattr(api, name)
    raise AttributeError(f"module 'tierwise' has no attribute {name!r}")
