"""The report's figures, computed from a run's scores and outreach list: pure functions on DataFrames.

Every column the report reads is named in :mod:`tierwise.reporting._columns`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tierwise.reporting._columns import ListColumns, ScoreColumns

CONCENTRATION_SHARES = (0.01, 0.05, 0.20)
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")
_PLURAL_AFTER_FIGURE = re.compile(r"(# \w+?)s\b")


@dataclass(frozen=True)
class OutreachSettings:
    """What the list's figures assume: the contact's cost and the share of would-be lapsers it keeps.

    ``cost_per_contact`` is None when no cost was configured; then no net
    value is shown.

    Attributes
    ----------
    save_rate : float or None
        The share of would-be lapsers a contact keeps.
    cost_per_contact : float or None
        The cost of one contact, in the report's currency.
    rank_by : str or None
        The list's order (``outreach.rank_by``).
    """

    save_rate: float | None
    cost_per_contact: float | None
    rank_by: str | None = None


def headline(scores: pd.DataFrame, outreach: pd.DataFrame, settings: OutreachSettings) -> dict[str, float]:
    """The figures at the top of the report.

    Returns ``customers`` (scored), ``modelled`` (with a churn probability),
    ``high_risk`` (in the highest risk band) and its ``high_risk_value_at_risk``,
    ``value_at_risk`` (all customers), ``expected_lapsers`` (sum of churn
    probabilities), ``list_customers``, ``contacted``, ``control``,
    ``expected_saving`` (contacted customers), ``contact_cost`` (NaN without a
    cost) and ``expected_net``.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores.parquet.
    outreach : pandas.DataFrame
        The run's whole list (contacts and control), with ``control``.
    settings : OutreachSettings
        The save rate and contact cost (see :func:`settings_from_run`).

    Returns
    -------
    dict of str to float
        The figures named above.
    """
    s, o = ScoreColumns, ListColumns
    high = scores[s.risk_band] == s.highest_band
    contacted = outreach[~outreach[o.control].astype(bool)]
    saving = float(contacted[o.expected_saving].sum())
    cost = np.nan if settings.cost_per_contact is None else len(contacted) * settings.cost_per_contact
    return {
        "customers": len(scores),
        "modelled": int(scores[s.churn_probability].notna().sum()),
        "high_risk": int(high.sum()),
        "high_risk_value_at_risk": float(scores.loc[high, s.value_at_risk].sum()),
        "value_at_risk": float(scores[s.value_at_risk].sum()),
        "expected_lapsers": float(scores[s.churn_probability].sum()),
        "list_customers": len(outreach),
        "contacted": len(contacted),
        "control": int(outreach[o.control].astype(bool).sum()),
        "expected_saving": saving,
        "contact_cost": cost,
        "expected_net": saving - cost if cost == cost else np.nan,
    }


def tier_summary(scores: pd.DataFrame, outreach: pd.DataFrame) -> pd.DataFrame:
    """One row per tier, by value at risk (largest first).

    Columns: ``tier``, ``action``, ``customers``, ``mean_churn_probability``
    (NaN for tiers without modelled customers, e.g. lost or prospect),
    ``value_at_risk``, ``predicted_value``, ``on_list`` (customers of the tier on
    the outreach list, control included).

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores.parquet.
    outreach : pandas.DataFrame
        The run's whole list (contacts and control), with ``control``.

    Returns
    -------
    pandas.DataFrame
        The columns named above.
    """
    s, o = ScoreColumns, ListColumns
    grouped = scores.groupby(s.tier, sort=False).agg(
        action=(s.tier_action, "first"), customers=(s.customer_id, "size"),
        mean_churn_probability=(s.churn_probability, "mean"), value_at_risk=(s.value_at_risk, "sum"),
        predicted_value=(s.predicted_value, "sum"),
    )
    on_list = outreach.groupby(o.tier, sort=False).size()
    grouped["on_list"] = on_list.reindex(grouped.index).fillna(0).astype(int)
    grouped = grouped.sort_values(["value_at_risk", "customers"], ascending=False, kind="stable")
    return grouped.rename_axis("tier").reset_index()


def value_concentration(scores: pd.DataFrame, shares: tuple[float, ...] = CONCENTRATION_SHARES) -> pd.DataFrame:
    """Share of all predicted value held by the top ``shares`` of customers (by predicted value).

    Columns: ``top_share`` (e.g. 0.05), ``customers`` (how many that is, at
    least one) and ``value_share``. Negative predictions (net refunds) count
    as zero. Empty when no value is predicted.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores, with ``predicted_value``.
    shares : tuple of float
        The top shares of customers, e.g. ``(0.05, 0.1, 0.2)``.

    Returns
    -------
    pandas.DataFrame
        The columns named above.
    """
    values = np.sort(scores[ScoreColumns.predicted_value].fillna(0).clip(lower=0).to_numpy())[::-1]
    total = values.sum()
    if len(values) == 0 or total <= 0:
        return pd.DataFrame(columns=["top_share", "customers", "value_share"])
    rows = []
    for share in shares:
        count = max(1, int(round(share * len(values))))
        rows.append({"top_share": share, "customers": count, "value_share": float(values[:count].sum() / total)})
    return pd.DataFrame(rows)


def targeting_curve(scores: pd.DataFrame, outreach: pd.DataFrame, settings: OutreachSettings) -> pd.DataFrame:
    """Cumulative figures for the first N contacts: the list's contacts first, then everyone else ranked.

    The order is the list's contacted customers (control left out: they are
    not contacted) in list order, followed by the ranked customers the list
    left out, in rank order, so the curve shows both the list and what going
    further would bring. Columns, one row per N = 1, 2, ...: ``contacts``,
    ``on_list`` (whether the N-th contact is on the list), ``lapsers_reached``
    (sum of churn probability), ``false_alarms`` (sum of 1 - p),
    ``expected_saving`` (value at risk x save rate) and, with a cost,
    ``contact_cost`` and ``net_value``.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores.parquet.
    outreach : pandas.DataFrame
        The run's whole list (contacts and control), with ``control``.
    settings : OutreachSettings
        The save rate and contact cost (see :func:`settings_from_run`).

    Returns
    -------
    pandas.DataFrame
        The columns named above.
    """
    s, o = ScoreColumns, ListColumns
    ranked = scores[scores[s.outreach_rank].notna()].sort_values(s.outreach_rank, kind="stable")
    listed = outreach.sort_values(o.list_position, kind="stable")
    contacted_ids = listed.loc[~listed[o.control].astype(bool), o.customer_id]
    rest = ranked.loc[~ranked[s.customer_id].isin(listed[o.customer_id]), s.customer_id]
    by_id = ranked.set_index(s.customer_id)
    order = pd.concat([contacted_ids, rest], ignore_index=True)
    order = order[order.isin(by_id.index)]
    chosen = by_id.loc[order]
    probability = chosen[s.churn_probability].fillna(0).to_numpy()
    curve = pd.DataFrame({
        "contacts": np.arange(1, len(chosen) + 1),
        "on_list": np.arange(len(chosen)) < len(contacted_ids),
        "lapsers_reached": np.cumsum(probability),
        "false_alarms": np.cumsum(1 - probability),
    })
    if settings.save_rate is not None:
        curve["expected_saving"] = np.cumsum(chosen[s.value_at_risk].fillna(0).to_numpy() * settings.save_rate)
    if settings.cost_per_contact is not None and "expected_saving" in curve:
        curve["contact_cost"] = curve["contacts"] * settings.cost_per_contact
        curve["net_value"] = curve["expected_saving"] - curve["contact_cost"]
    return curve


def reason_pattern(sentence: str) -> str:
    """A reason's kind: its figures replaced by '#' and the plural after a figure folded ("1 visit", "2 visits").

    Parameters
    ----------
    sentence : str
        A reason, e.g. "2 visits in the last 30 days".

    Returns
    -------
    str
        The pattern.

    Examples
    --------
    >>> reason_pattern("2 visits in the last 30 days") == reason_pattern("1 visit in the last 30 days")
    True
    """
    return _PLURAL_AFTER_FIGURE.sub(r"\1", _NUMBER.sub("#", sentence))


def common_reasons(scores: pd.DataFrame, *, per_tier: int = 3) -> pd.DataFrame:
    """The most frequent reasons of each tier, counted over reason_1..3 with figures masked.

    Columns: ``tier``, ``reason`` (the pattern, figures shown as '#'),
    ``example`` (one real sentence), ``customers`` (customers of the tier
    given that reason) and ``share`` (of the tier's customers that have any
    reason). Tiers with no reasons are absent.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores, with ``tier`` and ``reason_1`` to ``reason_3``.
    per_tier : int
        The number of reasons per tier.

    Returns
    -------
    pandas.DataFrame
        The columns named above.
    """
    s = ScoreColumns
    long = scores[[s.customer_id, s.tier, *s.reasons]].melt(
        id_vars=[s.customer_id, s.tier], value_name="sentence"
    ).dropna(subset=["sentence"])
    if long.empty:
        return pd.DataFrame(columns=["tier", "reason", "example", "customers", "share"])
    long = long.assign(reason=long["sentence"].map(reason_pattern))
    with_reason = long.groupby(s.tier)[s.customer_id].nunique()
    counted = long.groupby([s.tier, "reason"], sort=False).agg(
        example=("sentence", "first"), customers=(s.customer_id, "nunique")
    ).reset_index()
    counted["share"] = counted["customers"] / counted[s.tier].map(with_reason)
    counted = counted.sort_values([s.tier, "customers", "reason"], ascending=[True, False, True], kind="stable")
    return counted.groupby(s.tier, sort=False).head(per_tier).rename(columns={s.tier: "tier"}).reset_index(drop=True)
