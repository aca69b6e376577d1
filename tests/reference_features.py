"""A slow, plain-pandas reimplementation of the feature definitions, for cross-checks.

Written independently of the SQL engine, customer by customer, straight from
the feature descriptions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tierwise.config import FeatureConfig, feature_slug

DAY = 86_400.0


def _change(recent: float, prior: float) -> float:
    return (recent - prior) / prior if prior != 0 else math.nan


def reference_features(inputs, *, as_of, config: FeatureConfig) -> pd.DataFrame:
    as_of = pd.Timestamp(as_of)
    as_of_s = math.floor(as_of.timestamp())
    tx = inputs.transactions[inputs.transactions["ts"] < as_of].copy()
    ev = inputs.events[inputs.events["ts"] < as_of].copy()
    customers = inputs.customers
    tx["age_s"] = as_of_s - np.floor(tx["ts"].map(pd.Timestamp.timestamp)).astype("int64")
    ev["age_s"] = as_of_s - np.floor(ev["ts"].map(pd.Timestamp.timestamp)).astype("int64")
    tx["amount"] = tx["amount"].round(4)
    universe = set(tx["customer_id"]) | set(ev["customer_id"])
    signup_age = {}
    if customers is not None:
        for cid, signup in zip(customers["customer_id"], customers["signup_ts"], strict=True):
            if pd.notna(signup) and signup < as_of:
                universe.add(cid)
                signup_age[cid] = as_of_s - math.floor(signup.timestamp())
    rows = []
    for cid in sorted(universe):
        lines = tx[tx["customer_id"] == cid]
        buys = lines[lines["amount"] >= 0]
        if config.order_grouping == "day":
            key = buys["ts"].dt.normalize()
        elif config.order_grouping == "order_id":
            key = buys["order_id"]
        else:
            key = buys["line_no"]
        orders = buys.groupby(key).agg(age_s=("age_s", "max"), value=("amount", "sum")).sort_values("age_s", ascending=False)
        gaps = (-orders["age_s"].diff()).dropna().to_numpy(dtype=float)
        row = {"customer_id": cid}
        n = len(orders)
        row["recency_days"] = orders["age_s"].min() / DAY if n else math.nan
        row["frequency_orders"] = float(n)
        row["monetary_total"] = float(orders["value"].sum()) if n else 0.0
        row["monetary_mean_order"] = float(orders["value"].mean()) if n else math.nan
        row["monetary_max_order"] = float(orders["value"].max()) if n else math.nan
        row["net_spend_total"] = float(lines["amount"].sum())
        starts = [a for a in (orders["age_s"].max() if n else None, signup_age.get(cid)) if a is not None]
        row["tenure_days"] = max(starts) / DAY if starts else math.nan
        tenure = row["tenure_days"]
        row["frequency_orders_per_30d"] = 30.0 * n / tenure if tenure else math.nan
        row["monetary_per_30d"] = 30.0 * row["monetary_total"] / tenure if tenure else math.nan
        gap_mean = gaps.mean() if len(gaps) else math.nan
        row["rhythm_gap_mean_days"] = gap_mean / DAY
        row["rhythm_gap_std_days"] = gaps.std(ddof=1) / DAY if len(gaps) > 1 else math.nan
        row["rhythm_recency_ratio"] = (orders["age_s"].min() / gap_mean) if n and gap_mean else math.nan
        purchases = float(buys["amount"].sum())
        refunds = float(-lines.loc[lines["amount"] < 0, "amount"].sum())
        row["refund_share"] = refunds / purchases if purchases else math.nan
        row["refund_count"] = float((lines["amount"] < 0).sum())
        period = 30 * DAY
        recent = buys[buys["age_s"] <= 12 * period]
        index = np.ceil(recent["age_s"] / period) - 1
        row["spend_slope_30d_periods"] = float(((5.5 - index) * recent["amount"]).sum()) / 143.0
        for w in config.spend_windows_days:
            now = buys[buys["age_s"] <= w * DAY]
            before = buys[(buys["age_s"] > w * DAY) & (buys["age_s"] <= 2 * w * DAY)]
            row[f"spend_sum_{w}d"] = float(now["amount"].sum())
            row[f"orders_count_{w}d"] = float((orders["age_s"] <= w * DAY).sum())
            row[f"spend_trend_{w}d_vs_prior_{w}d"] = _change(float(now["amount"].sum()), float(before["amount"].sum()))
        mine = ev[ev["customer_id"] == cid]
        for event_type in config.event_types:
            slug = feature_slug(event_type)
            of_type = mine[mine["event_type"] == event_type]
            row[f"{slug}_days_since_last"] = of_type["age_s"].min() / DAY if len(of_type) else math.nan
            for w in config.event_windows_days:
                now = float((of_type["age_s"] <= w * DAY).sum())
                before = float(((of_type["age_s"] > w * DAY) & (of_type["age_s"] <= 2 * w * DAY)).sum())
                row[f"{slug}_count_{w}d"] = now
                row[f"{slug}_trend_{w}d_vs_prior_{w}d"] = _change(now, before)
        if customers is not None:
            match = customers[customers["customer_id"] == cid]
            for column in [c for c in customers.columns if c.startswith("attr_")]:
                row[column] = match[column].iloc[0] if len(match) else None
        rows.append(row)
    return pd.DataFrame(rows)
