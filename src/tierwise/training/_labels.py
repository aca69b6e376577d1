"""Labels from what happened after each cutoff.

The label window rule is written once, in :func:`_in_window`: a record counts
for the label at ``as_of`` when ``as_of <= ts < as_of + horizon``. Features see
``ts < as_of``, so a record never feeds both.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from tierwise.errors import InputDataError
from tierwise.features import normalize_as_of
from tierwise.features._build import AsOf
from tierwise.input_sql import quote_literal
from tierwise.inputs import InputData


def transaction_span(inputs: InputData) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last transaction timestamps, asked of the engine when the tables live there.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).

    Returns
    -------
    first : pandas.Timestamp
        The earliest transaction ``ts``.
    last : pandas.Timestamp
        The latest transaction ``ts``.
    """
    if inputs.engine is not None:
        first, last = inputs.engine.rows("SELECT MIN(ts), MAX(ts) FROM transactions")[0]
        return pd.Timestamp(first), pd.Timestamp(last)
    return inputs.transactions["ts"].min(), inputs.transactions["ts"].max()


def data_end(inputs: InputData) -> pd.Timestamp:
    """The first day after the last transaction: label windows must end by then.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).

    Returns
    -------
    pandas.Timestamp
        Midnight after the last transaction's day.
    """
    return transaction_span(inputs)[1].normalize() + pd.Timedelta(days=1)


def data_start(inputs: InputData) -> pd.Timestamp:
    """The day of the first transaction.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).

    Returns
    -------
    pandas.Timestamp
        Midnight of the first transaction's day.
    """
    return transaction_span(inputs)[0].normalize()


def _in_window(days: int) -> str:
    return f"ts >= p.as_of_ts AND ts < p.as_of_ts + INTERVAL ({days}) DAY"


def make_labels(
    inputs: InputData,
    *,
    as_of: AsOf,
    churn_horizon_days: int | None = None,
    value_horizon_days: int | None = None,
    cancellation_event: str | None = None,
) -> pd.DataFrame:
    """What each customer did in the windows after ``as_of``.

    Returns one row per customer with any transaction (or event) in the data:
    ``customer_id``, ``as_of`` and, for each horizon given, ``lapsed`` (1 when
    no purchase in ``[as_of, as_of + churn_horizon_days)``, or, when
    ``cancellation_event`` is set, 1 when that event occurs in the window) and
    ``value`` (net spend in ``[as_of, as_of + value_horizon_days)``, 0 when
    nothing was bought).

    Raises :class:`InputDataError` when a window would reach past the data end:
    such a label would call customers lapsed who simply were not observed yet.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    as_of : str or pandas.Timestamp
        The cutoff: labels look at ``as_of <= ts < as_of + horizon``.
    churn_horizon_days : int, optional
        The churn window in days; None makes no ``lapsed`` column.
    value_horizon_days : int, optional
        The value window in days; None makes no ``value`` column.
    cancellation_event : str, optional
        An event type that means the customer left (e.g. a subscription cancelled).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of`` and the requested ``lapsed`` (0/1) and ``value`` (currency) columns.

    Raises
    ------
    InputDataError
        When a window would reach past the data end.

    Examples
    --------
    Customer a buys in the 30 days from the cutoff (not lapsed, 35.0 spent);
    b's next purchase comes later (lapsed, nothing spent in the window).

    >>> import pandas as pd
    >>> from tierwise.api import read_inputs, resolve_config
    >>> transactions = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b", "b"],
    ...     "timestamp": ["2025-01-05", "2025-06-10", "2025-02-01", "2025-07-20"],
    ...     "amount": [20.0, 35.0, 12.5, 8.0],
    ... })
    >>> config = resolve_config(None, with_frames=["transactions"])
    >>> inputs = read_inputs(config, transactions=transactions)
    >>> make_labels(inputs, as_of="2025-06-01", churn_horizon_days=30, value_horizon_days=30)
      customer_id      as_of  lapsed  value
    0           a 2025-06-01       0   35.0
    1           b 2025-06-01       1    0.0
    """
    horizons = [h for h in (churn_horizon_days, value_horizon_days) if h is not None]
    if not horizons:
        raise ValueError("make_labels needs churn_horizon_days, value_horizon_days or both")
    cutoff = normalize_as_of(as_of)
    end = data_end(inputs)
    longest = max(horizons)
    if cutoff + pd.Timedelta(days=longest) > end:
        raise InputDataError(
            f"labels at {cutoff.date()}: a {longest}-day window reaches past the end of the data ({end.date()})"
        )
    outputs, ctes = [], []
    if churn_horizon_days is not None:
        if cancellation_event is None:
            hits = f"SELECT customer_id FROM transactions, p WHERE amount >= 0 AND {_in_window(churn_horizon_days)}"
        else:
            hits = (
                f"SELECT customer_id FROM events, p WHERE event_type = {quote_literal(cancellation_event)} "
                f"AND {_in_window(churn_horizon_days)}"
            )
        # A purchase in the window means the customer stayed; a cancellation means they left.
        if_hit, if_no_hit = ("0", "1") if cancellation_event is None else ("1", "0")
        ctes.append(f"churn_hits AS ({hits})")
        outputs.append(
            f"CASE WHEN e.customer_id IN (SELECT customer_id FROM churn_hits) THEN {if_hit} ELSE {if_no_hit} END AS lapsed"
        )
    value_join = ""
    if value_horizon_days is not None:
        ctes.append(
            "value_sums AS (SELECT customer_id, SUM(CAST(amount AS DECIMAL(18, 4))) AS value "
            f"FROM transactions, p WHERE {_in_window(value_horizon_days)} GROUP BY customer_id)"
        )
        outputs.append("CAST(COALESCE(v.value, 0) AS DOUBLE) AS value")
        value_join = "LEFT JOIN value_sums v ON v.customer_id = e.customer_id"
    sql = f"""
WITH p AS (SELECT CAST('{cutoff.isoformat(sep=" ")}' AS TIMESTAMP) AS as_of_ts),
{", ".join(ctes)},
everyone AS (SELECT customer_id FROM transactions UNION SELECT customer_id FROM events)
SELECT e.customer_id, {", ".join(outputs)}
FROM everyone e {value_join}
ORDER BY e.customer_id
"""
    if inputs.engine is not None:  # validated in DuckDB: query the tables where they are, never copied to pandas
        connection = inputs.engine.cursor()
    else:
        connection = duckdb.connect()
        connection.register("transactions", inputs.transactions[["customer_id", "ts", "amount"]])
        connection.register("events", inputs.events[["customer_id", "ts", "event_type"]])
    try:
        labels = connection.execute(sql).df()
    finally:
        connection.close()
    if "lapsed" in labels:
        labels["lapsed"] = labels["lapsed"].astype("int8")
    labels.insert(1, "as_of", pd.Series(cutoff, index=labels.index, dtype="datetime64[us]"))
    return labels
