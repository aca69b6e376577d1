"""The pandas validation that tierwise ran before the checks moved into SQL (tierwise.input_sql), kept as a reference.

tests/test_input_sql.py checks that the SQL gives the same tables, warnings and
one-line errors as this row-wise pandas code on the same inputs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tierwise.config import (
    CustomersSource,
    DataConfig,
    EventsSource,
    FeatureConfig,
    TransactionsSource,
    feature_slug,
)
from tierwise.errors import InputDataError

# Features sum amounts as DECIMAL(18, 4) for exact, order-independent totals.
_MAX_AMOUNT = 1e13


@dataclass(frozen=True)
class InputData:
    """Validated, canonical input tables plus the warnings found on the way."""

    transactions: pd.DataFrame
    events: pd.DataFrame
    customers: pd.DataFrame | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _example(values: pd.Series) -> str:
    return repr(str(values.iloc[0]))


def _refuse_missing(missing: pd.Series, origin: str, column: str, what: str) -> None:
    """One line naming how many rows lack ``what`` and the first such data row."""
    if missing.any():
        first_row = int(np.flatnonzero(missing.to_numpy())[0]) + 1
        raise InputDataError(f"{origin}: column '{column}': {int(missing.sum())} rows have no {what}, e.g. data row {first_row}")


def _as_text(raw: pd.Series) -> pd.Series:
    """Values as strings, with empty or blank cells as missing."""
    text = raw.astype("str").where(raw.notna())
    return text.where(text.str.strip().ne(""))


def _require_columns(raw: pd.DataFrame, wanted: dict[str, str | None], origin: str) -> None:
    for role, column in wanted.items():
        if column is not None and column not in raw.columns:
            found = ", ".join(map(str, raw.columns[:12]))
            raise InputDataError(
                f"{origin}: column '{column}' ({role}) is missing; the file has: {found}"
            )


def _require_rows(raw: pd.DataFrame, origin: str) -> None:
    if raw.empty:
        raise InputDataError(f"{origin}: no data rows (the file is empty or has only a header)")


def _parse_ids(raw: pd.Series, origin: str, column: str) -> pd.Series:
    _refuse_missing(_as_text(raw).isna(), origin, column, "customer id")
    if pd.api.types.is_float_dtype(raw):
        fractional = raw != np.floor(raw)
        if fractional.any():
            raise InputDataError(
                f"{origin}: column '{column}': {int(fractional.sum())} ids are fractional numbers, "
                f"e.g. {_example(raw[fractional])}"
            )
        raw = raw.astype("int64")
    return raw.astype("str")


def _parse_timestamps(raw: pd.Series, origin: str, column: str, fmt: str | None, *, required: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        bad = pd.Series(False, index=raw.index)
    else:
        text = _as_text(raw)
        parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        bad = parsed.isna() & text.notna()
        if bad.any():
            how = f"in format {fmt!r}" if fmt else "in ISO format (set timestamp_format for another)"
            raise InputDataError(
                f"{origin}: column '{column}': {int(bad.sum())} rows are not dates {how}, e.g. {_example(raw[bad])}"
            )
    if required:
        _refuse_missing(parsed.isna(), origin, column, "timestamp")
    return parsed.astype("datetime64[us]")


def _parse_numbers(raw: pd.Series, origin: str, column: str, *, required: bool) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw):
        raise InputDataError(f"{origin}: column '{column}': holds true/false values, not numbers")
    if pd.api.types.is_numeric_dtype(raw):
        parsed = raw.astype("float64")
        not_number = pd.Series(False, index=raw.index)
    else:
        text = _as_text(raw)
        parsed = pd.to_numeric(text, errors="coerce").astype("float64")
        not_number = parsed.isna() & text.notna()
    not_number |= np.isinf(parsed)
    if not_number.any():
        raise InputDataError(
            f"{origin}: column '{column}': {int(not_number.sum())} rows are not numbers, e.g. {_example(raw[not_number])}"
        )
    if required:
        _refuse_missing(parsed.isna(), origin, column, "value")
    return parsed


# "Far" from the bulk: beyond its middle half by three times that half's width, and
# by a year at least. CDNOW's fading tail ends within 1.9 widths of its middle half
# at every cut tried; a mistyped year lands well outside.
_FAR_WIDTHS = 3
_FAR_MIN_DAYS = 365


def _example_row(raw: pd.Series, mask: pd.Series) -> str:
    """The first flagged value as the source wrote it, and its 1-based data row."""
    position = int(np.flatnonzero(mask.to_numpy())[0])
    return f"{str(raw.iloc[position])!r} (data row {position + 1})"


def _latest_date(max_timestamp: dt.date | None) -> tuple[dt.date, str]:
    """The last date a record may carry, and how a message names it."""
    if max_timestamp is not None:
        return max_timestamp, f"{max_timestamp} (data.max_timestamp)"
    # Timestamps without a zone are usually local time: a record just after midnight east
    # of UTC is dated a day ahead of UTC, so today is taken where the date changes first.
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date()
    return today, f"{today} (today, in the time zone furthest ahead; data.max_timestamp sets another limit)"


def _refuse_future(ts: pd.Series, raw: pd.Series, origin: str, column: str, max_timestamp: dt.date | None) -> None:
    latest, named = _latest_date(max_timestamp)
    late = ts >= pd.Timestamp(latest) + pd.Timedelta(days=1)
    if late.any():
        raise InputDataError(
            f"{origin}: column '{column}': {int(late.sum())} rows are dated after {named}, e.g. {_example_row(raw, late)}"
        )


def _far_bounds(ts: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Timestamps before the first bound or after the second lie far from the bulk of the data.

    The quartiles are taken from data rows, rounding inwards, so that in a file of
    three rows or more one extreme row cannot move them; two rows have no bulk.
    """
    if len(ts) < 3:
        return ts.min(), ts.max()
    first_quartile = ts.quantile(0.25, interpolation="higher")
    third_quartile = ts.quantile(0.75, interpolation="lower")
    margin = max(_FAR_WIDTHS * (third_quartile - first_quartile), pd.Timedelta(days=_FAR_MIN_DAYS))
    return first_quartile - margin, third_quartile + margin


def _far_warnings(ts: pd.Series, raw: pd.Series, origin: str, column: str, *, after: bool) -> list[str]:
    """Warn about timestamps far before the bulk, and also far after it when ``after``."""
    low, high = _far_bounds(ts)
    warnings = []
    for direction, far in (("before", ts < low), ("after", ts > high)):
        if far.any() and (direction == "before" or after):
            warnings.append(
                f"{origin}: column '{column}': {int(far.sum())} timestamps lie far {direction} the rest of the data, "
                f"e.g. {_example_row(raw, far)} (kept)"
            )
    return warnings


# A log whose last rows come long after all the rest: the newest 0.1% of the rows (at least one) may not lie more
# than a month after every other row. A year typed wrong (1998 for 1997) often stays inside the quartile bounds.
_TAIL_SHARE = 0.001
_TAIL_GAP_DAYS = 30
_TAIL_MIN_ROWS = 1000


def _isolated_tail(ts: pd.Series) -> pd.Series:
    """Rows that sit alone after a silence of more than a month at the very end of a log of 1,000 rows or more."""
    if len(ts) < _TAIL_MIN_ROWS:
        return pd.Series(False, index=ts.index)
    tail_rows = max(1, int(len(ts) * _TAIL_SHARE))
    last_of_the_rest = ts.sort_values().iloc[-tail_rows - 1]
    return ts > last_of_the_rest + pd.Timedelta(days=_TAIL_GAP_DAYS)


def _refuse_far_after(ts: pd.Series, raw: pd.Series, origin: str, column: str) -> None:
    high = _far_bounds(ts)[1]
    far = ts > high
    if far.any():
        raise InputDataError(
            f"{origin}: column '{column}': {int(far.sum())} rows lie far after the rest of the data (past {high.date()}), "
            f"e.g. {_example_row(raw, far)}; they would set the data end, the default as_of and every training window: "
            "fix them, or set data.max_timestamp to keep rows up to that date"
        )
    isolated = _isolated_tail(ts)
    if isolated.any():
        rest_ends = ts[~isolated].max().date()
        raise InputDataError(
            f"{origin}: column '{column}': {int(isolated.sum())} rows lie more than {_TAIL_GAP_DAYS} days after every "
            f"other row (which end {rest_ends}), e.g. {_example_row(raw, isolated)}; they would set the data end, the "
            "default as_of and every training window: fix them, or set data.max_timestamp to keep rows up to that date"
        )


def standardize_transactions(
    raw: pd.DataFrame, source: TransactionsSource, *, origin: str, max_timestamp: dt.date | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Validate a raw transaction table and return it with canonical columns, plus warnings.

    Refuses rows dated after ``max_timestamp`` (default: today) and, unless
    ``max_timestamp`` is given, rows far after the rest of the data: either
    would set the data end, the default ``as_of`` and the training windows.
    """
    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    _require_rows(raw, origin)
    out = pd.DataFrame(
        {
            "customer_id": _parse_ids(raw[cols.customer_id], origin, cols.customer_id),
            "ts": _parse_timestamps(raw[cols.timestamp], origin, cols.timestamp, source.timestamp_format, required=True),
            "amount": _parse_numbers(raw[cols.amount], origin, cols.amount, required=True),
            "line_no": np.arange(len(raw), dtype="int64"),
        }
    )
    too_large = out["amount"].abs() >= _MAX_AMOUNT
    if too_large.any():
        raise InputDataError(
            f"{origin}: column '{cols.amount}': {int(too_large.sum())} amounts are too large to be money "
            f"(at least {_MAX_AMOUNT:.0e}), e.g. {_example(raw[cols.amount][too_large.to_numpy()])}"
        )
    if cols.order_id is not None:
        out["order_id"] = _parse_ids(raw[cols.order_id], origin, cols.order_id)
    if cols.quantity is not None:
        out["quantity"] = _parse_numbers(raw[cols.quantity], origin, cols.quantity, required=False)
    for role in ("category", "channel"):
        column = getattr(cols, role)
        if column is not None:
            out[role] = raw[column].astype("str").where(raw[column].notna()).to_numpy()
    out = out.reset_index(drop=True)
    timestamps = raw[cols.timestamp]
    _refuse_future(out["ts"], timestamps, origin, cols.timestamp, max_timestamp)
    if max_timestamp is None:
        _refuse_far_after(out["ts"], timestamps, origin, cols.timestamp)

    warnings: list[str] = []
    first_purchase = out.loc[out["amount"] >= 0].groupby("customer_id")["ts"].min()
    refunds = out.loc[out["amount"] < 0, ["customer_id", "ts"]]
    refund_first_purchase = pd.Series(first_purchase.reindex(refunds["customer_id"]).to_numpy(), index=refunds.index)
    orphan = refund_first_purchase.isna() | (refunds["ts"] < refund_first_purchase)
    if orphan.any():
        warnings.append(f"{origin}: {int(orphan.sum())} refund rows come before any purchase of their customer (kept)")
    duplicated = out.drop(columns="line_no").duplicated()
    if duplicated.any():
        warnings.append(f"{origin}: {int(duplicated.sum())} rows repeat an earlier row exactly (kept as separate lines)")
    warnings += _far_warnings(out["ts"], timestamps, origin, cols.timestamp, after=max_timestamp is not None)
    return out, warnings


def standardize_events(
    raw: pd.DataFrame, source: EventsSource, *, origin: str, features: FeatureConfig, max_timestamp: dt.date | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Validate a raw event table and return it with canonical columns, plus warnings.

    Refuses events dated after ``max_timestamp`` (default: today).
    """
    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    event_type = raw[cols.event_type]
    _refuse_missing(_as_text(event_type).isna(), origin, cols.event_type, "event type")
    out = pd.DataFrame(
        {
            "customer_id": _parse_ids(raw[cols.customer_id], origin, cols.customer_id),
            "ts": _parse_timestamps(raw[cols.timestamp], origin, cols.timestamp, source.timestamp_format, required=True),
            "event_type": event_type.astype("str").to_numpy(),
        }
    )
    if cols.value is not None:
        out["value"] = _parse_numbers(raw[cols.value], origin, cols.value, required=False)
    out = out.reset_index(drop=True)
    _refuse_future(out["ts"], raw[cols.timestamp], origin, cols.timestamp, max_timestamp)

    warnings: list[str] = []
    unknown = ~out["event_type"].isin(list(features.event_types))
    if unknown.any():
        counts = out.loc[unknown, "event_type"].value_counts().head(3)
        listed = ", ".join(f"{name!r} ({n})" for name, n in counts.items())
        warnings.append(
            f"{origin}: {int(unknown.sum())} events have types not in features.event_types and feed no feature: {listed}"
        )
    warnings += _far_warnings(out["ts"], raw[cols.timestamp], origin, cols.timestamp, after=True)
    return out, warnings


def standardize_customers(raw: pd.DataFrame, source: CustomersSource, *, origin: str) -> pd.DataFrame:
    """Validate a raw customer table; returns ``customer_id``, ``signup_ts`` and ``attr_*`` columns."""
    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    _require_columns(raw, {f"attribute {a}": a for a in source.attributes}, origin)
    ids = _parse_ids(raw[cols.customer_id], origin, cols.customer_id)
    repeated = ids.duplicated()
    if repeated.any():
        raise InputDataError(
            f"{origin}: column '{cols.customer_id}': {int(repeated.sum())} customer ids appear more than once, "
            f"e.g. {_example(ids[repeated])}"
        )
    out = pd.DataFrame({"customer_id": ids})
    if cols.signup_date is not None:
        out["signup_ts"] = _parse_timestamps(
            raw[cols.signup_date], origin, cols.signup_date, source.timestamp_format, required=False
        )
    else:
        out["signup_ts"] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    seen: dict[str, str] = {}
    for attribute in source.attributes:
        slug = feature_slug(str(attribute))
        if not slug or slug in seen:
            clash = f"collides with '{seen[slug]}'" if slug in seen else "has no letter or digit"
            raise InputDataError(f"{origin}: column '{attribute}': attribute name {clash} once made a feature name")
        seen[slug] = str(attribute)
        values = raw[attribute]
        out[f"attr_{slug}"] = values.astype("str").where(values.notna()).to_numpy()
    return out.reset_index(drop=True)


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype="str"),
            "ts": pd.Series(dtype="datetime64[us]"),
            "event_type": pd.Series(dtype="str"),
        }
    )


def inputs_from_frames(
    transactions: pd.DataFrame,
    *,
    data: DataConfig,
    features: FeatureConfig,
    events: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    origins: dict[str, str] | None = None,
) -> InputData:
    """Validate raw DataFrames (columns named as in ``data``) into :class:`InputData`.

    ``origins`` names each table in error messages (a file path, say);
    DataFrames passed from Python are called e.g. "transactions DataFrame".
    """
    origins = origins or {}
    tx, warnings = standardize_transactions(
        transactions, data.transactions, origin=origins.get("transactions", "transactions DataFrame"),
        max_timestamp=data.max_timestamp,
    )
    if events is not None:
        source = data.events or EventsSource(path="")
        ev, event_warnings = standardize_events(
            events, source, origin=origins.get("events", "events DataFrame"), features=features,
            max_timestamp=data.max_timestamp,
        )
        warnings += event_warnings
    else:
        ev = _empty_events()
    cust = None
    if customers is not None:
        source = data.customers or CustomersSource(path="")
        cust = standardize_customers(customers, source, origin=origins.get("customers", "customers DataFrame"))
    return InputData(transactions=tx, events=ev, customers=cust, warnings=tuple(warnings))
