"""The inputs as Spark tables, standardised and validated by the SQL of :mod:`tierwise.input_sql`.

The checks, messages and canonical columns are the DuckDB engine's: the
same queries run here, transpiled to Spark SQL, so bad input gives the same
one-line errors and warnings on both engines. Spark's part is small: the
raw relations (files or catalog tables, with ``__row`` numbering the data
rows), the Spark spellings of a few functions (:class:`SparkDialect`) and a
runner that executes the queries (:class:`SparkTables`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tierwise.config import CustomersSource, DataConfig, EventsSource, FeatureConfig, TransactionsSource
from tierwise.errors import InputDataError
from tierwise.input_sql import (
    ROW,
    ColumnKind,
    Dialect,
    RawTable,
    quote_literal,
    standardize_customers,
    standardize_events,
    standardize_transactions,
)
from tierwise.io import infer_format, positional_names, resolve_path
from tierwise.spark._sql import run_duckdb_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType

_STRFTIME_TO_SPARK = {
    "Y": "yyyy", "y": "yy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "f": "SSSSSS", "b": "MMM",
    "B": "MMMM", "z": "Z", "%": "%",
}


def spark_datetime_pattern(strftime: str) -> str:
    """A strftime format as a Spark datetime pattern; letters outside directives are quoted.

    Parameters
    ----------
    strftime : str
        The config's ``timestamp_format``.

    Returns
    -------
    str
        The Spark pattern.

    Raises
    ------
    InputDataError
        For a directive Spark cannot parse.

    Examples
    --------
    >>> spark_datetime_pattern("%Y%m%d")
    'yyyyMMdd'
    >>> spark_datetime_pattern("%d/%m/%Y at %H:%M")
    "dd/MM/yyyy 'at' HH:mm"
    """
    pattern = []
    for directive, letters, other in re.findall(r"%(.)|([A-Za-z]+)|([^%A-Za-z]+)", strftime):
        if directive:
            if directive not in _STRFTIME_TO_SPARK:
                raise InputDataError(f"timestamp_format {strftime!r}: %{directive} is not supported on Spark")
            pattern.append(_STRFTIME_TO_SPARK[directive])
        elif letters:
            pattern.append(f"'{letters}'")
        else:
            pattern.append(other.replace("'", "''"))
    return "".join(pattern)


class SparkDialect(Dialect):
    """Spark's spelling of the functions that differ from DuckDB's (written in DuckDB syntax, then transpiled)."""

    def try_strptime(self, text: str, strftime: str) -> str:
        """Parse as :meth:`Dialect.try_strptime` does, with Spark's ``try_to_timestamp`` and its Java pattern.

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

        Raises
        ------
        InputDataError
            For a directive Spark cannot parse.
        """
        return f"try_to_timestamp({text}, {quote_literal(spark_datetime_pattern(strftime))})"

    def row_hash(self, columns: Sequence[str]) -> str:
        """Hash a row as :meth:`Dialect.row_hash` does: Spark's ``hash`` has 32 bits, too few to count distinct rows in millions.

        Parameters
        ----------
        columns : sequence of str
            SQL expressions, hashed together.

        Returns
        -------
        str
            The SQL expression, a 64-bit integer.
        """
        return f"XXHASH64({', '.join(columns)})"

    def nth_smallest(self, expression: str, index: int, count: int) -> str:
        """Aggregate as :meth:`Dialect.nth_smallest` does; Spark's PERCENTILE_DISC takes numbers, so timestamps go as microseconds.

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
        quantile = super().nth_smallest(f"unix_micros(CAST({expression} AS TIMESTAMPTZ))", index, count)
        return f"CAST(timestamp_micros(CAST({quantile} AS BIGINT)) AS TIMESTAMP)"


class SparkTables:
    """A :class:`tierwise.input_sql.SqlRunner` on a Spark session: DuckDB SQL transpiled and run by Spark.

    ``create_table`` keeps each result as a cached temporary view, so the
    canonical tables are parsed once and read by the checks and the features.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    """

    dialect: Dialect = SparkDialect()

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def rows(self, sql: str) -> list[tuple]:
        """Run a query and return all its rows.

        Parameters
        ----------
        sql : str
            A DuckDB query.

        Returns
        -------
        list of tuple
            Every row of the result.
        """
        return [tuple(row) for row in run_duckdb_sql(self.spark, sql).collect()]

    def create_table(self, name: str, sql: str) -> None:
        """Store the result of ``sql`` as temporary view ``name``, cached (memory, then disk).

        Parameters
        ----------
        name : str
            The view's name.
        sql : str
            A DuckDB query.
        """
        from pyspark import StorageLevel

        run_duckdb_sql(self.spark, sql).persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(name)

    def create_view(self, name: str, sql: str) -> None:
        """Name the query ``sql`` as temporary view ``name``.

        Parameters
        ----------
        name : str
            The view's name.
        sql : str
            A DuckDB query.
        """
        run_duckdb_sql(self.spark, sql).createOrReplaceTempView(name)


def _column_kind(data_type: DataType) -> ColumnKind:
    from pyspark.sql import types

    if isinstance(data_type, types.BooleanType):
        return "boolean"
    if isinstance(data_type, types.ByteType | types.ShortType | types.IntegerType | types.LongType):
        return "integer"
    if isinstance(data_type, types.FloatType | types.DoubleType | types.DecimalType):
        return "float"
    if isinstance(data_type, types.TimestampNTZType | types.DateType):
        return "timestamp"
    if isinstance(data_type, types.TimestampType):
        return "timestamptz"
    return "text"


def _numbered(frame: DataFrame) -> DataFrame:
    """``frame`` with ``__row``, 0-based positions in read order: partitions in order, rows in order inside each.

    For one file that is the file's order; a folder of files or a catalog table
    has no single order, and "data row N" in messages counts in Spark's.
    """
    from pyspark.sql import functions as F

    with_id = frame.withColumn("__partition", F.spark_partition_id()).withColumn(
        "__id", F.monotonically_increasing_id())
    counts = sorted(tuple(row) for row in with_id.groupBy("__partition").count().collect())
    offsets, start = [], 0
    for partition, count in counts:
        offsets.append((partition, start))
        start += count
    offset_table = frame.sparkSession.createDataFrame(offsets or [(0, 0)], "__partition int, __offset bigint")
    # monotonically_increasing_id puts the partition in the upper 31 bits and the row's position in the lower 33
    position = F.col("__id") - F.shiftleft(F.col("__partition").cast("bigint"), 33) + F.col("__offset")
    return with_id.join(F.broadcast(offset_table), "__partition").select(
        *(F.col(f"`{c}`") for c in frame.columns), position.alias(ROW))


def _read_source(spark: SparkSession, source: TransactionsSource | EventsSource | CustomersSource,
                 origin: str) -> DataFrame:
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    if source.table is not None:
        try:
            return spark.table(source.table)
        except AnalysisException:
            raise InputDataError(f"{origin}: no Spark table of that name in the session's catalog") from None
    path = resolve_path(str(source.path))
    if not path.is_file():
        raise InputDataError(f"{source.path}: file not found")
    file_format = infer_format(path, source.format)
    try:
        if file_format == "parquet":
            return spark.read.parquet(str(path))
        if file_format == "csv":
            frame = spark.read.csv(str(path), header=source.header, inferSchema=False, encoding="UTF-8")
            return frame if source.header else frame.toDF(*positional_names(len(frame.columns)))
    except AnalysisException as exc:
        raise InputDataError(f"{source.path}: unreadable {file_format}: {str(exc).splitlines()[0]}") from None
    # whitespace-separated: split each non-blank line on runs of blanks; the first line names the columns, or
    # without a header the columns are column_1, column_2, ...
    lines = spark.read.text(str(path)).select(F.trim(F.regexp_replace("value", r"\s+", " ")).alias("line"))
    lines = lines.where(F.col("line") != "")
    first = lines.first()
    if first is None:
        raise InputDataError(f"{source.path}: the file is empty")
    fields = F.split("line", " ")
    if not source.header:
        return lines.select(*(fields.getItem(i).alias(name)
                              for i, name in enumerate(positional_names(len(first["line"].split(" "))))))
    return lines.where(F.col("line") != first["line"]).select(
        *(fields.getItem(i).alias(name) for i, name in enumerate(first["line"].split(" "))))


def _raw_table(spark: SparkSession, name: str, source: TransactionsSource | EventsSource | CustomersSource,
               origin: str) -> RawTable:
    frame = _numbered(_read_source(spark, source, origin))
    frame.createOrReplaceTempView(name)
    return RawTable(name, {field.name: _column_kind(field.dataType) for field in frame.schema.fields
                           if field.name != ROW})


@dataclass(frozen=True)
class SparkInputs:
    """The canonical input tables as Spark DataFrames (cached temporary views), plus the warnings.

    Attributes
    ----------
    transactions, events : pyspark.sql.DataFrame
        The canonical transactions and events.
    customers : pyspark.sql.DataFrame or None
        The canonical customers; None without a customer table.
    warnings : tuple of str
        Suspicious but usable data that was kept.
    """

    transactions: DataFrame
    events: DataFrame
    customers: DataFrame | None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def attribute_columns(self) -> list[str]:
        """The ``attr_*`` columns of the customer table, in order.

        Returns
        -------
        list of str
            Empty without a customer table.
        """
        return [] if self.customers is None else [c for c in self.customers.columns if c.startswith("attr_")]


def read_spark_inputs(spark: SparkSession, data: DataConfig, features: FeatureConfig) -> SparkInputs:
    """Read and validate every input of the data config on Spark (inside :func:`utc_session`).

    The standardization and checks are :mod:`tierwise.input_sql`'s, so the
    canonical tables, errors and warnings are the DuckDB engine's.

    Parameters
    ----------
    spark : SparkSession
        The session to read with, its time zone UTC while the tables are read and used.
    data : DataConfig
        The sources: files (``path``) or Spark tables (``table``).
    features : FeatureConfig
        The event types that become features (others are warned about).

    Returns
    -------
    SparkInputs
        The canonical tables ``transactions``, ``events`` and ``customers``
        (also temporary views of those names) and the warnings.

    Raises
    ------
    InputDataError
        One line naming the source, the column, how many rows and an example.
    """
    runner = SparkTables(spark)

    def origin(source: TransactionsSource | EventsSource | CustomersSource) -> str:
        return f"table {source.table}" if source.table is not None else str(source.path)

    raw = _raw_table(spark, "raw_transactions", data.transactions, origin(data.transactions))
    warnings = standardize_transactions(runner, raw, data.transactions, origin=origin(data.transactions),
                                        max_timestamp=data.max_timestamp)
    if data.events is not None:
        raw = _raw_table(spark, "raw_events", data.events, origin(data.events))
        warnings += standardize_events(runner, raw, data.events, origin=origin(data.events), features=features,
                                       max_timestamp=data.max_timestamp)
        events = spark.table("events")
    else:
        events = spark.createDataFrame([], "customer_id string, ts timestamp_ntz, event_type string")
    customers = None
    if data.customers is not None:
        raw = _raw_table(spark, "raw_customers", data.customers, origin(data.customers))
        standardize_customers(runner, raw, data.customers, origin=origin(data.customers))
        customers = spark.table("customers")
    return SparkInputs(transactions=spark.table("transactions"), events=events, customers=customers,
                       warnings=tuple(warnings))
