"""The churn classifier and the value regressor, with the scikit-learn contract.

Both wrap a native LightGBM booster (saved in LightGBM's own text format, not
pickled). ``fit`` takes the training snapshots and a later validation snapshot,
used for early stopping and, for churn, to calibrate probabilities; with
``refit_on_validation`` the model then learns from the validation snapshot too.
The churn calibration can also weigh the BG/NBD forecast, which keeps
extrapolating where the trees have seen no customer that old or that silent.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from tierwise.config import ChurnModelConfig, ValueModelConfig
from tierwise.errors import TierwiseError
from tierwise.training._btyd import BetaGeoFit, fit_bgnbd, history_from_features

# Rows the BG/NBD inside the calibration is fitted on at most: its four parameters settle long before.
BGNBD_FIT_ROWS = 200_000


def _lgb_params(config, objective: dict, seed: int) -> dict:
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
        "num_threads": 2,
        "verbosity": -1,
    }


class _BoosterModel(BaseEstimator):
    def _prepare(self, X: pd.DataFrame, *, fitting: bool) -> pd.DataFrame:
        """Fix column order and categorical levels so predictions match training."""
        if fitting:
            self.feature_names_in_ = np.array(X.columns, dtype=object)
            self.categories_ = {
                c: list(map(str, X[c].cat.categories)) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
            }
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise TierwiseError(f"features: the model needs columns that are missing: {', '.join(missing[:5])}")
        X = X[list(self.feature_names_in_)].copy()
        for column, levels in self.categories_.items():
            X[column] = pd.Categorical(X[column].astype("object").where(X[column].notna()), categories=levels)
        return X

    def _train(
        self, X, y, X_valid, y_valid, params, config, *, validation_predictions: bool = False
    ) -> tuple[lgb.Booster, np.ndarray | None]:
        """The booster and, if asked, the early-stopped fit's raw validation predictions (made before any refit)."""
        # A leaf minimum sized for many customers would leave a small data set one constant leaf.
        params = {**params, "min_child_samples": min(params["min_child_samples"], max(20, len(X) // 50))}
        train_X, valid_X = self._prepare(X, fitting=True), self._prepare(X_valid, fitting=False)
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
            validation_raw = booster.predict(valid_X, num_iteration=self.best_iteration_)
        if config.refit_on_validation:
            # The validation snapshot holds the newest labels: once it has chosen the rounds, learn from it too.
            everything = lgb.Dataset(
                pd.concat([train_X, valid_X], ignore_index=True),
                label=np.concatenate([np.asarray(y), np.asarray(y_valid)]),
            )
            booster = lgb.train(params, everything, num_boost_round=self.best_iteration_)
        return booster, validation_raw

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` as the booster expects it: training column order and categorical levels."""
        check_is_fitted(self, "booster_")
        return self._prepare(X, fitting=False)

    def raw_predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(self.prepare(X), num_iteration=self.best_iteration_)


class ChurnModel(ClassifierMixin, _BoosterModel):
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
    """

    def __init__(self, config=None, seed: int = 7, horizon_days: int = 90):
        self.config = config
        self.seed = seed
        self.horizon_days = horizon_days

    def fit(self, X: pd.DataFrame, y, *, X_valid: pd.DataFrame, y_valid) -> ChurnModel:
        config = self.config or ChurnModelConfig()
        params = _lgb_params(config, {"objective": "binary", "metric": "binary_logloss"}, self.seed)
        self.booster_, validation_raw = self._train(
            X, np.asarray(y), X_valid, np.asarray(y_valid), params, config, validation_predictions=True
        )
        self.classes_ = np.array([0, 1])
        # Calibrated on the first fit's predictions, made before the validation labels were learnt.
        self.calibration_ = _fit_calibration(
            config.calibration, validation_raw, np.asarray(y_valid),
            history=history_from_features(X_valid) if config.bgnbd_in_calibration else None,
            horizon_weeks=self.horizon_days / 7, seed=self.seed,
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        lapse = apply_calibration(self.calibration_, self.raw_predict(X), X)
        return np.column_stack([1 - lapse, lapse])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def bgnbd_lapse_probability(self, X: pd.DataFrame) -> np.ndarray | None:
        """BG/NBD's P(no purchase in the horizon) that the calibration weighs; None when it weighs none."""
        bgnbd = self.calibration_.get("bgnbd")
        if bgnbd is None:
            return None
        return _bgnbd_no_purchase(bgnbd, history_from_features(X))


class ValueModel(RegressorMixin, _BoosterModel):
    """Expected net spend over the label window it learned (never negative).

    The window is the value plan's ``horizon_days`` (see ``fitted_value_horizon``);
    predictions are never stretched to a longer one.
    """

    def __init__(self, config=None, seed: int = 7):
        self.config = config
        self.seed = seed

    def fit(self, X: pd.DataFrame, y, *, X_valid: pd.DataFrame, y_valid) -> ValueModel:
        config = self.config or ValueModelConfig()
        if config.objective == "tweedie":
            objective = {"objective": "tweedie", "tweedie_variance_power": config.tweedie_variance_power, "metric": "tweedie"}
        else:
            objective = {"objective": "regression", "metric": "l2"}
        # Spend net of refunds can dip below zero; the target is what the customer will bring, at least 0.
        y, y_valid = np.clip(np.asarray(y, float), 0, None), np.clip(np.asarray(y_valid, float), 0, None)
        self.booster_, _ = self._train(X, y, X_valid, y_valid, _lgb_params(config, objective, self.seed), config)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.clip(self.raw_predict(X), 0, None)


def _logit(probability: np.ndarray) -> np.ndarray:
    return np.log(np.clip(probability, 1e-7, 1 - 1e-7) / np.clip(1 - probability, 1e-7, 1))


def _bgnbd_no_purchase(bgnbd: dict, history: pd.DataFrame) -> np.ndarray:
    fit = BetaGeoFit(bgnbd["r"], bgnbd["alpha"], bgnbd["a"], bgnbd["b"])
    return fit.p_no_purchase(bgnbd["horizon_weeks"], history["x"], history["t_x"], history["T"])


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
        inputs = [_logit(raw)]
        bgnbd = None
        if history is not None:
            fitted = fit_bgnbd(history.sample(n=min(len(history), BGNBD_FIT_ROWS), random_state=seed))
            bgnbd = {"r": fitted.r, "alpha": fitted.alpha, "a": fitted.a, "b": fitted.b,
                     "horizon_weeks": horizon_weeks}
            inputs.append(_logit(_bgnbd_no_purchase(bgnbd, history)))
        lr = LogisticRegression(C=1e6).fit(np.column_stack(inputs), y)
        calibration = {"method": "sigmoid", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
        if bgnbd is not None:
            calibration["bgnbd"] = {**{k: float(v) for k, v in bgnbd.items()}, "weight": float(lr.coef_[0, 1])}
        return calibration
    return {"method": "none"}


def apply_calibration(calibration: dict, raw: np.ndarray, features: pd.DataFrame | None = None) -> np.ndarray:
    """Calibrated lapse probabilities; ``features`` are needed when the map weighs the BG/NBD forecast."""
    if calibration["method"] == "isotonic":
        return np.interp(raw, calibration["x"], calibration["y"])
    if calibration["method"] == "sigmoid":
        log_odds = calibration["a"] * _logit(raw) + calibration["b"]
        if "bgnbd" in calibration:
            if features is None:
                raise TierwiseError("model: this churn calibration weighs the BG/NBD forecast and needs the features")
            bgnbd = calibration["bgnbd"]
            log_odds = log_odds + bgnbd["weight"] * _logit(_bgnbd_no_purchase(bgnbd, history_from_features(features)))
        return 1 / (1 + np.exp(-log_odds))
    return raw


def restore_model(booster: lgb.Booster, metadata: dict) -> ChurnModel | ValueModel:
    """Rebuild a fitted model from its saved booster and the metadata logged beside it."""
    kind = metadata.get("tierwise_kind")
    if kind == "churn":
        model: ChurnModel | ValueModel = ChurnModel()
        model.calibration_ = metadata["calibration"]
        model.classes_ = np.array([0, 1])
    elif kind in ("value", "retained_value"):
        if float(metadata.get("scale", 1.0)) != 1.0:
            raise TierwiseError(
                f"model: this value model stretches a {metadata.get('value_label_days')}-day prediction to "
                f"{metadata.get('value_horizon_days')} days, which tierwise no longer does; run tierwise train again"
            )
        model = ValueModel()
    else:
        raise TierwiseError(f"model: metadata names kind {kind!r}; expected a tierwise churn, value or retained-value model")
    model.booster_ = booster
    model.feature_names_in_ = np.array(metadata["feature_names"], dtype=object)
    model.categories_ = {k: list(v) for k, v in metadata["categories"].items()}
    model.best_iteration_ = int(metadata["best_iteration"])
    return model
