"""The Spark engine: the same inputs, checks, features and scores as the DuckDB engine, on a Spark session.

pyspark is imported only when a function here runs, so tierwise works
without it; install it with ``pip install 'tierwise[spark]'``.
"""

from tierwise.spark._features import build_spark_features, collect_features, spark_feature_sql
from tierwise.spark._inputs import SparkDialect, SparkInputs, SparkTables, read_spark_inputs, spark_datetime_pattern
from tierwise.spark._run import default_spark_as_of, last_transaction, spark_features, spark_scores
from tierwise.spark._session import check_spark_installed, spark_session, utc_session
from tierwise.spark._sql import run_duckdb_sql, to_spark_sql

__all__ = [
    "SparkDialect",
    "SparkInputs",
    "SparkTables",
    "build_spark_features",
    "check_spark_installed",
    "collect_features",
    "default_spark_as_of",
    "last_transaction",
    "read_spark_inputs",
    "run_duckdb_sql",
    "spark_feature_sql",
    "spark_features",
    "spark_scores",
    "spark_datetime_pattern",
    "spark_session",
    "to_spark_sql",
    "utc_session",
]
