"""Training: labels after each cutoff, rolling snapshots, models, backtests, MLflow."""

from tierwise.models import (
    apply_calibration,
    data_source_differences,
    data_source_metadata,
    data_source_signature,
    describe_data_source,
    model_features,
    sqlite_store_path,
    tracking_uri,
)
from tierwise.training._backtest import BacktestResult, TrainedModels, run_backtest, train_models
from tierwise.training._labels import data_end, data_start, make_labels
from tierwise.training._metrics import churn_metrics, normalized_gini, reliability_table, rfm_score, value_metrics
from tierwise.training._models import ChurnModel, ValueModel
from tierwise.training._plots import (
    backtest_figures,
    plot_feature_importance,
    plot_gain,
    plot_precision_recall,
    plot_reliability,
    plot_roc,
    plot_value_deciles,
)
from tierwise.training._snapshots import (
    SnapshotPlan,
    backtest_fits,
    days_needed,
    fitted_value_horizon,
    plan_snapshots,
    snapshot_shortfall,
)
from tierwise.training._tracking import (
    TrainingRun,
    VersionRecord,
    data_fingerprint,
    log_run_evaluation,
    log_training,
    promote,
    promotion_decision,
)
from tierwise.training._train import train_and_register

__all__ = [
    "BacktestResult",
    "ChurnModel",
    "SnapshotPlan",
    "TrainedModels",
    "TrainingRun",
    "ValueModel",
    "VersionRecord",
    "apply_calibration",
    "backtest_figures",
    "backtest_fits",
    "churn_metrics",
    "data_end",
    "data_fingerprint",
    "data_source_differences",
    "data_source_metadata",
    "data_source_signature",
    "data_start",
    "days_needed",
    "describe_data_source",
    "fitted_value_horizon",
    "log_run_evaluation",
    "log_training",
    "make_labels",
    "model_features",
    "normalized_gini",
    "plan_snapshots",
    "plot_feature_importance",
    "plot_gain",
    "plot_precision_recall",
    "plot_reliability",
    "plot_roc",
    "plot_value_deciles",
    "promote",
    "promotion_decision",
    "reliability_table",
    "rfm_score",
    "run_backtest",
    "snapshot_shortfall",
    "sqlite_store_path",
    "tracking_uri",
    "train_and_register",
    "train_models",
    "value_metrics",
]
