"""Value at risk: the value a customer brings if retained, times the chance of losing them; and the list it orders."""

from __future__ import annotations

import pandas as pd
import pytest

from tierwise.config import DataConfig, FeatureConfig, OutreachConfig, TrainingConfig, TransactionsSource
from tierwise.inference import build_outreach_list
from tierwise.inputs import inputs_from_frames
from tierwise.training._snapshots import SnapshotBuilder

AS_OF = pd.Timestamp("2024-04-01")
# Churn window [2024-04-01, 2024-05-01), value window [2024-04-01, 2024-06-30), active = bought since 2024-02-01.
TRAINING = TrainingConfig(churn_horizon_days=30, value_horizon_days=90, active_lookback_days=60)


def _builder(rows) -> SnapshotBuilder:
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    inputs = inputs_from_frames(frame, data=DataConfig(transactions=TransactionsSource(path="t")), features=FeatureConfig())
    return SnapshotBuilder(inputs, FeatureConfig(), TRAINING)


def test_retained_value_rows_are_the_active_customers_who_bought_again_in_the_churn_window():
    builder = _builder([
        ("A", "2024-03-10", 10.0), ("A", "2024-04-10", 30.0),  # bought again: kept, value 30
        ("A", "2024-07-15", 1000.0),  # after the value window: in no label (and keeps the data long enough)
        ("B", "2024-03-15", 10.0), ("B", "2024-05-20", 40.0),  # first purchase after the churn window: lapsed, excluded
        ("C", "2023-12-01", 10.0), ("C", "2024-04-15", 50.0),  # silent 122 days at as_of: not active, excluded
        ("D", "2024-03-20", 10.0), ("D", "2024-04-30T23:00", 20.0),  # the churn window's last hour: kept
        ("D", "2024-06-29", 70.0),  # still inside the value window: value 20 + 70 = 90
        ("E", "2024-04-02", 5.0),  # first purchase after as_of: unknown at as_of, excluded
        ("F", "2024-03-25", 10.0), ("F", "2024-04-05", -10.0),  # a refund is no purchase: lapsed, excluded
        ("G", "2024-02-15", 10.0), ("G", "2024-05-01", 25.0),  # exactly at the churn window's end: lapsed, excluded
    ])
    every = builder.value_rows(AS_OF, 90).set_index("customer_id")["value"]
    retained = builder.retained_value_rows(AS_OF, 90)

    assert every.to_dict() == {"A": 30.0, "B": 40.0, "C": 50.0, "D": 90.0, "F": -10.0, "G": 25.0}
    assert retained.set_index("customer_id")["value"].to_dict() == {"A": 30.0, "D": 90.0}
    # The value model learns E[value] over the active customers A, B, D, F, G: 35;
    # the retained-value model E[value | no lapse within 30 days] from A and D: 60.
    assert every[["A", "B", "D", "F", "G"]].mean() == 35.0 and retained["value"].mean() == 60.0
    assert list(retained.columns) == list(builder.value_rows(AS_OF, 90).columns)


def _scores(rows) -> pd.DataFrame:
    """(customer_id, churn_probability, predicted_value, retained_value), as score_customers would give them."""
    frame = pd.DataFrame(rows, columns=["customer_id", "churn_probability", "predicted_value", "retained_value"])
    frame["value_at_risk"] = frame["churn_probability"] * frame["retained_value"]
    frame["outreach_rank"] = pd.array(range(1, len(frame) + 1), dtype="Int64")
    return frame.assign(as_of=AS_OF, tier="t", tier_action="call", risk_band="high", value_grade="VIP",
                        lifecycle="active", reason_1=None, reason_2=None, reason_3=None,
                        avg_days_between_orders=None, expected_next_order_date=pd.NaT, model_version="v1", previous_tier=None,
                        tier_since=pd.NaT)


# Worked by hand: value at risk = P(lapse) x retained value; expected saving = value at risk x save rate 0.1.
HAND = [
    ("gone", 0.999, 0.02, 0.5),  # effectively gone and worth nothing: value at risk 0.4995
    ("vip", 0.40, 600.0, 1000.0),  # 400: the old p x predicted_value gave only 240
    ("steady", 0.05, 950.0, 1000.0),  # 50
    ("slipping", 0.80, 30.0, 150.0),  # 120
]


def test_the_default_list_puts_the_most_value_at_risk_first():
    outreach = build_outreach_list(_scores(HAND), OutreachConfig(control_share=0.0))
    assert list(outreach["customer_id"]) == ["vip", "slipping", "steady", "gone"]
    assert outreach["value_at_risk"].tolist() == pytest.approx([400.0, 120.0, 50.0, 0.4995])
    assert outreach["expected_saving"].tolist() == pytest.approx([40.0, 12.0, 5.0, 0.04995])

    by_risk = build_outreach_list(_scores(HAND), OutreachConfig(rank_by="churn_probability", control_share=0.0))
    assert list(by_risk["customer_id"]) == ["gone", "slipping", "vip", "steady"]


def test_with_a_contact_cost_the_list_ranks_by_the_saving_net_of_it():
    config = OutreachConfig(rank_by="expected_net_saving", cost_per_contact=6.0, control_share=0.0)
    outreach = build_outreach_list(_scores(HAND), config)
    # Net of the cost of 6: vip 34, slipping 6, steady -1 and gone -5.95 do not pay for their contact.
    assert list(outreach["customer_id"]) == ["vip", "slipping"]
    assert (outreach["expected_saving"] - 6.0).tolist() == pytest.approx([34.0, 6.0])
