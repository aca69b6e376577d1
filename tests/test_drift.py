"""Drift between the churn model's training snapshot and the customers scored: PSI, unseen levels, missing rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tierwise.config import DriftConfig
from tierwise.monitoring import (
    EMPTY_BIN_SHARE,
    bin_shares,
    drift_lines,
    drift_metrics,
    drift_reference,
    measure_drift,
    population_stability_index,
    quantile_edges,
)

AS_OF = pd.Timestamp("2025-07-01")


def test_psi_by_hand_on_two_bins_and_zero_for_identical_shares():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.25 ln 2 + 0.25 ln 1.5
    assert population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.274653, abs=1e-6)
    assert population_stability_index([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_an_empty_bin_counts_as_the_small_epsilon_share():
    # The reference's empty second bin counts as 1e-4: (0.9 - 1) ln(0.9 / 1) + (0.1 - 1e-4) ln(0.1 / 1e-4)
    expected = -0.1 * math.log(0.9) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    assert EMPTY_BIN_SHARE == 1e-4
    assert population_stability_index([1.0, 0.0], [0.9, 0.1]) == pytest.approx(expected)
    assert population_stability_index([1.0, 0.0], [1.0, 0.0]) == 0.0


def test_a_point_mass_at_zero_gets_a_bin_of_its_own_and_ties_merge():
    values = pd.Series([0.0] * 60 + list(range(1, 41)) + [np.nan] * 25)
    edges = quantile_edges(values, bins=10)
    assert edges[0] == 0.0 and len(edges) == len(set(edges)) == 4  # 0, then the 70th, 80th and 90th percentiles
    shares, missing = bin_shares(values, edges)
    assert shares[0] == pytest.approx(60 / 125)  # every zero, in (-inf, 0]
    assert missing == pytest.approx(25 / 125) and sum(shares) + missing == pytest.approx(1.0)
    assert quantile_edges(pd.Series([np.nan, np.nan])) == []
    assert bin_shares(pd.Series([5.0, np.inf, -np.inf]), [1.0]) == ([1 / 3, 2 / 3], 0.0)


def _snapshot(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "spend_sum_365d": np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2.0, 50.0, n)),
        "visits_count_30d": rng.poisson(2.0, n).astype(float),
        "rhythm_gap_mean_days": np.where(rng.random(n) < 0.2, np.nan, rng.gamma(3.0, 10.0, n)),
        "attr_region": pd.Categorical(rng.choice(["north", "south", "east"], n)),
    })


def test_measure_drift_by_hand_on_a_tiny_case():
    reference = drift_reference(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), [0.1, 0.2, 0.3, 0.4], as_of=AS_OF, bins=2)
    assert reference["features"]["x"] == {"kind": "numeric", "edges": [2.0], "shares": [0.5, 0.5], "missing_share": 0.0}
    drift = measure_drift(pd.DataFrame({"x": [1.0, 3.0, 3.0, 3.0]}), [0.1, 0.2, 0.3, 0.4], reference, as_of=AS_OF,
                          thresholds=DriftConfig())
    (x,) = drift["features"]
    # bins (-inf, 2], (2, inf) and missing: 0.5, 0.5, 0 then 0.25, 0.75, 0; the missing bin adds 0.
    assert x["psi"] == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5), abs=1e-6)
    # Past psi_severe 0.25, but four customers a side cannot tell it from chance: chi2(1) 99.9% = 10.83, x (1/4 + 1/4).
    assert x["psi_by_chance"] == pytest.approx(10.8276 * 0.5, abs=1e-3) and x["flag"] is None
    assert drift["churn_probability"]["psi"] == 0.0 and drift["churn_probability"]["flag"] is None

    many = reference | {"customers": 4_000}
    drift = measure_drift(pd.DataFrame({"x": [1.0, 3.0, 3.0, 3.0] * 1_000}), [0.1, 0.2, 0.3, 0.4] * 1_000, many,
                          as_of=AS_OF, thresholds=DriftConfig())
    (x,) = drift["features"]
    assert x["psi_by_chance"] == pytest.approx(10.8276 * 2 / 4_000, abs=1e-5)
    assert x["flag"] == "severe" and drift["severe"] == ["x"] and x["crossed"] == ["PSI 0.27 >= 0.25"]


def test_a_missing_share_change_counts_only_beyond_chance():
    reference = drift_reference(pd.DataFrame({"x": [1.0, 2.0, np.nan, np.nan] * 25}), [0.5] * 100, as_of=AS_OF)
    # 50% missing then 35%: past missing_rate_change_severe 0.1, and beyond chance on 1,000 customers, not on 100.
    now = pd.DataFrame({"x": [1.0] * 33 + [2.0] * 32 + [np.nan] * 35})
    few = measure_drift(now, [0.5] * 100, reference, as_of=AS_OF, thresholds=DriftConfig())
    assert few["features"][0]["missing_change_by_chance"] > 0.15 and few["severe"] == []
    reference_many = drift_reference(pd.DataFrame({"x": [1.0, 2.0, np.nan, np.nan] * 250}), [0.5] * 1_000, as_of=AS_OF)
    many = measure_drift(pd.concat([now] * 10), [0.5] * 1_000, reference_many, as_of=AS_OF, thresholds=DriftConfig())
    assert many["features"][0]["missing_change_by_chance"] < 0.1 and many["severe"] == ["x"]


def test_identical_data_give_zero_psi_and_no_flag():
    snapshot = _snapshot(2_000, seed=1)
    scores = np.linspace(0.05, 0.9, len(snapshot))
    reference = drift_reference(snapshot, scores, as_of=AS_OF)
    drift = measure_drift(snapshot, scores, reference, as_of=AS_OF + pd.Timedelta(days=90), thresholds=DriftConfig())
    assert all(e["psi"] == 0.0 and e["flag"] is None for e in drift["features"])
    assert drift["severe"] == drift["warning"] == [] and drift_lines(drift) == []
    assert drift["reference_as_of"] == "2025-07-01" and drift["as_of"] == "2025-09-29"


def test_another_sample_of_the_same_customers_raises_no_flag():
    reference = drift_reference(_snapshot(5_000, seed=1), np.random.default_rng(1).beta(2, 5, 5_000), as_of=AS_OF)
    drift = measure_drift(_snapshot(5_000, seed=2), np.random.default_rng(2).beta(2, 5, 5_000), reference,
                          as_of=AS_OF, thresholds=DriftConfig())
    assert drift["severe"] == drift["warning"] == []
    assert max(e["psi"] for e in drift["features"]) < 0.02


def test_a_currency_change_a_new_region_and_lost_visits_are_flagged():
    snapshot = _snapshot(5_000, seed=1)
    scores = np.random.default_rng(1).beta(2, 5, 5_000)
    reference = drift_reference(snapshot, scores, as_of=AS_OF)
    shifted = _snapshot(5_000, seed=2)
    shifted["spend_sum_365d"] *= 10  # amounts in cents instead of euros
    shifted["attr_region"] = shifted["attr_region"].astype("object").where(np.arange(5_000) % 10 != 0, "west")
    shifted["rhythm_gap_mean_days"] = shifted["rhythm_gap_mean_days"].where(np.arange(5_000) % 3 != 0)
    drift = measure_drift(shifted, scores, reference, as_of=AS_OF, thresholds=DriftConfig(),
                          descriptions={"spend_sum_365d": "net spend in the last 365 days"})
    by_name = {e["feature"]: e for e in drift["features"]}
    assert by_name["spend_sum_365d"]["psi"] > 1.0 and by_name["spend_sum_365d"]["flag"] == "severe"
    region = by_name["attr_region"]
    assert region["unseen_share"] == pytest.approx(0.1) and region["flag"] == "severe"
    assert any("never seen in training" in c for c in region["crossed"])
    gaps = by_name["rhythm_gap_mean_days"]
    assert gaps["missing_share_now"] - gaps["missing_share_reference"] > 0.1 and gaps["flag"] == "severe"
    assert by_name["visits_count_30d"]["flag"] is None
    assert set(drift["severe"]) == {"spend_sum_365d", "attr_region", "rhythm_gap_mean_days"}
    assert drift["features"][0]["feature"] == "spend_sum_365d"  # worst first
    lines = drift_lines(drift, most=2)
    assert lines[0].startswith("spend_sum_365d (net spend in the last 365 days): severe, PSI ")
    assert lines[-1] == "and 1 more past a drift threshold (see drift.json)"
    metrics = drift_metrics(drift)
    assert metrics["drift_severe_count"] == 3.0 and metrics["drift_unseen_share_attr_region"] == pytest.approx(0.1)
    assert metrics["drift_psi_spend_sum_365d"] == pytest.approx(by_name["spend_sum_365d"]["psi"])


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="psi_warning must be below psi_severe"):
        DriftConfig(psi_warning=0.3, psi_severe=0.2)
