"""Standardize and validate the inputs as SQL, so any engine can run them.

The checks and messages of :mod:`tierwise.inputs` are written here once, as
SQL text built from the config plus a little Python that turns query results
into the same one-line errors and warnings. An engine takes part by giving:

- a **raw relation** per input, :class:`RawTable`: the user's columns as in
  the file or DataFrame, plus ``__row`` (BIGINT, the 0-based position of the
  data row in the source; "data row N" in messages is ``__row + 1``), and the
  kind of each column (:data:`ColumnKind`, mapped from the engine's types);
- a :class:`SqlRunner`: ``dialect`` (a :class:`Dialect`), ``rows(sql)``
  returning a query's rows as tuples, ``create_table(name, sql)`` storing a
  query's result under a name that later queries read (a table; on Spark a
  cached temporary view), and ``create_view(name, sql)`` naming a query
  without running it.

Then :func:`standardize_transactions`, :func:`standardize_events` and
:func:`standardize_customers` raise :class:`~tierwise.errors.InputDataError`
for broken data, create the canonical relations ``transactions``, ``events``
and ``customers`` (columns as in :mod:`tierwise.inputs`; ``events`` also keeps
``__row``) and return the warnings. Each reads its raw relation once into
``<name>_staged`` (canonical columns, ``__row`` and one boolean per check),
checks that, and makes the canonical relation a view of it; the raw relation
is read again only to quote an offending value. The session must read and write
timestamps in UTC (DuckDB: ``SET TimeZone = 'UTC'``).

Only portable SQL is used (CASE, COUNT/SUM/MIN/MAX, GROUP BY, ROW_NUMBER,
TRY_CAST, TRIM, ABS, FLOOR, ISNAN, POSITION); what differs between engines
sits in :class:`Dialect`, whose defaults are DuckDB's.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import pandas as pd

from tierwise.config import CustomersSource, EventsSource, FeatureConfig, TransactionsSource, feature_slug
from tierwise.errors import InputDataError

ColumnKind = Literal["text", "integer", "float", "boolean", "timestamp", "timestamptz"]
"""How a raw column is stored: text (and anything else, read as text), integer, float
(also decimal), boolean, timestamp (also date; no time zone) or timestamptz (an instant)."""

ROW = "__row"

# Features sum amounts as DECIMAL(18, 4) for exact, order-independent totals.
MAX_AMOUNT = 1e13
_MAX_DOUBLE = "1.7976931348623157E308"
_MAX_ID = "9.0E18"

# "Far" from the bulk: beyond its middle half by three times that half's width, and
# by a year at least. CDNOW's fading tail ends within 1.9 widths of its middle half
# at every cut tried; a mistyped year lands well outside.
_FAR_WIDTHS = 3
_FAR_MIN_DAYS = 365

# A log whose last rows come long after all the rest: the newest 0.1% of the rows (at least one) may not lie more
# than a month after every other row. A year typed wrong (1998 for 1997) often stays inside the quartile bounds.
_TAIL_SHARE = 0.001
_TAIL_GAP_DAYS = 30
_TAIL_MIN_ROWS = 1000


def quote_identifier(name: str) -> str:
    """Quote a name as a SQL identifier (standard double quotes, doubled inside).

    Parameters
    ----------
    name : str
        A table or column name.

    Returns
    -------
    str
        The quoted identifier.

    Examples
    --------
    >>> quote_identifier('a"b')
    '"a""b"'
    """
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a value as a SQL string literal (single quotes, doubled inside).

    Parameters
    ----------
    value : str
        The text.

    Returns
    -------
    str
        The SQL literal.

    Examples
    --------
    >>> quote_literal("O'Brien")
    "'O''Brien'"
    """
    return "'" + str(value).replace("'", "''") + "'"


class Dialect:
    """The SQL that differs between engines; these defaults are DuckDB's.

    A Spark dialect overrides the methods whose DuckDB functions Spark lacks
    or spells differently (``try_strptime``, ``quantile_disc``, the UTC cast).
    """

    text_type = "VARCHAR"

    def parse_timestamp(self, text: str, timestamp_format: str | None) -> str:
        """A TIMESTAMP (UTC wall clock) parsed from the text expression ``text``, NULL where it does not parse.

        Without a format, ISO 8601 text is accepted as pandas accepts it
        (``2024-01-02``, ``2024-01-02T10:00:00+02:00``, ``20240102``,
        ``2024-01``), offsets converted to UTC; with one, a strftime pattern.

        Parameters
        ----------
        text : str
            A SQL expression of type text.
        timestamp_format : str or None
            The config's ``timestamp_format`` (strftime), or None for ISO 8601.

        Returns
        -------
        str
            The SQL expression.
        """
        if timestamp_format is not None:
            return f"CAST({self.try_strptime(text, timestamp_format)} AS TIMESTAMP)"
        return (
            f"CAST(COALESCE(TRY_CAST({text} AS TIMESTAMPTZ), {self.try_strptime(text, '%Y%m%d')}, "
            f"{self.try_strptime(text, '%Y-%m')}) AS TIMESTAMP)"
        )

    def try_strptime(self, text: str, strftime: str) -> str:
        """A timestamp parsed from ``text`` with a strftime pattern, NULL where it does not parse.

        Parameters
        ----------
        text : str
            A SQL expression of type text.
        strftime : str
            The pattern, e.g. ``%Y%m%d``.

        Returns
        -------
        str
            The SQL expression.
        """
        return f"TRY_STRPTIME({text}, {quote_literal(strftime)})"

    def parse_number(self, text: str) -> str:
        """A DOUBLE parsed from ``text`` as pandas' ``to_numeric`` parses it, NULL where it does not.

        Parameters
        ----------
        text : str
            A SQL expression of type text.

        Returns
        -------
        str
            The SQL expression.
        """
        # DuckDB reads "1_000" as 1000; pandas does not.
        return f"CASE WHEN POSITION('_' IN {text}) > 0 THEN NULL ELSE TRY_CAST({text} AS DOUBLE) END"

    def utc_timestamp(self, instant: str) -> str:
        """A time-zone aware value as a UTC TIMESTAMP (the session's time zone is UTC).

        Parameters
        ----------
        instant : str
            A SQL expression of a time-zone aware type.

        Returns
        -------
        str
            The SQL expression.
        """
        return f"CAST({instant} AS TIMESTAMP)"

    def row_hash(self, columns: Sequence[str]) -> str:
        """A 64-bit hash of the columns, equal for equal rows (NULLs included).

        Parameters
        ----------
        columns : sequence of str
            SQL expressions, hashed together.

        Returns
        -------
        str
            The SQL expression, a 64-bit integer.
        """
        return f"HASH({', '.join(columns)})"

    def nth_smallest(self, expression: str, index: int, count: int) -> str:
        """An aggregate giving the value at 0-based ``index`` of ``expression`` sorted, over ``count`` rows.

        Parameters
        ----------
        expression : str
            The SQL expression sorted.
        index : int
            The 0-based position wanted.
        count : int
            The number of rows aggregated.

        Returns
        -------
        str
            The SQL aggregate expression.
        """
        # quantile_disc(x, q) takes the value at index ceil(q * n) - 1 (as the SQL standard's
        # percentile_disc); half a row past the index keeps rounding away from the edge.
        return f"QUANTILE_DISC({expression}, {(index + 0.5) / count!r})"


class SqlRunner(Protocol):
    """What an engine provides to run the checks: see the module docstring."""

    dialect: Dialect

    def rows(self, sql: str) -> list[tuple]:
        """Run a query and return all its rows.

        Parameters
        ----------
        sql : str
            A query in the runner's dialect.

        Returns
        -------
        list of tuple
            Every row of the result.
        """
        ...

    def create_table(self, name: str, sql: str) -> None:
        """Store the result of ``sql`` as ``name``, replacing any earlier one.

        Parameters
        ----------
        name : str
            The table's name.
        sql : str
            A query in the runner's dialect.
        """
        ...

    def create_view(self, name: str, sql: str) -> None:
        """Name the query ``sql`` as ``name``, replacing any earlier one.

        Parameters
        ----------
        name : str
            The view's name.
        sql : str
            A query in the runner's dialect.
        """
        ...


@dataclass(frozen=True)
class RawTable:
    """A raw input relation: its name in the engine and its columns' kinds in source order (``__row`` aside)."""

    name: str
    columns: dict[str, ColumnKind]


@dataclass(frozen=True)
class _RowCheck:
    """Rows failing ``condition`` make ``message(count, first_row, example)``; all run in one pass over the raw table."""

    condition: str
    message: Callable[[int, int, str], str]
    example: str | None = None


@dataclass(frozen=True)
class _QueryCheck:
    """A check with a query of its own on the staged table (``{staged}`` in ``sql``), returning (count, first row).

    It runs in its place in the order; ``example`` is looked up in the staged table.
    """

    sql: str
    message: Callable[[int, int, str], str]
    example: str | None = None


@dataclass
class _Column:
    """SQL for one raw column: its text, its missing test, and the row checks of its parsing."""

    raw: RawTable
    name: str
    dialect: Dialect
    origin: str
    checks: list[_RowCheck] = field(default_factory=list)

    @property
    def kind(self) -> ColumnKind:
        return self.raw.columns[self.name]

    @property
    def ref(self) -> str:
        return quote_identifier(self.name)

    @property
    def text(self) -> str:
        if self.kind == "timestamptz":  # the instant in UTC, written as pandas writes one
            return f"CAST({self.dialect.utc_timestamp(self.ref)} AS {self.dialect.text_type}) || '+00:00'"
        return self.ref if self.kind == "text" else f"CAST({self.ref} AS {self.dialect.text_type})"

    @property
    def missing(self) -> str:
        if self.kind == "text":
            return f"({self.ref} IS NULL OR TRIM({self.ref}) = '')"
        if self.kind == "float":
            return f"({self.ref} IS NULL OR ISNAN({self.ref}))"
        return f"{self.ref} IS NULL"

    def _prefix(self) -> str:
        return f"{self.origin}: column '{self.name}': "

    def refuse_missing(self, what: str) -> None:
        prefix = self._prefix()
        self.checks.append(
            _RowCheck(self.missing, lambda n, row, _: f"{prefix}{n} rows have no {what}, e.g. data row {row + 1}")
        )

    def as_id(self) -> str:
        """Check the column as ids; return the canonical text id."""
        self.refuse_missing("customer id")
        if self.kind != "float":
            return self.text
        prefix = self._prefix()
        self.checks.append(
            _RowCheck(
                f"NOT {self.missing} AND ({self.ref} <> FLOOR({self.ref}) OR ABS({self.ref}) > {_MAX_ID})",
                lambda n, _, example: f"{prefix}{n} ids are fractional numbers, e.g. {example!r}",
                self.text,
            )
        )
        return f"CAST(TRY_CAST({self.ref} AS BIGINT) AS {self.dialect.text_type})"

    def as_timestamp(self, timestamp_format: str | None, *, required: bool) -> str:
        """Check the column as timestamps; return the canonical TIMESTAMP."""
        if self.kind == "timestamp":
            parsed = f"CAST({self.ref} AS TIMESTAMP)"
        elif self.kind == "timestamptz":
            parsed = self.dialect.utc_timestamp(self.ref)
        else:
            parsed = self.dialect.parse_timestamp(self.text, timestamp_format)
            how = f"in format {timestamp_format!r}" if timestamp_format else "in ISO format (set timestamp_format for another)"
            prefix = self._prefix()
            self.checks.append(
                _RowCheck(
                    f"NOT {self.missing} AND {parsed} IS NULL",
                    lambda n, _, example: f"{prefix}{n} rows are not dates {how}, e.g. {example!r}",
                    self.text,
                )
            )
        if required:
            self.refuse_missing("timestamp")
        return parsed

    def as_number(self, *, required: bool) -> str:
        """Check the column as numbers; return the canonical DOUBLE (NULL where missing)."""
        prefix = self._prefix()
        if self.kind == "boolean":
            self.checks.append(_RowCheck("1 = 1", lambda *_: f"{prefix}holds true/false values, not numbers"))
            return "CAST(NULL AS DOUBLE)"
        if self.kind in ("integer", "float"):
            parsed = f"CAST({self.ref} AS DOUBLE)"
            not_number = f"(ABS({parsed}) > {_MAX_DOUBLE} AND NOT ISNAN({parsed}))"
        else:
            parsed = self.dialect.parse_number(self.text)
            not_number = f"(NOT {self.missing} AND ({parsed} IS NULL OR ISNAN({parsed}) OR ABS({parsed}) > {_MAX_DOUBLE}))"
        self.checks.append(
            _RowCheck(not_number, lambda n, _, example: f"{prefix}{n} rows are not numbers, e.g. {example!r}", self.text)
        )
        if required:
            self.refuse_missing("value")
        return f"CASE WHEN {self.missing} THEN NULL ELSE {parsed} END"


def _whitespace_hint(raw: RawTable, wanted: dict[str, str | None]) -> str:
    """A hint when the file is one column whose name holds the wanted names split by blanks: a whitespace file."""
    if len(raw.columns) != 1:
        return ""
    words = next(iter(raw.columns)).split()
    if len(words) > 1 and any(column in words for column in wanted.values() if column is not None):
        return "; it looks separated by spaces or tabs, not commas: set format: whitespace"
    return ""


# A column name that reads as data: a number, or a date or time.
_DATA_LIKE_NAME = re.compile(r"[-+]?\d+([.,]\d+)?|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?")


def _headerless_hint(raw: RawTable) -> str:
    """A hint when the first line, read as column names, looks like data: a file without a header line."""
    data_like = [column for column in raw.columns if _DATA_LIKE_NAME.fullmatch(column.strip())]
    if not data_like:
        return ""
    return (f"; its first line looks like data ('{data_like[0]}'), not column names: for a file without a header "
            "line, set header: false and name the columns by position (column_1, column_2, ...)")


def _require_columns(raw: RawTable, wanted: dict[str, str | None], origin: str) -> None:
    for role, column in wanted.items():
        if column is not None and column not in raw.columns:
            found = ", ".join(list(raw.columns)[:12])
            hint = _whitespace_hint(raw, wanted) or _headerless_hint(raw)
            raise InputDataError(f"{origin}: column '{column}' ({role}) is missing; the file has: {found}{hint}")


def _example_at(runner: SqlRunner, relation: str, expression: str, row: int) -> str:
    value = runner.rows(f"SELECT {expression} FROM {relation} WHERE {ROW} = {row}")[0][0]
    return str(value)


def _stage(
    runner: SqlRunner, table: str, select: dict[str, str], raw: RawTable, checks: Sequence[_RowCheck | _QueryCheck],
    canonical: Sequence[str],
) -> int:
    """Read ``raw`` once into ``<table>_staged``, raise the first failing check's message, name the canonical view.

    Returns the number of rows.
    """
    staged = f"{table}_staged"
    row_checks = [c for c in checks if isinstance(c, _RowCheck)]
    flags = {f"__check_{i}": check.condition for i, check in enumerate(row_checks)}
    runner.create_table(staged, _select({**select, ROW: ROW, **flags}, raw))
    aggregates = ["COUNT(*)"]
    for flag in flags:
        aggregates += [f"SUM(CASE WHEN {flag} THEN 1 ELSE 0 END)", f"MIN(CASE WHEN {flag} THEN {ROW} END)"]
    found = runner.rows(f"SELECT {', '.join(aggregates)} FROM {staged}")[0]
    results = {id(check): (found[1 + 2 * i], found[2 + 2 * i]) for i, check in enumerate(row_checks)}
    for check in checks:
        if isinstance(check, _QueryCheck):
            count, first_row = runner.rows(check.sql.format(staged=staged))[0]
            relation = staged
        else:
            count, first_row = results[id(check)]
            relation = raw.name
        if count:
            example = "" if check.example is None else _example_at(runner, relation, check.example, int(first_row))
            raise InputDataError(check.message(int(count), int(first_row), example))
    runner.create_view(table, f"SELECT {', '.join(canonical)} FROM {staged}")
    return int(found[0])


def _timestamp_literal(value: pd.Timestamp) -> str:
    return f"CAST('{value.isoformat(sep=' ')}' AS TIMESTAMP)"


def _latest_date(max_timestamp: dt.date | None) -> tuple[dt.date, str]:
    """The last date a record may carry, and how a message names it."""
    if max_timestamp is not None:
        return max_timestamp, f"{max_timestamp} (data.max_timestamp)"
    # Timestamps without a zone are usually local time: a record just after midnight east
    # of UTC is dated a day ahead of UTC, so today is taken where the date changes first.
    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date()
    return today, f"{today} (today, in the time zone furthest ahead; data.max_timestamp sets another limit)"


@dataclass(frozen=True)
class _TimestampColumn:
    """The canonical ``ts`` of ``table`` and where to find its raw text for examples."""

    table: str
    row: str
    raw: RawTable
    raw_text: str
    name: str
    origin: str

    def count_and_first(self, runner: SqlRunner, condition: str) -> tuple[int, int]:
        count, first = runner.rows(
            f"SELECT SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), MIN(CASE WHEN {condition} THEN {self.row} END) "
            f"FROM {self.table}"
        )[0]
        return int(count or 0), (-1 if first is None else int(first))

    def example_row(self, runner: SqlRunner, row: int) -> str:
        """The flagged value as the source wrote it, and its 1-based data row."""
        return f"{_example_at(runner, self.raw.name, self.raw_text, row)!r} (data row {row + 1})"


def _refuse_future(runner: SqlRunner, ts: _TimestampColumn, max_timestamp: dt.date | None) -> None:
    latest, named = _latest_date(max_timestamp)
    limit = pd.Timestamp(latest) + pd.Timedelta(days=1)
    count, first = ts.count_and_first(runner, f"ts >= {_timestamp_literal(limit)}")
    if count:
        raise InputDataError(
            f"{ts.origin}: column '{ts.name}': {count} rows are dated after {named}, e.g. {ts.example_row(runner, first)}"
        )


@dataclass(frozen=True)
class _Bounds:
    low: pd.Timestamp
    high: pd.Timestamp
    last_of_the_rest: pd.Timestamp | None


def _bounds(runner: SqlRunner, ts: _TimestampColumn, count: int, *, with_tail: bool) -> _Bounds:
    """Timestamps before ``low`` or after ``high`` lie far from the bulk of the data.

    The quartiles are taken from data rows, rounding inwards, so that in a file of
    three rows or more one extreme row cannot move them; two rows have no bulk.
    ``last_of_the_rest`` is the newest timestamp outside the newest 0.1% of a log of
    1,000 rows or more (when ``with_tail``).
    """
    dialect = runner.dialect
    aggregates = ["MIN(ts)", "MAX(ts)"]
    if count >= 3:
        aggregates += [
            dialect.nth_smallest("ts", math.ceil(0.25 * (count - 1)), count),
            dialect.nth_smallest("ts", math.floor(0.75 * (count - 1)), count),
        ]
    tail = with_tail and count >= _TAIL_MIN_ROWS
    if tail:
        tail_rows = max(1, int(count * _TAIL_SHARE))
        aggregates.append(dialect.nth_smallest("ts", count - tail_rows - 1, count))
    found = [pd.Timestamp(v) for v in runner.rows(f"SELECT {', '.join(aggregates)} FROM {ts.table}")[0]]
    if count < 3:
        return _Bounds(found[0], found[1], None)
    first_quartile, third_quartile = found[2], found[3]
    margin = max(_FAR_WIDTHS * (third_quartile - first_quartile), pd.Timedelta(days=_FAR_MIN_DAYS))
    return _Bounds(first_quartile - margin, third_quartile + margin, found[4] if tail else None)


def _refuse_far_after(runner: SqlRunner, ts: _TimestampColumn, bounds: _Bounds) -> None:
    fix = ("they would set the data end, the default as_of and every training window: "
           "fix them, or set data.max_timestamp to keep rows up to that date")
    count, first = ts.count_and_first(runner, f"ts > {_timestamp_literal(bounds.high)}")
    if count:
        raise InputDataError(
            f"{ts.origin}: column '{ts.name}': {count} rows lie far after the rest of the data "
            f"(past {bounds.high.date()}), e.g. {ts.example_row(runner, first)}; {fix}"
        )
    if bounds.last_of_the_rest is None:
        return
    isolated = f"ts > {_timestamp_literal(bounds.last_of_the_rest + pd.Timedelta(days=_TAIL_GAP_DAYS))}"
    count, first = ts.count_and_first(runner, isolated)
    if count:
        rest_ends = pd.Timestamp(runner.rows(f"SELECT MAX(ts) FROM {ts.table} WHERE NOT ({isolated})")[0][0]).date()
        raise InputDataError(
            f"{ts.origin}: column '{ts.name}': {count} rows lie more than {_TAIL_GAP_DAYS} days after every "
            f"other row (which end {rest_ends}), e.g. {ts.example_row(runner, first)}; {fix}"
        )


def _far_warnings(runner: SqlRunner, ts: _TimestampColumn, bounds: _Bounds, *, after: bool) -> list[str]:
    """Warn about timestamps far before the bulk, and also far after it when ``after``."""
    warnings = []
    directions = [("before", f"ts < {_timestamp_literal(bounds.low)}")]
    if after:
        directions.append(("after", f"ts > {_timestamp_literal(bounds.high)}"))
    for direction, condition in directions:
        count, first = ts.count_and_first(runner, condition)
        if count:
            warnings.append(
                f"{ts.origin}: column '{ts.name}': {count} timestamps lie far {direction} the rest of the data, "
                f"e.g. {ts.example_row(runner, first)} (kept)"
            )
    return warnings


def _select(columns: dict[str, str], raw: RawTable) -> str:
    return "SELECT " + ", ".join(f"{sql} AS {name}" for name, sql in columns.items()) + f" FROM {raw.name}"


def transactions_sql(raw: RawTable, source: TransactionsSource, *, origin: str, dialect: Dialect) -> str:
    """The canonical SELECT of a raw transaction relation (see :func:`standardize_transactions`).

    Parameters
    ----------
    raw : RawTable
        The raw relation, with ``__row``.
    source : TransactionsSource
        The config's column names and timestamp format.
    origin : str
        How messages name the source.
    dialect : Dialect
        The engine's SQL.

    Returns
    -------
    str
        ``SELECT customer_id, ts, amount, line_no[, order_id, quantity, category, channel] FROM <raw>``;
        only meaningful on a relation that passed the checks.
    """
    return _select(_transactions_plan(raw, source, origin, dialect)[0], raw)


def _transactions_plan(
    raw: RawTable, source: TransactionsSource, origin: str, dialect: Dialect
) -> tuple[dict[str, str], list[_RowCheck | _QueryCheck]]:
    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    checks: list[_RowCheck | _QueryCheck] = []

    def column(name: str) -> _Column:
        return _Column(raw, name, dialect, origin)

    customer = column(cols.customer_id)
    timestamp = column(cols.timestamp)
    select = {
        "customer_id": customer.as_id(),
        "ts": timestamp.as_timestamp(source.timestamp_format, required=True),
        # Without an amount column each line counts one purchase: value is then counted in purchases.
        "amount": "CAST(1 AS DOUBLE)",
        "line_no": f"CAST({ROW} AS BIGINT)",
    }
    checks += customer.checks + timestamp.checks
    if cols.amount is not None:
        amount = column(cols.amount)
        select["amount"] = amount.as_number(required=True)
        checks += amount.checks
        checks.append(
            _RowCheck(
                f"ABS({select['amount']}) >= {MAX_AMOUNT!r}",
                lambda n, _, example: f"{origin}: column '{cols.amount}': {n} amounts are too large to be money "
                f"(at least {MAX_AMOUNT:.0e}), e.g. {example!r}",
                amount.text,
            )
        )
    if cols.order_id is not None:
        order = column(cols.order_id)
        select["order_id"] = order.as_id()
        checks += order.checks
    if cols.quantity is not None:
        quantity = column(cols.quantity)
        select["quantity"] = quantity.as_number(required=False)
        checks += quantity.checks
    for role in ("category", "channel"):
        name = getattr(cols, role)
        if name is not None:
            select[role] = column(name).text
    return select, checks


def standardize_transactions(
    runner: SqlRunner, raw: RawTable, source: TransactionsSource, *, origin: str, max_timestamp: dt.date | None = None
) -> list[str]:
    """Validate a raw transaction relation and create the canonical table ``transactions``; return the warnings.

    Refuses rows dated after ``max_timestamp`` (default: today) and, unless
    ``max_timestamp`` is given, rows far after the rest of the data: either
    would set the data end, the default ``as_of`` and the training windows.

    Parameters
    ----------
    runner : SqlRunner
        The engine.
    raw : RawTable
        The raw relation, with ``__row``.
    source : TransactionsSource
        The config's column names and timestamp format.
    origin : str
        How messages name the source (a path, "transactions DataFrame").
    max_timestamp : date, optional
        The last date a row may carry.

    Returns
    -------
    list of str
        Warnings about suspicious rows, which are kept.

    Raises
    ------
    InputDataError
        One line naming the source, the column, the number of rows and an example.
    """
    select, checks = _transactions_plan(raw, source, origin, runner.dialect)
    count = _stage(runner, "transactions", select, raw, checks, list(select))  # on no rows no check fails
    if not count:
        raise InputDataError(f"{origin}: no data rows (the file is empty or has only a header)")
    ts = _TimestampColumn("transactions", "line_no", raw, _Column(raw, source.columns.timestamp, runner.dialect, origin).text,
                          source.columns.timestamp, origin)
    _refuse_future(runner, ts, max_timestamp)
    bounds = _bounds(runner, ts, count, with_tail=max_timestamp is None)
    if max_timestamp is None:
        _refuse_far_after(runner, ts, bounds)

    warnings: list[str] = []
    orphans = runner.rows(
        "SELECT COUNT(*) FROM transactions t LEFT JOIN (SELECT customer_id, MIN(ts) AS first_ts FROM transactions "
        "WHERE amount >= 0 GROUP BY customer_id) f ON f.customer_id = t.customer_id "
        "WHERE t.amount < 0 AND (f.first_ts IS NULL OR t.ts < f.first_ts)"
    )[0][0]
    if orphans:
        warnings.append(f"{origin}: {int(orphans)} refund rows come before any purchase of their customer (kept)")
    compared = [name for name in select if name != "line_no"]
    # Equal rows hash equally, so no repeated hash means no repeated row; only then is the exact count needed.
    repeats = runner.rows(f"SELECT COUNT(*) - COUNT(DISTINCT {runner.dialect.row_hash(compared)}) FROM transactions")[0][0]
    if repeats:
        repeats = runner.rows(
            f"SELECT SUM(n - 1) FROM (SELECT COUNT(*) AS n FROM transactions GROUP BY {', '.join(compared)}) g"
        )[0][0]
    if repeats:
        warnings.append(f"{origin}: {int(repeats)} rows repeat an earlier row exactly (kept as separate lines)")
    warnings += _far_warnings(runner, ts, bounds, after=max_timestamp is not None)
    return warnings


def events_sql(raw: RawTable, source: EventsSource, *, origin: str, dialect: Dialect) -> str:
    """The canonical SELECT of a raw event relation: ``customer_id, ts, event_type[, value]``.

    Parameters
    ----------
    raw : RawTable
        The raw relation, with ``__row``.
    source : EventsSource
        The config's column names and timestamp format.
    origin : str
        How messages name the source.
    dialect : Dialect
        The engine's SQL.

    Returns
    -------
    str
        ``SELECT customer_id, ts, event_type[, value] FROM <raw>``; only meaningful on a relation that passed the
        checks.
    """
    return _select(_events_plan(raw, source, origin, dialect)[0], raw)


def _events_plan(
    raw: RawTable, source: EventsSource, origin: str, dialect: Dialect
) -> tuple[dict[str, str], list[_RowCheck | _QueryCheck]]:
    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    event_type = _Column(raw, cols.event_type, dialect, origin)
    event_type.refuse_missing("event type")
    customer = _Column(raw, cols.customer_id, dialect, origin)
    timestamp = _Column(raw, cols.timestamp, dialect, origin)
    select = {
        "customer_id": customer.as_id(),
        "ts": timestamp.as_timestamp(source.timestamp_format, required=True),
        "event_type": event_type.text,
    }
    checks: list[_RowCheck | _QueryCheck] = [*event_type.checks, *customer.checks, *timestamp.checks]
    if cols.value is not None:
        value = _Column(raw, cols.value, dialect, origin)
        select["value"] = value.as_number(required=False)
        checks += value.checks
    return select, checks


def standardize_events(
    runner: SqlRunner, raw: RawTable, source: EventsSource, *, origin: str, features: FeatureConfig,
    max_timestamp: dt.date | None = None,
) -> list[str]:
    """Validate a raw event relation and create the canonical table ``events``; return the warnings.

    Refuses events dated after ``max_timestamp`` (default: today); warns about
    event types that feed no feature and timestamps far from the rest.

    Parameters
    ----------
    runner : SqlRunner
        The engine.
    raw : RawTable
        The raw relation, with ``__row``.
    source : EventsSource
        The config's column names and timestamp format.
    origin : str
        How messages name the source (a path, "events DataFrame").
    features : FeatureConfig
        Names the event types that become features.
    max_timestamp : date, optional
        The last date a row may carry.

    Returns
    -------
    list of str
        Warnings about suspicious rows, which are kept.

    Raises
    ------
    InputDataError
        One line naming the source, the column, the number of rows and an example.
    """
    select, checks = _events_plan(raw, source, origin, runner.dialect)
    count = _stage(runner, "events", select, raw, checks, [*select, ROW])
    cols = source.columns
    ts = _TimestampColumn("events", ROW, raw, _Column(raw, cols.timestamp, runner.dialect, origin).text,
                          cols.timestamp, origin)
    _refuse_future(runner, ts, max_timestamp)

    warnings: list[str] = []
    known = ", ".join(quote_literal(t) for t in features.event_types)
    unknown = f"event_type NOT IN ({known})" if known else "1 = 1"
    counts = runner.rows(
        f"SELECT event_type, COUNT(*) AS n, MIN({ROW}) AS first_row FROM events WHERE {unknown} "
        "GROUP BY event_type ORDER BY n DESC, first_row"
    )
    if counts:
        listed = ", ".join(f"{name!r} ({n})" for name, n, _ in counts[:3])
        warnings.append(
            f"{origin}: {sum(n for _, n, _ in counts)} events have types not in features.event_types "
            f"and feed no feature: {listed}"
        )
    if count:
        warnings += _far_warnings(runner, ts, _bounds(runner, ts, count, with_tail=False), after=True)
    return warnings


def customers_sql(raw: RawTable, source: CustomersSource, *, origin: str, dialect: Dialect) -> str:
    """The canonical SELECT of a raw customer relation: ``customer_id, signup_ts, attr_<name>...``.

    Parameters
    ----------
    raw : RawTable
        The raw relation, with ``__row``.
    source : CustomersSource
        The config's column names and timestamp format.
    origin : str
        How messages name the source.
    dialect : Dialect
        The engine's SQL.

    Returns
    -------
    str
        ``SELECT customer_id, signup_ts, attr_<name>... FROM <raw>``; only meaningful on a relation that passed the
        checks.
    """
    return _select(_customers_plan(raw, source, origin, dialect)[0], raw)


def _customers_plan(
    raw: RawTable, source: CustomersSource, origin: str, dialect: Dialect
) -> tuple[dict[str, str], list[_RowCheck | _QueryCheck]]:
    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    _require_columns(raw, {f"attribute {a}": a for a in source.attributes}, origin)
    customer = _Column(raw, cols.customer_id, dialect, origin)
    select = {"customer_id": customer.as_id()}
    checks: list[_RowCheck | _QueryCheck] = list(customer.checks)
    checks.append(
        _QueryCheck(
            f"SELECT COUNT(*), MIN({ROW}) FROM (SELECT {ROW}, ROW_NUMBER() OVER "
            f"(PARTITION BY customer_id ORDER BY {ROW}) AS k FROM {{staged}}) r WHERE k > 1",
            lambda n, _, example: f"{origin}: column '{cols.customer_id}': {n} customer ids appear more than once, "
            f"e.g. {example!r}",
            "customer_id",
        )
    )
    if cols.signup_date is not None:
        signup = _Column(raw, cols.signup_date, dialect, origin)
        select["signup_ts"] = signup.as_timestamp(source.timestamp_format, required=False)
        checks += signup.checks
    else:
        select["signup_ts"] = "CAST(NULL AS TIMESTAMP)"
    seen: dict[str, str] = {}
    for attribute in source.attributes:
        slug = feature_slug(str(attribute))
        if not slug or slug in seen:
            clash = f"collides with '{seen[slug]}'" if slug in seen else "has no letter or digit"
            message = f"{origin}: column '{attribute}': attribute name {clash} once made a feature name"
            checks.append(_QueryCheck("SELECT 1, 0", lambda *_, text=message: text))
            break
        seen[slug] = str(attribute)
        select[quote_identifier(f"attr_{slug}")] = _Column(raw, attribute, dialect, origin).text
    return select, checks


def standardize_customers(runner: SqlRunner, raw: RawTable, source: CustomersSource, *, origin: str) -> None:
    """Validate a raw customer relation and create the canonical table ``customers``.

    Refuses missing or repeated customer ids, unparsable signup dates and
    attribute names that collide once made feature names.

    Parameters
    ----------
    runner : SqlRunner
        The engine.
    raw : RawTable
        The raw relation, with ``__row``.
    source : CustomersSource
        The config's column names and timestamp format.
    origin : str
        How messages name the source (a path, "customers DataFrame").

    Raises
    ------
    InputDataError
        One line naming the source, the column, the number of rows and an example.
    """
    select, checks = _customers_plan(raw, source, origin, runner.dialect)
    _stage(runner, "customers", select, raw, checks, list(select))
