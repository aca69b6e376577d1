"""BG/NBD predictions from fitted parameters: what the churn calibration needs to score.

Fitting lives in :mod:`tierwise.training` (``fit_bgnbd``); a fitted model is
four numbers saved with the churn model, and these formulas (Fader, Hardie &
Lee 2005) turn them into forecasts. Time is in weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import hyp2f1


def history_from_features(features: pd.DataFrame) -> pd.DataFrame:
    """``x``, ``t_x`` and ``T`` (weeks) from the point-in-time features, for customers with an order.

    Orders stand in for purchase days and the customer's first day is the
    first purchase or signup (``tenure_days``), so a customer who signed up
    before buying counts their first order as a repeat, from signup.

    Parameters
    ----------
    features : pandas.DataFrame
        Point-in-time features with ``frequency_orders``, ``recency_days`` and ``tenure_days``.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``t_x``, ``T`` on ``features``' index.
    """
    orders = features["frequency_orders"].to_numpy(float)
    T = features["tenure_days"].to_numpy(float) / 7
    t_x = np.clip(T - features["recency_days"].to_numpy(float) / 7, 0, None)
    return pd.DataFrame({"x": np.maximum(orders - 1, 0), "t_x": t_x, "T": T}, index=features.index)


@dataclass(frozen=True)
class BetaGeoFit:
    """Fitted BG/NBD parameters (purchase rate ~ Gamma(r, alpha), dropout ~ Beta(a, b))."""

    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(the customer is still active at the cutoff | x, t_x, T).

        Parameters
        ----------
        x : array-like of float
            Repeat purchases in the history.
        t_x : array-like of float
            Weeks from the first to the last purchase.
        T : array-like of float
            Weeks from the first purchase to the cutoff.

        Returns
        -------
        numpy.ndarray
            One probability per customer.
        """
        x, t_x, T = map(np.asarray, (x, t_x, T))
        ratio = np.exp((self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        return np.where(x > 0, 1.0 / (1.0 + self.a / np.maximum(self.b + x - 1, 1e-300) * ratio), 1.0)

    def p_no_purchase(self, t: float, x, t_x, T) -> np.ndarray:
        """P(no purchase in the next ``t`` weeks): the fair churn score (not 1 - P(alive)).

        Parameters
        ----------
        t : float
            The forecast window, in weeks.
        x : array-like of float
            Repeat purchases in the history.
        t_x : array-like of float
            Weeks from the first to the last purchase.
        T : array-like of float
            Weeks from the first purchase to the cutoff.

        Returns
        -------
        numpy.ndarray
            One probability per customer.
        """
        x, T = np.asarray(x), np.asarray(T)
        alive = self.p_alive(x, t_x, T)
        silent_if_alive = ((self.alpha + T) / (self.alpha + T + t)) ** (self.r + x)
        return (1.0 - alive) + alive * silent_if_alive

    def expected_purchases(self, t: float, x, t_x, T) -> np.ndarray:
        """The expected purchases in the next ``t`` weeks, given x, t_x and T.

        Parameters
        ----------
        t : float
            The forecast window, in weeks.
        x : array-like of float
            Repeat purchases in the history.
        t_x : array-like of float
            Weeks from the first to the last purchase.
        T : array-like of float
            Weeks from the first purchase to the cutoff.

        Returns
        -------
        numpy.ndarray
            One expectation per customer.
        """
        x, t_x, T = map(np.asarray, (x, t_x, T))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return first / (1 + np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ratio, 0.0))
