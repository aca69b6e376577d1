"""Property: features at as_of ignore every record at or after as_of."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierwise.config import CustomersSource, DataConfig, FeatureConfig, TransactionsSource
from tierwise.features import build_features
from tierwise.inputs import inputs_from_frames

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
