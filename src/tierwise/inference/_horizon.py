"""Lapse probability over a longer horizon than the churn model's, by rolling the features forward.

A customer lapses over k model horizons when they buy nothing in each one.
The chance of no purchase in the second window, given none in the first, is
the model's own answer for that customer's features one horizon later with no
new purchase, which is exactly what the feature builder gives at
``as_of + horizon`` from the records before ``as_of``. Multiplying the steps
turns a 13-week model into a 39-week probability without a label window the
data cannot hold.
"""

from __future__ import annotations

import math

import pandas as pd

from tierwise.config import TierwiseConfig
from tierwise.features import build_features, normalize_as_of
from tierwise.features._build import AsOf
from tierwise.inference._models import ScoringModels
from tierwise.inputs import InputData


def records_before(inputs: InputData, as_of: pd.Timestamp) -> InputData:
    """The inputs as they were known at ``as_of``: nothing at or after it.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    as_of : pandas.Timestamp
        The cutoff.

    Returns
    -------
    InputData
        The transactions and events with ``ts < as_of``; the customers table as it is.
    """
    return InputData(
        transactions=inputs.transactions[inputs.transactions["ts"] < as_of].reset_index(drop=True),
        events=inputs.events[inputs.events["ts"] < as_of].reset_index(drop=True),
        customers=inputs.customers,
        warnings=inputs.warnings,
    )


def lapse_probability_over(
    inputs: InputData, *, as_of: AsOf, horizon_days: int, config: TierwiseConfig, models: ScoringModels
) -> pd.Series:
    """P(no purchase in ``[as_of, as_of + horizon_days)``) per customer seen before ``as_of``.

    ``horizon_days`` is covered in steps of the churn model's horizon; a
    remaining fraction of a step takes that step's probability to the power of
    the fraction. Indexed by customer id.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    as_of : str or pandas.Timestamp
        The cutoff.
    horizon_days : int
        The window in days, e.g. a list's follow-up period.
    config : TierwiseConfig
        The features, scoring and tier settings.
    models : ScoringModels
        The churn, value and retained-value models (see :func:`load_models`).

    Returns
    -------
    pandas.Series
        The probabilities, indexed by ``customer_id``.
    """
    cutoff = normalize_as_of(as_of)
    step = int(models.metadata.get("churn_horizon_days", config.training.churn_horizon_days))
    known = records_before(inputs, cutoff)
    columns = list(models.churn.feature_names_in_)
    steps = horizon_days / step
    probability: pd.Series | None = None
    for k in range(math.ceil(steps)):
        features = build_features(known, as_of=cutoff + pd.Timedelta(days=k * step), config=config.features)
        stay_silent = pd.Series(models.churn.predict_proba(features[columns])[:, 1], index=features["customer_id"])
        exponent = min(1.0, steps - k)
        factor = stay_silent**exponent
        probability = factor if probability is None else probability * factor.reindex(probability.index)
    return probability.clip(0.0, 1.0).rename("lapse_probability") if probability is not None else pd.Series(dtype=float)
