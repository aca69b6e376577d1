"""The scoring columns of a feature table: lifecycle, probability, values, band, grade, class and tier.

This is what ``tierwise score`` computes for each customer and what the
scorer pyfunc returns; both call :func:`score_features`. Risk bands
(relative by default), value percentiles and grades, and activity classes
rank each customer among the rows passed in, so they are relative to that
batch: score everyone known at a cutoff together, not one customer at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierwise.config import ScoringConfig, TierRule
from tierwise.models._bands import activity_classes, risk_bands
from tierwise.models._predictors import ChurnPredictor, ValuePredictor
from tierwise.models._tiers import assign_tiers

SCORING_COLUMNS = [
    "lifecycle", "churn_probability", "risk_band", "predicted_value", "retained_value", "value_horizon_days",
    "value_at_risk", "value_percentile", "value_grade", "activity_class", "tier", "tier_action",
]


def lifecycle_stage(features: pd.DataFrame, *, lookback_days: float, new_customer_days: int) -> np.ndarray:
    """Each customer's lifecycle from their features: prospect, lost, new or active.

    ``prospect``: never bought; ``lost``: no purchase within ``lookback_days``
    (the churn model's lookback); ``new``: first purchase within
    ``new_customer_days``; else ``active``. Only new and active customers get
    a churn probability.

    Parameters
    ----------
    features : pandas.DataFrame
        With ``frequency_orders``, ``recency_days`` and ``tenure_days``.
    lookback_days : float
        The churn model's ``active_lookback_days``.
    new_customer_days : int
        ``scoring.new_customer_days``.

    Returns
    -------
    numpy.ndarray
        One stage per row.
    """
    return np.select(
        [features["frequency_orders"] == 0, features["recency_days"] > lookback_days,
         features["tenure_days"] <= new_customer_days],
        ["prospect", "lost", "new"], default="active",
    )


def score_features(
    features: pd.DataFrame,
    *,
    churn: ChurnPredictor,
    value: ValuePredictor,
    retained_value: ValuePredictor,
    scoring: ScoringConfig,
    tiers: tuple[TierRule, ...],
    lookback_days: float,
    value_horizon_days: int,
) -> pd.DataFrame:
    """The ``SCORING_COLUMNS`` of every row of ``features``, on its index.

    ``features`` holds the model features (as ``tierwise features`` writes
    them; other columns are ignored except by tier rules that name them).
    Only ``new`` and ``active`` customers (see :func:`lifecycle_stage`) get a
    churn probability, a retained value, a value at risk
    (churn_probability x retained_value), a risk band and an activity class;
    everyone gets a predicted value over ``value_horizon_days``. Bands,
    percentiles, grades and classes are relative to the rows passed in.

    Parameters
    ----------
    features : pandas.DataFrame
        The customers' features, one cutoff.
    churn : ChurnPredictor
        The churn model.
    value : ValuePredictor
        The value model.
    retained_value : ValuePredictor
        The retained-value model.
    scoring : ScoringConfig
        Bands, grades and lifecycle settings.
    tiers : tuple of TierRule
        The tier rules.
    lookback_days : float
        The churn model's ``active_lookback_days``.
    value_horizon_days : int
        The value models' window, written into each row.

    Returns
    -------
    pandas.DataFrame
        ``lifecycle``, ``churn_probability``, ``risk_band``, ``predicted_value``, ``retained_value``,
        ``value_horizon_days``, ``value_at_risk``, ``value_percentile``, ``value_grade``, ``activity_class``,
        ``tier``, ``tier_action``.
    """
    columns = list(churn.feature_names_in_)
    lifecycle = lifecycle_stage(features, lookback_days=lookback_days, new_customer_days=scoring.new_customer_days)
    modelled = np.isin(lifecycle, ["new", "active"])
    scores = pd.DataFrame({"lifecycle": lifecycle}, index=features.index)
    probability = np.full(len(features), np.nan)
    retained = np.full(len(features), np.nan)
    if modelled.any():
        probability[modelled] = churn.predict_proba(features.loc[modelled, columns])[:, 1]
        retained[modelled] = retained_value.predict(features.loc[modelled, columns])
    scores["churn_probability"] = probability
    scores["risk_band"] = risk_bands(scores["churn_probability"], config=scoring)
    scores["predicted_value"] = value.predict(features[columns])
    scores["retained_value"] = retained
    scores["value_horizon_days"] = int(value_horizon_days)
    scores["value_at_risk"] = scores["churn_probability"] * scores["retained_value"]
    scores["value_percentile"] = scores["predicted_value"].rank(method="average", pct=True)
    grades = list(scoring.value_grades.items())
    scores["value_grade"] = np.select(
        [scores["value_percentile"] >= floor for _, floor in grades[:-1]], [name for name, _ in grades[:-1]],
        default=grades[-1][0],
    )
    spend_trend = features.get("spend_trend_90d_vs_prior_90d", pd.Series(np.nan, index=features.index))
    scores["activity_class"] = activity_classes(
        scores["risk_band"], scores["churn_probability"], spend_trend, features["frequency_orders"], config=scoring
    )
    # Tier rules may name any feature beside the scores.
    fields = scores.join(features[[c for c in features.columns if c not in scores.columns]])
    scores[["tier", "tier_action"]] = assign_tiers(fields, tiers)
    return scores[SCORING_COLUMNS]
