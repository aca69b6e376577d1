"""A synthetic retailer whose customers behave like real ones, for the demo and tests.

Each customer has a persistent purchase rate (gamma: most buy rarely, a few
often) and order size (log-normal), and a hidden lifetime after which they go
quiet for good. In the months before that, they visit and open emails less,
buy less and smaller, return more and complain more: the signals a churn model
should find. Everything is drawn with numpy from one seed, so the same seed
gives the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEMO_START = pd.Timestamp("2023-01-01")
DEMO_END = pd.Timestamp("2026-01-01")
_DECLINE_DAYS = 120.0

REGIONS = np.array(["north", "south", "east", "west"])
CHANNELS = np.array(["web", "store", "referral", "social_ads"])


@dataclass(frozen=True)
class DemoData:
    transactions: pd.DataFrame
    events: pd.DataFrame
    customers: pd.DataFrame


def _poisson_times(rng, start, end, rate_per_day):
    """Event times of a homogeneous Poisson process per customer on [start, end)."""
    span = np.clip(end - start, 0.0, None)
    counts = rng.poisson(rate_per_day * span)
    owner = np.repeat(np.arange(len(start)), counts)
    return owner, start[owner] + rng.random(owner.size) * span[owner]


def _closeness_to_death(times, death):
    """0 far from the lapse, rising to 1 at it; 0 again afterwards (the customer is gone)."""
    before = death - times
    return np.where((before >= 0) & (before < _DECLINE_DAYS), 1.0 - before / _DECLINE_DAYS, 0.0)


def _timestamps(days: np.ndarray) -> pd.Series:
    seconds = np.floor(days * 86_400 / 60) * 60
    return pd.Series(DEMO_START + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us]")


def generate_demo_data(n_customers: int = 20_000, *, seed: int = 7) -> DemoData:
    """Draw a retailer with ``n_customers`` customers from 2023-01-01 to 2026-01-01.

    Returns transactions (customer_id, timestamp, amount, order_id, quantity,
    category, channel), events (customer_id, timestamp, event_type) and
    customers (customer_id, signup_date, region, acquisition_channel,
    loyalty_member), with the demo config's column names.
    """
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    rng = np.random.default_rng(seed)
    n = n_customers
    horizon = float((DEMO_END - DEMO_START).days)
    ids = np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7))

    signup = rng.random(n) * (horizon - 1.0)
    region = rng.integers(0, len(REGIONS), n)
    channel = rng.choice(len(CHANNELS), n, p=[0.45, 0.25, 0.15, 0.15])
    loyalty = rng.random(n) < 0.3
    rate_per_year = rng.gamma(0.9, 5.0, n) * np.array([1.0, 0.8, 1.3, 0.9])[channel] * np.where(loyalty, 1.5, 1.0)
    rate_per_day = rate_per_year / 365.0
    mean_order = np.exp(rng.normal(np.log(45.0), 0.7, n)) * np.array([1.0, 1.15, 0.9, 1.05])[region]
    mean_life = 420.0 * np.array([1.0, 1.2, 1.8, 0.6])[channel] * np.where(loyalty, 1.6, 1.0) * (1 + np.sqrt(rate_per_year) / 3)
    death = signup + rng.exponential(mean_life)
    buys_at_signup = rng.random(n) < 0.85
    return_propensity = rng.beta(1.0, 15.0, n)
    open_propensity = rng.beta(2.0, 5.0, n)

    # Orders: one at signup for most, then a Poisson stream that thins and shrinks before the lapse.
    active_end = np.minimum(death, horizon)
    owner, when = _poisson_times(rng, signup, active_end, rate_per_day)
    decline = _closeness_to_death(when, death[owner])
    keep = rng.random(owner.size) > 0.7 * decline
    owner, when, decline = owner[keep], when[keep], decline[keep]
    first = np.flatnonzero(buys_at_signup)
    owner = np.concatenate([first, owner])
    when = np.concatenate([signup[first], when])
    decline = np.concatenate([np.zeros(first.size), decline])
    order_value = rng.gamma(4.0, mean_order[owner] / 4.0) * (1.0 - 0.5 * decline)
    order_no = np.arange(owner.size)

    # Each order has one to three lines on the same day.
    lines_per_order = rng.choice([1, 2, 3], owner.size, p=[0.6, 0.3, 0.1])
    line_order = np.repeat(order_no, lines_per_order)
    shares = rng.gamma(2.0, 1.0, line_order.size)
    shares /= np.bincount(line_order, weights=shares)[line_order]
    line_amount = np.round(order_value[line_order] * shares, 2)
    line_when = when[line_order]
    line_owner = owner[line_order]

    # Returns: some lines come back 3-20 days later, more often before a lapse.
    p_return = np.clip(return_propensity[line_owner] * (1.0 + 2.5 * decline[line_order]), 0, 0.9)
    returned = np.flatnonzero(rng.random(line_order.size) < p_return)
    return_when = line_when[returned] + rng.uniform(3.0, 20.0, returned.size)
    inside = return_when < horizon
    returned, return_when = returned[inside], return_when[inside]

    categories = np.array(["music", "books", "electronics", "home", "fashion"])
    transactions = pd.DataFrame(
        {
            "customer_id": np.concatenate([ids[line_owner], ids[line_owner[returned]]]),
            "timestamp": _timestamps(np.concatenate([line_when, return_when])),
            "amount": np.concatenate([line_amount, -line_amount[returned]]),
            "order_id": np.char.add("O", np.concatenate([line_order, line_order[returned]]).astype(str)),
            "quantity": np.concatenate([rng.integers(1, 4, line_order.size), -np.ones(returned.size, dtype=int)]),
            "category": categories[rng.integers(0, len(categories), line_order.size + returned.size)],
            "channel": np.where(rng.random(line_order.size + returned.size) < 0.7, "online", "store"),
        }
    )
    transactions = transactions.sort_values(["timestamp", "customer_id", "order_id"], kind="stable").reset_index(drop=True)

    # Engagement: draw at the peak rate, then thin by how engaged the customer still is.
    event_frames = []

    def add_events(event_type, rate_per_day_peak, engaged_share):
        who, at = _poisson_times(rng, signup, np.full(n, horizon), rate_per_day_peak)
        keep = rng.random(who.size) < engaged_share(who, at)
        event_frames.append(pd.DataFrame({"owner": who[keep], "days": at[keep], "event_type": event_type}))

    def alive_fading(who, at, after_lapse):
        fading = 1.0 - 0.85 * _closeness_to_death(at, death[who])
        return np.where(at < death[who], fading, after_lapse)

    add_events("visit", rate_per_day * 4 + 2 / 365, lambda w, t: alive_fading(w, t, 0.03))
    add_events("email_open", open_propensity * 52 / 365, lambda w, t: alive_fading(w, t, 0.15))
    add_events("email_click", open_propensity * 8 / 365, lambda w, t: alive_fading(w, t, 0.05))
    add_events(
        "complaint", np.full(n, 4.0 / 365),
        lambda w, t: np.where(t < death[w], 0.05 + 0.95 * _closeness_to_death(t, death[w]), 0.0),
    )
    add_events(
        "support_ticket", np.full(n, 2.0 / 365),
        lambda w, t: np.where(t < death[w], 0.25 + 0.75 * _closeness_to_death(t, death[w]), 0.02),
    )
    event_frames.append(pd.DataFrame({"owner": line_owner[returned], "days": return_when, "event_type": "return"}))
    stacked = pd.concat(event_frames, ignore_index=True)
    events = pd.DataFrame(
        {
            "customer_id": ids[stacked["owner"].to_numpy()],
            "timestamp": _timestamps(stacked["days"].to_numpy()),
            "event_type": stacked["event_type"].to_numpy(),
        }
    ).sort_values(["timestamp", "customer_id", "event_type"], kind="stable").reset_index(drop=True)

    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": (DEMO_START + pd.to_timedelta(np.floor(signup), unit="D")).strftime("%Y-%m-%d"),
            "region": REGIONS[region],
            "acquisition_channel": CHANNELS[channel],
            "loyalty_member": np.where(loyalty, "yes", "no"),
        }
    )
    return DemoData(transactions=transactions, events=events, customers=customers)
