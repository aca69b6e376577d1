"""Checks on the features about to be scored: what the models learned from must still carry information."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from tierwise.config import TierwiseConfig, feature_slug
from tierwise.errors import TierwiseError
from tierwise.features import describe_features
from tierwise.inference._models import ScoringModels
from tierwise.models import ChurnPredictor, ValuePredictor

logger = logging.getLogger(__name__)

RELIED_ON_GAIN_SHARE = 0.01
_NAMED_FEATURES = 4


def gain_shares(model: ChurnPredictor | ValuePredictor) -> pd.Series:
    """Each feature's share (0-1) of the model's total split gain over the trees it predicts with.

    Parameters
    ----------
    model : ChurnPredictor or ValuePredictor
        A fitted model.

    Returns
    -------
    pandas.Series
        Indexed by feature name; sums to 1 (all 0 for a model without a split).
    """
    gain = model.booster_.feature_importance(importance_type="gain", iteration=model.best_iteration_)
    total = gain.sum()
    return pd.Series(gain / total if total > 0 else np.zeros(len(gain)), index=list(model.feature_names_in_))


def _single_state(column: pd.Series) -> bool:
    """All missing, or one value and nothing missing: the model sees the same input for everyone."""
    missing = column.isna()
    if missing.all():
        return True
    if missing.any():
        return False
    values = column.cat.codes if isinstance(column.dtype, pd.CategoricalDtype) else column
    return bool(values.min() == values.max())


def lost_features(features: pd.DataFrame, models: ScoringModels) -> pd.DataFrame:
    """The features a model relied on that are missing or constant across the customers in ``features``.

    "Relied on": at least ``RELIED_ON_GAIN_SHARE`` of the churn or the value
    model's total split gain. Categorical levels the model never saw count as
    missing, as the model reads them. Returns one row per lost feature, most
    relied on first, with columns feature, churn_gain_share, value_gain_share
    (0-1) and value (the constant, missing when all are); no rows for fewer
    than two customers, where every feature is constant.

    Parameters
    ----------
    features : pandas.DataFrame
        The customers about to be scored, as :func:`tierwise.features.build_features` returns them.
    models : ScoringModels
        The churn, value and retained-value models (see :func:`load_models`).

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``churn_gain_share``, ``value_gain_share`` (0-1) and ``value`` (the constant).
    """
    columns = ["feature", "churn_gain_share", "value_gain_share", "value"]
    if len(features) < 2:
        return pd.DataFrame(columns=columns)
    shares = pd.DataFrame({"churn_gain_share": gain_shares(models.churn), "value_gain_share": gain_shares(models.value)})
    most = shares.max(axis=1).sort_values(ascending=False, kind="stable")
    relied_on = most.index[most >= RELIED_ON_GAIN_SHARE]
    seen = models.churn.prepare(features[list(models.churn.feature_names_in_)])
    lost = [name for name in relied_on if _single_state(seen[name])]
    table = shares.loc[lost].rename_axis("feature").reset_index()
    table["value"] = pd.Series([seen[name].iloc[0] for name in lost], dtype="object")
    return table[columns]


def _describe_loss(row: pd.Series) -> str:
    shares = [f"{row[f'{m}_gain_share']:.0%} of {m} gain" for m in ("churn", "value")
              if row[f"{m}_gain_share"] >= RELIED_ON_GAIN_SHARE]
    value = row["value"]
    if pd.isna(value):
        constant = "all missing"
    else:
        constant = f"all {value:g}" if isinstance(value, (int, float, np.number)) else f"all {str(value)!r}"
    return f"{row['feature']} ({', '.join(shares)}, {constant})"


def _hints(lost: pd.DataFrame, config: TierwiseConfig) -> str:
    event_families = {feature_slug(t) for t in config.features.event_types}
    event_features = {s.name for s in describe_features(config.features, []) if s.family in event_families}
    hints = []
    if lost["feature"].isin(event_features).any():
        hints.append("are the events missing, or their types renamed?")
    if lost["feature"].str.startswith("attr_").any():
        hints.append("is the customers table missing, or its attribute values recoded?")
    if not hints:
        hints.append("is an input file missing or cut short?")
    return " ".join(hints)


def _warn_unseen_levels(features: pd.DataFrame, models: ScoringModels) -> None:
    for column, churn_levels in models.churn.categories_.items():
        known = set(churn_levels) & set(models.value.categories_.get(column, churn_levels))
        values = features[column].astype("object")
        unseen = values.notna() & ~values.isin(known)
        if unseen.any():
            logger.warning(
                "customers: attribute '%s': %d customers have levels the model never saw, e.g. %r (scored as missing)",
                column.removeprefix("attr_"), int(unseen.sum()), values[unseen].value_counts().index[0],
            )


def check_scoring_data(features: pd.DataFrame, models: ScoringModels, *, config: TierwiseConfig) -> None:
    """Refuse, or warn about, features that no longer carry what the models learned from.

    ``features`` are the customers about to be scored, as built by
    :func:`tierwise.features.build_features`. A feature the churn or value
    model relied on (see :func:`lost_features`) that is missing or constant
    across them raises :class:`TierwiseError` naming it, its share of the
    model's gain and the constant; with ``scoring.on_feature_loss: warn`` the
    same line is logged as a warning instead. Attribute levels the models never
    saw are counted per attribute and warned about: the models score them as
    missing.

    Parameters
    ----------
    features : pandas.DataFrame
        The customers about to be scored.
    models : ScoringModels
        The churn, value and retained-value models (see :func:`load_models`).
    config : TierwiseConfig
        ``scoring.on_feature_loss`` says whether a lost feature refuses or warns.

    Raises
    ------
    TierwiseError
        When a relied-on feature is lost and ``scoring.on_feature_loss`` is ``refuse``.
    """
    _warn_unseen_levels(features, models)
    lost = lost_features(features, models)
    if lost.empty:
        return
    named = "; ".join(_describe_loss(row) for _, row in lost.head(_NAMED_FEATURES).iterrows())
    more = f" and {len(lost) - _NAMED_FEATURES} more" if len(lost) > _NAMED_FEATURES else ""
    message = (
        f"scoring data: {len(lost)} features the models relied on are missing or constant across the "
        f"{len(features)} customers scored: {named}{more}; {_hints(lost, config)}"
    )
    if config.scoring.on_feature_loss == "warn":
        logger.warning("%s (scoring anyway: scoring.on_feature_loss is warn)", message)
        return
    raise TierwiseError(f"{message} (set scoring.on_feature_loss: warn to score anyway)")
