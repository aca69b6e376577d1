"""Properties: features at as_of ignore every record at or after as_of; label windows never overlap across stages."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.config import CustomersSource, DataConfig, FeatureConfig, TrainingConfig, TransactionsSource
from tierwise.errors import InputDataError
from tierwise.features import build_features
from tierwise.inputs import InputData, inputs_from_frames
from tierwise.training import backtest_fits, days_needed, fitted_value_horizon, plan_snapshots

START = pd.Timestamp("2024-01-01")
CONFIG = FeatureConfig(event_types=("visit", "complaint"), spend_windows_days=(7, 30), event_windows_days=(7,))
DATA = DataConfig(
    transactions=TransactionsSource(path="t"),
    customers=CustomersSource.model_validate({"path": "c", "columns": {"signup_date": "signup"}}),
)
customer_ids = st.sampled_from(["a", "b", "c", "d"])
minutes = st.integers(0, 120 * 24 * 60)
transaction_rows = st.lists(
    st.tuples(customer_ids, minutes, st.floats(-50, 200, allow_nan=False).map(lambda x: round(x, 2))), max_size=25
)
event_rows = st.lists(st.tuples(customer_ids, minutes, st.sampled_from(["visit", "complaint"])), max_size=25)


def _inputs(transactions, events, signups):
    tx = pd.DataFrame(transactions, columns=["customer_id", "minute", "amount"])
    tx["timestamp"] = START + pd.to_timedelta(tx["minute"], unit="min")
    ev = pd.DataFrame(events, columns=["customer_id", "minute", "event_type"])
    ev["timestamp"] = START + pd.to_timedelta(ev["minute"], unit="min")
    cust = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "signup": [START + pd.Timedelta(days=d) for d in signups]})
    return inputs_from_frames(
        tx.drop(columns="minute"), events=ev.drop(columns="minute"), customers=cust, data=DATA, features=CONFIG
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=transaction_rows.filter(bool),
    after=transaction_rows,
    events_before=event_rows,
    events_after=event_rows,
    cutoff_day=st.integers(1, 120),
    signups=st.lists(st.integers(0, 150), min_size=4, max_size=4),
    data=st.data(),
)
def test_records_at_or_after_as_of_never_change_features(before, after, events_before, events_after, cutoff_day, signups, data):
    as_of = START + pd.Timedelta(days=cutoff_day)
    cutoff_minute = cutoff_day * 24 * 60
    early = [r for r in before if r[1] < cutoff_minute]
    early_events = [r for r in events_before if r[1] < cutoff_minute]
    # Records at or after the cutoff: added, moved, and given different values.
    late = [(c, cutoff_minute + (m % (60 * 24 * 60)), a * 3 - 7) for c, m, a in after]
    late += [(c, cutoff_minute, a) for c, _, a in after[:2]]  # exactly at as_of
    late_events = [(c, cutoff_minute + (m % 5000), t) for c, m, t in events_after]
    if not early:
        early = [("a", 0, 1.0)]

    baseline = build_features(_inputs(early, early_events, signups), as_of=as_of, config=CONFIG)
    with_future = build_features(_inputs(early + late, early_events + late_events, signups), as_of=as_of, config=CONFIG)
    pd.testing.assert_frame_equal(baseline, with_future, check_exact=True)

    # Altering a future record's customer or amount changes nothing either.
    if late:
        index = data.draw(st.integers(0, len(late) - 1))
        customer, minute, amount = late[index]
        altered = late[:index] + [("d", minute, -amount)] + late[index + 1 :]
        changed = build_features(_inputs(early + altered, early_events, signups), as_of=as_of, config=CONFIG)
        pd.testing.assert_frame_equal(baseline, changed, check_exact=True)


def _data_spanning(days: int):
    """Inputs whose data run from START for ``days`` days (a purchase on the first and on the last day)."""
    transactions = pd.DataFrame(
        {"customer_id": ["a", "a"], "ts": [START, START + pd.Timedelta(days=days - 1)], "amount": [1.0, 1.0]}
    )
    return InputData(transactions=transactions, events=pd.DataFrame(columns=["customer_id", "ts", "event_type"]))


def _assert_leak_free_and_using_the_data(plan, training: TrainingConfig, end: pd.Timestamp, *, for_backtest: bool):
    horizon, step = pd.Timedelta(days=plan.horizon_days), pd.Timedelta(days=training.snapshot_step_days)
    earliest = START + pd.Timedelta(days=training.min_history_days)
    train = list(plan.train)
    assert train == sorted(train) and all(later - earlier == step for earlier, later in zip(train, train[1:]))
    assert train[0] >= earliest
    # No training label window [c, c + H) reaches into the validation window [v, v + H).
    assert all(cutoff + horizon <= plan.validation for cutoff in train)
    # ... and none of the data is wasted: the newest training window ends where validation begins.
    assert train[-1] + horizon == plan.validation
    assert len(train) == training.training_snapshots or train[0] - step < earliest
    if for_backtest:
        assert plan.validation + horizon <= plan.test and plan.test + horizon == end
    else:
        assert plan.test is None and plan.validation + horizon == end


@settings(max_examples=300, deadline=None)
@given(
    span_days=st.integers(1, 1500),
    churn_days=st.integers(1, 400),
    value_days=st.integers(1, 800),
    step_days=st.integers(1, 120),
    snapshots=st.integers(1, 12),
    history_days=st.integers(0, 400),
)
def test_training_label_windows_never_overlap_validation_or_test(
    span_days, churn_days, value_days, step_days, snapshots, history_days
):
    inputs = _data_spanning(span_days)
    end = START + pd.Timedelta(days=span_days)
    training = TrainingConfig(
        churn_horizon_days=churn_days, value_horizon_days=value_days, snapshot_step_days=step_days,
        training_snapshots=snapshots, min_history_days=history_days,
    )
    needed = days_needed(training, for_backtest=False)
    if span_days < needed:
        # One line: what the data hold, what these settings need.
        with pytest.raises(InputDataError, match=f"hold {span_days} days .* needs {needed} "):
            fitted_value_horizon(inputs, training)
        if span_days < history_days + 2 * churn_days:
            with pytest.raises(InputDataError, match=f"hold {span_days} days .* needs {history_days + 2 * churn_days} "):
                plan_snapshots(inputs, training, horizon_days=churn_days, for_backtest=False)
        return

    backtest = backtest_fits(inputs, training)
    assert backtest == (span_days >= days_needed(training, for_backtest=True))
    value_horizon = fitted_value_horizon(inputs, training)
    assert value_horizon <= value_days
    for horizon in (churn_days, value_horizon):
        for for_backtest in (True, False) if backtest else (False,):
            plan = plan_snapshots(inputs, training, horizon_days=horizon, for_backtest=for_backtest)
            assert plan.horizon_days == horizon
            _assert_leak_free_and_using_the_data(plan, training, end, for_backtest=for_backtest)
    if not backtest and span_days < history_days + 3 * churn_days:
        # (The churn windows alone may fit where the value model's shortest window does not.)
        with pytest.raises(InputDataError, match=f"hold {span_days} days"):
            plan_snapshots(inputs, training, horizon_days=churn_days, for_backtest=True)
    if value_horizon < value_days:
        # The longest window that keeps every training snapshot (judged by the backtest when there is one); when
        # that is shorter than the churn horizon, the churn horizon (or all the data allow) on fewer snapshots.
        room = span_days - history_days
        chosen = plan_snapshots(inputs, training, horizon_days=value_horizon, for_backtest=backtest)
        if len(chosen.train) == snapshots:
            if (value_horizon + 1) * (3 if backtest else 2) <= room:
                longer = plan_snapshots(inputs, training, horizon_days=value_horizon + 1, for_backtest=backtest)
                assert len(longer.train) < snapshots
        else:
            assert value_horizon == min(churn_days, room // (3 if backtest else 2))
