"""A synthetic retailer whose customers behave like real ones, for the demo and tests.

Each customer has a persistent purchase rate (gamma: most buy rarely, a few
often) and order size (log-normal), and a hidden lifetime (exponential) after
which they go quiet for good. In the months before that, they visit and open
emails less, buy less and smaller, return more and complain more: the signals a
churn model should find.

The world is drawn so that its randomness does not depend on anyone's lifetime
nor on where the data end. Every customer's traits come from one generator;
candidate orders and events are drawn at their peak rate in fixed calendar
blocks of :data:`BLOCK_DAYS` days, each block and stream with its own generator
derived from ``(seed, stream, block)``, with all their marks (size, lines,
returns) and the uniforms that later keep or thin them. The lifetime then only
decides which candidates happen. So the same seed gives the same tables; a
later ``end`` adds blocks and leaves every earlier row as it was; and a world in
which some customers live longer (:func:`simulate_outreach_effect`) differs from
the plain one only in those customers' rows after the change: their outcomes
with and without it are coupled, which is what makes the true effect of an
outreach computable customer by customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tierwise.errors import InputDataError, TierwiseError

DEMO_START = pd.Timestamp("2023-01-01")
DEMO_END = pd.Timestamp("2026-01-01")
BLOCK_DAYS = 91
CONVERSION_DAYS = 30
_DECLINE_DAYS = 120.0
_MINUTES_PER_DAY = 1440

REGIONS = np.array(["north", "south", "east", "west"])
CHANNELS = np.array(["web", "store", "referral", "social_ads"])
CATEGORIES = np.array(["music", "books", "electronics", "home", "fashion"])
# Stream numbers are part of each block generator's seed: never renumber them.
_ORDER_STREAM = 1
_EVENT_STREAMS = {"visit": 2, "email_open": 3, "email_click": 4, "complaint": 5, "support_ticket": 6}
EVENT_TYPES = np.array([*_EVENT_STREAMS, "return"])
_RETURN_CODE = len(_EVENT_STREAMS)


@dataclass(frozen=True)
class DemoData:
    """A synthetic retailer's three input tables, in the canonical columns of :mod:`tierwise.inputs`."""

    transactions: pd.DataFrame
    events: pd.DataFrame
    customers: pd.DataFrame


@dataclass(frozen=True)
class _Traits:
    ids: np.ndarray
    signup: np.ndarray  # days after DEMO_START
    region: np.ndarray
    channel: np.ndarray
    loyalty: np.ndarray
    rate_per_day: np.ndarray
    mean_order: np.ndarray
    death: np.ndarray  # days after DEMO_START: the hidden lapse
    buys_at_signup: np.ndarray
    return_propensity: np.ndarray
    open_propensity: np.ndarray


def _draw_traits(n: int, seed: int) -> _Traits:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    span = float((DEMO_END - DEMO_START).days)
    signup = rng.random(n) * (span - 1.0)
    region = rng.integers(0, len(REGIONS), n)
    channel = rng.choice(len(CHANNELS), n, p=[0.45, 0.25, 0.15, 0.15])
    loyalty = rng.random(n) < 0.3
    rate_per_year = rng.gamma(0.9, 5.0, n) * np.array([1.0, 0.8, 1.3, 0.9])[channel] * np.where(loyalty, 1.5, 1.0)
    mean_order = np.exp(rng.normal(np.log(45.0), 0.7, n)) * np.array([1.0, 1.15, 0.9, 1.05])[region]
    mean_life = 420.0 * np.array([1.0, 1.2, 1.8, 0.6])[channel] * np.where(loyalty, 1.6, 1.0) * (1 + np.sqrt(rate_per_year) / 3)
    death = signup + mean_life * rng.standard_exponential(n)
    return _Traits(
        ids=np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), 7)),
        signup=signup, region=region, channel=channel, loyalty=loyalty, rate_per_day=rate_per_year / 365.0,
        mean_order=mean_order, death=death, buys_at_signup=rng.random(n) < 0.85,
        return_propensity=rng.beta(1.0, 15.0, n), open_propensity=rng.beta(2.0, 5.0, n),
    )


def _event_peak_rates(traits: _Traits) -> dict[str, np.ndarray]:
    n = len(traits.ids)
    return {
        "visit": traits.rate_per_day * 4 + 2 / 365,
        "email_open": traits.open_propensity * 52 / 365,
        "email_click": traits.open_propensity * 8 / 365,
        "complaint": np.full(n, 4.0 / 365),
        "support_ticket": np.full(n, 2.0 / 365),
    }


@dataclass(frozen=True)
class _Candidates:
    """Everything random about orders and events, drawn before any lifetime is looked at."""

    order_owner: np.ndarray
    order_day: np.ndarray
    order_at_signup: np.ndarray  # the first order, bought at signup: never thinned
    order_keep_draw: np.ndarray  # uniform: kept when above 0.7 x decline
    order_base_value: np.ndarray
    line_order: np.ndarray  # index into the order arrays
    line_share: np.ndarray
    line_quantity: np.ndarray
    line_category: np.ndarray
    line_online: np.ndarray
    line_return_draw: np.ndarray  # uniform: returned when below the return probability
    line_return_delay: np.ndarray
    event_owner: np.ndarray
    event_day: np.ndarray
    event_code: np.ndarray  # index into EVENT_TYPES
    event_keep_draw: np.ndarray  # uniform: kept when below the engaged share


def _block_rng(seed: int, stream: int, block: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, block)))


def _poisson_in_block(rng, traits: _Traits, block: int, rate_per_day: np.ndarray):
    """Candidate times of a Poisson process per customer, from signup on, within one calendar block."""
    block_start, block_end = block * BLOCK_DAYS, (block + 1) * BLOCK_DAYS
    start = np.maximum(traits.signup, block_start)
    span = np.clip(block_end - start, 0.0, None)
    owner = np.repeat(np.arange(len(start)), rng.poisson(rate_per_day * span))
    return owner, start[owner] + rng.random(owner.size) * span[owner]


def _draw_order_block(seed: int, traits: _Traits, block: int) -> dict[str, np.ndarray]:
    rng = _block_rng(seed, _ORDER_STREAM, block)
    first = np.flatnonzero(traits.buys_at_signup & (np.floor(traits.signup / BLOCK_DAYS) == block))
    owner, day = _poisson_in_block(rng, traits, block, traits.rate_per_day)
    owner, day = np.concatenate([first, owner]), np.concatenate([traits.signup[first], day])
    lines = rng.choice([1, 2, 3], owner.size, p=[0.6, 0.3, 0.1])
    line_order = np.repeat(np.arange(owner.size), lines)
    return {
        "order_owner": owner, "order_day": day, "order_at_signup": np.arange(owner.size) < first.size,
        "order_keep_draw": rng.random(owner.size), "order_base_value": rng.gamma(4.0, traits.mean_order[owner] / 4.0),
        "line_order": line_order, "line_share": rng.gamma(2.0, 1.0, line_order.size),
        "line_quantity": rng.integers(1, 4, line_order.size),
        "line_category": rng.integers(0, len(CATEGORIES), line_order.size),
        "line_online": rng.random(line_order.size) < 0.7, "line_return_draw": rng.random(line_order.size),
        "line_return_delay": rng.uniform(3.0, 20.0, line_order.size),
    }


def _draw_candidates(seed: int, traits: _Traits, blocks: int) -> _Candidates:
    order_parts = [_draw_order_block(seed, traits, block) for block in range(blocks)]
    offsets = np.cumsum([0] + [part["order_owner"].size for part in order_parts[:-1]])
    for part, offset in zip(order_parts, offsets, strict=True):
        part["line_order"] = part["line_order"] + offset
    orders = {key: np.concatenate([part[key] for part in order_parts]) for key in order_parts[0]}
    shares = orders.pop("line_share")
    shares = shares / np.bincount(orders["line_order"], weights=shares, minlength=orders["order_owner"].size)[orders["line_order"]]

    owners, days, types, keep_draws = [], [], [], []
    rates = _event_peak_rates(traits)
    for code, (event_type, stream) in enumerate(_EVENT_STREAMS.items()):
        for block in range(blocks):
            rng = _block_rng(seed, stream, block)
            owner, day = _poisson_in_block(rng, traits, block, rates[event_type])
            owners.append(owner)
            days.append(day)
            types.append(np.full(owner.size, code, dtype=np.int8))
            keep_draws.append(rng.random(owner.size))
    return _Candidates(
        **orders, line_share=shares, event_owner=np.concatenate(owners), event_day=np.concatenate(days),
        event_code=np.concatenate(types), event_keep_draw=np.concatenate(keep_draws),
    )


def _closeness_to_death(times, death):
    """0 far from the lapse, rising to 1 at it; 0 again afterwards (the customer is gone)."""
    before = death - times
    return np.where((before >= 0) & (before < _DECLINE_DAYS), 1.0 - before / _DECLINE_DAYS, 0.0)


def _engaged_share(event_type: str, closeness: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """The share of peak-rate events a customer still makes: fading before the lapse, a trickle after."""
    fading = 1.0 - 0.85 * closeness
    if event_type == "visit":
        return np.where(alive, fading, 0.03)
    if event_type == "email_open":
        return np.where(alive, fading, 0.15)
    if event_type == "email_click":
        return np.where(alive, fading, 0.05)
    if event_type == "complaint":
        return np.where(alive, 0.05 + 0.95 * closeness, 0.0)
    return np.where(alive, 0.25 + 0.75 * closeness, 0.02)  # support_ticket


@dataclass(frozen=True)
class _Realized:
    """The rows that happen, as arrays: transaction lines (purchases, then returns) and events."""

    tx_owner: np.ndarray
    tx_day: np.ndarray
    tx_amount: np.ndarray
    tx_order: np.ndarray
    tx_quantity: np.ndarray
    tx_category: np.ndarray
    tx_online: np.ndarray
    event_owner: np.ndarray
    event_day: np.ndarray
    event_code: np.ndarray


def _realize(
    traits: _Traits, cand: _Candidates, *, end_day: float, change_day: float, death_after: np.ndarray
) -> _Realized:
    """Keep the candidates that happen given each customer's lapse.

    A customer lapses at ``traits.death`` before ``change_day`` and at ``death_after`` from then on.
    """

    def death_at(owner, day):
        return np.where(day < change_day, traits.death[owner], death_after[owner])

    owner, day = cand.order_owner, cand.order_day
    order_death = death_at(owner, day)
    decline = np.where(cand.order_at_signup, 0.0, _closeness_to_death(day, order_death))
    happens = cand.order_at_signup | ((day < order_death) & (cand.order_keep_draw > 0.7 * decline))
    order_value = cand.order_base_value * (1.0 - 0.5 * decline)

    line_order = cand.line_order
    line_kept = happens[line_order] & (day[line_order] < end_day)
    line_owner, line_day = owner[line_order], day[line_order]
    line_amount = np.round(order_value[line_order] * cand.line_share, 2)
    p_return = np.clip(traits.return_propensity[line_owner] * (1.0 + 2.5 * decline[line_order]), 0, 0.9)
    return_day = line_day + cand.line_return_delay
    returned = np.flatnonzero(line_kept & (cand.line_return_draw < p_return) & (return_day < end_day))
    kept = np.flatnonzero(line_kept)

    event_keep = np.zeros(cand.event_owner.size, dtype=bool)
    event_death = death_at(cand.event_owner, cand.event_day)
    closeness = _closeness_to_death(cand.event_day, event_death)
    alive = cand.event_day < event_death
    for code, event_type in enumerate(_EVENT_STREAMS):
        of_type = cand.event_code == code
        event_keep[of_type] = cand.event_keep_draw[of_type] < _engaged_share(event_type, closeness[of_type], alive[of_type])
    event_keep &= cand.event_day < end_day

    both = np.concatenate([kept, returned])
    return _Realized(
        tx_owner=line_owner[both], tx_day=np.concatenate([line_day[kept], return_day[returned]]),
        tx_amount=np.concatenate([line_amount[kept], -line_amount[returned]]), tx_order=line_order[both],
        tx_quantity=np.concatenate([cand.line_quantity[kept], -np.ones(returned.size, dtype=int)]),
        tx_category=cand.line_category[both], tx_online=cand.line_online[both],
        event_owner=np.concatenate([cand.event_owner[event_keep], line_owner[returned]]),
        event_day=np.concatenate([cand.event_day[event_keep], return_day[returned]]),
        event_code=np.concatenate([cand.event_code[event_keep], np.full(returned.size, _RETURN_CODE, dtype=np.int8)]),
    )


def _minutes(days: np.ndarray) -> np.ndarray:
    """Whole minutes after DEMO_START: the timestamps' resolution, and what label windows compare."""
    return np.floor(days * _MINUTES_PER_DAY).astype(np.int64)


def _timestamps(days: np.ndarray) -> pd.Series:
    return pd.Series(DEMO_START + pd.to_timedelta(_minutes(days), unit="min")).astype("datetime64[us]")


def _frames(traits: _Traits, world: _Realized) -> DemoData:
    ids = traits.ids
    transactions = pd.DataFrame(
        {
            "customer_id": ids[world.tx_owner],
            "timestamp": _timestamps(world.tx_day),
            "amount": world.tx_amount,
            "order_id": np.char.add("O", world.tx_order.astype(str)),
            "quantity": world.tx_quantity,
            "category": CATEGORIES[world.tx_category],
            "channel": np.where(world.tx_online, "online", "store"),
        }
    ).sort_values(["timestamp", "customer_id", "order_id"], kind="stable").reset_index(drop=True)
    events = pd.DataFrame(
        {
            "customer_id": ids[world.event_owner],
            "timestamp": _timestamps(world.event_day),
            "event_type": EVENT_TYPES[world.event_code],
        }
    ).sort_values(["timestamp", "customer_id", "event_type"], kind="stable").reset_index(drop=True)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": (DEMO_START + pd.to_timedelta(np.floor(traits.signup), unit="D")).strftime("%Y-%m-%d"),
            "region": REGIONS[traits.region],
            "acquisition_channel": CHANNELS[traits.channel],
            "loyalty_member": np.where(traits.loyalty, "yes", "no"),
        }
    )
    return DemoData(transactions=transactions, events=events, customers=customers)


def _end_day(end: str | pd.Timestamp | None) -> float:
    stop = DEMO_END if end is None else pd.Timestamp(end)
    if stop != stop.normalize() or stop < DEMO_END:
        shown = stop.date() if stop == stop.normalize() else stop
        raise TierwiseError(f"end {shown}: must be a date on or after {DEMO_END.date()} (the last signups are before it)")
    return float((stop - DEMO_START).days)


def _world(n_customers: int, seed: int, end: str | pd.Timestamp | None) -> tuple[_Traits, _Candidates, float]:
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    end_day = _end_day(end)
    traits = _draw_traits(n_customers, seed)
    return traits, _draw_candidates(seed, traits, int(np.ceil(end_day / BLOCK_DAYS))), end_day


def generate_demo_data(n_customers: int = 20_000, *, seed: int = 7, end: str | pd.Timestamp | None = None) -> DemoData:
    """Draw a retailer with ``n_customers`` customers from 2023-01-01 to ``end``.

    Parameters
    ----------
    n_customers : int
        Number of customers; they sign up between 2023-01-01 and 2026-01-01.
    seed : int
        Random seed (non-negative): the same seed, count and end give the same tables.
    end : str or pandas.Timestamp, optional
        First day not simulated, on or after 2026-01-01 (the default). A later
        end adds rows after the earlier one and changes none before it.

    Returns
    -------
    DemoData
        The tables ``transactions`` (customer_id, timestamp, amount, order_id, quantity,
        category, channel; returns are negative lines of their order),
        ``events`` (customer_id, timestamp, event_type) and ``customers``
        (customer_id, signup_date, region, acquisition_channel,
        loyalty_member), with the demo config's column names.

    Examples
    --------
    >>> demo = generate_demo_data(200, seed=1)  # doctest: +SKIP
    >>> demo.transactions.head()  # doctest: +SKIP
    """
    traits, candidates, end_day = _world(n_customers, seed, end)
    return _frames(traits, _realize(traits, candidates, end_day=end_day, change_day=end_day, death_after=traits.death))


@dataclass(frozen=True)
class OutreachSimulation:
    """A world after an outreach with a known effect, and the truth about that effect.

    Attributes
    ----------
    data
        The observed world: the contacted customers treated, everyone else not.
    outcomes
        One row per listed customer: ``customer_id``, ``control``,
        ``alive_at_as_of`` and, for each outcome, its value without and with
        treatment (``retained_without``/``retained_with``: any purchase, amount
        >= 0, in the churn window; ``converted_*``: any purchase in the
        conversion window; ``revenue_*``: net spend in the value window).
    summary
        What ``outreach_effect.json`` holds: the effect, the rule, the
        windows, the counts and the true average treatment effects over the
        listed and over the contacted customers.
    """

    data: DemoData
    outcomes: pd.DataFrame
    summary: dict


def listed_customers(listed: pd.DataFrame, *, source: str = "the list") -> tuple[np.ndarray, np.ndarray]:
    """The contacted and the control customer ids of an outreach list.

    ``listed`` needs a ``customer_id`` column; a ``control`` column (bool, or
    the export's ``true``/``false`` text) marks the held-out customers, and
    without it everyone is contacted. Raises :class:`InputDataError` for a
    missing column, an unreadable ``control`` value or a customer listed twice.

    Parameters
    ----------
    listed : pandas.DataFrame
        The list.
    source : str
        How messages name the list.

    Returns
    -------
    contacted : numpy.ndarray
        The ids of the contacted customers.
    control : numpy.ndarray
        The ids of the control customers.

    Raises
    ------
    InputDataError
        For a missing column, an unreadable ``control`` value or a customer listed twice.
    """
    if "customer_id" not in listed.columns:
        raise InputDataError(f"{source}: no customer_id column")
    ids = listed["customer_id"].astype(str).to_numpy()
    duplicated = pd.Series(ids).duplicated()
    if duplicated.any():
        raise InputDataError(f"{source}: customer {ids[duplicated.to_numpy()][0]} is listed twice")
    if "control" not in listed.columns:
        return ids, ids[:0]
    flags = listed["control"].map(
        lambda v: {"true": True, "false": False}.get(str(v).strip().lower()) if not isinstance(v, (bool, np.bool_)) else bool(v)
    )
    bad = flags.isna().to_numpy()
    if bad.any():
        raise InputDataError(f"{source}: control {listed['control'].to_numpy()[bad][0]!r} is not true or false "
                             f"({int(bad.sum())} rows)")
    control = flags.to_numpy(dtype=bool)
    return ids[~control], ids[control]


def treated_death(death: np.ndarray, *, as_of_day: float, effect: float) -> np.ndarray:
    """Lapse days once the lapse hazard after ``as_of_day`` is lowered by the relative ``effect``.

    The lifetime is exponential, so a customer alive at ``as_of_day`` has an
    exponential remaining life; a hazard lowered by ``effect`` stretches it by
    ``1 / (1 - effect)``. Customers already lapsed keep their day.

    Parameters
    ----------
    death : numpy.ndarray
        Each customer's lapse day without treatment.
    as_of_day : float
        The day the treatment starts.
    effect : float
        The relative lowering of the lapse hazard, in [0, 1).

    Returns
    -------
    numpy.ndarray
        The lapse days with treatment.
    """
    alive = death > as_of_day
    return np.where(alive, as_of_day + (death - as_of_day) / (1.0 - effect), death)


def _outcomes(traits: _Traits, world: _Realized, who: np.ndarray, as_of_day: int, windows: dict[str, int]) -> dict:
    """Each outcome for the customers ``who`` (indices), with the label windows' rule ``as_of <= ts < as_of + days``."""
    minute = _minutes(world.tx_day)
    start = as_of_day * _MINUTES_PER_DAY
    index = np.full(len(traits.ids), -1)
    index[who] = np.arange(who.size)
    results: dict[str, np.ndarray] = {}
    for outcome, days in windows.items():
        inside = (minute >= start) & (minute < start + days * _MINUTES_PER_DAY) & (index[world.tx_owner] >= 0)
        position = index[world.tx_owner[inside]]
        if outcome == "revenue":
            # Sum in cents: the amounts are whole cents, and so the total matches a decimal sum exactly.
            cents = np.bincount(position, weights=np.round(world.tx_amount[inside] * 100), minlength=who.size)
            results[outcome] = cents / 100.0
        else:
            bought = world.tx_amount[inside] >= 0
            results[outcome] = np.bincount(position[bought], minlength=who.size) > 0
    return results


def simulate_outreach_effect(
    listed: pd.DataFrame,
    *,
    n_customers: int,
    seed: int,
    as_of: str | pd.Timestamp,
    effect: float,
    churn_horizon_days: int,
    value_horizon_days: int,
    conversion_days: int = CONVERSION_DAYS,
    end: str | pd.Timestamp | None = None,
) -> OutreachSimulation:
    """Simulate the world after an outreach list was worked, with a known effect, and the effect's truth.

    The rule: from ``as_of`` on, each contacted customer (``control`` false)
    still alive at ``as_of`` has their lapse hazard lowered by the relative
    ``effect`` X; as the lifetime is exponential (memoryless), their remaining
    life is stretched by 1 / (1 - X). Everything before ``as_of``, their
    decline signals included, is the world without outreach; control and
    unlisted customers are untouched. Every customer's randomness is drawn
    independently of lifetimes, so each listed customer's outcome with and
    without treatment comes from the same draws (coupled potential outcomes).

    Parameters
    ----------
    listed : pandas.DataFrame
        The list: ``customer_id`` and optionally ``control`` (see
        :func:`listed_customers`), e.g. ``build_outreach_list``'s frame or an
        export's outreach and control files stacked.
    n_customers : int
        The world the list was scored on (as :func:`generate_demo_data`).
    seed : int
        The world's seed (as :func:`generate_demo_data`).
    as_of : str or pandas.Timestamp
        The list's cutoff date.
    effect : float
        The relative lowering of the lapse hazard, in [0, 1).
    churn_horizon_days : int
        The retention window, ``[as_of, as_of + days)``: retained = any purchase (amount >= 0) in it, as the churn
        label counts no lapse.
    value_horizon_days : int
        The revenue window: revenue = net spend (returns subtracted) in it.
    conversion_days : int
        The conversion window: converted = any purchase in it.
    end : str or pandas.Timestamp, optional
        First day not simulated; default ``as_of`` + the longest window, and
        never before 2026-01-01, so that every outcome has matured.

    Returns
    -------
    OutreachSimulation
        The observed data, each listed customer's potential outcomes, and the
        summary with the true average treatment effects.

    Raises
    ------
    TierwiseError
        For an effect outside [0, 1), a bad ``end`` or an ``end`` before the
        windows mature; :class:`InputDataError` when a listed id is not a
        customer of this world (another customer count, seed or data set).
    """
    if not 0.0 <= effect < 1.0:
        raise TierwiseError(f"outreach effect {effect}: must be at least 0 and below 1 (a relative lowering of the lapse hazard)")
    cutoff = pd.Timestamp(as_of)
    if cutoff != cutoff.normalize():
        raise TierwiseError(f"as_of {cutoff}: must be a date")
    windows = {"retention": int(churn_horizon_days), "conversion": int(conversion_days), "revenue": int(value_horizon_days)}
    matured = cutoff + pd.Timedelta(days=max(windows.values()))
    stop = max(matured, DEMO_END) if end is None else pd.Timestamp(end)
    if stop < matured:
        raise TierwiseError(f"end {stop.date()}: before the outcome windows mature ({matured.date()})")
    contacted_ids, control_ids = listed_customers(listed)
    traits, candidates, end_day = _world(n_customers, seed, stop)
    position = pd.Series(np.arange(len(traits.ids)), index=traits.ids)
    unknown = np.setdiff1d(np.concatenate([contacted_ids, control_ids]), traits.ids)
    if unknown.size:
        raise InputDataError(
            f"the list has {unknown.size} customer ids that are not customers of this world (e.g. {unknown[0]}): "
            f"it was scored on another data set, or with another customer count or seed than {n_customers} and {seed}"
        )
    contacted, control = position.loc[contacted_ids].to_numpy(), position.loc[control_ids].to_numpy()
    as_of_day = (cutoff - DEMO_START).days
    treated = treated_death(traits.death, as_of_day=as_of_day, effect=effect)

    def world_treating(who: np.ndarray) -> _Realized:
        death_after = traits.death.copy()
        death_after[who] = treated[who]
        return _realize(traits, candidates, end_day=end_day, change_day=as_of_day, death_after=death_after)

    both = np.concatenate([contacted, control])
    without = _outcomes(traits, world_treating(both[:0]), both, as_of_day, windows)
    with_ = _outcomes(traits, world_treating(both), both, as_of_day, windows)
    names = {"retention": "retained", "conversion": "converted", "revenue": "revenue"}
    outcomes = pd.DataFrame({"customer_id": traits.ids[both], "control": np.arange(both.size) >= contacted.size,
                             "alive_at_as_of": traits.death[both] > as_of_day})
    for outcome, name in names.items():
        outcomes[f"{name}_without"] = without[outcome]
        outcomes[f"{name}_with"] = with_[outcome]
    summary = _summary(outcomes, names, windows, cutoff=cutoff, effect=effect, n_customers=n_customers, seed=seed, end=stop)
    data = _frames(traits, world_treating(contacted))
    return OutreachSimulation(data=data, outcomes=outcomes, summary=summary)


def _summary(outcomes, names, windows, *, cutoff, effect, n_customers, seed, end) -> dict:
    def effects(rows: pd.DataFrame) -> dict:
        figures = {}
        for outcome, name in names.items():
            key = "revenue_per_customer" if outcome == "revenue" else outcome
            without = rows[f"{name}_without"].astype(float).mean() if len(rows) else float("nan")
            with_ = rows[f"{name}_with"].astype(float).mean() if len(rows) else float("nan")
            figures[key] = {"without": _rounded(without), "with": _rounded(with_), "effect": _rounded(with_ - without)}
        return figures

    contacted = outcomes[~outcomes["control"]]
    return {
        "effect": effect,
        "rule": "from as_of on, each contacted customer alive at as_of has the lapse hazard lowered by the relative "
                "effect X: the remaining (exponential) life is stretched by 1 / (1 - X); history before as_of, "
                "control and unlisted customers are the world without outreach",
        "customers": n_customers,
        "seed": seed,
        "as_of": cutoff.date().isoformat(),
        "end": end.date().isoformat(),
        "windows": {
            outcome: {"days": days, "start": cutoff.date().isoformat(),
                      "end": (cutoff + pd.Timedelta(days=days)).date().isoformat(),
                      "measure": {"retention": "any purchase (amount >= 0): no lapse, as the churn label",
                                  "conversion": "any purchase (amount >= 0)",
                                  "revenue": "net spend per customer (returns subtracted)"}[outcome]}
            for outcome, days in windows.items()
        },
        "counts": {"listed": len(outcomes), "contacted": len(contacted), "control": int(outcomes["control"].sum()),
                   "contacted_alive_at_as_of": int(contacted["alive_at_as_of"].sum())},
        "true_effects": {
            "definition": "average over the customers of (outcome with treatment - outcome without), both from the "
                          "same draws",
            "listed": effects(outcomes),
            "contacted": effects(contacted),
        },
    }


def _rounded(value: float) -> float | None:
    return None if value != value else round(float(value), 6)
