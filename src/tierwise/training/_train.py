"""The training job: backtest, fit on the latest snapshots, record in MLflow."""

from __future__ import annotations

import logging

import pandas as pd

from tierwise.config import ChurnModelConfig, TierwiseConfig
from tierwise.inputs import InputData
from tierwise.training._backtest import BacktestResult, TrainedModels, planned_cutoffs, run_backtest, train_models
from tierwise.training._snapshots import SnapshotBuilder, snapshot_shortfall
from tierwise.training._tracking import TrainingRun, log_training

logger = logging.getLogger(__name__)


def churn_reference_cutoff(models: TrainedModels) -> pd.Timestamp:
    """The latest cutoff the final churn model learned from: the validation one when it was refitted on it.

    Parameters
    ----------
    models : TrainedModels
        What :func:`train_models` returned.

    Returns
    -------
    pandas.Timestamp
        The newest training cutoff, or the validation cutoff when the model was refitted on it.
    """
    config = models.churn.config or ChurnModelConfig()
    return models.churn_plan.validation if config.refit_on_validation else models.churn_plan.train[-1]


def churn_drift_reference(models: TrainedModels, builder: SnapshotBuilder) -> dict:
    """The drift reference of the final churn model: its rows at :func:`churn_reference_cutoff`, and their scores.

    The rows are the active customers at that cutoff (a purchase within
    ``training.active_lookback_days``), the population scoring compares with.

    Parameters
    ----------
    models : TrainedModels
        What :func:`train_models` returned.
    builder : SnapshotBuilder
        The snapshots the models were trained on.

    Returns
    -------
    dict
        The reference of :func:`tierwise.monitoring.drift_reference`.
    """
    cutoff = churn_reference_cutoff(models)
    rows = builder.churn_rows(cutoff)[models.feature_names]
    # Imported here: tierwise.monitoring reads training's metrics and labels to evaluate runs.
    from tierwise.monitoring import drift_reference

    return drift_reference(rows, models.churn.predict_proba(rows)[:, 1], as_of=cutoff)


def train_and_register(inputs: InputData, config: TierwiseConfig) -> tuple[BacktestResult | None, TrainingRun]:
    """Fit on the most recent snapshots, backtest when the data hold one, and register both models.

    The models are the very ones :func:`train_models` gives on the same data.
    Without room for a backtest (see :func:`backtest_fits`) the result is None,
    a warning says why, and the run records no backtest metrics. The churn
    model carries its drift reference (:func:`churn_drift_reference`).

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    config : TierwiseConfig
        The features, training and registry settings.

    Returns
    -------
    result : BacktestResult or None
        The backtest, None when the data hold none.
    run : TrainingRun
        The MLflow run and the registered versions.

    Raises
    ------
    InputDataError
        When the data cannot hold the final fit of both models.
    """
    shortfall = snapshot_shortfall(inputs, config.training, for_backtest=True)
    cutoffs = planned_cutoffs(inputs, config.training, with_backtest=shortfall is None)
    builder = SnapshotBuilder(inputs, config.features, config.training, planned_cutoffs=len(cutoffs))
    models = train_models(inputs, features=config.features, training=config.training, builder=builder)
    if shortfall is None:
        result = run_backtest(inputs, features=config.features, training=config.training, builder=builder)
    else:
        result = None
        logger.warning("no backtest: %s; the models are trained but not judged", shortfall)
    run = log_training(
        config, inputs, result, models, drift_reference=churn_drift_reference(models, builder),
        sampled_snapshots=builder.sampled,
    )
    return result, run
