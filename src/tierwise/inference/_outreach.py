"""The outreach list: who to contact, within a budget, with a reproducible control group."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from tierwise.config import ExportConfig, OutreachConfig

# The CRM export contract (schema version 3): these columns, in this order, in outreach.* (customers to contact)
# and control.* (customers held out); version 2 split the control customers off and added retained_value and
# next_order_overdue_days; version 3 appended previous_tier and tier_since (tier migration since the previous run).
EXPORT_SCHEMA_VERSION = 3
EXPORT_COLUMNS = [
    "customer_id", "as_of", "list_position", "control", "tier", "tier_action", "churn_probability", "risk_band",
    "predicted_value", "retained_value", "value_at_risk", "expected_saving", "value_grade", "lifecycle", "reason_1", "reason_2",
    "reason_3", "avg_days_between_orders", "expected_next_order_date", "next_order_overdue_days", "model_version",
    "previous_tier", "tier_since",
]


def control_draw(customer_ids: pd.Series, as_of: pd.Timestamp, salt: str) -> np.ndarray:
    """A uniform number in [0, 1) per customer, fixed by (salt, as_of, customer id) alone.

    Parameters
    ----------
    customer_ids : pandas.Series
        The customers.
    as_of : pandas.Timestamp
        The list's cutoff.
    salt : str
        ``outreach.control_salt``.

    Returns
    -------
    numpy.ndarray
        One draw per customer, the same on every rerun.
    """
    stamp = as_of.date().isoformat()
    return np.array(
        [int.from_bytes(hashlib.sha256(f"{salt}|{stamp}|{c}".encode()).digest()[:8], "big") / 2**64 for c in customer_ids]
    )


def ranking_key(scores: pd.DataFrame, config: OutreachConfig) -> pd.Series:
    """The number the list is ordered by, largest first.

    ``scores[config.rank_by]``; for ``expected_net_saving``,
    ``value_at_risk x save_rate - cost_per_contact`` (0 without a cost).

    Parameters
    ----------
    scores : pandas.DataFrame
        The scores, with ``value_at_risk`` and the ``rank_by`` column.
    config : OutreachConfig
        ``rank_by``, ``save_rate`` and ``cost_per_contact``.

    Returns
    -------
    pandas.Series
        On ``scores``' index.
    """
    if config.rank_by != "expected_net_saving":
        return scores[config.rank_by]
    return scores["value_at_risk"] * config.save_rate - (config.cost_per_contact or 0.0)


def select_outreach(scores: pd.DataFrame, config: OutreachConfig) -> pd.DataFrame:
    """The customers the outreach list keeps, in list order: ``expected_saving`` and ``control``, on ``scores``' index.

    From the ranked customers (``outreach_rank`` set), ordered by
    :func:`ranking_key`: with ``cost_per_contact``, drop those whose expected
    saving (value_at_risk x save_rate) is below it (ranked by value at risk or
    net saving, that is where the list stops); then apply the per-tier
    quotas, ``top_k`` and ``max_total_cost``. Finally a ``control_share`` of the
    list, drawn per customer and as_of, is flagged ``control``: kept out of
    contact so the effect of the outreach can be measured.

    Parameters
    ----------
    scores : pandas.DataFrame
        The scores, with ``outreach_rank``, ``tier`` and ``value_at_risk``.
    config : OutreachConfig
        The list's rules.

    Returns
    -------
    pandas.DataFrame
        ``expected_saving`` (currency) and ``control`` (bool) of the customers kept.
    """
    modelled = scores["outreach_rank"].notna()
    ranked = scores.loc[modelled, ["customer_id", "as_of", "tier", "value_at_risk"]]
    ranked = ranked.assign(expected_saving=ranked["value_at_risk"] * config.save_rate)
    order = np.lexsort((ranked["customer_id"].to_numpy(), -ranking_key(scores[modelled], config).to_numpy()))
    ranked = ranked.iloc[order]
    if config.cost_per_contact is not None:
        ranked = ranked[ranked["expected_saving"] >= config.cost_per_contact]
    if config.tier_quotas:
        position_in_tier = ranked.groupby("tier", sort=False).cumcount()
        quota = ranked["tier"].map(config.tier_quotas).fillna(np.inf)
        ranked = ranked[position_in_tier < quota]
    if config.top_k is not None:
        ranked = ranked.head(config.top_k)
    as_of = ranked["as_of"].iloc[0] if len(ranked) else pd.Timestamp(0)
    draw = control_draw(ranked["customer_id"], as_of, config.control_salt)
    ranked = ranked.assign(control=draw < config.control_share)
    if config.max_total_cost is not None:
        contacted_cost = (~ranked["control"]).cumsum() * config.cost_per_contact
        ranked = ranked[contacted_cost <= config.max_total_cost]
    return ranked[["expected_saving", "control"]]


def next_order_overdue_days(expected_next_order_date: pd.Series, as_of: pd.Series) -> pd.Series:
    """Whole days by which the expected next order lies before ``as_of``; 0 when not yet due, null when unknown.

    Parameters
    ----------
    expected_next_order_date : pandas.Series
        Each customer's expected next order date.
    as_of : pandas.Series
        The cutoff, per customer.

    Returns
    -------
    pandas.Series
        Nullable integer days.
    """
    days = (as_of - expected_next_order_date).dt.days.clip(lower=0)
    return days.astype("Int64")


def build_outreach_list(scores: pd.DataFrame, config: OutreachConfig) -> pd.DataFrame:
    """Select and order the customers to contact (see :func:`select_outreach`), in the export's columns.

    ``list_position`` counts 1, 2, ... among the customers to contact and,
    separately, among the ``control`` ones, so that "the first 500" of the
    contact file are 500 contacts; the export writes the two to separate files.

    Parameters
    ----------
    scores : pandas.DataFrame
        What scoring returns (``SCORE_COLUMNS``).
    config : OutreachConfig
        Ranking, size limits, budget and control share.

    Returns
    -------
    pandas.DataFrame
        The listed customers in ``EXPORT_COLUMNS``: contacts and control
        customers (``control`` true), each in list order.
    """
    selected = select_outreach(scores, config)
    outreach = scores.loc[selected.index].assign(**selected).reset_index(drop=True)
    outreach["list_position"] = outreach.groupby("control").cumcount() + 1
    outreach["next_order_overdue_days"] = next_order_overdue_days(
        outreach["expected_next_order_date"], outreach["as_of"]
    )
    return outreach[EXPORT_COLUMNS]


def export_terms(outreach: OutreachConfig, export: ExportConfig) -> dict[str, object]:
    """The assumptions behind the export's figures, for its manifest: order, currency, save rate, contact cost, control.

    Parameters
    ----------
    outreach : OutreachConfig
        The list's settings.
    export : ExportConfig
        The export's settings (the currency).

    Returns
    -------
    dict
        ``rank_by``, ``currency``, ``save_rate``, ``cost_per_contact`` and
        ``control_share``.
    """
    return {
        "rank_by": outreach.rank_by,
        "currency": export.currency,
        "save_rate": outreach.save_rate,
        "cost_per_contact": outreach.cost_per_contact,
        "control_share": outreach.control_share,
    }


def outreach_summary(outreach: pd.DataFrame, config: OutreachConfig) -> dict[str, float]:
    """Contacts, control size, and the expected saving against the cost of the contacted customers.

    Parameters
    ----------
    outreach : pandas.DataFrame
        The list, with ``control`` and ``expected_saving``.
    config : OutreachConfig
        ``cost_per_contact``.

    Returns
    -------
    dict of str to float
        ``customers``, ``contacted``, ``control``, ``expected_saving``, ``contact_cost`` and ``expected_net``.
    """
    contacted = outreach[~outreach["control"]]
    cost = len(contacted) * (config.cost_per_contact or 0.0)
    saving = float(contacted["expected_saving"].sum())
    return {
        "customers": len(outreach),
        "contacted": len(contacted),
        "control": int(outreach["control"].sum()),
        "expected_saving": saving,
        "contact_cost": cost,
        "expected_net": saving - cost,
    }
