"""The point-in-time feature engine: one SQL query per cutoff, run in DuckDB.

The query is plain SQL over three tables (``transactions``, ``events``,
``customers`` in the canonical columns of :mod:`tierwise.inputs`), so the same
text can run on Spark (see :func:`feature_sql`). The point-in-time rule lives
in :func:`_before_as_of`: features see only records with ``ts < as_of``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TypeAlias

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from tierwise.config import FeatureConfig, OrderGrouping, feature_slug
from tierwise.errors import InputDataError
from tierwise.features._catalog import (
    DAY_SECONDS,
    SLOPE_PERIOD_DAYS,
    SLOPE_PERIODS,
    FeatureSpec,
    divide,
    feature_catalog,
)
from tierwise.input_sql import quote_identifier, quote_literal
from tierwise.inputs import InputData

AsOf: TypeAlias = str | dt.date | dt.datetime | pd.Timestamp

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_ORDER_KEY: dict[OrderGrouping, str] = {
    "day": "CAST(t.ts AS DATE)",
    "order_id": "t.order_id",
    "line": "t.line_no",
}


def _iso_date(text: str) -> pd.Timestamp:
    try:
        if _ISO_DATE.fullmatch(text):
            return pd.Timestamp(dt.date.fromisoformat(text))
    except ValueError:
        pass
    raise InputDataError(f"as_of: {text!r} is not a date in the form YYYY-MM-DD (e.g. 2024-06-01)")


def normalize_as_of(as_of: AsOf) -> pd.Timestamp:
    """The cutoff as a naive midnight timestamp.

    Cutoffs are whole days. Text must be an ISO date, ``YYYY-MM-DD``: forms such
    as ``01/06/2024`` are ambiguous (June or January?) and ``2024-06-01T12:30``
    would cut mid-day. Python dates and timestamps are accepted at midnight
    (time-zone aware ones at midnight UTC); a time of day is refused.

    Parameters
    ----------
    as_of : str, date, datetime or pandas.Timestamp
        The cutoff.

    Returns
    -------
    pandas.Timestamp
        Naive midnight of that day.

    Raises
    ------
    InputDataError
        When ``as_of`` is missing, not an ISO date, or has a time of day.
    """
    if isinstance(as_of, str):
        return _iso_date(as_of)
    if not isinstance(as_of, dt.date | np.datetime64):
        raise InputDataError(f"as_of: {as_of!r} is not a date; give YYYY-MM-DD text or a date")
    parsed = pd.Timestamp(as_of)
    if pd.isna(parsed):
        raise InputDataError("as_of: a cutoff date is required")
    if parsed.tzinfo is not None:
        parsed = parsed.tz_convert("UTC").tz_localize(None)
    if parsed != parsed.normalize():
        raise InputDataError(
            f"as_of: {str(parsed)!r} has a time of day; cutoffs are whole days, e.g. {parsed.date().isoformat()}"
        )
    return parsed


def _before_as_of(timestamp: str) -> str:
    """The point-in-time rule, written once: a record counts only if strictly before the cutoff."""
    return f"{timestamp} < p.as_of_ts"


def _epoch_seconds(timestamp: str) -> str:
    """Whole seconds since 1970: integer arithmetic keeps sums exact, so reruns give identical bytes."""
    return f"CAST(FLOOR(EPOCH({timestamp})) AS BIGINT)"


def _days(days: int) -> int:
    return days * DAY_SECONDS


def feature_sql(config: FeatureConfig, as_of: AsOf, attribute_columns: Sequence[str] = ()) -> str:
    """The feature query for one cutoff, as portable SQL (DuckDB dialect).

    Reads tables ``transactions``, ``events`` and ``customers`` and returns one
    row per customer seen before ``as_of``: ``customer_id`` then the columns of
    :func:`feature_catalog` in order. Divisions are in DOUBLE and sums exact,
    so the same text transpiled to Spark SQL gives the same values.

    Parameters
    ----------
    config : FeatureConfig
        Windows, event types, order grouping and spend features.
    as_of : date-like
        The cutoff: only records with ``ts < as_of`` count.
    attribute_columns : sequence of str
        The ``attr_*`` columns of the customer table to carry.

    Returns
    -------
    str
        One SELECT statement.
    """
    cutoff = normalize_as_of(as_of)
    specs = feature_catalog(config, list(attribute_columns))
    spend_windows = []
    order_windows = []
    for w in config.spend_windows_days:
        spend_windows += [
            f"SUM(amount) FILTER (WHERE amount > 0 AND age_s <= {_days(w)}) AS spend_{w}d",
            f"SUM(amount) FILTER (WHERE amount > 0 AND age_s > {_days(w)} AND age_s <= {_days(2 * w)}) "
            f"AS spend_prior_{w}d",
        ]
        order_windows.append(f"COUNT(*) FILTER (WHERE age_s <= {_days(w)}) AS orders_{w}d")
    centre = (SLOPE_PERIODS - 1) / 2
    period = _days(SLOPE_PERIOD_DAYS)
    event_columns = []
    for event_type in config.event_types:
        slug, literal = feature_slug(event_type), quote_literal(event_type)
        event_columns.append(f"MIN(age_s) FILTER (WHERE event_type = {literal}) AS {slug}_last_age_s")
        for w in config.event_windows_days:
            event_columns += [
                f"COUNT(*) FILTER (WHERE event_type = {literal} AND age_s <= {_days(w)}) AS {slug}_{w}d",
                f"COUNT(*) FILTER (WHERE event_type = {literal} AND age_s > {_days(w)} "
                f"AND age_s <= {_days(2 * w)}) AS {slug}_prior_{w}d",
            ]
    attribute_select = "".join(f", {quote_identifier(c)}" for c in attribute_columns)
    event_select = ",\n    ".join(event_columns) if event_columns else "COUNT(*) AS events"
    features = ",\n  ".join(f"{spec.sql} AS {quote_identifier(spec.name)}" for spec in specs)
    return f"""
WITH params AS (
  SELECT CAST('{cutoff.isoformat(sep=" ")}' AS TIMESTAMP) AS as_of_ts,
         {_epoch_seconds(f"CAST('{cutoff.isoformat(sep=' ')}' AS TIMESTAMP)")} AS as_of_s
),
lines AS (
  SELECT t.customer_id, CAST(t.amount AS DECIMAL(18, 4)) AS amount,
         {_ORDER_KEY[config.order_grouping]} AS order_key,
         p.as_of_s - {_epoch_seconds("t.ts")} AS age_s
  FROM transactions t CROSS JOIN params p
  WHERE {_before_as_of("t.ts")}
),
orders AS (
  SELECT customer_id, MAX(age_s) AS age_s, SUM(amount) AS order_value
  FROM lines WHERE amount >= 0  -- a zero-value line is still an order (a free item)
  GROUP BY customer_id, order_key
),
order_gaps AS (
  SELECT customer_id, age_s, order_value,
         LAG(age_s) OVER (PARTITION BY customer_id ORDER BY age_s DESC) - age_s AS gap_s
  FROM orders
),
order_aggs AS (
  SELECT customer_id,
    COUNT(*) AS orders,
    SUM(order_value) AS order_value_sum,
    {divide('SUM(order_value)', 'COUNT(*)')} AS order_value_mean,
    MAX(order_value) AS order_value_max,
    MAX(age_s) AS first_order_age_s,
    MIN(age_s) AS last_order_age_s,
    COUNT(gap_s) AS gaps,
    SUM(gap_s) AS gap_sum_s,
    SUM(CAST(gap_s AS DECIMAL(38, 0)) * CAST(gap_s AS DECIMAL(38, 0))) AS gap_square_sum_s,
    {", ".join(order_windows)}
  FROM order_gaps GROUP BY customer_id
),
line_aggs AS (
  SELECT customer_id,
    SUM(amount) AS net_spend,
    SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS purchases,
    SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS refunds,
    COUNT(*) FILTER (WHERE amount < 0) AS refund_lines,
    SUM(amount * ({centre} - (CAST(CEIL(age_s / {period}) AS BIGINT) - 1))) FILTER (WHERE amount > 0 AND age_s <= {SLOPE_PERIODS * period}) AS slope_moment,
    {", ".join(spend_windows)}
  FROM lines GROUP BY customer_id
),
event_lines AS (
  SELECT v.customer_id, v.event_type, p.as_of_s - {_epoch_seconds("v.ts")} AS age_s
  FROM events v CROSS JOIN params p
  WHERE {_before_as_of("v.ts")}
),
event_aggs AS (
  SELECT customer_id,
    {event_select}
  FROM event_lines GROUP BY customer_id
),
customer_rows AS (
  SELECT c.customer_id,
         CASE WHEN {_before_as_of("c.signup_ts")} THEN p.as_of_s - {_epoch_seconds("c.signup_ts")} END AS signup_age_s
         {attribute_select}
  FROM customers c CROSS JOIN params p
),
universe AS (
  SELECT customer_id FROM lines
  UNION SELECT customer_id FROM event_lines
  UNION SELECT customer_id FROM customer_rows WHERE signup_age_s IS NOT NULL
)
SELECT u.customer_id,
  {features}
FROM universe u
LEFT JOIN order_aggs o ON o.customer_id = u.customer_id
LEFT JOIN line_aggs l ON l.customer_id = u.customer_id
LEFT JOIN event_aggs e ON e.customer_id = u.customer_id
LEFT JOIN customer_rows c ON c.customer_id = u.customer_id
ORDER BY u.customer_id
"""


def attribute_columns(inputs: InputData) -> list[str]:
    """The ``attr_*`` columns of the customer table, in order (none without one).

    Parameters
    ----------
    inputs : InputData
        The validated inputs; ``customers.attributes`` of the config become
        ``attr_<name>`` columns there.

    Returns
    -------
    list of str
        The attribute columns, which the features carry as categoricals.
    """
    if inputs.engine is not None:
        return [c for c in inputs.engine.columns("customers") if c.startswith("attr_")]
    if inputs.customers is None:
        return []
    return [c for c in inputs.customers.columns if c.startswith("attr_")]


def _arrow(frame: pd.DataFrame, columns: list[str]) -> pa.Table:
    return pa.Table.from_pandas(frame[columns], preserve_index=False)


def build_features(inputs: InputData, *, as_of: AsOf, config: FeatureConfig) -> pd.DataFrame:
    """Per-customer features from everything strictly before ``as_of``.

    Parameters
    ----------
    inputs : InputData
        Validated tables (see :func:`tierwise.io.read_inputs`).
    as_of : date-like
        The cutoff. Records at or after it never influence a feature.
    config : FeatureConfig
        Windows, event types and order grouping.

    Returns
    -------
    DataFrame
        One row per customer with a transaction or event before ``as_of`` (or a
        signup before it): ``customer_id``, ``as_of``, then one column per
        :class:`FeatureSpec` of :func:`describe_features`, sorted by customer_id.
    """
    cutoff = normalize_as_of(as_of)
    attributes = attribute_columns(inputs)
    if inputs.engine is not None:  # validated in DuckDB: query the tables where they are
        if config.order_grouping == "order_id" and "order_id" not in inputs.engine.columns("transactions"):
            raise InputDataError("transactions: features.order_grouping is 'order_id' but no order id column is mapped")
        cursor = inputs.engine.cursor()
        try:
            frame = cursor.execute(feature_sql(config, cutoff, attributes)).df()
        finally:
            cursor.close()
        return _typed(frame, cutoff, config, attributes)
    customers = inputs.customers
    if customers is None:
        customers = pd.DataFrame({"customer_id": pd.Series(dtype="str"), "signup_ts": pd.Series(dtype="datetime64[us]")})
    tx_columns = ["customer_id", "ts", "amount", "line_no"] + (["order_id"] if config.order_grouping == "order_id" else [])
    if config.order_grouping == "order_id" and "order_id" not in inputs.transactions.columns:
        raise InputDataError("transactions: features.order_grouping is 'order_id' but no order id column is mapped")
    connection = duckdb.connect()
    try:
        connection.register("transactions", _arrow(inputs.transactions, tx_columns))
        connection.register("events", _arrow(inputs.events, ["customer_id", "ts", "event_type"]))
        connection.register("customers", _arrow(customers, ["customer_id", "signup_ts", *attributes]))
        frame = connection.execute(feature_sql(config, cutoff, attributes)).df()
    finally:
        connection.close()
    return _typed(frame, cutoff, config, attributes)


def _typed(frame: pd.DataFrame, cutoff: pd.Timestamp, config: FeatureConfig, attributes: list[str]) -> pd.DataFrame:
    """The feature query's result with ``as_of`` and the catalog's types."""
    frame.insert(1, "as_of", pd.Series(cutoff, index=frame.index, dtype="datetime64[us]"))
    for spec in describe_features(config, attributes):
        if spec.kind == "categorical":
            frame[spec.name] = frame[spec.name].astype("category")
        else:
            frame[spec.name] = frame[spec.name].astype("float64")
    return frame


def check_customers_known(features: pd.DataFrame, inputs: InputData, *, as_of: AsOf) -> None:
    """Refuse a cutoff that no customer precedes: its features would be an empty table.

    Parameters
    ----------
    features : pandas.DataFrame
        What :func:`build_features` returned for ``as_of``.
    inputs : InputData
        The inputs it was built from (for the first date of the data).
    as_of : date-like
        The cutoff.

    Raises
    ------
    InputDataError
        When ``features`` is empty, naming the first date of the data.
    """
    if len(features):
        return
    first = [inputs.transactions["ts"].min(), inputs.events["ts"].min()]
    if inputs.customers is not None:
        first.append(inputs.customers["signup_ts"].min())
    raise no_customer_before(as_of, data_start=min(ts for ts in first if not pd.isna(ts)))


def no_customer_before(as_of: AsOf, *, data_start: pd.Timestamp) -> InputDataError:
    """The error for a cutoff that no record precedes, naming the first date of the data.

    Parameters
    ----------
    as_of : date-like
        The cutoff whose features came out empty.
    data_start : Timestamp
        The earliest transaction, event or signup.

    Returns
    -------
    InputDataError
        To raise; its message is one line.
    """
    return InputDataError(
        f"as_of {normalize_as_of(as_of).date()}: no customer has a record before it; "
        f"the data start on {data_start.date()}"
    )


def describe_features(config: FeatureConfig, attribute_columns: Sequence[str] = ()) -> list[FeatureSpec]:
    """The specs (name, description, unit) of every feature column, in order.

    Parameters
    ----------
    config : FeatureConfig
        Windows, event types and whether there are spend features.
    attribute_columns : sequence of str
        The ``attr_*`` columns of the customer table (see :func:`attribute_columns`).

    Returns
    -------
    list of FeatureSpec
        One spec per feature column of :func:`build_features`, after
        ``customer_id`` and ``as_of``.
    """
    return feature_catalog(config, list(attribute_columns))
