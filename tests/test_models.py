"""Snapshot planning, model determinism and calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import brier_score_loss

from tierwise.config import ChurnModelConfig, TrainingConfig, load_config
from tierwise.io import read_config_inputs
from tierwise.training import (
    ChurnModel,
    ValueModel,
    churn_metrics,
    data_end,
    fitted_value_horizon,
    normalized_gini,
    plan_snapshots,
    value_metrics,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("for_backtest", [True, False])
def test_plans_keep_label_windows_inside_the_data(small_demo_config, for_backtest):
    inputs = read_config_inputs(small_demo_config)
    training = TrainingConfig()
    end = data_end(inputs)
    plan = plan_snapshots(inputs, training, horizon_days=90, for_backtest=for_backtest)
    horizon = pd.Timedelta(days=90)
    cutoffs = [*plan.train, plan.validation] + ([plan.test] if plan.test is not None else [])
    assert all(cutoff + horizon <= end for cutoff in cutoffs)
    assert max(plan.train) < plan.validation
    if for_backtest:
        assert plan.validation + horizon <= plan.test and plan.test + horizon == end
        assert all(cutoff + horizon <= plan.validation for cutoff in plan.train)


def test_cdnow_value_window_is_the_longest_the_backtest_can_judge_on_every_snapshot():
    config = load_config(ROOT / "configs" / "cdnow.yaml")
    inputs = read_config_inputs(config)
    # 546 days: 90 of history, five 30-day steps back for six training snapshots, then training, validation and
    # test windows that do not overlap.
    assert fitted_value_horizon(inputs, config.training) == (546 - 90 - 5 * 30) // 3


def _drifting_data(seed: int, n: int, base: float):
    """Two informative features; the lapse rate shifts by `base` between periods."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    logit = 1.5 * X["x1"] - X["x2"] + base
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_fit_is_deterministic_and_clonable():
    X, y = _drifting_data(0, 3000, 0.0)
    Xv, yv = _drifting_data(1, 1000, 0.0)
    first = ChurnModel(ChurnModelConfig(max_rounds=60), seed=3).fit(X, y, X_valid=Xv, y_valid=yv)
    second = clone(first).fit(X, y, X_valid=Xv, y_valid=yv)
    np.testing.assert_array_equal(first.predict_proba(Xv), second.predict_proba(Xv))


def test_refit_learns_the_validation_snapshot_but_calibrates_on_the_first_fit():
    X, y = _drifting_data(0, 3000, 0.0)
    Xv, yv = _drifting_data(1, 1000, 0.0)
    refit = ChurnModel(ChurnModelConfig(max_rounds=60, refit_on_validation=True), seed=3).fit(X, y, X_valid=Xv, y_valid=yv)
    plain = ChurnModel(ChurnModelConfig(max_rounds=60), seed=3).fit(X, y, X_valid=Xv, y_valid=yv)
    assert refit.calibration_ == plain.calibration_ and refit.best_iteration_ == plain.best_iteration_
    assert refit.booster_.num_trees() == refit.best_iteration_
    assert not np.allclose(refit.predict_proba(Xv), plain.predict_proba(Xv))


def test_calibration_on_a_later_snapshot_improves_brier_on_held_out_data():
    X, y = _drifting_data(0, 6000, -1.5)  # the past: few lapse
    X_later, y_later = _drifting_data(1, 3000, 1.0)  # later: many lapse
    X_test, y_test = _drifting_data(2, 3000, 1.0)  # held out, same regime as the later snapshot
    model = ChurnModel(ChurnModelConfig(max_rounds=80), seed=1).fit(X, y, X_valid=X_later, y_valid=y_later)
    before = brier_score_loss(y_test, model.raw_predict(X_test))
    after = brier_score_loss(y_test, model.predict_proba(X_test)[:, 1])
    assert after < before - 0.02


def test_value_model_never_negative():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=2000)})
    y = np.where(rng.random(2000) < 0.5, 0.0, np.exp(X["x"] + 3))
    model = ValueModel(seed=1).fit(X, y, X_valid=X, y_valid=y)
    assert (model.predict(X) >= 0).all()


def test_default_leaf_minimum_still_lets_a_small_data_set_split():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=300)})
    y = np.where(rng.random(300) < 0.5, 0.0, np.exp(X["x"] + 3))
    predicted = ValueModel(seed=1).fit(X, y, X_valid=X, y_valid=y).predict(X)
    assert np.unique(predicted).size > 5 and np.corrcoef(predicted, X["x"])[0, 1] > 0.5


def test_normalized_gini_bounds():
    actual = np.array([0, 0, 5, 10, 100.0])
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) < 0


def test_tied_scores_count_at_their_average_whatever_the_row_order():
    # 20 customers, top decile = 2 places; the three tied at the top share them.
    actual = np.array([90.0, 0.0, 30.0] + [1.0] * 17)
    tied = np.array([5.0, 5.0, 5.0] + [1.0] * 17)
    expected_share = 2 * (120 / 3) / actual.sum()
    for order in (np.arange(20), np.arange(20)[::-1], np.r_[1, 2, 0, 3:20]):
        metrics = value_metrics(actual[order], tied[order])
        assert metrics["top_decile_revenue_share"] == pytest.approx(expected_share)
        assert normalized_gini(actual[order], tied[order]) == pytest.approx(normalized_gini(actual, tied))
    lapsed = np.array([1, 0, 0] + [0] * 17)
    precision = churn_metrics(lapsed, tied, is_probability=False)["precision_top_decile"]
    assert precision == pytest.approx(1 / 3)
    assert churn_metrics(lapsed[::-1], tied[::-1], is_probability=False)["precision_top_decile"] == pytest.approx(1 / 3)


def test_tuning_is_reproducible_and_uses_only_the_validation_snapshot():
    from tierwise.training._tuning import tune_config

    X, y = _drifting_data(0, 2000, 0.0)
    Xv, yv = _drifting_data(1, 800, 0.0)
    config = ChurnModelConfig(max_rounds=30)
    first = tune_config(ChurnModel, config, X, y, X_valid=Xv, y_valid=yv, trials=3, seed=5)
    second = tune_config(ChurnModel, config, X, y, X_valid=Xv, y_valid=yv, trials=3, seed=5)
    assert first == second
    assert first != config  # the search moved away from the defaults
    tuned = ChurnModel(first, seed=5).fit(X, y, X_valid=Xv, y_valid=yv)
    default = ChurnModel(config, seed=5).fit(X, y, X_valid=Xv, y_valid=yv)
    assert tuned.validation_loss_ <= default.validation_loss_ + 1e-3


def test_bgnbd_history_counts_repeat_orders_and_weeks():
    from tierwise.models import history_from_features

    features = pd.DataFrame({"frequency_orders": [1, 4], "recency_days": [70.0, 14.0], "tenure_days": [70.0, 140.0]})
    history = history_from_features(features)
    np.testing.assert_allclose(history[["x", "t_x", "T"]].to_numpy(), [[0, 0, 10], [3, 18, 20]])


def _bgnbd_customers(seed: int, n: int, max_tenure: int):
    """Customers simulated from a BG/NBD, each seen for at most ``max_tenure`` days; lapsed = silent for 13 weeks."""
    rng = np.random.default_rng(seed)
    weeks = rng.integers(1, max_tenure // 7 + 1, n).astype(float)
    rate, dropout = rng.gamma(0.5, 1 / 4.0, n), rng.beta(0.8, 2.5, n)
    now, repeats, last, alive = np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n, bool)
    lapsed = np.ones(n, int)
    while alive.any():
        now = now + rng.exponential(1 / rate)
        seen = alive & (now <= weeks)
        repeats[seen] += 1
        last[seen] = now[seen]
        lapsed[alive & (now > weeks) & (now <= weeks + 13)] = 0
        alive = seen & (rng.random(n) >= dropout)
    X = pd.DataFrame({"frequency_orders": repeats + 1, "recency_days": 7 * (weeks - last), "tenure_days": 7 * weeks})
    return X, lapsed


def test_bgnbd_in_calibration_keeps_risk_rising_past_the_oldest_customer_in_training():
    X, y = _bgnbd_customers(0, 6000, max_tenure=120)
    Xv, yv = _bgnbd_customers(1, 3000, max_tenure=120)
    one_time_buyers = pd.DataFrame({"frequency_orders": 1, "recency_days": [130.0, 200.0, 300.0], "tenure_days": [130.0, 200.0, 300.0]})
    plain = ChurnModel(ChurnModelConfig(max_rounds=80), seed=1, horizon_days=91).fit(X, y, X_valid=Xv, y_valid=yv)
    weighed = ChurnModel(ChurnModelConfig(max_rounds=80, bgnbd_in_calibration=True), seed=1, horizon_days=91).fit(
        X, y, X_valid=Xv, y_valid=yv
    )
    flat = plain.predict_proba(one_time_buyers)[:, 1]
    rising = weighed.predict_proba(one_time_buyers)[:, 1]
    assert np.ptp(flat) < 1e-9  # trees see nobody older than 120 days
    bgnbd = weighed.calibration_["bgnbd"]
    assert bgnbd["r"] == pytest.approx(0.5, rel=0.2) and bgnbd["alpha"] == pytest.approx(4.0, rel=0.2)  # the simulated BG/NBD
    assert bgnbd["weight"] > 0.5
    assert rising[0] < rising[1] < rising[2]
    assert plain.bgnbd_lapse_probability(one_time_buyers) is None


def test_bgnbd_calibration_is_stored_as_plain_numbers_and_restored():
    import json

    from tierwise.models import restore_model, saved_metadata

    X, y = _bgnbd_customers(0, 3000, max_tenure=120)
    Xv, yv = _bgnbd_customers(1, 1500, max_tenure=120)
    model = ChurnModel(ChurnModelConfig(max_rounds=40, bgnbd_in_calibration=True), seed=1, horizon_days=91).fit(
        X, y, X_valid=Xv, y_valid=yv
    )
    metadata = json.loads(json.dumps(saved_metadata(model, "churn")))
    restored = restore_model(model.booster_, metadata)
    np.testing.assert_allclose(restored.predict_proba(Xv), model.predict_proba(Xv))
    assert model.calibration_["bgnbd"]["horizon_weeks"] == pytest.approx(13.0)


def test_bgnbd_in_calibration_needs_platt_scaling():
    with pytest.raises(ValueError, match="bgnbd_in_calibration needs calibration: sigmoid"):
        ChurnModelConfig(calibration="isotonic", bgnbd_in_calibration=True)


def test_models_follow_the_scikit_learn_contract_without_validation_rows():
    X, y = _drifting_data(0, 3000, 0.0)
    churn = ChurnModel().set_params(config=ChurnModelConfig(max_rounds=40), seed=5)
    assert churn.get_params()["seed"] == 5 and clone(churn).get_params()["seed"] == 5
    fitted = churn.fit(X, y)  # no validation rows: a seeded, stratified fifth is held out
    again = clone(churn).fit(X, y)
    probabilities = fitted.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(probabilities, again.predict_proba(X)[:, 1])
    assert fitted.score(X, y) > 0.6 and 0 < probabilities.min() and probabilities.max() < 1
    spend = np.exp(X["x1"] + 2)
    value = ValueModel(seed=2).fit(X, spend)
    assert (value.predict(X) >= 0).all() and np.corrcoef(value.predict(X), spend)[0, 1] > 0.9
    with pytest.raises(ValueError, match="X_valid and y_valid go together"):
        ChurnModel().fit(X, y, X_valid=X)
