"""The drift check at scoring: the customers scored against the churn model's training snapshot."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from tierwise.config import TierwiseConfig
from tierwise.errors import TierwiseError
from tierwise.inference._models import ScoringModels
from tierwise.models import log_scoring_metrics
from tierwise.monitoring._drift import drift_lines, drift_metrics, measure_drift

logger = logging.getLogger(__name__)


def check_drift(
    features: pd.DataFrame,
    churn_probability: np.ndarray,
    models: ScoringModels,
    *,
    as_of: pd.Timestamp,
    config: TierwiseConfig,
    descriptions: dict[str, str] | None = None,
) -> dict | None:
    """Measure drift since training (:func:`tierwise.monitoring.measure_drift`); warn, or refuse on severe drift.

    ``features`` are the customers given a churn probability (the population
    the churn model was trained on), ``churn_probability`` theirs. Each input
    past a threshold is logged as a warning, worst first, a few of them and
    then a count. With ``scoring.on_severe_drift: refuse``, a severe one
    raises :class:`TierwiseError` instead. A churn model without a drift
    reference (trained by an older tierwise), or no customer to compare,
    gives one warning and None.

    Parameters
    ----------
    features : pandas.DataFrame
        The features of the customers given a churn probability.
    churn_probability : numpy.ndarray
        Their calibrated churn probabilities, in the same order.
    models : ScoringModels
        The churn, value and retained-value models (see :func:`load_models`).
    as_of : pandas.Timestamp
        The scoring cutoff, recorded with the figures.
    config : TierwiseConfig
        The ``drift`` thresholds and ``scoring.on_severe_drift``.
    descriptions : dict of str to str, optional
        Feature descriptions, used in the warnings.

    Returns
    -------
    dict or None
        The drift figures of :func:`tierwise.monitoring.measure_drift`.

    Raises
    ------
    TierwiseError
        On severe drift when ``scoring.on_severe_drift`` is ``refuse``.
    """
    reference = models.metadata.get("drift_reference")
    if reference is None:
        logger.warning("drift: %s has no drift reference (trained by an older tierwise), so drift cannot be checked; "
                       "retrain with tierwise train to check it", models.version)
        return None
    if len(features) == 0:
        logger.warning("drift: no customer was given a churn probability, so drift cannot be checked")
        return None
    drift = measure_drift(features, churn_probability, reference, as_of=as_of, thresholds=config.scoring.drift,
                          descriptions=descriptions)
    since = f"since the training snapshot of {reference['as_of']}"
    if drift["severe"] and config.scoring.on_severe_drift == "refuse":
        flagged = drift_lines(drift, most=len(drift["severe"]) + len(drift["warning"]))
        worst = "; ".join(flagged[:2]) + (f"; and {len(flagged) - 2} more" if len(flagged) > 2 else "")
        raise TierwiseError(
            f"drift: {len(drift['severe'])} of the model's inputs and scores moved past a severe threshold {since}: {worst}; nothing delivered "
            "(scoring.on_severe_drift is refuse; set it to warn to deliver anyway)"
        )
    for line in drift_lines(drift):
        logger.warning("drift %s: %s", since, line)
    return drift


def log_drift(drift: dict, run_id: str | None) -> bool:
    """Log the drift figures to the MLflow run that trained the models, at the scoring as_of.

    Parameters
    ----------
    drift : dict
        The figures :func:`check_drift` returned.
    run_id : str or None
        The models' training run; None logs nothing.

    Returns
    -------
    bool
        True when logged; False, with a warning, when the run is unknown or the store cannot take them.
    """
    if run_id is None:
        logger.warning("drift: the models' MLflow run is unknown; the drift figures are in drift.json only")
        return False
    try:
        log_scoring_metrics(run_id, drift_metrics(drift), as_of=pd.Timestamp(drift["as_of"]))
    except (MlflowException, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        logger.warning("drift: could not log the drift figures to MLflow run %s (%s); they are in drift.json", run_id, first)
        return False
    return True
