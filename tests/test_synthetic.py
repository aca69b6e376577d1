from __future__ import annotations

import pandas as pd

from tierwise.synthetic import DEMO_END, DEMO_START, generate_demo_data


def test_same_seed_same_data_other_seed_other_data():
    first, second, other = generate_demo_data(200, seed=1), generate_demo_data(200, seed=1), generate_demo_data(200, seed=2)
    pd.testing.assert_frame_equal(first.transactions, second.transactions)
    pd.testing.assert_frame_equal(first.events, second.events)
    assert not first.transactions.equals(other.transactions)


def test_realistic_shape(small_demo):
    tx, ev = small_demo.transactions, small_demo.events
    assert tx["timestamp"].between(DEMO_START, DEMO_END).all()
    orders_per_customer = tx[tx["amount"] > 0].groupby("customer_id")["order_id"].nunique()
    assert orders_per_customer.max() > 5 * orders_per_customer.median()  # skewed purchase rates
    assert (tx["amount"] < 0).mean() > 0.01  # returns exist
    assert set(ev["event_type"]) == {"visit", "email_open", "email_click", "complaint", "return", "support_ticket"}
    last_purchase = tx.groupby("customer_id")["timestamp"].max()
    assert (last_purchase < DEMO_END - pd.Timedelta(days=365)).mean() > 0.2  # many go quiet for good
