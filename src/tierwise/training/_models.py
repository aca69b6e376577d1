"""The churn classifier and the value regressor, with the scikit-learn contract.

Both wrap a native LightGBM booster (saved in LightGBM's own text format, not
pickled). ``fit`` takes the training snapshots and a later validation snapshot,
used for early stopping and, for churn, to calibrate probabilities (without
one, ``fit(X, y)`` holds out a seeded fifth of the rows, stratified for churn,
as scikit-learn's estimators do for early stopping); with
``refit_on_validation`` the model then learns from the validation snapshot too.
The churn calibration can also weigh the BG/NBD forecast, which keeps
extrapolating where the trees have seen no customer that old or that silent.
Predicting is :mod:`tierwise.models`' (the classes here add ``fit`` to its
predictors), so a fitted model and one restored from MLflow predict alike.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from tierwise.config import ChurnModelConfig, ValueModelConfig
from tierwise.models import (
    BoosterPredictor,
    ChurnPredictor,
    ValuePredictor,
    bgnbd_no_purchase,
    history_from_features,
    logit,
)
from tierwise.training._btyd import fit_bgnbd

# Rows the BG/NBD inside the calibration is fitted on at most: its four parameters settle long before.
BGNBD_FIT_ROWS = 200_000
# The share of the rows held out for early stopping and calibration when fit is given no validation rows.
VALIDATION_FRACTION = 0.2


def _validation_rows(X: pd.DataFrame, y, X_valid: pd.DataFrame | None, y_valid, *, seed: int, stratify: bool):
    """The training and validation rows: as given, or a seeded held-out fifth of ``X`` when none are given."""
    if X_valid is not None and y_valid is not None:
        return X, np.asarray(y), X_valid, np.asarray(y_valid)
    if (X_valid is None) != (y_valid is None):
        raise ValueError("X_valid and y_valid go together: give both or neither")
    target = np.asarray(y)
    X_fit, X_held, y_fit, y_held = train_test_split(
        X, target, test_size=VALIDATION_FRACTION, random_state=seed, stratify=target if stratify else None,
    )
    return X_fit.reset_index(drop=True), y_fit, X_held.reset_index(drop=True), y_held


def _lgb_params(config, objective: dict, seed: int, num_threads: int = 0) -> dict:
    return {
        **objective,
        "num_leaves": config.num_leaves,
        "max_depth": config.max_depth,
        "learning_rate": config.learning_rate,
        "min_child_samples": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": config.lambda_l2,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "verbosity": -1,
    }


class _BoosterModel(BaseEstimator, BoosterPredictor):
    def _train(
        self, X, y, X_valid, y_valid, params, config, *, validation_predictions: bool = False
    ) -> tuple[lgb.Booster, np.ndarray | None]:
        """The booster and, if asked, the early-stopped fit's raw validation predictions (made before any refit)."""
        # A leaf minimum sized for many customers would leave a small data set one constant leaf.
        params = {**params, "min_child_samples": min(params["min_child_samples"], max(20, len(X) // 50))}
        self._remember_layout(X)
        train_X, valid_X = self.prepare(X), self.prepare(X_valid)
        train_set = lgb.Dataset(train_X, label=y)
        valid_set = lgb.Dataset(valid_X, label=y_valid, reference=train_set)
        booster = lgb.train(
            params, train_set, num_boost_round=config.max_rounds, valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
        )
        self.best_iteration_ = int(booster.best_iteration or config.max_rounds)
        self.validation_loss_ = float(booster.best_score["valid_0"][params["metric"]])
        validation_raw = None
        if validation_predictions:
            validation_raw = np.asarray(booster.predict(valid_X, num_iteration=self.best_iteration_))
        if config.refit_on_validation:
            # The validation snapshot holds the newest labels: once it has chosen the rounds, learn from it too.
            everything = lgb.Dataset(
                pd.concat([train_X, valid_X], ignore_index=True),
                label=np.concatenate([np.asarray(y), np.asarray(y_valid)]),
            )
            booster = lgb.train(params, everything, num_boost_round=self.best_iteration_)
        return booster, validation_raw


class ChurnModel(ClassifierMixin, _BoosterModel, ChurnPredictor):
    """P(lapse within the churn horizon), calibrated on a later snapshot.

    Parameters
    ----------
    config : ChurnModelConfig
        Tree shape, learning rate, rounds and the calibration method.
    seed : int
        Makes the fit deterministic.
    horizon_days : int
        The churn horizon of the labels; the BG/NBD forecast in the
        calibration (``bgnbd_in_calibration``) is for the same window.
    num_threads : int
        LightGBM threads for the fit; 0 uses all cores. Not saved into the
        model: predictions use all cores wherever the model is loaded.

    Examples
    --------
    A scikit-learn classifier: ``fit(X, y)`` holds out a seeded fifth of ``X``
    for early stopping and calibration when no later snapshot is given, and
    ``clone`` works, so it fits in a data scientist's own tooling.

    >>> import numpy as np, pandas as pd
    >>> from sklearn.base import clone
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"recency_days": rng.integers(0, 365, 500).astype(float),
    ...                   "frequency_orders": rng.integers(1, 20, 500).astype(float)})
    >>> lapsed = (X["recency_days"] > 180).astype(int)
    >>> model = ChurnModel(horizon_days=90).fit(X, lapsed)
    >>> model.predict_proba(X).shape
    (500, 2)
    >>> clone(model).get_params()["horizon_days"]
    90
    """

    def __init__(self, config=None, seed: int = 7, horizon_days: int = 90, num_threads: int = 0):
        self.config = config
        self.seed = seed
        self.horizon_days = horizon_days
        self.num_threads = num_threads

    def fit(self, X: pd.DataFrame, y, *, X_valid: pd.DataFrame | None = None, y_valid=None) -> ChurnModel:
        """Fit the booster with early stopping on the validation rows, then calibrate on them.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows (the model's features, in a fixed order).
        y : array-like of {0, 1}
            1 when the customer lapsed within ``horizon_days``.
        X_valid, y_valid : optional
            A later snapshot's rows and labels; without them a seeded,
            stratified fifth of ``X`` is held out.

        Returns
        -------
        ChurnModel
            This model, fitted.
        """
        config = self.config or ChurnModelConfig()
        X, y, X_valid, y_valid = _validation_rows(X, y, X_valid, y_valid, seed=self.seed, stratify=True)
        params = _lgb_params(config, {"objective": "binary", "metric": "binary_logloss"}, self.seed, self.num_threads)
        self.booster_, validation_raw = self._train(
            X, np.asarray(y), X_valid, np.asarray(y_valid), params, config, validation_predictions=True
        )
        self.classes_ = np.array([0, 1])
        assert validation_raw is not None, "asked for with validation_predictions=True"
        # Calibrated on the first fit's predictions, made before the validation labels were learnt.
        self.calibration_ = _fit_calibration(
            config.calibration, validation_raw, np.asarray(y_valid),
            history=history_from_features(X_valid) if config.bgnbd_in_calibration else None,
            horizon_weeks=self.horizon_days / 7, seed=self.seed,
        )
        return self


class ValueModel(RegressorMixin, _BoosterModel, ValuePredictor):
    """Expected net spend over the label window it learned (never negative).

    The window is the value plan's ``horizon_days`` (see ``fitted_value_horizon``);
    predictions are never stretched to a longer one. ``num_threads``: LightGBM
    threads for the fit (0: all cores), not saved into the model.

    Parameters
    ----------
    config : ValueModelConfig
        Tree shape, learning rate and rounds.
    seed : int
        Makes the fit deterministic.
    num_threads : int
        LightGBM threads for the fit; 0 uses all cores. Not saved into the model.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"frequency_orders": rng.integers(1, 20, 500).astype(float)})
    >>> model = ValueModel().fit(X, X["frequency_orders"] * 10.0)
    >>> bool((model.predict(X) >= 0).all())
    True
    """

    def __init__(self, config=None, seed: int = 7, num_threads: int = 0):
        self.config = config
        self.seed = seed
        self.num_threads = num_threads

    def fit(self, X: pd.DataFrame, y, *, X_valid: pd.DataFrame | None = None, y_valid=None) -> ValueModel:
        """Fit the booster with early stopping on the validation rows.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows.
        y : array-like of float
            Net spend over the label window (clipped at 0).
        X_valid, y_valid : optional
            A later snapshot's rows and targets; without them a seeded fifth
            of ``X`` is held out.

        Returns
        -------
        ValueModel
            This model, fitted.
        """
        config = self.config or ValueModelConfig()
        X, y, X_valid, y_valid = _validation_rows(X, y, X_valid, y_valid, seed=self.seed, stratify=False)
        if config.objective == "tweedie":
            objective = {"objective": "tweedie", "tweedie_variance_power": config.tweedie_variance_power, "metric": "tweedie"}
        else:
            objective = {"objective": "regression", "metric": "l2"}
        # Spend net of refunds can dip below zero; the target is what the customer will bring, at least 0.
        y, y_valid = np.clip(np.asarray(y, float), 0, None), np.clip(np.asarray(y_valid, float), 0, None)
        self.booster_, _ = self._train(X, y, X_valid, y_valid, _lgb_params(config, objective, self.seed, self.num_threads), config)
        return self


def _fit_calibration(
    method: str, raw: np.ndarray, y: np.ndarray, *, history: pd.DataFrame | None = None, horizon_weeks: float = 0.0,
    seed: int = 7,
) -> dict:
    """A calibration map that is plain numbers (stored with the model, no pickle).

    With ``history`` (BG/NBD ``x``, ``t_x``, ``T`` of the validation rows),
    Platt scaling gets a second input: the logit of BG/NBD's P(no purchase in
    the next ``horizon_weeks``), from a BG/NBD fitted on those rows.
    """
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    if method == "sigmoid":
        inputs = [logit(raw)]
        bgnbd = None
        if history is not None:
            fitted = fit_bgnbd(history.sample(n=min(len(history), BGNBD_FIT_ROWS), random_state=seed))
            bgnbd = {"r": fitted.r, "alpha": fitted.alpha, "a": fitted.a, "b": fitted.b,
                     "horizon_weeks": horizon_weeks}
            inputs.append(logit(bgnbd_no_purchase(bgnbd, history)))
        lr = LogisticRegression(C=1e6).fit(np.column_stack(inputs), y)
        calibration = {"method": "sigmoid", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
        if bgnbd is not None:
            calibration["bgnbd"] = {**{k: float(v) for k, v in bgnbd.items()}, "weight": float(lr.coef_[0, 1])}
        return calibration
    return {"method": "none"}
