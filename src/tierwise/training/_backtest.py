"""Time-based backtest and the final fit.

The backtest trains on snapshots whose labels are observed before the
validation cutoff, calibrates and early-stops on the validation snapshot, whose
labels are observed before the test cutoff T (the latest cutoff whose label
window is fully inside the data), and judges the models at T beside the
baselines, on the very same rows. No two stages share a day of label.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import pandas as pd

from tierwise.config import FeatureConfig, TrainingConfig, ValueModelConfig
from tierwise.errors import InputDataError
from tierwise.inputs import InputData
from tierwise.models import model_features
from tierwise.progress import report_progress
from tierwise.training._metrics import (
    churn_metrics,
    reliability_table,
    rfm_lookup,
    rfm_score,
    value_metrics,
)
from tierwise.training._models import ChurnModel, ValueModel
from tierwise.training._snapshots import (
    SnapshotBuilder,
    SnapshotPlan,
    backtest_fits,
    fitted_value_horizon,
    plan_snapshots,
    snapshot_shortfall,
)
from tierwise.training._tuning import tune_config

logger = logging.getLogger(__name__)


@dataclass
class BacktestResult:
    """Metrics of the models and baselines at the test cutoff, and what the plots need.

    Attributes
    ----------
    churn_plan, value_plan, retained_value_plan : SnapshotPlan
        Where each model's training, validation and test cutoffs lie.
    churn, value, retained_value : pandas.DataFrame
        The metrics (columns) of the model and the baselines (rows) at the test cutoff.
    reliability_before, reliability_after : pandas.DataFrame
        The churn model's reliability table (see :func:`reliability_table`) before and after calibration.
    churn_predictions, value_predictions : pandas.DataFrame
        Per test customer: ``lapsed`` with the model's ``probability`` and the baselines' scores; ``actual`` and
        ``predicted`` value.
    feature_importance : pandas.Series
        The churn model's total gain per feature, largest first.
    training_rows : dict of str to int
        Rows each model was trained on.
    """

    churn_plan: SnapshotPlan
    value_plan: SnapshotPlan
    churn: pd.DataFrame
    value: pd.DataFrame
    retained_value_plan: SnapshotPlan
    retained_value: pd.DataFrame
    reliability_before: pd.DataFrame
    reliability_after: pd.DataFrame
    churn_predictions: pd.DataFrame
    value_predictions: pd.DataFrame
    feature_importance: pd.Series
    training_rows: dict[str, int] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat ``<target>_<method>_<metric>`` numbers, for MLflow and JSON.

        Returns
        -------
        dict of str to float
            E.g. ``churn_model_roc_auc``; NaN figures are left out.
        """
        flat: dict[str, float] = {}
        for target, table in (("churn", self.churn), ("value", self.value), ("retained_value", self.retained_value)):
            for method, row in table.iterrows():
                for metric, number in row.items():
                    if pd.notna(number):
                        flat[f"{target}_{method}_{metric}"] = float(number)
        return flat


def _check_both_classes(rows: pd.DataFrame, cutoffs, stage: str) -> None:
    """Refuse churn labels of one class: neither the trees, the calibration nor ROC AUC can use them."""
    lapsed = int(rows["lapsed"].sum())
    retained = len(rows) - lapsed
    if lapsed == 0 or retained == 0:
        dates = ", ".join(str(cutoff.date()) for cutoff in cutoffs)
        raise InputDataError(
            f"transactions: the churn {stage} snapshot{'s' if len(cutoffs) > 1 else ''} ({dates}) hold {lapsed:,} active customers who lapsed and "
            f"{retained:,} who bought again; the churn model needs both (see training.churn_horizon_days and "
            f"training.active_lookback_days)"
        )


def _fit_churn(builder: SnapshotBuilder, plan: SnapshotPlan, columns: list[str], training: TrainingConfig):
    train = builder.stacked(plan.train, builder.churn_rows)
    valid = builder.churn_rows(plan.validation)
    _check_both_classes(train, plan.train, "training")
    _check_both_classes(valid, [plan.validation], "validation")
    config = training.churn_model
    if training.tuning_trials:
        config = tune_config(
            ChurnModel, config, train[columns], train["lapsed"], X_valid=valid[columns], y_valid=valid["lapsed"],
            trials=training.tuning_trials, seed=training.seed, num_threads=training.num_threads,
        )
    model = ChurnModel(config, seed=training.seed, horizon_days=training.churn_horizon_days,
                       num_threads=training.num_threads)
    logger.info("fitting the churn model on %d rows of %d snapshots", len(train), len(plan.train))
    report_progress(f"fitting the churn model on {len(train):,} rows")
    model.fit(train[columns], train["lapsed"], X_valid=valid[columns], y_valid=valid["lapsed"])
    return model, train


def _fit_value(builder, plan, columns, training, config: ValueModelConfig, *, retained: bool = False):
    """The value model, or with ``retained`` the retained-value model (only customers who did not lapse)."""
    rows = builder.retained_value_rows if retained else builder.value_rows
    rows_at = lambda cutoff: rows(cutoff, plan.horizon_days)  # noqa: E731
    train = builder.stacked(plan.train, rows_at)
    valid = rows_at(plan.validation)
    if training.tuning_trials:
        config = tune_config(
            ValueModel, config, train[columns], train["value"], X_valid=valid[columns], y_valid=valid["value"],
            trials=training.tuning_trials, seed=training.seed, num_threads=training.num_threads,
        )
    model = ValueModel(config, seed=training.seed, num_threads=training.num_threads)
    kind = "retained-value" if retained else "value"
    logger.info("fitting the %s model on %d rows of %d snapshots", kind, len(train), len(plan.train))
    report_progress(f"fitting the {kind} model on {len(train):,} rows")
    model.fit(train[columns], train["value"], X_valid=valid[columns], y_valid=valid["value"])
    return model, train


def _retained_value_plan(inputs: InputData, training: TrainingConfig, value_plan: SnapshotPlan, *, for_backtest: bool):
    """The value plan; its rows also need the churn label, so a longer churn window spaces the cutoffs instead."""
    if value_plan.horizon_days >= training.churn_horizon_days:
        return value_plan
    spaced = plan_snapshots(inputs, training, horizon_days=training.churn_horizon_days, for_backtest=for_backtest)
    return replace(spaced, horizon_days=value_plan.horizon_days)


def planned_cutoffs(inputs: InputData, training: TrainingConfig, *, with_backtest: bool) -> list[pd.Timestamp]:
    """Every cutoff that :func:`train_models` (and, with ``with_backtest``, :func:`run_backtest`) builds features at.

    Parameters
    ----------
    inputs : InputData
        The validated inputs.
    training : TrainingConfig
        The horizons and snapshot spacing.
    with_backtest : bool
        Whether the backtest's cutoffs count too.

    Returns
    -------
    list of pandas.Timestamp
        The distinct cutoffs, oldest first.
    """
    value_horizon = fitted_value_horizon(inputs, training)
    cutoffs: set[pd.Timestamp] = set()
    for for_backtest in (False, True) if with_backtest else (False,):
        churn = plan_snapshots(inputs, training, horizon_days=training.churn_horizon_days, for_backtest=for_backtest)
        value = plan_snapshots(inputs, training, horizon_days=value_horizon, for_backtest=for_backtest)
        for plan in (churn, value, _retained_value_plan(inputs, training, value, for_backtest=for_backtest)):
            cutoffs.update([*plan.train, plan.validation, *([] if plan.test is None else [plan.test])])
    return sorted(cutoffs)


def run_backtest(
    inputs: InputData, *, features: FeatureConfig, training: TrainingConfig, builder: SnapshotBuilder | None = None
) -> BacktestResult:
    """Train on the past, judge at the latest fully observed cutoff, beside RFM and 'last period' baselines.

    ``builder`` shares already built snapshots with a later :func:`train_models` call.
    Raises :class:`InputDataError` when the data hold no backtest (see :func:`backtest_fits`).

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    features : FeatureConfig
        The features to build at each cutoff.
    training : TrainingConfig
        The horizons, snapshot counts and model settings.
    builder : SnapshotBuilder, optional
        Shares the snapshots built here with a later :func:`train_models` call.

    Returns
    -------
    BacktestResult
        The models' and the baselines' figures at the test cutoff.

    Raises
    ------
    InputDataError
        When the data hold no backtest (see :func:`backtest_fits`), saying how many days they hold and need.
    """
    shortfall = snapshot_shortfall(inputs, training, for_backtest=True)
    if shortfall is not None:
        raise InputDataError(f"transactions: {shortfall}")
    builder = builder or SnapshotBuilder(inputs, features, training)
    columns = model_features(inputs, features)

    churn_plan = plan_snapshots(inputs, training, horizon_days=training.churn_horizon_days, for_backtest=True)
    churn_model, churn_train = _fit_churn(builder, churn_plan, columns, training)
    test = builder.churn_rows(churn_plan.test)
    _check_both_classes(test, [churn_plan.test], "test")
    raw = churn_model.raw_predict(test[columns])
    calibrated = churn_model.predict_proba(test[columns])[:, 1]
    rfm_prob = rfm_lookup(rfm_score(churn_train), churn_train["lapsed"], rfm_score(test))
    churn = pd.DataFrame(
        {
            "model": churn_metrics(test["lapsed"], calibrated, is_probability=True),
            "model_uncalibrated": churn_metrics(test["lapsed"], raw, is_probability=True),
            "rfm_score": churn_metrics(test["lapsed"], rfm_prob, is_probability=True),
            "recency_rank": churn_metrics(test["lapsed"], test["recency_days"].to_numpy(), is_probability=False),
        }
    ).T

    value_horizon = fitted_value_horizon(inputs, training)
    value_plan = plan_snapshots(inputs, training, horizon_days=value_horizon, for_backtest=True)
    value_model, value_train = _fit_value(builder, value_plan, columns, training, training.value_model)
    l2_config = training.value_model.model_copy(update={"objective": "regression"})
    l2_model, _ = _fit_value(builder, value_plan, columns, training, l2_config)
    value_test = builder.value_rows(value_plan.test, value_horizon)
    predicted = value_model.predict(value_test[columns])
    rfm_value = rfm_lookup(rfm_score(value_train), value_train["value"], rfm_score(value_test))
    value = pd.DataFrame(
        {
            "model": value_metrics(value_test["value"], predicted),
            "model_squared_error": value_metrics(value_test["value"], l2_model.predict(value_test[columns])),
            "rfm_score": value_metrics(value_test["value"], rfm_value),
            "last_period": value_metrics(value_test["value"], value_test["previous_value"]),
        }
    ).T
    retained_plan = _retained_value_plan(inputs, training, value_plan, for_backtest=True)
    retained_model, retained_train = _fit_value(
        builder, retained_plan, columns, training, training.value_model, retained=True
    )
    retained_test = builder.retained_value_rows(retained_plan.test, value_horizon)
    # Judged on the customers who did not lapse, beside the value model, which prices the lapse in.
    retained_value = pd.DataFrame(
        {
            "model": value_metrics(retained_test["value"], retained_model.predict(retained_test[columns])),
            "value_model": value_metrics(retained_test["value"], value_model.predict(retained_test[columns])),
            "last_period": value_metrics(retained_test["value"], retained_test["previous_value"]),
        }
    ).T
    importance = pd.Series(
        churn_model.booster_.feature_importance("gain"), index=churn_model.feature_names_in_, name="gain"
    ).sort_values(ascending=False)
    return BacktestResult(
        churn_plan=churn_plan,
        value_plan=value_plan,
        churn=churn,
        value=value,
        retained_value_plan=retained_plan,
        retained_value=retained_value,
        reliability_before=reliability_table(test["lapsed"], raw),
        reliability_after=reliability_table(test["lapsed"], calibrated),
        churn_predictions=pd.DataFrame(
            {"customer_id": test["customer_id"], "lapsed": test["lapsed"], "probability": calibrated, "raw": raw,
             "recency_days": test["recency_days"], "rfm_probability": rfm_prob}
        ),
        value_predictions=pd.DataFrame(
            {"customer_id": value_test["customer_id"], "actual": value_test["value"], "predicted": predicted,
             "last_period": value_test["previous_value"]}
        ),
        feature_importance=importance,
        training_rows={"churn": len(churn_train), "value": len(value_train), "retained_value": len(retained_train)},
    )


@dataclass
class TrainedModels:
    """The models fitted on the most recent snapshots, ready to register and score with.

    Attributes
    ----------
    churn : ChurnModel
        P(lapse within ``churn_plan.horizon_days``).
    value : ValueModel
        Net spend over ``value_plan.horizon_days``.
    retained_value : ValueModel
        Net spend over the same window, given no lapse.
    churn_plan, value_plan : SnapshotPlan
        The cutoffs the models were fitted on.
    feature_names : list of str
        The features, in the models' order.
    """

    churn: ChurnModel
    value: ValueModel
    retained_value: ValueModel
    churn_plan: SnapshotPlan
    value_plan: SnapshotPlan
    feature_names: list[str]


def train_models(
    inputs: InputData, *, features: FeatureConfig, training: TrainingConfig, builder: SnapshotBuilder | None = None
) -> TrainedModels:
    """Fit the three models on the latest snapshots whose labels are fully observed.

    The value model learns the window :func:`fitted_value_horizon` gives (the
    one a backtest on the same data judges) and predicts spend over that many
    days, ``value_plan.horizon_days``; a shorter one than configured is logged.
    The retained-value model learns the same window, with the same settings,
    from the customers active at each cutoff who did not lapse within the
    churn horizon after it: E[net spend | no lapse], what a customer is worth
    if retained.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    features : FeatureConfig
        The features to build at each cutoff.
    training : TrainingConfig
        The horizons, snapshot counts and model settings.
    builder : SnapshotBuilder, optional
        Reuses the snapshots a :func:`run_backtest` call built.

    Returns
    -------
    TrainedModels
        The fitted models and their snapshot plans.

    Raises
    ------
    InputDataError
        When the data cannot hold the final fit of both models.
    """
    builder = builder or SnapshotBuilder(inputs, features, training)
    columns = model_features(inputs, features)
    value_horizon = fitted_value_horizon(inputs, training)
    churn_plan = plan_snapshots(inputs, training, horizon_days=training.churn_horizon_days, for_backtest=False)
    if value_horizon < training.value_horizon_days:
        reason = "the backtest can judge" if backtest_fits(inputs, training) else "the data hold (no backtest fits)"
        logger.warning(
            "value: predicting spend over %d days, not training.value_horizon_days %d: the longest window %s",
            value_horizon, training.value_horizon_days, reason,
        )
    churn_model, _ = _fit_churn(builder, churn_plan, columns, training)
    value_plan = plan_snapshots(inputs, training, horizon_days=value_horizon, for_backtest=False)
    value_model, _ = _fit_value(builder, value_plan, columns, training, training.value_model)
    retained_plan = _retained_value_plan(inputs, training, value_plan, for_backtest=False)
    retained_model, _ = _fit_value(builder, retained_plan, columns, training, training.value_model, retained=True)
    return TrainedModels(
        churn=churn_model, value=value_model, retained_value=retained_model, churn_plan=churn_plan,
        value_plan=value_plan, feature_names=columns,
    )
