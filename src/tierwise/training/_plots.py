"""Backtest plots. Each ``plot_*`` draws on a matplotlib Axes and returns it."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from tierwise.training._backtest import BacktestResult


def _churn_scores(result: BacktestResult) -> dict[str, np.ndarray]:
    frame = result.churn_predictions
    return {"model": frame["probability"], "RFM score": frame["rfm_probability"], "recency rank": frame["recency_days"]}


def plot_roc(result: BacktestResult, ax: Axes) -> Axes:
    """Draw the churn ROC curves of the model and the baselines at the test cutoff.

    Parameters
    ----------
    result : BacktestResult
        What :func:`run_backtest` returned.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    y = result.churn_predictions["lapsed"]
    for name, score in _churn_scores(result).items():
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Churn ROC at the test cutoff")
    ax.legend()
    return ax


def plot_precision_recall(result: BacktestResult, ax: Axes) -> Axes:
    """Draw the churn precision-recall curves of the model and the baselines.

    Parameters
    ----------
    result : BacktestResult
        What :func:`run_backtest` returned.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    y = result.churn_predictions["lapsed"]
    for name, score in _churn_scores(result).items():
        precision, recall, _ = precision_recall_curve(y, score)
        ax.plot(recall, precision, label=name)
    ax.set(xlabel="recall", ylabel="precision", title="Churn precision-recall")
    ax.legend()
    return ax


def plot_reliability(result: BacktestResult, ax: Axes) -> Axes:
    """Draw the observed lapse rate against the predicted probability, before and after calibration.

    Parameters
    ----------
    result : BacktestResult
        What :func:`run_backtest` returned.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    for label, table in (("before calibration", result.reliability_before), ("after calibration", result.reliability_after)):
        ax.plot(table["mean_predicted"], table["observed_rate"], marker="o", label=label)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="predicted lapse probability", ylabel="observed lapse rate", title="Reliability")
    ax.legend()
    return ax


def plot_gain(result: BacktestResult, ax: Axes) -> Axes:
    """Draw the share of lapsers reached against the share of customers contacted, riskiest first.

    Parameters
    ----------
    result : BacktestResult
        What :func:`run_backtest` returned.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    y = result.churn_predictions["lapsed"].to_numpy()
    for name, score in _churn_scores(result).items():
        order = np.argsort(-np.asarray(score), kind="stable")
        captured = np.cumsum(y[order]) / y.sum()
        ax.plot(np.arange(1, len(y) + 1) / len(y), captured, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="share of customers contacted (riskiest first)", ylabel="share of lapsers reached", title="Cumulative gain")
    ax.legend()
    return ax


def plot_value_deciles(result: BacktestResult, ax: Axes) -> Axes:
    """Draw the mean predicted and actual value per decile of predicted value.

    Parameters
    ----------
    result : BacktestResult
        What :func:`run_backtest` returned.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    frame = result.value_predictions
    decile = np.ceil(frame["predicted"].rank(method="first", pct=True) * 10).astype(int)
    means = frame.groupby(decile)[["predicted", "actual"]].mean()
    width = 0.4
    ax.bar(means.index - width / 2, means["predicted"], width, label="predicted")
    ax.bar(means.index + width / 2, means["actual"], width, label="actual")
    ax.set(xlabel="decile of predicted value", ylabel="mean value per customer", title="Value by predicted decile")
    ax.legend()
    return ax


def plot_feature_importance(result: BacktestResult, ax: Axes, top: int = 15) -> Axes:
    """Draw the churn model's most important features by total gain.

    Parameters
    ----------
    result : BacktestResult
        What :func:`run_backtest` returned.
    ax : matplotlib.axes.Axes
        The axes to draw on.
    top : int
        How many features to show.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    importance = result.feature_importance.head(top)[::-1]
    ax.barh(importance.index, importance.to_numpy())
    ax.set(xlabel="total gain", title="Churn model: most important features")
    return ax


def backtest_figures(result: BacktestResult) -> dict[str, Figure]:
    """One figure per plot, keyed by file name.

    Parameters
    ----------
    result : BacktestResult
        What :func:`run_backtest` returned.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``roc.png``, ``precision_recall.png``, ``reliability.png``, ``gain.png``, ``value_deciles.png`` and
        ``feature_importance.png``.
    """
    figures = {}
    for name, plot in (
        ("roc.png", plot_roc), ("precision_recall.png", plot_precision_recall), ("reliability.png", plot_reliability),
        ("gain.png", plot_gain), ("value_deciles.png", plot_value_deciles), ("feature_importance.png", plot_feature_importance),
    ):
        figure = Figure(figsize=(7, 5), layout="constrained")
        plot(result, figure.add_subplot())
        figures[name] = figure
    return figures
