"""The training job: backtest, fit on the latest snapshots, record in MLflow."""

from __future__ import annotations

import logging

from tierwise.config import TierwiseConfig
from tierwise.inputs import InputData
from tierwise.training._backtest import BacktestResult, run_backtest, train_models
from tierwise.training._snapshots import SnapshotBuilder, snapshot_shortfall
from tierwise.training._tracking import TrainingRun, log_training

logger = logging.getLogger(__name__)


def train_and_register(inputs: InputData, config: TierwiseConfig) -> tuple[BacktestResult | None, TrainingRun]:
    """Fit on the most recent snapshots, backtest when the data hold one, and register both models.

    The models are the very ones :func:`train_models` gives on the same data.
    Without room for a backtest (see :func:`backtest_fits`) the result is None,
    a warning says why, and the run records no backtest metrics.
    """
    builder = SnapshotBuilder(inputs, config.features, config.training)
    models = train_models(inputs, features=config.features, training=config.training, builder=builder)
    shortfall = snapshot_shortfall(inputs, config.training, for_backtest=True)
    if shortfall is None:
        result = run_backtest(inputs, features=config.features, training=config.training, builder=builder)
    else:
        result = None
        logger.warning("no backtest: %s; the models are trained but not judged", shortfall)
    run = log_training(config, inputs, result, models)
    return result, run
