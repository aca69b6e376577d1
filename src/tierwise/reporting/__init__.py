"""Reporting: a run's scores and outreach list as one self-contained HTML page a marketer can read."""

from tierwise.reporting._build import build_report, check_run_columns, settings_from_run
from tierwise.reporting._figures import (
    OutreachSettings,
    common_reasons,
    headline,
    reason_pattern,
    targeting_curve,
    tier_summary,
    value_concentration,
)
from tierwise.reporting._model_card import ModelCard, read_model_card, registered_versions

__all__ = [
    "ModelCard",
    "OutreachSettings",
    "build_report",
    "check_run_columns",
    "common_reasons",
    "headline",
    "read_model_card",
    "reason_pattern",
    "registered_versions",
    "settings_from_run",
    "targeting_curve",
    "tier_summary",
    "value_concentration",
]
