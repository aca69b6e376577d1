"""Monitoring: what became of a run's scores and outreach once the period after its as_of has passed."""

from tierwise.monitoring._outcomes import (
    EVALUATION_SCHEMA_VERSION,
    Effect,
    RunEvaluation,
    Window,
    difference_of_means,
    difference_of_proportions,
    evaluate_run,
    evaluation_metrics,
    log_evaluation,
    minimum_detectable_difference,
    read_run_backtest,
    wilson_interval,
)

__all__ = [
    "EVALUATION_SCHEMA_VERSION",
    "Effect",
    "RunEvaluation",
    "Window",
    "difference_of_means",
    "difference_of_proportions",
    "evaluate_run",
    "evaluation_metrics",
    "log_evaluation",
    "minimum_detectable_difference",
    "read_run_backtest",
    "wilson_interval",
]
