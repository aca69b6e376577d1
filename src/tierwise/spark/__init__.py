"""The Spark engine: the same inputs, checks, features and scores as the DuckDB engine, on a Spark session.

pyspark is imported only when a function here runs, so tierwise works
without it; install it with ``pip install 'tierwise[spark]'``.
"""

from tierwise.spark._features import build_spark_features, collect_features, spark_feature_sql
from tierwise.spark._inputs import (
    SparkInputs,
    read_spark_inputs,
    standardize_spark_customers,
    standardize_spark_events,
    standardize_spark_transactions,
)
from tierwise.spark._run import default_spark_as_of, last_transaction, spark_features, spark_scores
from tierwise.spark._session import check_spark_installed, spark_session, utc_session

__all__ = [
    "SparkInputs",
    "build_spark_features",
    "check_spark_installed",
    "collect_features",
    "default_spark_as_of",
    "last_transaction",
    "read_spark_inputs",
    "spark_feature_sql",
    "spark_features",
    "spark_scores",
    "spark_session",
    "standardize_spark_customers",
    "standardize_spark_events",
    "standardize_spark_transactions",
    "utc_session",
]
