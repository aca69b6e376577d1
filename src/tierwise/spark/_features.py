"""The feature query on Spark: the DuckDB query of :func:`tierwise.features.feature_sql`, transpiled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import pandas as pd

from tierwise.config import FeatureConfig
from tierwise.errors import InputDataError
from tierwise.features import describe_features, feature_sql, no_customer_before, normalize_as_of
from tierwise.features._build import AsOf
from tierwise.spark._inputs import SparkInputs
from tierwise.spark._sql import to_spark_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def spark_feature_sql(config: FeatureConfig, as_of: AsOf, attribute_columns: Sequence[str] = ()) -> str:
    """The feature query of :func:`tierwise.features.feature_sql` in Spark SQL.

    The query is written once, for DuckDB, and transpiled with sqlglot: its
    divisions are in DOUBLE and its sums exact, so both engines give the same
    values, and its ``TIMESTAMP`` becomes Spark's ``TIMESTAMP_NTZ``, whose
    arithmetic no session time zone can shift.

    Parameters
    ----------
    config : FeatureConfig
        The feature settings.
    as_of : str or pandas.Timestamp
        The cutoff: features see ``ts < as_of``.
    attribute_columns : sequence of str
        The customer table's ``attr_*`` columns.

    Returns
    -------
    str
        The Spark SQL query over the views ``transactions``, ``events`` and ``customers``.
    """
    return to_spark_sql(feature_sql(config, as_of, list(attribute_columns)))


def build_spark_features(inputs: SparkInputs, *, as_of: AsOf, config: FeatureConfig) -> DataFrame:
    """The features of every customer seen before ``as_of``, as a lazy Spark DataFrame.

    Parameters
    ----------
    inputs : SparkInputs
        The canonical tables (see :func:`read_spark_inputs`).
    as_of : date-like
        The cutoff: records at or after it never influence a feature.
    config : FeatureConfig
        Windows, event types and order grouping.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, then the feature columns of
        :func:`tierwise.features.describe_features` (without ``as_of``, which
        :func:`collect_features` adds), one row per customer.

    Raises
    ------
    InputDataError
        When ``order_grouping`` is ``order_id`` and no order id is mapped.
    """
    cutoff = normalize_as_of(as_of)
    if config.order_grouping == "order_id" and "order_id" not in inputs.transactions.columns:
        raise InputDataError("transactions: features.order_grouping is 'order_id' but no order id column is mapped")
    spark = inputs.transactions.sparkSession
    customers = inputs.customers
    if customers is None:
        customers = spark.createDataFrame([], "customer_id string, signup_ts timestamp_ntz")
    names = {"transactions": inputs.transactions, "events": inputs.events, "customers": customers}
    for name, frame in names.items():
        frame.createOrReplaceTempView(name)
    return spark.sql(spark_feature_sql(config, cutoff, inputs.attribute_columns))


def collect_features(frame: DataFrame, *, as_of: AsOf, config: FeatureConfig, inputs: SparkInputs) -> pd.DataFrame:
    """Bring Spark features to this machine as :func:`tierwise.features.build_features` returns them.

    The result has the same columns, order and dtypes (``as_of`` inserted,
    numbers float64, attributes categorical), so the same scoring and writing
    code follows, and equal inputs give equal bytes on both engines.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        The result of :func:`spark_feature_sql`'s query.
    as_of : str or pandas.Timestamp
        The cutoff the features were built at.
    config : FeatureConfig
        The feature settings.
    inputs : SparkInputs
        The validated inputs (see :func:`read_spark_inputs`).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``, then the feature columns.

    Raises
    ------
    InputDataError
        When no customer has a record before ``as_of``.
    """
    from pyspark.sql import functions as F

    cutoff = normalize_as_of(as_of)
    features = cast(pd.DataFrame, frame.toPandas())
    if features.empty:
        firsts = [inputs.transactions.agg(F.min("ts")), inputs.events.agg(F.min("ts"))]
        if inputs.customers is not None:
            firsts.append(inputs.customers.agg(F.min("signup_ts")))
        starts = [row[0] for row in (first.first() for first in firsts) if row is not None]
        raise no_customer_before(cutoff, data_start=pd.Timestamp(min(ts for ts in starts if ts is not None)))
    features["customer_id"] = features["customer_id"].astype("str")  # the dtype DuckDB gives, object or str
    features.insert(1, "as_of", pd.Series(cutoff, index=features.index, dtype="datetime64[us]"))
    for spec in describe_features(config, inputs.attribute_columns):
        if spec.kind == "categorical":
            features[spec.name] = features[spec.name].astype("category")
        else:
            features[spec.name] = features[spec.name].astype("float64")
    return features
