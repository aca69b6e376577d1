"""The inputs as Spark tables: read from files or the catalog, standardised to the canonical columns.

The canonical columns are those of :mod:`tierwise.inputs` (``customer_id``
text, ``ts`` as ``TIMESTAMP_NTZ`` in UTC, ``amount`` DOUBLE, ``line_no``
BIGINT, ...), so the feature query runs on them unchanged. The checks here
refuse what would make features wrong (missing columns, ids, timestamps or
amounts, text that is not a date or a number, records dated after
``data.max_timestamp`` or today) with the one-line messages of the DuckDB
engine; the plausibility checks of :mod:`tierwise.inputs` (timestamps far
from the rest of the data, refunds before purchases, repeated rows) run on
the DuckDB engine only.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tierwise.config import CustomersSource, DataConfig, EventsSource, FeatureConfig, TransactionsSource, feature_slug
from tierwise.errors import InputDataError
from tierwise.features import quote_literal
from tierwise.io import infer_format, resolve_path
from tierwise.inputs import _latest_date

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# Features sum amounts as DECIMAL(18, 4), as on DuckDB (see tierwise.inputs).
_MAX_AMOUNT = 1e13

_STRFTIME_TO_SPARK = {
    "Y": "yyyy", "y": "yy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "f": "SSSSSS", "b": "MMM",
    "B": "MMMM", "z": "Z", "%": "%",
}


@dataclass(frozen=True)
class SparkInputs:
    """The canonical input tables as Spark DataFrames, plus the warnings found on the way."""

    transactions: DataFrame
    events: DataFrame
    customers: DataFrame | None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def attribute_columns(self) -> list[str]:
        """The ``attr_*`` columns of the customer table, in order."""
        return [] if self.customers is None else [c for c in self.customers.columns if c.startswith("attr_")]


def _spark_pattern(strftime: str, origin: str) -> str:
    """A strftime format (``%Y%m%d``) as a Spark datetime pattern (``yyyyMMdd``); literal letters quoted."""
    pattern, position = [], 0
    for match in re.finditer(r"%(.)|([A-Za-z]+)|([^%A-Za-z]+)", strftime):
        directive, letters, other = match.groups()
        if directive is not None:
            if directive not in _STRFTIME_TO_SPARK:
                raise InputDataError(f"{origin}: timestamp_format {strftime!r}: %{directive} is not supported on Spark")
            pattern.append(_STRFTIME_TO_SPARK[directive])
        elif letters is not None:
            pattern.append(f"'{letters}'")
        else:
            pattern.append(other.replace("'", "''"))
        position = match.end()
    if position != len(strftime):
        raise InputDataError(f"{origin}: timestamp_format {strftime!r} ends in a lone %")
    return "".join(pattern)


def _read_source(spark: SparkSession, source: TransactionsSource | EventsSource | CustomersSource,
                 origin: str) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.utils import AnalysisException

    if source.table is not None:
        try:
            return spark.table(source.table)
        except AnalysisException:
            raise InputDataError(f"{origin}: no Spark table of that name in the session's catalog") from None
    path = resolve_path(str(source.path))
    if not path.exists():
        raise InputDataError(f"{source.path}: file not found")
    file_format = infer_format(path, source.format)
    if file_format == "parquet":
        return spark.read.parquet(str(path))
    if file_format == "csv":
        return spark.read.csv(str(path), header=True, inferSchema=False, encoding="UTF-8")
    lines = spark.read.text(str(path)).select(F.trim(F.regexp_replace("value", r"\s+", " ")).alias("line"))
    lines = lines.where(F.col("line") != "")
    header = lines.first()
    if header is None:
        raise InputDataError(f"{source.path}: the file is empty")
    names = header["line"].split(" ")
    fields = F.split("line", " ")
    return lines.where(F.col("line") != header["line"]).select(
        *(fields.getItem(i).alias(name) for i, name in enumerate(names))
    )


def _require_columns(raw: DataFrame, wanted: dict[str, str | None], origin: str) -> None:
    for role, column in wanted.items():
        if column is not None and column not in raw.columns:
            found = ", ".join(raw.columns[:12])
            raise InputDataError(f"{origin}: column '{column}' ({role}) is missing; the file has: {found}")


def _text(column: Column) -> Column:
    from pyspark.sql import functions as F

    text = column.cast("string")
    return F.when(F.trim(text) != "", text)


def _ids(raw: DataFrame, column: str) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType, DoubleType, FloatType

    values = F.col(f"`{column}`")
    if isinstance(raw.schema[column].dataType, DoubleType | FloatType | DecimalType):
        # whole-number ids stored as floats read as the integers they are, as on DuckDB
        return F.when(values == F.floor(values), values.cast("bigint").cast("string"))
    return _text(values)


def _timestamps(raw: DataFrame, column: str, strftime: str | None, origin: str) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, StringType, TimestampNTZType, TimestampType

    values = F.col(f"`{column}`")
    kind = raw.schema[column].dataType
    if isinstance(kind, TimestampNTZType):
        return values
    if isinstance(kind, TimestampType | DateType):
        return values.cast("timestamp_ntz")  # in the UTC session: the instant's UTC wall clock
    if not isinstance(kind, StringType):
        raise InputDataError(f"{origin}: column '{column}': holds {kind.simpleString()} values, not dates")
    if strftime is None:
        parsed = F.expr(f"try_cast(`{column}` AS TIMESTAMP)")
    else:
        parsed = F.expr(f"try_to_timestamp(`{column}`, {quote_literal(_spark_pattern(strftime, origin))})")
    return parsed.cast("timestamp_ntz")


def _numbers(raw: DataFrame, column: str, origin: str) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, NumericType, StringType

    kind = raw.schema[column].dataType
    if isinstance(kind, BooleanType):
        raise InputDataError(f"{origin}: column '{column}': holds true/false values, not numbers")
    if isinstance(kind, NumericType):
        return F.col(f"`{column}`").cast("double")
    if not isinstance(kind, StringType):
        raise InputDataError(f"{origin}: column '{column}': holds {kind.simpleString()} values, not numbers")
    return F.expr(f"try_cast(`{column}` AS DOUBLE)")


@dataclass(frozen=True)
class _Check:
    """Rows that break a rule: ``test`` is true on them; ``message`` takes ``{n}`` and ``{example}``, the value of
    the source column ``shown`` on the first such row."""

    test: Column
    message: str
    shown: str


def _refuse_any(frame: DataFrame, checks: list[_Check], origin: str) -> None:
    """Count every check's rows in one pass; refuse the first check that has any, with its count and an example."""
    from pyspark.sql import functions as F

    if not checks:
        return
    counts = frame.agg(*(F.sum(F.when(check.test, 1).otherwise(0)).alias(f"c{i}") for i, check in enumerate(checks)))
    row = counts.first()
    for index, check in enumerate(checks):
        if row is not None and row[f"c{index}"]:
            first = frame.where(check.test).select(F.col(f"`_raw_{check.shown}`").cast("string")).first()
            example = repr(str(first[0])) if first is not None else "''"
            raise InputDataError(f"{origin}: " + check.message.format(n=row[f"c{index}"], example=example))


def _missing(column: str, canonical: str, what: str) -> _Check:
    from pyspark.sql import functions as F

    return _Check(_text(F.col(f"`_raw_{canonical}`")).isNull(), f"column '{column}': {{n}} rows have no {what}", canonical)


def _unparsed(column: str, canonical: str, what: str) -> _Check:
    from pyspark.sql import functions as F

    test = F.col(canonical).isNull() & _text(F.col(f"`_raw_{canonical}`")).isNotNull()
    return _Check(test, f"column '{column}': {{n}} rows are not {what}, e.g. {{example}}", canonical)


def _late(column: str, max_timestamp: dt.date | None, canonical: str = "ts") -> _Check:
    from pyspark.sql import functions as F

    latest, named = _latest_date(max_timestamp)
    first_refused = dt.datetime.combine(latest + dt.timedelta(days=1), dt.time())
    test = F.col(canonical) >= F.lit(first_refused.isoformat(sep=" ")).cast("timestamp_ntz")
    return _Check(test, f"column '{column}': {{n}} rows are dated after {named}, e.g. {{example}}", canonical)


def _with_raw(raw: DataFrame, columns: dict[str, Column], sources: dict[str, str]) -> DataFrame:
    """The canonical ``columns`` beside each one's source value as text (``_raw_<canonical>``), for messages."""
    from pyspark.sql import functions as F

    return raw.select(*(expression.alias(name) for name, expression in columns.items()),
                      *(F.col(f"`{source}`").cast("string").alias(f"_raw_{name}") for name, source in sources.items()))


def _id_checks(column: str, canonical: str) -> list[_Check]:
    from pyspark.sql import functions as F

    fractional = F.col(canonical).isNull() & _text(F.col(f"`_raw_{canonical}`")).isNotNull()
    return [_missing(column, canonical, "customer id" if canonical == "customer_id" else "order id"),
            _Check(fractional, f"column '{column}': {{n}} ids are fractional numbers, e.g. {{example}}", canonical)]


def standardize_spark_transactions(raw: DataFrame, source: TransactionsSource, *, origin: str,
                                   max_timestamp: dt.date | None = None) -> DataFrame:
    """Validate a raw Spark transaction table into ``customer_id``, ``ts``, ``amount``, ``line_no`` (and
    ``order_id`` when mapped); refuses what :func:`tierwise.inputs.standardize_transactions` refuses first."""
    from pyspark.sql import functions as F

    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    columns = {
        "customer_id": _ids(raw, cols.customer_id),
        "ts": _timestamps(raw, cols.timestamp, source.timestamp_format, origin),
        "amount": _numbers(raw, cols.amount, origin),
        # a line's identity: only its uniqueness matters (order_grouping: line), not the file position
        "line_no": F.monotonically_increasing_id(),
    }
    sources = {"customer_id": cols.customer_id, "ts": cols.timestamp, "amount": cols.amount}
    if cols.order_id is not None:
        columns["order_id"] = _ids(raw, cols.order_id)
        sources["order_id"] = cols.order_id
    frame = _with_raw(raw, columns, sources)
    checks = [*_id_checks(cols.customer_id, "customer_id"),
              _unparsed(cols.timestamp, "ts", "dates"), _missing(cols.timestamp, "ts", "timestamp"),
              _unparsed(cols.amount, "amount", "numbers"), _missing(cols.amount, "amount", "value"),
              _Check(F.abs(F.col("amount")) >= _MAX_AMOUNT, f"column '{cols.amount}': {{n}} amounts are too large to be "
                     f"money (at least {_MAX_AMOUNT:.0e}), e.g. {{example}}", "amount"),
              _late(cols.timestamp, max_timestamp)]
    if cols.order_id is not None:
        checks += _id_checks(cols.order_id, "order_id")
    _refuse_rows(raw, origin)
    _refuse_any(frame, checks, origin)
    return frame.select(*columns)


def standardize_spark_events(raw: DataFrame, source: EventsSource, *, origin: str,
                             max_timestamp: dt.date | None = None) -> DataFrame:
    """Validate a raw Spark event table into ``customer_id``, ``ts``, ``event_type``."""
    from pyspark.sql import functions as F

    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    columns = {"customer_id": _ids(raw, cols.customer_id),
               "ts": _timestamps(raw, cols.timestamp, source.timestamp_format, origin),
               "event_type": F.col(f"`{cols.event_type}`").cast("string")}
    frame = _with_raw(raw, columns, {"customer_id": cols.customer_id, "ts": cols.timestamp,
                                     "event_type": cols.event_type})
    _refuse_any(frame, [_missing(cols.event_type, "event_type", "event type"), *_id_checks(cols.customer_id, "customer_id"),
                        _unparsed(cols.timestamp, "ts", "dates"), _missing(cols.timestamp, "ts", "timestamp"),
                        _late(cols.timestamp, max_timestamp)], origin)
    return frame.select(*columns)


def standardize_spark_customers(raw: DataFrame, source: CustomersSource, *, origin: str) -> DataFrame:
    """Validate a raw Spark customer table into ``customer_id``, ``signup_ts`` and ``attr_*`` text columns."""
    from pyspark.sql import functions as F

    cols = source.columns
    _require_columns(raw, cols.model_dump(), origin)
    _require_columns(raw, {f"attribute {a}": a for a in source.attributes}, origin)
    columns = {"customer_id": _ids(raw, cols.customer_id)}
    sources = {"customer_id": cols.customer_id}
    if cols.signup_date is not None:
        columns["signup_ts"] = _timestamps(raw, cols.signup_date, source.timestamp_format, origin)
        sources["signup_ts"] = cols.signup_date
    else:
        columns["signup_ts"] = F.lit(None).cast("timestamp_ntz")
    seen: dict[str, str] = {}
    for attribute in source.attributes:
        slug = feature_slug(str(attribute))
        if not slug or slug in seen:
            clash = f"collides with '{seen[slug]}'" if slug in seen else "has no letter or digit"
            raise InputDataError(f"{origin}: column '{attribute}': attribute name {clash} once made a feature name")
        seen[slug] = str(attribute)
        columns[f"attr_{slug}"] = F.col(f"`{attribute}`").cast("string")
    frame = _with_raw(raw, columns, sources)
    checks = _id_checks(cols.customer_id, "customer_id")
    if cols.signup_date is not None:
        checks.append(_unparsed(cols.signup_date, "signup_ts", "dates"))
    _refuse_any(frame, checks, origin)
    repeated = frame.groupBy("customer_id").count().where(F.col("count") > 1)
    first = repeated.agg(F.sum(F.col("count") - 1).alias("n"), F.min("customer_id").alias("example")).first()
    if first is not None and first["n"]:
        raise InputDataError(f"{origin}: column '{cols.customer_id}': {first['n']} customer ids appear more than once, "
                             f"e.g. {first['example']!r}")
    return frame.select(*columns)


def _refuse_rows(raw: DataFrame, origin: str) -> None:
    if raw.isEmpty():
        raise InputDataError(f"{origin}: no data rows (the file is empty or has only a header)")


def _event_type_warnings(events: DataFrame, features: FeatureConfig, origin: str) -> list[str]:
    from pyspark.sql import functions as F

    unknown = events.where(~F.col("event_type").isin(list(features.event_types)))
    counts = unknown.groupBy("event_type").count().orderBy(F.desc("count"), "event_type").limit(3).collect()
    if not counts:
        return []
    total = unknown.count()
    listed = ", ".join(f"{row['event_type']!r} ({row['count']})" for row in counts)
    return [f"{origin}: {total} events have types not in features.event_types and feed no feature: {listed}"]


def read_spark_inputs(spark: SparkSession, data: DataConfig, features: FeatureConfig) -> SparkInputs:
    """Read and validate every input of the data config into Spark (call it inside :func:`utc_session`).

    Parameters
    ----------
    spark : SparkSession
        The session to read with; its time zone must be UTC while the tables
        are read and used.
    data : DataConfig
        The sources: files (``path``) or Spark tables (``table``).
    features : FeatureConfig
        For the event types a warning checks.

    Returns
    -------
    SparkInputs
        The canonical tables (lazy Spark DataFrames) and warnings.

    Raises
    ------
    InputDataError
        One line naming the source, the column, how many rows and an example.
    """
    from pyspark.sql.types import StringType, StructField, StructType, TimestampNTZType

    def origin(source: TransactionsSource | EventsSource | CustomersSource) -> str:
        return f"table {source.table}" if source.table is not None else str(source.path)

    transactions = standardize_spark_transactions(
        _read_source(spark, data.transactions, origin(data.transactions)), data.transactions,
        origin=origin(data.transactions), max_timestamp=data.max_timestamp)
    warnings: list[str] = []
    if data.events is not None:
        events = standardize_spark_events(_read_source(spark, data.events, origin(data.events)), data.events,
                                          origin=origin(data.events), max_timestamp=data.max_timestamp)
        warnings += _event_type_warnings(events, features, origin(data.events))
    else:
        events = spark.createDataFrame([], StructType([
            StructField("customer_id", StringType()), StructField("ts", TimestampNTZType()),
            StructField("event_type", StringType())]))
    customers = None
    if data.customers is not None:
        customers = standardize_spark_customers(_read_source(spark, data.customers, origin(data.customers)),
                                                data.customers, origin=origin(data.customers))
    return SparkInputs(transactions=transactions, events=events, customers=customers, warnings=tuple(warnings))
