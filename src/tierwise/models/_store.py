"""Where the MLflow store is, and a client on it: what training writes to and scoring loads from.

The store defaults to ``mlruns/`` in the working directory (a SQLite database
for runs and the registry); a config's ``registry.tracking_uri`` (applied with
:func:`using_tracking_uri`) replaces that default, and ``MLFLOW_TRACKING_URI``
(which ``--tracking-uri`` sets) overrides both. Nothing is set at import: the
URI is applied when a client connects.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

STORE_DIR = Path("mlruns")
_CONFIGURED_URI: ContextVar[str | None] = ContextVar("tierwise_tracking_uri", default=None)


def tracking_uri() -> str:
    """The MLflow store in use: MLFLOW_TRACKING_URI if set, else the config's (see :func:`using_tracking_uri`), else ./mlruns.

    Returns
    -------
    str
        A tracking URI, e.g. ``sqlite:////home/me/mlruns/mlflow.db``.
    """
    return (os.environ.get("MLFLOW_TRACKING_URI") or _CONFIGURED_URI.get()
            or f"sqlite:///{(STORE_DIR / 'mlflow.db').resolve()}")


@contextmanager
def using_tracking_uri(uri: str | None) -> Iterator[None]:
    """Within the block, :func:`tracking_uri` falls back on ``uri`` (a config's ``registry.tracking_uri``).

    Parameters
    ----------
    uri : str or None
        The store; None leaves the default (./mlruns).
    """
    token = _CONFIGURED_URI.set(uri or _CONFIGURED_URI.get())
    try:
        yield
    finally:
        _CONFIGURED_URI.reset(token)


def sqlite_store_path(uri: str) -> Path | None:
    """The database file of a local SQLite store URI (``sqlite:///path``), else None.

    Parameters
    ----------
    uri : str
        An MLflow tracking URI.

    Returns
    -------
    Path or None
        The file, for ``sqlite:///`` URIs.

    Examples
    --------
    >>> sqlite_store_path("sqlite:///mlruns.db")
    PosixPath('mlruns.db')
    >>> sqlite_store_path("http://mlflow:5000") is None
    True
    """
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a local SQLite store; MLflow's first table creation races otherwise.

    Parameters
    ----------
    uri : str
        The MLflow tracking URI; other than a local SQLite store, nothing is locked.

    Yields
    ------
    None
        While the lock is held.
    """
    database = sqlite_store_path(uri)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def connect() -> MlflowClient:
    """A client on the store; a fresh store's tables are created by one process at a time.

    Returns
    -------
    mlflow.MlflowClient
        A client on the current tracking URI.
    """
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_registered_models(max_results=1)
    return client


def log_scoring_metrics(run_id: str, metrics: dict[str, float], *, as_of: pd.Timestamp) -> None:
    """Add figures measured when scoring as of ``as_of`` to the training run ``run_id`` of the models that scored.

    Each figure is logged at step ``YYYYMMDD`` of ``as_of`` (and with its
    timestamp), so successive scoring runs draw a time series per figure.

    Parameters
    ----------
    run_id : str
        The MLflow run that trained the models.
    metrics : dict of str to float
        The figures.
    as_of : pandas.Timestamp
        The scoring cutoff.
    """
    from mlflow.entities import Metric

    client = connect()
    cutoff = pd.Timestamp(as_of)
    step, timestamp = int(cutoff.strftime("%Y%m%d")), int(cutoff.timestamp() * 1000)
    client.log_batch(run_id, metrics=[Metric(key, float(value), timestamp, step) for key, value in sorted(metrics.items())])
