"""Label windows at their edges: [as_of, as_of + horizon)."""

from __future__ import annotations

import pandas as pd
import pytest

from tierwise.config import DataConfig, FeatureConfig, TransactionsSource
from tierwise.errors import InputDataError
from tierwise.inputs import inputs_from_frames
from tierwise.training import make_labels

DATA = DataConfig(transactions=TransactionsSource(path="t"))


def _inputs(rows, events=None):
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    return inputs_from_frames(frame, events=events, data=DATA, features=FeatureConfig())


def test_window_edges():
    inputs = _inputs(
        [
            ("at", "2024-01-01", 10.0),  # exactly at as_of: inside the label window (and outside every feature)
            ("edge", "2024-01-31", 20.0),  # exactly at as_of + 30 days: outside the window -> lapsed
            ("inside", "2024-01-30T23:59:00", 5.0),  # the last minute of the window
            ("inside", "2023-12-01", 7.0),  # before as_of: feeds features, never labels
            ("late", "2024-12-31", 1.0),  # only here so the data run long enough
        ]
    )
    labels = make_labels(inputs, as_of="2024-01-01", churn_horizon_days=30, value_horizon_days=30).set_index("customer_id")
    assert labels.loc["at", "lapsed"] == 0 and labels.loc["at", "value"] == 10.0
    assert labels.loc["edge", "lapsed"] == 1 and labels.loc["edge", "value"] == 0.0
    assert labels.loc["inside", "lapsed"] == 0 and labels.loc["inside", "value"] == 5.0
    assert (labels["as_of"] == pd.Timestamp("2024-01-01")).all()


def test_refunds_count_in_value_but_not_as_purchases():
    inputs = _inputs([("a", "2024-01-05", -30.0), ("a", "2023-12-20", 50.0), ("b", "2024-06-01", 1.0)])
    labels = make_labels(inputs, as_of="2024-01-01", churn_horizon_days=30, value_horizon_days=30).set_index("customer_id")
    assert labels.loc["a", "lapsed"] == 1 and labels.loc["a", "value"] == -30.0


def test_no_label_reaches_past_the_data():
    inputs = _inputs([("a", "2024-01-01", 1.0), ("a", "2024-03-30", 1.0)])
    make_labels(inputs, as_of="2024-01-01", churn_horizon_days=90, value_horizon_days=90)  # ends 2024-03-31 = data end
    with pytest.raises(InputDataError, match="reaches past the end of the data"):
        make_labels(inputs, as_of="2024-01-02", churn_horizon_days=90, value_horizon_days=90)


def test_contractual_churn_uses_the_cancellation_event():
    events = pd.DataFrame(
        [("a", "2024-01-10", "cancel"), ("b", "2024-03-01", "cancel")], columns=["customer_id", "timestamp", "event_type"]
    )
    inputs = _inputs([("a", "2024-01-02", 5.0), ("b", "2024-01-02", 5.0), ("c", "2024-06-01", 5.0)], events)
    labels = make_labels(
        inputs, as_of="2024-01-01", churn_horizon_days=30, value_horizon_days=30, cancellation_event="cancel"
    ).set_index("customer_id")
    assert labels["lapsed"].to_dict() == {"a": 1, "b": 0, "c": 0}


def test_only_the_requested_labels_are_built():
    inputs = _inputs([("a", "2024-01-05", 5.0), ("b", "2024-06-01", 1.0)])
    assert list(make_labels(inputs, as_of="2024-01-01", churn_horizon_days=30).columns) == ["customer_id", "as_of", "lapsed"]
    assert list(make_labels(inputs, as_of="2024-01-01", value_horizon_days=30).columns) == ["customer_id", "as_of", "value"]
