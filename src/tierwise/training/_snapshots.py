"""Rolling snapshots: which cutoffs to train, validate and test on, and their rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from tierwise.config import FeatureConfig, TrainingConfig
from tierwise.errors import InputDataError
from tierwise.features import build_features
from tierwise.inputs import InputData
from tierwise.training._labels import data_end, data_start, make_labels

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotPlan:
    """Cutoffs for one label horizon, oldest training snapshot first.

    Every label window ``[cutoff, cutoff + horizon_days)`` ends before the next
    stage begins to be judged: training windows end before the test cutoff, the
    validation snapshot (early stopping and calibration) is later than every
    training snapshot, and the test cutoff, when there is one, is the latest
    whose window is fully observed.
    """

    horizon_days: int
    train: tuple[pd.Timestamp, ...]
    validation: pd.Timestamp
    test: pd.Timestamp | None


def fitted_value_horizon(inputs: InputData, training: TrainingConfig, *, for_backtest: bool) -> int:
    """The longest value label window (at most the configured one) that leaves room for snapshots.

    Short logs (CDNOW has 546 days) cannot hold a 365-day label plus a later
    validation and test window; there the model learns a shorter window and
    predictions are scaled up by ``value_horizon_days / fitted``.
    """
    span = (data_end(inputs) - data_start(inputs)).days
    windows = 3 if for_backtest else 2
    room = (span - training.min_history_days - training.snapshot_step_days) // windows
    fitted = min(training.value_horizon_days, room)
    if fitted < 7:
        raise InputDataError(f"transactions: {span} days of data are too few to learn a value label of at least 7 days")
    return fitted


def plan_snapshots(inputs: InputData, training: TrainingConfig, *, horizon_days: int, for_backtest: bool) -> SnapshotPlan:
    """Place the cutoffs for one label horizon inside the data."""
    start, end = data_start(inputs), data_end(inputs)
    horizon = pd.Timedelta(days=horizon_days)
    step = pd.Timedelta(days=training.snapshot_step_days)
    earliest = start + pd.Timedelta(days=training.min_history_days)
    test = end - horizon if for_backtest else None
    validation = (test if test is not None else end) - horizon
    train = [validation - k * step for k in range(1, training.training_snapshots + 1)]
    train = [cutoff for cutoff in train if cutoff >= earliest]
    if not train:
        raise InputDataError(
            f"transactions: data from {start.date()} to {end.date()} leave no room for a training snapshot with a "
            f"{horizon_days}-day label{' plus a test window' if for_backtest else ''}; shorten the horizon or min_history_days"
        )
    return SnapshotPlan(horizon_days=horizon_days, train=tuple(sorted(train)), validation=validation, test=test)


class SnapshotBuilder:
    """Features and labels per cutoff, each built once and reused by every plan."""

    def __init__(self, inputs: InputData, features: FeatureConfig, training: TrainingConfig):
        self.inputs = inputs
        self.features = features
        self.training = training
        self._features: dict[pd.Timestamp, pd.DataFrame] = {}

    def features_at(self, as_of: pd.Timestamp) -> pd.DataFrame:
        if as_of not in self._features:
            logger.info("building features as of %s", as_of.date())
            self._features[as_of] = build_features(self.inputs, as_of=as_of, config=self.features)
        return self._features[as_of]

    def churn_rows(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Active customers at ``as_of`` with their ``lapsed`` label."""
        features = self.features_at(as_of)
        active = features[features["recency_days"] <= self.training.active_lookback_days]
        labels = make_labels(
            self.inputs, as_of=as_of, churn_horizon_days=self.training.churn_horizon_days,
            cancellation_event=self.training.cancellation_event,
        )
        return active.merge(labels[["customer_id", "lapsed"]], on="customer_id", how="left", validate="one_to_one")

    def value_rows(self, as_of: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
        """Every customer seen before ``as_of`` with ``value`` and ``previous_value`` (the window before)."""
        features = self.features_at(as_of)
        labels = make_labels(self.inputs, as_of=as_of, value_horizon_days=horizon_days)
        rows = features.merge(labels[["customer_id", "value"]], on="customer_id", how="left", validate="one_to_one")
        rows["value"] = rows["value"].fillna(0.0)
        previous = make_labels(
            self.inputs, as_of=as_of - pd.Timedelta(days=horizon_days), value_horizon_days=horizon_days
        )
        rows = rows.merge(
            previous[["customer_id", "value"]].rename(columns={"value": "previous_value"}), on="customer_id", how="left"
        )
        rows["previous_value"] = rows["previous_value"].fillna(0.0)
        return rows

    def stacked(self, cutoffs, rows_at) -> pd.DataFrame:
        return pd.concat([rows_at(cutoff) for cutoff in cutoffs], ignore_index=True)
