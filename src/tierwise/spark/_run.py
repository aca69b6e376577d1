"""Features and scores through Spark, delivered by the same code as the DuckDB engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from tierwise.config import TierwiseConfig
from tierwise.features._build import AsOf
from tierwise.spark._features import build_spark_features, collect_features
from tierwise.spark._inputs import SparkInputs

if TYPE_CHECKING:
    from tierwise.inference import ScoringModels
    from tierwise.inference._score import RankBy


def last_transaction(inputs: SparkInputs) -> pd.Timestamp:
    """The newest transaction's timestamp (the transactions have at least one row).

    Parameters
    ----------
    inputs : SparkInputs
        The validated inputs (see :func:`read_spark_inputs`).

    Returns
    -------
    pandas.Timestamp
        The newest ``ts``.
    """
    from pyspark.sql import functions as F

    newest = inputs.transactions.agg(F.max("ts")).first()
    assert newest is not None  # an aggregate has one row
    return pd.Timestamp(newest[0])


def default_spark_as_of(inputs: SparkInputs) -> pd.Timestamp:
    """The day after the last transaction, as :func:`tierwise.inference.default_as_of` on DuckDB.

    Parameters
    ----------
    inputs : SparkInputs
        The validated inputs (see :func:`read_spark_inputs`).

    Returns
    -------
    pandas.Timestamp
        Midnight after the last transaction's day.
    """
    return last_transaction(inputs).normalize() + pd.Timedelta(days=1)


def spark_features(inputs: SparkInputs, *, as_of: AsOf, config: TierwiseConfig) -> pd.DataFrame:
    """Build the features on Spark and bring them here, as :func:`tierwise.features.build_features` returns them.

    Parameters
    ----------
    inputs : SparkInputs
        From :func:`read_spark_inputs`, inside :func:`utc_session`.
    as_of : date-like
        The cutoff.
    config : TierwiseConfig
        Its ``features`` section defines the features.

    Returns
    -------
    DataFrame
        ``customer_id``, ``as_of`` and every feature, equal to the DuckDB
        engine's in every value and dtype.

    Raises
    ------
    InputDataError
        When no customer has a record before ``as_of``.
    """
    frame = build_spark_features(inputs, as_of=as_of, config=config.features)
    return collect_features(frame, as_of=as_of, config=config.features, inputs=inputs)


def spark_scores(
    inputs: SparkInputs,
    *,
    as_of: AsOf,
    config: TierwiseConfig,
    models: ScoringModels,
    rank_by: RankBy | None = None,
) -> tuple[pd.DataFrame, dict | None]:
    """Score every customer known before ``as_of`` with features built on Spark.

    The raw logs, the large part, are read, checked and aggregated on Spark;
    the feature table (one row per customer) comes to this machine, where the
    registered models, ranks, control draw and reasons run with the code of
    :func:`tierwise.inference.score_with_drift`, so the scores equal the
    DuckDB engine's exactly.

    Parameters
    ----------
    inputs : SparkInputs
        From :func:`read_spark_inputs`, inside :func:`utc_session`.
    as_of : date-like
        The cutoff.
    config : TierwiseConfig
        The whole config (features, scoring, tiers, outreach).
    models : ScoringModels
        The registered models (:func:`tierwise.inference.load_models`).
    rank_by : str, optional
        As for :func:`tierwise.inference.score_with_drift`.

    Returns
    -------
    tuple of (DataFrame, dict or None)
        The scores and the drift figures.
    """
    from tierwise.inference import score_feature_table

    features = spark_features(inputs, as_of=as_of, config=config)
    return score_feature_table(features, last_transaction=last_transaction(inputs), config=config, models=models,
                               rank_by=rank_by)
