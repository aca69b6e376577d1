"""The model card's facts, read from the MLflow run behind a run's models; optional by design.

A report is still written when the store is gone, remote and unreachable, or
holds no backtest: the card then shows what the run's files say.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

_REGISTERED = re.compile(r"(?P<name>[^,\s][^,]*?) v(?P<version>\d+)")
# A remote store that does not answer must not hold the report up: one try, a short wait; and no progress bars.
_QUICK_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
               "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@dataclass(frozen=True)
class ModelCard:
    """What the MLflow run of the churn model recorded; every field may be empty.

    ``backtest_churn`` and ``backtest_value`` are the backtest's tables (one
    row per method: the model and its baselines); ``reliability`` has
    ``bin``, ``customers``, ``mean_predicted`` and ``observed_rate``;
    ``data_window`` has ``first_transaction`` and ``last_transaction``.
    """

    run_id: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    data_window: dict[str, str] = field(default_factory=dict)
    churn_test_cutoff: str | None = None
    value_test_cutoff: str | None = None
    backtest_churn: pd.DataFrame | None = None
    backtest_value: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None


def registered_versions(model_version: str) -> dict[str, str]:
    """The registered model versions named in a scores' ``model_version``.

    Parameters
    ----------
    model_version : str
        E.g. ``"tierwise-demo-churn v3, tierwise-demo-value v3"``.

    Returns
    -------
    dict of str to str
        Model name to version, e.g. ``{"tierwise-demo-churn": "3", "tierwise-demo-value": "3"}``.

    Examples
    --------
    >>> registered_versions("tierwise-demo-churn v3, tierwise-demo-value v3")
    {'tierwise-demo-churn': '3', 'tierwise-demo-value': '3'}
    """
    return {match["name"].strip(): match["version"] for match in _REGISTERED.finditer(model_version)}


@contextlib.contextmanager
def _quick_http() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in _QUICK_HTTP}
    os.environ.update({key: value for key, value in _QUICK_HTTP.items() if saved[key] is None})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)


def _run_id(client, model_version: str) -> tuple[str | None, dict[str, str]]:
    if model_version.startswith("runs:/"):
        return model_version.removeprefix("runs:/").strip("/").split("/")[0], {}
    versions = registered_versions(model_version)
    for name, version in versions.items():
        return client.get_model_version(name, version).run_id, versions
    return None, versions


def _json_artifact(client, run_id: str, path: str, folder: str) -> dict | None:
    try:
        local = client.download_artifacts(run_id, path, folder)
    except Exception:  # noqa: BLE001 - an artifact the run lacks is simply not shown
        return None
    return json.loads(Path(local).read_text(encoding="utf-8"))


def read_model_card(model_version: str) -> ModelCard | None:
    """Read the backtest, reliability and data window of the run behind ``model_version``, or None.

    ``model_version`` is the scores' ``model_version`` (registered versions
    or ``runs:/<id>``). Returns None, with a logged reason, when there is no
    store to ask (a local SQLite store that does not exist is never created)
    or it cannot answer.

    Parameters
    ----------
    model_version : str
        The scores' ``model_version``.

    Returns
    -------
    ModelCard or None
        The recorded figures.
    """
    from tierwise.training import sqlite_store_path, tracking_uri

    uri = tracking_uri()
    database = sqlite_store_path(uri)
    if database is not None and not database.exists():
        logger.info("model card: no MLflow store at %s; the report shows no backtest", database)
        return None
    try:
        with _quick_http():
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            run_id, versions = _run_id(client, model_version)
            if run_id is None:
                return None
            with tempfile.TemporaryDirectory() as folder:
                backtest = _json_artifact(client, run_id, "backtest.json", folder) or {}
                window = _json_artifact(client, run_id, "data_fingerprint.json", folder) or {}
                reliability = None
                with contextlib.suppress(Exception):
                    reliability = pd.read_csv(client.download_artifacts(run_id, "reliability_after_calibration.csv", folder))
    except Exception as exc:  # noqa: BLE001 - the card is optional: any store failure leaves it out
        logger.warning("model card left out: the MLflow store at %s did not answer (%s)", uri,
                       (str(exc).splitlines() or [type(exc).__name__])[0][:160])
        return None
    tables = {kind: pd.DataFrame.from_dict(backtest[kind], orient="index") if backtest.get(kind) else None
              for kind in ("churn", "value")}
    return ModelCard(
        run_id=run_id, versions=versions,
        data_window={k: str(window[k])[:10] for k in ("first_transaction", "last_transaction") if k in window},
        churn_test_cutoff=backtest.get("churn_test_cutoff"), value_test_cutoff=backtest.get("value_test_cutoff"),
        backtest_churn=tables["churn"], backtest_value=tables["value"],
        reliability=reliability if reliability is not None and not reliability.empty else None,
    )
