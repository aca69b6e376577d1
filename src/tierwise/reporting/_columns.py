"""Every column, value and manifest key the report reads, in one place.

The report is built from a run's files alone; when the scores' or the export's
columns change, only this module follows.
"""

from __future__ import annotations


class ScoreColumns:
    """Columns of ``scores.parquet`` (see ``tierwise.inference.SCORE_COLUMNS``)."""

    customer_id = "customer_id"
    as_of = "as_of"
    churn_probability = "churn_probability"
    risk_band = "risk_band"
    predicted_value = "predicted_value"
    value_horizon_days = "value_horizon_days"
    value_at_risk = "value_at_risk"
    tier = "tier"
    tier_action = "tier_action"
    outreach_rank = "outreach_rank"
    reasons = ("reason_1", "reason_2", "reason_3")
    model_version = "model_version"
    # Optional (export schema 3 on): the tier in the previous run, and the as_of of the run the tier was entered in.
    previous_tier = "previous_tier"
    tier_since = "tier_since"
    # The band of the customers the headline counts as "at high risk", and the bands' order in charts.
    highest_band = "high"
    band_order = ("high", "medium", "low")

    required = (customer_id, as_of, churn_probability, risk_band, predicted_value, value_at_risk, tier, tier_action,
                outreach_rank, *reasons, model_version)


class ListColumns:
    """Columns of ``outreach.parquet`` (see ``tierwise.inference.EXPORT_COLUMNS``)."""

    customer_id = "customer_id"
    list_position = "list_position"
    control = "control"
    tier = "tier"
    churn_probability = "churn_probability"
    predicted_value = "predicted_value"
    retained_value = "retained_value"
    value_at_risk = "value_at_risk"
    expected_saving = "expected_saving"
    reasons = ("reason_1", "reason_2", "reason_3")

    required = (customer_id, list_position, control, tier, churn_probability, predicted_value, retained_value,
                value_at_risk, expected_saving, *reasons)


class ManifestKeys:
    """Keys of ``manifest.json`` the report reads; those after ``as_of`` are optional."""

    as_of = "as_of"
    model_version = "model_version"
    churn_horizon_days = "churn_horizon_days"
    value_horizon_days = "value_horizon_days"
    scored_at = "scored_at"
    currency = "currency"
    save_rate = "save_rate"
    cost_per_contact = "cost_per_contact"
    rank_by = "rank_by"
    tiers = "tiers"
    at_risk_tiers = "at_risk_tiers"
    previous_run = "previous_run"


class DriftKeys:
    """Keys of ``drift.json`` the report reads (see ``tierwise.monitoring.measure_drift``)."""

    as_of = "as_of"
    reference_as_of = "reference_as_of"
    customers = "customers"
    reference_customers = "reference_customers"
    thresholds = "thresholds"
    psi_warning = "psi_warning"
    psi_severe = "psi_severe"
    features = "features"
    churn_probability = "churn_probability"
    feature = "feature"
    description = "description"
    psi = "psi"
    flag = "flag"
    crossed = "crossed"
