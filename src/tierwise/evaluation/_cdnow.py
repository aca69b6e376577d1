"""Tierwise against BG/NBD + Gamma-Gamma and RFM on the real CDNOW log, with the literature's split.

Calibration: purchases from 1997-01-01 to 1997-09-30; every method sees only
those. Holdouts: 39 weeks (to 1998-06-30) and 13 weeks (to 1997-12-31) after
1997-10-01. Targets per customer: churn = no purchase in the holdout; value =
net spend in the holdout. All 23,570 customers are judged.

Design choices are made on the ``development`` split, a half-scale copy of the
literature split that lies wholly inside the calibration period (calibration to
1997-05-15, a 138-day holdout to 1997-09-30, training windows scaled by the
calibration length, so that the snapshots fit as they do on the literature split), and on two
more such cuts (``development-121d``: calibration to 1997-05-31; ``development-91d``:
to 1997-06-30; both with holdouts to 1997-09-30), so that the literature holdout is
only looked at to report.

tierwise runs the code path users run: ``train_models`` on its own rolling
snapshots inside the calibration period (13-week churn labels; the value model
learns the longest window that fits, and its predictions are scaled from that
window to each holdout's length), then
``score_customers`` at 1997-10-01. The 39-week churn probability chains the
13-week model over three windows (``lapse_probability_over``), since a 39-week
label cannot be observed inside a 39-week calibration period.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tierwise.config import TierwiseConfig, TrainingConfig
from tierwise.features import build_features
from tierwise.inference import ScoringModels, lapse_probability_over, records_before, score_customers
from tierwise.inputs import InputData
from tierwise.training import churn_metrics, data_source_metadata, make_labels, rfm_score, train_models, value_metrics
from tierwise.training._btyd import fit_bgnbd, fit_gamma_gamma, rfm_summary
from tierwise.training._metrics import rfm_lookup

logger = logging.getLogger(__name__)

CALIBRATION_START = pd.Timestamp("1997-01-01")
LITERATURE_CALIBRATION_DAYS = 273  # 1997-01-01 to 1997-09-30


@dataclass(frozen=True)
class BenchmarkSplit:
    """Where calibration ends, the holdouts after it, and how tierwise's training windows scale with it."""

    name: str
    calibration_end: pd.Timestamp
    holdout_days: dict[str, int]

    @property
    def window_scale(self) -> float:
        """The calibration length of this split over the literature's.

        Returns
        -------
        float
            1 for the literature split, less for the development cuts.
        """
        return (self.calibration_end - CALIBRATION_START).days / LITERATURE_CALIBRATION_DAYS

    def training(self, training: TrainingConfig) -> TrainingConfig:
        """The churn horizon, snapshot step and minimum history, scaled to this split's calibration length.

        Parameters
        ----------
        training : TrainingConfig
            The config's training settings.

        Returns
        -------
        TrainingConfig
            A copy with the scaled windows.
        """
        windows = ("churn_horizon_days", "snapshot_step_days", "min_history_days")
        return training.model_copy(
            update={name: max(1, round(getattr(training, name) * self.window_scale)) for name in windows}
        )


SPLITS = {
    "literature": BenchmarkSplit("literature", pd.Timestamp("1997-10-01"), {"39 weeks": 273, "13 weeks": 91}),
    "development": BenchmarkSplit("development", pd.Timestamp("1997-05-16"), {"138 days": 138}),
    # Two more cuts inside the calibration period, so a design choice must win on three, not one.
    "development-121d": BenchmarkSplit("development-121d", pd.Timestamp("1997-06-01"), {"121 days": 121}),
    "development-91d": BenchmarkSplit("development-91d", pd.Timestamp("1997-07-01"), {"91 days": 91}),
}


@dataclass
class CdnowBenchmark:
    """One churn and one value table per holdout, wall times, fits and the per-customer predictions."""

    split: BenchmarkSplit
    churn: dict[str, pd.DataFrame]
    value: dict[str, pd.DataFrame]
    seconds: dict[str, float]
    bgnbd: dict[str, float]
    gamma_gamma: dict[str, float]
    value_horizon_days: int
    predictions: dict[str, pd.DataFrame] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The benchmark as JSON-ready data: the split, the customers and each method's figures per holdout.

        Returns
        -------
        dict
            What ``tierwise benchmark cdnow --json`` writes.
        """
        return {
            "split": {
                "name": self.split.name,
                "calibration": [
                    str(CALIBRATION_START.date()), str((self.split.calibration_end - pd.Timedelta(days=1)).date())
                ],
                "holdouts": self.split.holdout_days,
            },
            "churn": {h: t.to_dict(orient="index") for h, t in self.churn.items()},
            "value": {h: t.to_dict(orient="index") for h, t in self.value.items()},
            "seconds": self.seconds,
            "bgnbd": self.bgnbd,
            "gamma_gamma": self.gamma_gamma,
            "tierwise_value_horizon_days": self.value_horizon_days,
        }


def _tierwise(
    calibration: InputData, config: TierwiseConfig, split: BenchmarkSplit
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Churn and value predictions per holdout, and the value window the model learned."""
    trained = train_models(calibration, features=config.features, training=config.training)
    value_horizon_days = trained.value_plan.horizon_days
    models = ScoringModels(
        churn=trained.churn, value=trained.value, retained_value=trained.retained_value, version="benchmark",
        metadata={"churn_horizon_days": config.training.churn_horizon_days,
                  "active_lookback_days": config.training.active_lookback_days,
                  "value_horizon_days": value_horizon_days, **data_source_metadata(config)},
    )
    scores = score_customers(calibration, as_of=split.calibration_end, config=config, models=models, reasons_top_n=0)
    scores = scores.set_index("customer_id")
    churn, value = {}, {}
    for label, days in split.holdout_days.items():
        churn[label] = lapse_probability_over(
            calibration, as_of=split.calibration_end, horizon_days=days, config=config, models=models
        )
        value[label] = scores["predicted_value"] * days / value_horizon_days
    return pd.DataFrame(churn), pd.DataFrame(value), value_horizon_days


def _rfm_baselines(
    calibration: InputData, config: TierwiseConfig, features: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[pd.DataFrame, pd.Series]:
    """RFM score (3-15) and each score's mean spend over the next 13 weeks at an earlier cutoff, per day."""
    earlier = as_of - pd.Timedelta(days=91)
    past = build_features(calibration, as_of=earlier, config=config.features)
    labels = make_labels(calibration, as_of=earlier, value_horizon_days=91)
    past = past.merge(labels[["customer_id", "value"]], on="customer_id", how="left").fillna({"value": 0.0})
    per_day = rfm_lookup(rfm_score(past), past["value"] / 91, rfm_score(features))
    return rfm_score(features), pd.Series(per_day, index=features["customer_id"])


def run_cdnow_benchmark(inputs: InputData, config: TierwiseConfig, split: str = "literature") -> CdnowBenchmark:
    """Run every method on the same customers and holdouts of ``split`` (see the module docstring).

    Parameters
    ----------
    inputs : InputData
        The CDNOW transactions (see :func:`tierwise.config.cdnow_config`).
    config : TierwiseConfig
        The CDNOW config; its training settings are scaled to the split.
    split : {"literature", "development", "development-121d", "development-91d"}
        Which calibration and holdouts.

    Returns
    -------
    CdnowBenchmark
        Every method's figures on the same customers.
    """
    chosen = SPLITS[split]
    # Nothing after the split's longest holdout is read: the development split never sees the literature holdout.
    inputs = records_before(inputs, chosen.calibration_end + pd.Timedelta(days=max(chosen.holdout_days.values())))
    calibration = records_before(inputs, chosen.calibration_end)
    config = config.model_copy(update={"training": chosen.training(config.training)})
    seconds: dict[str, float] = {}

    began = time.perf_counter()
    tw_churn, tw_value, value_horizon_days = _tierwise(calibration, config, chosen)
    seconds["tierwise"] = time.perf_counter() - began

    began = time.perf_counter()
    summary = rfm_summary(calibration.transactions, start=CALIBRATION_START, end=chosen.calibration_end)
    bgnbd, gamma_gamma = fit_bgnbd(summary), fit_gamma_gamma(summary)
    spend = gamma_gamma.expected_spend(summary["x"], summary["m_x"])
    bg_churn = {label: pd.Series(bgnbd.p_no_purchase(days / 7, summary["x"], summary["t_x"], summary["T"]), index=summary.index)
                for label, days in chosen.holdout_days.items()}
    bg_value = {label: pd.Series(bgnbd.expected_purchases(days / 7, summary["x"], summary["t_x"], summary["T"]) * spend,
                                 index=summary.index) for label, days in chosen.holdout_days.items()}
    seconds["bgnbd_gamma_gamma"] = time.perf_counter() - began

    began = time.perf_counter()
    features = build_features(calibration, as_of=chosen.calibration_end, config=config.features)
    score, value_per_day = _rfm_baselines(calibration, config, features, chosen.calibration_end)
    score.index = features["customer_id"]
    recency = pd.Series(features["recency_days"].to_numpy(), index=features["customer_id"])
    seconds["rfm_and_recency"] = time.perf_counter() - began

    churn_tables, value_tables, predictions = {}, {}, {}
    for label, days in chosen.holdout_days.items():
        truth = make_labels(inputs, as_of=chosen.calibration_end, churn_horizon_days=days, value_horizon_days=days)
        truth = truth.set_index("customer_id").loc[features["customer_id"]]
        ids = truth.index
        lapsed, actual = truth["lapsed"].to_numpy(), truth["value"].to_numpy()
        churn_tables[label] = pd.DataFrame({
            "tierwise": churn_metrics(lapsed, tw_churn[label].loc[ids], is_probability=True),
            "bgnbd": churn_metrics(lapsed, bg_churn[label].loc[ids], is_probability=True),
            "rfm_score": churn_metrics(lapsed, -score.loc[ids].to_numpy(float), is_probability=False),
            "recency_rank": churn_metrics(lapsed, recency.loc[ids], is_probability=False),
        }).T
        value_tables[label] = pd.DataFrame({
            "tierwise": value_metrics(actual, tw_value[label].loc[ids]),
            "bgnbd_gamma_gamma": value_metrics(actual, bg_value[label].loc[ids]),
            "rfm_score": value_metrics(actual, value_per_day.loc[ids] * days),
        }).T
        predictions[label] = pd.DataFrame({
            "lapsed": lapsed, "actual_value": actual,
            "tierwise_churn": tw_churn[label].loc[ids].to_numpy(), "bgnbd_churn": bg_churn[label].loc[ids].to_numpy(),
            "tierwise_value": tw_value[label].loc[ids].to_numpy(), "bgnbd_value": bg_value[label].loc[ids].to_numpy(),
        }, index=ids)
    return CdnowBenchmark(
        split=chosen,
        churn=churn_tables, value=value_tables, seconds=seconds,
        bgnbd={"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b},
        gamma_gamma={"p": gamma_gamma.p, "q": gamma_gamma.q, "gamma": gamma_gamma.gamma},
        value_horizon_days=value_horizon_days,
        predictions=predictions,
    )


def plot_decile_chart(benchmark: CdnowBenchmark) -> Figure:
    """Mean predicted and actual spend in the split's longest holdout per decile of predicted value, tierwise beside BG/NBD.

    Parameters
    ----------
    benchmark : CdnowBenchmark
        What :func:`run_cdnow_benchmark` returned.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure.
    """
    label = next(iter(benchmark.split.holdout_days))
    frame = benchmark.predictions[label]
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    for ax, method, title in zip(figure.subplots(1, 2), ("tierwise_value", "bgnbd_value"), ("tierwise", "BG/NBD + Gamma-Gamma"), strict=True):
        decile = np.ceil(frame[method].rank(method="first", pct=True) * 10).astype(int)
        means = frame.groupby(decile)[[method, "actual_value"]].mean()
        ax.bar(means.index - 0.2, means[method], 0.4, label="predicted")
        ax.bar(means.index + 0.2, means["actual_value"], 0.4, label="actual")
        ax.set(xlabel="decile of predicted value", ylabel=f"mean spend per customer, {label} holdout", title=title)
        ax.legend()
    return figure
