"""Backtest metrics and the baselines a marketer would otherwise use."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

RFM_FEATURES = ("recency_days", "frequency_orders", "monetary_total")


def _tie_averaged(values: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``values`` with each group of equal scores replaced by its mean.

    A ranking that ties customers says nothing about their order, so metrics
    that cut or accumulate along the ranking count a tied group at its average,
    which is what a random order within the group gives on average; breaking
    ties by position would let row order (often customer id, so signup date)
    decide.
    """
    return pd.Series(values).groupby(score).transform("mean").to_numpy(float)


def _top_decile_size(n: int) -> int:
    return max(1, int(np.ceil(n * 0.1)))


def _top_decile_sum(values: np.ndarray, score: np.ndarray) -> float:
    """Sum of ``values`` over the 10% highest scores, a tie at the cut counted at its average."""
    order = np.argsort(-score, kind="stable")
    return float(_tie_averaged(values, score)[order[: _top_decile_size(len(score))]].sum())


def churn_metrics(lapsed, score, *, is_probability: bool) -> dict[str, float]:
    """ROC AUC, PR AUC, precision and lift in the top risk decile; Brier and log loss for probabilities.

    Parameters
    ----------
    lapsed : array-like of {0, 1}
        The observed labels.
    score : array-like of float
        Higher means more likely to lapse.
    is_probability : bool
        Whether ``score`` is a probability (Brier and log loss are NaN otherwise).

    Returns
    -------
    dict of str to float
        ``roc_auc``, ``pr_auc``, ``precision_top_decile``, ``lift_top_decile``, ``brier``, ``log_loss``.
    """
    y, s = np.asarray(lapsed, int), np.asarray(score, float)
    precision = _top_decile_sum(y, s) / _top_decile_size(len(s))
    metrics = {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "precision_top_decile": precision,
        "lift_top_decile": precision / float(y.mean()),
        "brier": float("nan"),
        "log_loss": float("nan"),
    }
    if is_probability:
        metrics["brier"] = float(brier_score_loss(y, s))
        metrics["log_loss"] = float(log_loss(y, np.clip(s, 1e-6, 1 - 1e-6), labels=[0, 1]))
    return metrics


def normalized_gini(actual, predicted) -> float:
    """Gini of the actual values ordered by prediction, over the Gini of the perfect order (1 is perfect).

    Tied predictions count at their average actual value.

    Parameters
    ----------
    actual : array-like of float
        The observed values.
    predicted : array-like of float
        The predictions ranking them.

    Returns
    -------
    float
        At most 1; 0 for a random order.

    Examples
    --------
    >>> normalized_gini([0, 1, 3], [0.1, 0.5, 0.9])
    1.0
    """
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)

    def gini(order_by: np.ndarray) -> float:
        order = np.argsort(-order_by, kind="stable")
        cumulative = np.cumsum(_tie_averaged(actual, order_by)[order]) / actual.sum()
        return float(cumulative.sum() / len(actual) - (len(actual) + 1) / (2 * len(actual)))

    return gini(predicted) / gini(actual)


def value_metrics(actual, predicted) -> dict[str, float]:
    """Ranking (Spearman, normalized Gini, top-decile revenue share) and level (MAE, totals).

    Parameters
    ----------
    actual : array-like of float
        The observed net spend.
    predicted : array-like of float
        The predicted net spend.

    Returns
    -------
    dict of str to float
        ``spearman``, ``normalized_gini``, ``top_decile_revenue_share``, ``mae``, ``total_predicted``,
        ``total_actual``, ``predicted_over_actual``.
    """
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    return {
        "spearman": float(spearmanr(actual, predicted).statistic),
        "normalized_gini": normalized_gini(actual, predicted),
        "top_decile_revenue_share": _top_decile_sum(actual, predicted) / float(actual.sum()),
        "mae": float(np.abs(actual - predicted).mean()),
        "total_predicted": float(predicted.sum()),
        "total_actual": float(actual.sum()),
        "predicted_over_actual": float(predicted.sum() / actual.sum()),
    }


def reliability_table(lapsed, probability, bins: int = 10) -> pd.DataFrame:
    """Observed lapse rate against mean predicted probability, in equal-width probability bins.

    Parameters
    ----------
    lapsed : array-like of {0, 1}
        The observed labels.
    probability : array-like of float
        The predicted lapse probabilities.
    bins : int
        The number of equal-width bins over [0, 1].

    Returns
    -------
    pandas.DataFrame
        Indexed by the bin (``"0.1-0.2"``): ``customers``, ``mean_predicted``, ``observed_rate``; empty bins left out.
    """
    y, p = np.asarray(lapsed, float), np.asarray(probability, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = pd.DataFrame({"bin": which, "p": p, "y": y}).groupby("bin").agg(
        customers=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    table.index = [f"{edges[i]:.1f}-{edges[i + 1]:.1f}" for i in table.index]
    return table.rename_axis("predicted")


def rfm_score(features: pd.DataFrame) -> pd.Series:
    """Classic RFM: quintile 1-5 of recency (recent is 5), frequency and monetary, summed to 3-15.

    Parameters
    ----------
    features : pandas.DataFrame
        Feature rows with ``recency_days``, ``frequency_orders`` and, when
        the transactions have amounts, ``monetary_total``.

    Returns
    -------
    pandas.Series
        The summed score; without ``monetary_total`` (a log without amounts)
        the RF score, 2-10.
    """

    def quintile(values: pd.Series, ascending: bool) -> pd.Series:
        ranks = values.rank(method="first", ascending=ascending, pct=True)
        return np.ceil(ranks * 5).clip(1, 5)

    score = quintile(-features["recency_days"].fillna(1e9), True) + quintile(features["frequency_orders"], True)
    if "monetary_total" in features.columns:
        score += quintile(features["monetary_total"], True)
    return score.astype(int)


def rfm_lookup(train_scores: pd.Series, train_target: pd.Series, scores: pd.Series) -> np.ndarray:
    """Each RFM score's mean target in the training rows, applied to new scores.

    Parameters
    ----------
    train_scores : pandas.Series
        The RFM scores (3-15) of the training rows.
    train_target : pandas.Series
        Their target (lapsed or value).
    scores : pandas.Series
        The RFM scores to predict for.

    Returns
    -------
    numpy.ndarray
        The training mean of each score, the overall mean for a score unseen in training.
    """
    means = train_target.groupby(train_scores.to_numpy()).mean()
    return scores.map(means).fillna(float(train_target.mean())).to_numpy(float)
