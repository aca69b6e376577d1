"""Risk bands and activity classes: what a churn probability means beside the other customers scored."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierwise.config import ScoringConfig


def base_lapse_rate(churn_probability: pd.Series) -> float:
    """The expected lapse rate of the customers scored: the mean calibrated churn probability (NaN skipped).

    Parameters
    ----------
    churn_probability : pandas.Series
        The calibrated churn probabilities of the customers scored; NaN for those without one.

    Returns
    -------
    float
        The mean probability; NaN when nobody has one.
    """
    return float(churn_probability.mean())


def risk_bands(churn_probability: pd.Series, *, config: ScoringConfig) -> pd.Series:
    """``high`` / ``medium`` / ``low`` per customer; None where there is no probability.

    ``config.risk_bands == "relative"`` (the default) bands by rank among the
    customers scored, so that a band means the same on a log where 80% lapse
    and on one where 6% do: ``high`` are the riskiest ``1 - high_risk_percentile``
    (20%), ``medium`` the next ones down to ``medium_risk_percentile`` (the
    riskier half); both only above the base lapse rate (:func:`base_lapse_rate`),
    so a high or medium customer is always more likely to lapse than the
    average one. ``"absolute"`` uses the fixed probabilities ``high_risk_from``
    and ``medium_risk_from``.

    Parameters
    ----------
    churn_probability : pandas.Series
        The calibrated churn probabilities of the customers scored; NaN for those without one.
    config : ScoringConfig
        The risk band settings.

    Returns
    -------
    pandas.Series
        On ``churn_probability``'s index.
    """
    probability = churn_probability.astype(float)
    if config.risk_bands == "absolute":
        is_high = probability >= config.high_risk_from
        is_medium = probability >= config.medium_risk_from
    else:
        percentile = probability.rank(method="average", pct=True)
        above_base = probability > base_lapse_rate(probability)
        is_high = above_base & (percentile > config.high_risk_percentile)
        is_medium = above_base & (percentile > config.medium_risk_percentile)
    bands = np.select([is_high, is_medium], ["high", "medium"], default="low")
    return pd.Series(np.where(probability.isna(), np.array(None, dtype=object), bands), index=churn_probability.index, dtype=object)


def risk_band_terms(churn_probability: pd.Series, *, config: ScoringConfig) -> dict[str, object]:
    """How the bands were drawn, for the export's manifest: the method, its thresholds and the base lapse rate.

    Parameters
    ----------
    churn_probability : pandas.Series
        The calibrated churn probabilities of the customers scored; NaN for those without one.
    config : ScoringConfig
        The risk band settings.

    Returns
    -------
    dict of str to object
        ``method`` (``relative`` or ``absolute``), its two thresholds and ``base_lapse_rate``.
    """
    thresholds = (
        {"high_risk_from": config.high_risk_from, "medium_risk_from": config.medium_risk_from}
        if config.risk_bands == "absolute"
        else {"high_risk_percentile": config.high_risk_percentile, "medium_risk_percentile": config.medium_risk_percentile}
    )
    return {"method": config.risk_bands, **thresholds, "base_lapse_rate": round(base_lapse_rate(churn_probability), 6)}


def activity_classes(
    risk_band: pd.Series, churn_probability: pd.Series, spend_trend: pd.Series, frequency_orders: pd.Series,
    *, config: ScoringConfig,
) -> pd.Series:
    """``lapsing`` / ``drifting`` / ``loyal`` / ``potential`` per customer; None where there is no risk band.

    ``lapsing`` is the high band, ``drifting`` the medium band or a spend
    trend at or below ``drifting_spend_trend`` *with* a churn probability above
    the base lapse rate: a spend dip alone, in a customer less likely to lapse
    than the average, is seasonality or a big order last quarter, not drift.
    The rest are ``loyal`` (at least ``loyal_min_orders`` orders) or ``potential``.

    Parameters
    ----------
    risk_band : pandas.Series
        :func:`risk_bands`' result.
    churn_probability : pandas.Series
        The calibrated churn probabilities of the customers scored; NaN for those without one.
    spend_trend : pandas.Series
        The spend trend feature (recent window over the prior one).
    frequency_orders : pandas.Series
        Orders to date.
    config : ScoringConfig
        ``drifting_spend_trend`` and ``loyal_min_orders``.

    Returns
    -------
    pandas.Series
        On ``risk_band``'s index.
    """
    above_base = churn_probability > base_lapse_rate(churn_probability)
    falling = (spend_trend <= config.drifting_spend_trend) & above_base
    classes = np.select(
        [risk_band == "high", (risk_band == "medium") | falling, frequency_orders >= config.loyal_min_orders],
        ["lapsing", "drifting", "loyal"], default="potential",
    )
    return pd.Series(np.where(risk_band.isna(), np.array(None, dtype=object), classes), index=risk_band.index, dtype=object)
