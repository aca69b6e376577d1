"""Monitoring: each run against the previous one (tier migration)."""

from tierwise.monitoring._migration import (
    MOVERS_COLUMNS,
    NEW_TO_RUN,
    PreviousRun,
    PreviousRunSearch,
    at_risk_tiers,
    carry_tiers,
    find_previous_run,
    migration_matrix,
    movers_csv_frame,
    moves_that_matter,
    rule_is_at_risk,
    run_identity,
    tier_movers,
    tier_rules_signature,
)

__all__ = [
    "MOVERS_COLUMNS",
    "NEW_TO_RUN",
    "PreviousRun",
    "PreviousRunSearch",
    "at_risk_tiers",
    "carry_tiers",
    "find_previous_run",
    "migration_matrix",
    "movers_csv_frame",
    "moves_that_matter",
    "rule_is_at_risk",
    "run_identity",
    "tier_movers",
    "tier_rules_signature",
]
