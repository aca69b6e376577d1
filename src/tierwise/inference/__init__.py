"""Inference: batch scores, forward-looking tiers, reasons, from the registered models."""

from tierwise.inference._checks import check_scoring_data, gain_shares, lost_features
from tierwise.inference._drift import check_drift, log_drift
from tierwise.inference._explain import churn_explanation, explain_customer, plot_explanation
from tierwise.inference._horizon import lapse_probability_over, records_before
from tierwise.inference._models import ScoringModels, check_data_source, load_models
from tierwise.inference._outreach import (
    EXPORT_COLUMNS,
    EXPORT_SCHEMA_VERSION,
    build_outreach_list,
    control_draw,
    export_terms,
    next_order_overdue_days,
    outreach_summary,
)
from tierwise.inference._reasons import churn_contributions, reason_sentence, top_reasons
from tierwise.inference._score import (
    SCORE_COLUMNS,
    check_compatible,
    default_as_of,
    score_customers,
    score_feature_table,
    score_with_drift,
)
from tierwise.models import (
    activity_classes,
    assign_tiers,
    base_lapse_rate,
    lifecycle_stage,
    risk_band_terms,
    risk_bands,
    score_features,
)

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_SCHEMA_VERSION",
    "build_outreach_list",
    "control_draw",
    "export_terms",
    "next_order_overdue_days",
    "outreach_summary",
    "SCORE_COLUMNS",
    "ScoringModels",
    "activity_classes",
    "base_lapse_rate",
    "risk_band_terms",
    "risk_bands",
    "assign_tiers",
    "check_compatible",
    "check_scoring_data",
    "check_data_source",
    "check_drift",
    "churn_contributions",
    "default_as_of",
    "churn_explanation",
    "explain_customer",
    "gain_shares",
    "lapse_probability_over",
    "lifecycle_stage",
    "load_models",
    "log_drift",
    "lost_features",
    "plot_explanation",
    "reason_sentence",
    "records_before",
    "score_customers",
    "score_feature_table",
    "score_features",
    "score_with_drift",
    "top_reasons",
]
