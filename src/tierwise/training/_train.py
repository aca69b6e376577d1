"""The training job: backtest, fit on the latest snapshots, record in MLflow."""

from __future__ import annotations

from tierwise.config import TierwiseConfig
from tierwise.inputs import InputData
from tierwise.training._backtest import BacktestResult, model_features, run_backtest, train_models
from tierwise.training._snapshots import SnapshotBuilder
from tierwise.training._tracking import TrainingRun, log_training


def train_and_register(inputs: InputData, config: TierwiseConfig) -> tuple[BacktestResult, TrainingRun]:
    """Backtest, then refit on the most recent snapshots and register both models."""
    builder = SnapshotBuilder(inputs, config.features, config.training)
    result = run_backtest(inputs, features=config.features, training=config.training, builder=builder)
    models = train_models(inputs, features=config.features, training=config.training, builder=builder)
    sample = builder.features_at(models.churn_plan.validation)
    run = log_training(config, inputs, result, models, sample=sample[model_features(inputs, config.features)])
    return result, run
