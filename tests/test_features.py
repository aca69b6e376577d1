"""Feature values on hand-made logs, and the engine against the plain-pandas reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reference_features import reference_features
from tierwise.config import CustomersSource, DataConfig, FeatureConfig, TransactionsSource
from tierwise.features import build_features, describe_features, feature_sql
from tierwise.inputs import inputs_from_frames

AS_OF = "2024-07-01"
CONFIG = FeatureConfig(event_types=("visit",))
DATA = DataConfig(transactions=TransactionsSource(path="t.csv"))


def hand_made_inputs():
    transactions = pd.DataFrame(
        [
            ("A", "2024-01-01T10:00:00", 100.0),
            ("A", "2024-01-01T15:00:00", 50.0),  # same day: one order with the line above
            ("A", "2024-03-01", 30.0),
            ("A", "2024-03-10", -20.0),  # a refund
            ("A", "2024-06-01", 70.0),  # exactly 30 days before as_of: inside the 30-day window
            ("A", "2024-07-01", 999.0),  # exactly at as_of: excluded from every feature
            ("A", "2024-08-01", 5.0),  # after as_of: excluded
            ("B", "2024-06-30", 10.0),
            ("C", "2024-07-01", 40.0),  # at as_of: C is seen only through its visit
        ],
        columns=["customer_id", "timestamp", "amount"],
    )
    events = pd.DataFrame(
        [("A", "2024-06-20", "visit"), ("A", "2024-05-01", "visit"), ("C", "2024-06-15", "visit"), ("B", "2024-07-02", "visit")],
        columns=["customer_id", "timestamp", "event_type"],
    )
    return inputs_from_frames(transactions, events=events, data=DATA, features=CONFIG)


def test_hand_computed_values():
    features = build_features(hand_made_inputs(), as_of=AS_OF, config=CONFIG).set_index("customer_id")
    assert list(features.index) == ["A", "B", "C"]
    a = features.loc["A"]
    expected_a = {
        "recency_days": 30.0,
        "frequency_orders": 3.0,
        "monetary_total": 250.0,
        "monetary_mean_order": 250.0 / 3,
        "monetary_max_order": 150.0,
        "net_spend_total": 230.0,
        "tenure_days": 182 - 10 / 24,
        "rhythm_gap_mean_days": (60 - 10 / 24 + 92) / 2,
        "rhythm_gap_std_days": (92 - (60 - 10 / 24)) / math.sqrt(2),
        "rhythm_recency_ratio": 30 / ((60 - 10 / 24 + 92) / 2),
        "refund_share": 20 / 250,
        "refund_count": 1.0,
        "spend_slope_30d_periods": (70 * 5.5 + 30 * 1.5 + 150 * -0.5) / 143,
        "spend_sum_30d": 70.0,
        "orders_count_30d": 1.0,
        "spend_sum_90d": 70.0,
        "spend_trend_90d_vs_prior_90d": (70 - 30) / 30,
        "spend_sum_180d": 100.0,
        "orders_count_180d": 2.0,
        "spend_trend_180d_vs_prior_180d": (100 - 150) / 150,
        "spend_sum_365d": 250.0,
        "visit_days_since_last": 11.0,
        "visit_count_30d": 1.0,
        "visit_count_90d": 2.0,
    }
    for name, value in expected_a.items():
        assert a[name] == pytest.approx(value, rel=1e-12), name
    for name in ("spend_trend_30d_vs_prior_30d", "spend_trend_365d_vs_prior_365d", "visit_trend_30d_vs_prior_30d"):
        assert math.isnan(a[name]), name

    b = features.loc["B"]
    assert (b["recency_days"], b["frequency_orders"], b["tenure_days"], b["visit_count_30d"]) == (1.0, 1.0, 1.0, 0.0)
    assert math.isnan(b["rhythm_gap_mean_days"]) and math.isnan(b["visit_days_since_last"])

    c = features.loc["C"]
    assert (c["frequency_orders"], c["monetary_total"], c["visit_days_since_last"]) == (0.0, 0.0, 16.0)
    assert math.isnan(c["recency_days"]) and math.isnan(c["monetary_mean_order"])
    assert (features["as_of"] == pd.Timestamp(AS_OF)).all()


def test_every_feature_has_description_and_unit():
    specs = describe_features(CONFIG)
    features = build_features(hand_made_inputs(), as_of=AS_OF, config=CONFIG)
    assert [s.name for s in specs] == list(features.columns[2:])
    assert all(s.description and s.unit for s in specs)


@pytest.mark.parametrize("grouping", ["day", "line", "order_id"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engine_matches_pandas_reference(grouping, seed):
    rng = np.random.default_rng(seed)
    n = 300
    start = pd.Timestamp("2023-01-01")
    transactions = pd.DataFrame(
        {
            "customer_id": rng.choice([f"c{i}" for i in range(25)], n),
            "timestamp": start + pd.to_timedelta(rng.integers(0, 700 * 24, n), unit="h"),
            "amount": np.round(rng.normal(40, 40, n), 2),
            "order_id": rng.choice([f"o{i}" for i in range(120)], n),
        }
    )
    events = pd.DataFrame(
        {
            "customer_id": rng.choice([f"c{i}" for i in range(30)], n),
            "timestamp": start + pd.to_timedelta(rng.integers(0, 700 * 24 * 60, n), unit="min"),
            "event_type": rng.choice(["visit", "complaint", "other"], n),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(35)],
            "signup": (start + pd.to_timedelta(rng.integers(-100, 700, 35), unit="D")).strftime("%Y-%m-%d"),
            "region": rng.choice(["n", "s"], 35),
        }
    )
    config = FeatureConfig(order_grouping=grouping, event_types=("visit", "complaint"), event_windows_days=(7, 60))
    data = DataConfig(
        transactions=TransactionsSource.model_validate({"path": "t", "columns": {"order_id": "order_id"}}),
        customers=CustomersSource.model_validate(
            {"path": "c", "columns": {"signup_date": "signup"}, "attributes": ["region"]}
        ),
    )
    inputs = inputs_from_frames(transactions, events=events, customers=customers, data=data, features=config)
    as_of = start + pd.Timedelta(days=int(rng.integers(100, 650)))
    fast = build_features(inputs, as_of=as_of, config=config).drop(columns="as_of")
    slow = reference_features(inputs, as_of=as_of, config=config)
    assert list(fast["customer_id"]) == list(slow["customer_id"])
    assert list(fast.columns) == list(slow.columns)
    for column in fast.columns[1:]:
        if column.startswith("attr_"):
            assert list(fast[column].astype(str)) == list(slow[column].astype(str)), column
        else:
            np.testing.assert_allclose(fast[column], slow[column].astype(float), rtol=1e-9, atol=1e-9, err_msg=column)


def test_hostile_names_are_quoted_not_executed():
    """Attribute names and event types are user text: quotes and semicolons must stay data."""
    hostile_attribute = 'reg"ion; DROP TABLE transactions; --'
    hostile_event = "visit'); DROP TABLE events; --"
    config = FeatureConfig(event_types=(hostile_event,), event_windows_days=(30,))
    transactions = pd.DataFrame({"customer_id": ["A", "B"], "timestamp": ["2024-01-01", "2024-02-01"], "amount": [5.0, 6.0]})
    events = pd.DataFrame({"customer_id": ["A"], "timestamp": ["2024-02-20"], "event_type": [hostile_event]})
    customers = pd.DataFrame({"customer_id": ["A", "B"], hostile_attribute: ["x'y", 'z"; --']})
    data = DataConfig(
        transactions=TransactionsSource(path="t"), customers=CustomersSource(path="c", attributes=(hostile_attribute,))
    )
    inputs = inputs_from_frames(transactions, events=events, customers=customers, data=data, features=config)
    sql = feature_sql(config, "2024-03-01", ["attr_reg_ion_drop_table_transactions"])
    assert "'visit''); DROP TABLE events; --'" in sql
    features = build_features(inputs, as_of="2024-03-01", config=config).set_index("customer_id")
    assert features.loc["A", "visit_drop_table_events_count_30d"] == 1.0
    assert list(features["attr_reg_ion_drop_table_transactions"].astype(str)) == ["x'y", 'z"; --']


def test_reruns_give_identical_frames(small_demo_config):
    from tierwise.io import read_config_inputs

    inputs = read_config_inputs(small_demo_config)
    first = build_features(inputs, as_of="2025-01-01", config=small_demo_config.features)
    second = build_features(inputs, as_of="2025-01-01", config=small_demo_config.features)
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_a_flat_spend_history_has_a_slope_of_exactly_zero():
    # weights 1.5, 0.5 and -0.5 (periods 4, 5 and 6 before as_of): 0.01 * 1.5 + 0.26 * 0.5 - 0.29 * 0.5 = 0 exactly,
    # which a DOUBLE sum of the weighted amounts misses by a few 1e-17 (the sum is now in DECIMAL, exact on every engine)
    as_of = pd.Timestamp(AS_OF)
    transactions = pd.DataFrame(
        [("A", as_of - pd.Timedelta(days=days), amount) for days, amount in [(130, 0.01), (160, 0.26), (190, 0.29)]],
        columns=["customer_id", "timestamp", "amount"],
    )
    inputs = inputs_from_frames(transactions, data=DATA, features=CONFIG)
    features = build_features(inputs, as_of=AS_OF, config=CONFIG)
    assert features["spend_slope_30d_periods"].tolist() == [0.0]
