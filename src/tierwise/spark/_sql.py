"""DuckDB SQL run on Spark: tierwise's queries are written once, for DuckDB, and transpiled with sqlglot."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@cache
def _spark_dialect() -> Any:
    """Sqlglot's Spark dialect, writing DuckDB's exact QUANTILE_DISC as Spark's exact PERCENTILE_DISC.

    sqlglot would write it as PERCENTILE_APPROX, an approximation: the input
    checks' quartiles would then differ between the engines.
    """
    from sqlglot import exp
    from sqlglot.dialects.spark import Spark

    class ExactSpark(Spark):
        class Generator(Spark.Generator):
            TRANSFORMS = {
                **Spark.Generator.TRANSFORMS,
                exp.PercentileDisc: lambda self, e: (
                    f"PERCENTILE_DISC({self.sql(e, 'expression')}) WITHIN GROUP (ORDER BY {self.sql(e, 'this')})"
                ),
            }

    return ExactSpark


def to_spark_sql(duckdb_sql: str) -> str:
    """A DuckDB query in Spark SQL (identifiers in backticks, ``TIMESTAMP`` as ``TIMESTAMP_NTZ``, ...).

    Parameters
    ----------
    duckdb_sql : str
        A query in DuckDB's SQL.

    Returns
    -------
    str
        The query in Spark SQL.

    Examples
    --------
    >>> to_spark_sql('SELECT CAST("ts" AS TIMESTAMP) AS ts FROM t')
    'SELECT CAST(`ts` AS TIMESTAMP_NTZ) AS ts FROM t'
    """
    import sqlglot

    return sqlglot.parse_one(duckdb_sql, read="duckdb").sql(dialect=_spark_dialect())


def run_duckdb_sql(spark: SparkSession, duckdb_sql: str) -> DataFrame:
    """Run a DuckDB query on Spark, transpiled by :func:`to_spark_sql`.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session.
    duckdb_sql : str
        A query in DuckDB's SQL.

    Returns
    -------
    pyspark.sql.DataFrame
        The lazy result.
    """
    return spark.sql(to_spark_sql(duckdb_sql))
