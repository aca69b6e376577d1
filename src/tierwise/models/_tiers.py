"""Forward-looking tiers: ordered rules over predicted and observed fields, first match wins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tierwise.config import Range, TierRule
from tierwise.errors import ConfigError


def _matches(scores: pd.DataFrame, rule: TierRule) -> pd.Series:
    mask = pd.Series(True, index=scores.index)
    for field, condition in rule.when.items():
        if field not in scores.columns:
            raise ConfigError(f"tier rule '{rule.tier}': field '{field}' is not among the scored columns")
        column = scores[field]
        if isinstance(condition, Range):
            numbers = pd.to_numeric(column, errors="coerce")
            if condition.min is not None:
                mask &= numbers >= condition.min
            if condition.max is not None:
                mask &= numbers < condition.max
            mask &= numbers.notna()
        else:
            mask &= column.astype("object").isin(list(condition))
    return mask


def assign_tiers(scores: pd.DataFrame, rules: tuple[TierRule, ...]) -> pd.DataFrame:
    """Return ``tier`` and ``tier_action`` for every row: the first rule whose conditions all hold.

    Parameters
    ----------
    scores : pandas.DataFrame
        The columns the rules name (``activity_class``, ``value_grade``, ``lifecycle``, ...).
    rules : tuple of TierRule
        The rules, in priority order (see :func:`tierwise.config.default_tiers`).

    Returns
    -------
    pandas.DataFrame
        ``tier`` and ``tier_action`` on ``scores``' index.

    Raises
    ------
    ConfigError
        When a row matches no rule (the rules should end with one without ``when``).
    """
    tier = np.full(len(scores), None, dtype=object)
    action = np.full(len(scores), None, dtype=object)
    open_rows = np.ones(len(scores), dtype=bool)
    for rule in rules:
        hit = open_rows & _matches(scores, rule).to_numpy()
        tier[hit], action[hit] = rule.tier, rule.action
        open_rows &= ~hit
    if open_rows.any():
        raise ConfigError(f"tiers: {int(open_rows.sum())} customers match no rule; end the rules with one without 'when'")
    return pd.DataFrame({"tier": tier, "tier_action": action}, index=scores.index)
