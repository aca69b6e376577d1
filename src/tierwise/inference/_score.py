"""Batch scoring at a cutoff: one row per customer known before ``as_of``."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd

from tierwise.config import TierwiseConfig
from tierwise.errors import ModelNotFoundError, TierwiseError
from tierwise.features import build_features, check_customers_known, describe_features, normalize_as_of
from tierwise.features._build import AsOf
from tierwise.inference._checks import check_scoring_data
from tierwise.inference._drift import check_drift
from tierwise.inference._models import ScoringModels, check_data_source
from tierwise.inference._outreach import ranking_key, select_outreach
from tierwise.inference._reasons import churn_contributions, top_reasons
from tierwise.inputs import InputData
from tierwise.models import model_features, score_features
from tierwise.progress import report_progress

logger = logging.getLogger(__name__)

RankBy = Literal["value_at_risk", "expected_net_saving", "churn_probability"]

SCORE_COLUMNS = [
    "customer_id", "as_of", "lifecycle", "churn_probability", "risk_band", "predicted_value", "retained_value",
    "value_horizon_days", "value_at_risk",
    "value_percentile", "value_grade", "activity_class", "tier", "tier_action", "outreach_rank",
    "recency_days", "frequency_orders", "avg_days_between_orders", "expected_next_order_date",
    "reason_1", "reason_2", "reason_3", "model_version", "previous_tier", "tier_since",
]


def default_as_of(inputs: InputData) -> pd.Timestamp:
    """The day after the last transaction: the cutoff that scores on everything there is.

    Parameters
    ----------
    inputs : InputData
        The validated inputs.

    Returns
    -------
    pandas.Timestamp
        Midnight after the newest transaction.
    """
    return _last_transaction(inputs).normalize() + pd.Timedelta(days=1)


def check_compatible(inputs: InputData, config: TierwiseConfig, models: ScoringModels) -> list[str]:
    """Refuse a model whose features differ from what this config and data build now, or from another data source.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (their customer attributes are features).
    config : TierwiseConfig
        The features section and ``scoring.allow_other_source``.
    models : ScoringModels
        The loaded models.

    Returns
    -------
    list of str
        The feature columns, in the models' order.

    Raises
    ------
    ModelNotFoundError
        When the models were trained on other features or another data
        source (unless ``scoring.allow_other_source``).
    """
    return _check_feature_names(model_features(inputs, config.features), config, models)


def _check_feature_names(built: list[str], config: TierwiseConfig, models: ScoringModels) -> list[str]:
    expected = list(models.churn.feature_names_in_)
    if built != expected:
        missing = [f for f in expected if f not in built]
        extra = [f for f in built if f not in expected]
        detail = "; ".join(p for p in (
            f"missing now: {', '.join(missing[:4])}" if missing else "", f"new now: {', '.join(extra[:4])}" if extra else "",
        ) if p) or "same features in another order"
        raise ModelNotFoundError(f"model: {models.version} was trained on other features than the data and config give ({detail})")
    trained = models.metadata.get("features")
    if trained is not None and trained != config.features.model_dump(mode="json"):
        raise ModelNotFoundError(f"model: {models.version} was trained with other feature settings (features section of the config)")
    check_data_source(models, config)
    return built


def _last_transaction(inputs: InputData) -> pd.Timestamp:
    """The newest transaction's timestamp, asked of the engine where the tables live (no copy into pandas)."""
    if inputs.engine is not None:
        return pd.Timestamp(inputs.engine.rows("SELECT MAX(ts) FROM transactions")[0][0])
    return inputs.transactions["ts"].max()


def _check_fresh(last: pd.Timestamp, as_of: pd.Timestamp, limit_days: int) -> None:
    stale = (as_of - last) / pd.Timedelta(days=1)
    if stale > limit_days:
        raise TierwiseError(
            f"transactions: the last transaction ({last.date()}) is {stale:.0f} days before as_of {as_of.date()}; "
            f"the limit is {limit_days} days (scoring.staleness_limit_days)"
        )


def score_customers(
    inputs: InputData,
    *,
    as_of: AsOf,
    config: TierwiseConfig,
    models: ScoringModels,
    rank_by: RankBy | None = None,
    reasons_top_n: int | None = None,
) -> pd.DataFrame:
    """Score every customer known before ``as_of``, without the drift check of :func:`score_with_drift`.

    Parameters
    ----------
    inputs : InputData
        The validated inputs.
    as_of : date-like
        The cutoff: only records before it are used.
    config : TierwiseConfig
        Features, scoring, tiers and outreach settings.
    models : ScoringModels
        The churn, value and retained-value models (:func:`load_models`).
    rank_by : {"value_at_risk", "expected_net_saving", "churn_probability"}, optional
        The list's order; default: ``outreach.rank_by``.
    reasons_top_n : int, optional
        Reasons for this many of the list's first customers; default:
        ``scoring.reasons_top_n``.

    Returns
    -------
    pandas.DataFrame
        The columns of ``SCORE_COLUMNS``, one row per customer (see
        :func:`score_with_drift`).

    Raises
    ------
    TierwiseError
        For stale data, a cutoff no customer precedes, or scoring data the
        models cannot score; :class:`ModelNotFoundError` for models that do
        not fit the config or data.
    """
    scores, _ = _score(inputs, as_of=as_of, config=config, models=models, rank_by=rank_by,
                       reasons_top_n=reasons_top_n, with_drift=False)
    return scores


def score_with_drift(
    inputs: InputData,
    *,
    as_of: AsOf,
    config: TierwiseConfig,
    models: ScoringModels,
    rank_by: RankBy | None = None,
    reasons_top_n: int | None = None,
) -> tuple[pd.DataFrame, dict | None]:
    """Score every customer known before ``as_of``, and measure drift since the churn model's training snapshot.

    The drift is measured on the customers given a churn probability, the
    population the churn model was trained on, right after their
    probabilities, so that with ``scoring.on_severe_drift: refuse`` a severe
    drift stops before reasons are computed.

    Parameters
    ----------
    inputs : InputData
        The validated inputs.
    as_of : date-like
        The cutoff: only records before it are used.
    config : TierwiseConfig
        Features, scoring, tiers, outreach and drift settings.
    models : ScoringModels
        The churn, value and retained-value models (:func:`load_models`).
    rank_by : {"value_at_risk", "expected_net_saving", "churn_probability"}, optional
        The list's order; default: ``outreach.rank_by``.
    reasons_top_n : int, optional
        Reasons for this many of the list's first customers; default:
        ``scoring.reasons_top_n``.

    Returns
    -------
    scores : pandas.DataFrame
        The columns of ``SCORE_COLUMNS``, most at risk first (see the notes
        of this module's ``_score``: lifecycle, value, value at risk, ranks).
    drift : dict or None
        The drift figures (see :func:`check_drift`); None for a churn model
        without a drift reference.

    Raises
    ------
    TierwiseError
        For stale data, a cutoff no customer precedes, scoring data the models
        cannot score, or a severe drift with ``on_severe_drift: refuse``.
    """
    return _score(inputs, as_of=as_of, config=config, models=models, rank_by=rank_by,
                  reasons_top_n=reasons_top_n, with_drift=True)


def _score(
    inputs: InputData,
    *,
    as_of: AsOf,
    config: TierwiseConfig,
    models: ScoringModels,
    rank_by: RankBy | None,
    reasons_top_n: int | None,
    with_drift: bool,
) -> tuple[pd.DataFrame, dict | None]:
    """Score every customer known before ``as_of``; with ``with_drift``, also the drift figures.

    Returns the columns of ``SCORE_COLUMNS``, ordered by ``outreach_rank`` (the
    modelled customers, most at risk first) and then by customer id.
    ``lifecycle`` is ``prospect`` (never bought), ``new`` (first purchase within
    ``scoring.new_customer_days``), ``active`` or ``lost`` (no purchase within
    the churn model's lookback). Only ``new`` and ``active`` customers get a
    churn probability; everyone gets a predicted value.

    ``predicted_value`` is net spend over ``[as_of, as_of + value_horizon_days)``,
    the window the value model learned (shorter than configured on a short log);
    it prices the chance of lapsing in. ``retained_value`` (new and active
    customers) is the same spend if the customer does not lapse within the
    churn horizon, from the retained-value model. ``value_at_risk`` =
    churn_probability x retained_value: what the customer would bring if
    retained times the chance of losing them, what outreach can protect.
    ``rank_by`` defaults to ``outreach.rank_by`` (see :func:`ranking_key`).
    ``previous_tier`` and ``tier_since`` are unknown (null) here: this function
    knows no earlier run; ``tierwise.monitoring.carry_tiers`` fills them in
    from one. Reasons are written for the first ``reasons_top_n`` customers
    (``scoring.reasons_top_n`` unless given; null there: everyone) of the list
    that ``build_outreach_list(scores, config.outreach)`` delivers.
    """
    cutoff = normalize_as_of(as_of)
    _check_horizon_known(models)
    _check_fresh(_last_transaction(inputs), cutoff, config.scoring.staleness_limit_days)
    columns = check_compatible(inputs, config, models)
    report_progress(f"building the features as of {cutoff.date()}")
    features = build_features(inputs, as_of=cutoff, config=config.features)
    report_progress(f"scoring {len(features):,} customers")
    check_customers_known(features, inputs, as_of=cutoff)
    return _score_features(features, columns, config=config, models=models, rank_by=rank_by,
                           reasons_top_n=reasons_top_n, with_drift=with_drift)


def _check_horizon_known(models: ScoringModels) -> None:
    if "value_horizon_days" not in models.metadata:
        raise ModelNotFoundError(f"model: {models.version} does not say which value horizon it predicts (value_horizon_days)")


def score_feature_table(
    features: pd.DataFrame,
    *,
    last_transaction: pd.Timestamp,
    config: TierwiseConfig,
    models: ScoringModels,
    rank_by: RankBy | None = None,
    reasons_top_n: int | None = None,
) -> tuple[pd.DataFrame, dict | None]:
    """Score a feature table built elsewhere (e.g. on Spark), exactly as :func:`score_with_drift` scores.

    Parameters
    ----------
    features : pandas.DataFrame
        What :func:`tierwise.features.build_features` returns for one cutoff:
        ``customer_id``, ``as_of``, then every feature column (attributes as
        ``attr_*``), at least one customer.
    last_transaction : pandas.Timestamp
        The newest transaction in the inputs, for the staleness check
        (``scoring.staleness_limit_days``).
    config : TierwiseConfig
        Features, scoring, tiers, outreach and drift settings.
    models : ScoringModels
        The churn, value and retained-value models (:func:`load_models`).
    rank_by : {"value_at_risk", "expected_net_saving", "churn_probability"}, optional
        The list's order; default: ``outreach.rank_by``.
    reasons_top_n : int, optional
        Reasons for this many of the list's first customers; default: ``scoring.reasons_top_n``.

    Returns
    -------
    scores : pandas.DataFrame
        The columns of ``SCORE_COLUMNS``, most at risk first.
    drift : dict or None
        The drift figures; None for a churn model without a drift reference.

    Raises
    ------
    TierwiseError
        When the model does not fit the features or the config, or the data
        are stale.
    """
    cutoff = normalize_as_of(features["as_of"].iloc[0])
    _check_horizon_known(models)
    _check_fresh(last_transaction, cutoff, config.scoring.staleness_limit_days)
    attributes = [c for c in features.columns if c.startswith("attr_")]
    columns = _check_feature_names([s.name for s in describe_features(config.features, attributes)], config, models)
    return _score_features(features, columns, config=config, models=models, rank_by=rank_by,
                           reasons_top_n=reasons_top_n, with_drift=True)


def _score_features(
    features: pd.DataFrame,
    columns: list[str],
    *,
    config: TierwiseConfig,
    models: ScoringModels,
    rank_by: RankBy | None,
    reasons_top_n: int | None,
    with_drift: bool,
) -> tuple[pd.DataFrame, dict | None]:
    cutoff = normalize_as_of(features["as_of"].iloc[0])
    scoring = config.scoring
    attributes = [c for c in features.columns if c.startswith("attr_")]
    check_scoring_data(features, models, config=config)
    lookback = float(models.metadata.get("active_lookback_days", config.training.active_lookback_days))

    recency = features["recency_days"]
    scores = pd.DataFrame({"customer_id": features["customer_id"], "as_of": features["as_of"]}).join(score_features(
        features, churn=models.churn, value=models.value, retained_value=models.retained_value, scoring=scoring,
        tiers=config.tiers, lookback_days=lookback, value_horizon_days=int(models.metadata["value_horizon_days"]),
    ))
    modelled = scores["lifecycle"].isin(["new", "active"]).to_numpy()
    scores["recency_days"] = recency
    scores["frequency_orders"] = features["frequency_orders"]
    drift = None
    if with_drift:
        descriptions = {s.name: s.description for s in describe_features(config.features, attributes)}
        drift = check_drift(features.loc[modelled, columns], scores["churn_probability"].to_numpy()[modelled], models,
                            as_of=cutoff, config=config, descriptions=descriptions)

    ranking = config.outreach if rank_by is None else config.outreach.model_copy(update={"rank_by": rank_by})
    key = ranking_key(scores, ranking).where(modelled)
    order = np.lexsort((scores["customer_id"].to_numpy(), -key.fillna(-np.inf).to_numpy()))
    rank = np.empty(len(scores), dtype=float)
    rank[order] = np.arange(1, len(scores) + 1)
    rank[~modelled] = np.inf
    scores["outreach_rank"] = pd.array(np.where(modelled, rank, np.nan), dtype="Int64")

    scores["avg_days_between_orders"] = features["rhythm_gap_mean_days"]
    last_order = cutoff - pd.to_timedelta(recency, unit="D")
    scores["expected_next_order_date"] = (
        last_order + pd.to_timedelta(features["rhythm_gap_mean_days"], unit="D")
    ).dt.normalize().astype("datetime64[us]")

    top_n = scoring.reasons_top_n if reasons_top_n is None else reasons_top_n
    explained = scores.index if top_n is None else select_outreach(scores, config.outreach).index[:top_n]
    reasons = pd.DataFrame(None, index=scores.index, columns=["reason_1", "reason_2", "reason_3"], dtype="object")
    if len(explained):
        logger.info("scored %d customers; writing the reasons of %d", len(scores), len(explained))
        report_progress(f"computing the reasons of {len(explained):,} customers")
        specs = {s.name: s for s in describe_features(config.features, attributes)}
        contributions = churn_contributions(models.churn, features.loc[explained, columns])
        reasons.loc[explained] = top_reasons(
            contributions, features, specs, population=features.loc[modelled]
        ).to_numpy()
    scores[["reason_1", "reason_2", "reason_3"]] = reasons
    scores["model_version"] = models.version
    scores["previous_tier"] = pd.Series(None, index=scores.index, dtype="object")
    scores["tier_since"] = pd.Series(pd.NaT, index=scores.index, dtype="datetime64[us]")
    scores = scores.iloc[np.lexsort((scores["customer_id"].to_numpy(), rank))]
    logger.info("scored %d customers as of %s, reasons for %d", len(scores), cutoff.date(), len(explained))
    return scores[SCORE_COLUMNS].reset_index(drop=True), drift
