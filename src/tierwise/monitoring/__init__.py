"""Monitoring: whether the data scored now still look like the data the models learned from."""

from tierwise.monitoring._drift import (
    EMPTY_BIN_SHARE,
    bin_shares,
    drift_lines,
    drift_metrics,
    drift_reference,
    level_shares,
    measure_drift,
    population_stability_index,
    quantile_edges,
)

__all__ = [
    "EMPTY_BIN_SHARE",
    "bin_shares",
    "drift_lines",
    "drift_metrics",
    "drift_reference",
    "level_shares",
    "measure_drift",
    "population_stability_index",
    "quantile_edges",
]
