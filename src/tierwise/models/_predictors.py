"""Fitted models as they predict: the booster, its feature layout, calibration and clipping.

A saved model is a LightGBM booster (its own text format) plus plain-JSON
metadata (:func:`saved_metadata`); :func:`restore_model` turns the two back
into a :class:`ChurnPredictor` or :class:`ValuePredictor`. Training fits
subclasses of these, scoring and the MLflow pyfunc use them restored, so every
path predicts with the same code.
"""

from __future__ import annotations

from typing import TypeVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from tierwise.config import FeatureConfig
from tierwise.errors import ModelNotFoundError, TierwiseError
from tierwise.features import attribute_columns, describe_features
from tierwise.inputs import InputData
from tierwise.models._bgnbd import BetaGeoFit, history_from_features

MODEL_KINDS = ("churn", "value", "retained_value")


def model_features(inputs: InputData, features: FeatureConfig) -> list[str]:
    """The feature columns the models use, in order.

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    features : FeatureConfig
        The feature settings.

    Returns
    -------
    list of str
        The feature catalog's columns (attributes included when there is a customer table).
    """
    return [spec.name for spec in describe_features(features, attribute_columns(inputs))]


def prepare_features(X: pd.DataFrame, feature_names: list[str], categories: dict[str, list[str]]) -> pd.DataFrame:
    """``X`` as a booster expects it: the training column order and categorical levels.

    Attribute columns may come as strings, categoricals or numbers; their
    values are matched to the training levels as text, and a level the model
    never saw becomes missing, as LightGBM reads it.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).
    feature_names : list of str
        The training columns, in order.
    categories : dict of str to list of str
        The training levels of each categorical column.

    Returns
    -------
    pandas.DataFrame
        A new frame with exactly ``feature_names``.
    """
    missing = [c for c in feature_names if c not in X.columns]
    if missing:
        raise TierwiseError(f"features: the model needs columns that are missing: {', '.join(missing[:5])}")
    X = X[list(feature_names)].copy()
    for column, levels in categories.items():
        values = X[column].astype("object")
        X[column] = pd.Categorical(values.where(values.notna()).map(str, na_action="ignore"), categories=levels)
    return X


def _check_fitted(model: object, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise NotFittedError(f"this {type(model).__name__} is not fitted yet; call fit or restore_model first")


class BoosterPredictor:
    """A LightGBM booster with the feature layout it was trained on.

    Attributes: ``booster_``, ``feature_names_in_``, ``categories_``
    (attribute -> training levels) and ``best_iteration_``.
    """

    booster_: lgb.Booster
    feature_names_in_: np.ndarray
    categories_: dict[str, list[str]]
    best_iteration_: int

    def _remember_layout(self, X: pd.DataFrame) -> None:
        self.feature_names_in_ = np.array(X.columns, dtype=object)
        self.categories_ = {
            c: list(map(str, X[c].cat.categories)) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)
        }

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` as the booster expects it (see :func:`prepare_features`).

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).

        Returns
        -------
        pandas.DataFrame
            The booster's columns, in order, with its categorical levels.
        """
        _check_fitted(self, "feature_names_in_")
        return prepare_features(X, list(self.feature_names_in_), self.categories_)

    def raw_predict(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's output over its best iterations: P(lapse) uncalibrated, or spend unclipped.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).

        Returns
        -------
        numpy.ndarray
            One number per row.
        """
        _check_fitted(self, "booster_")
        # num_threads=0: all cores, whatever thread count the booster was trained (and saved) with.
        return np.asarray(self.booster_.predict(self.prepare(X), num_iteration=self.best_iteration_, num_threads=0))


class ChurnPredictor(BoosterPredictor):
    """P(lapse within the churn horizon): the booster's output through the saved calibration (``calibration_``)."""

    calibration_: dict

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: P(stays), P(lapses); one row per row of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).

        Returns
        -------
        numpy.ndarray
            Shape ``(n_rows, 2)``, calibrated.
        """
        lapse = apply_calibration(self.calibration_, self.raw_predict(X), X)
        return np.column_stack([1 - lapse, lapse])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predict lapse (1) or not (0): whether the calibrated probability is at least 0.5.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).

        Returns
        -------
        numpy.ndarray
            One 0/1 label per row.
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def bgnbd_lapse_probability(self, X: pd.DataFrame) -> np.ndarray | None:
        """The BG/NBD P(no purchase in the horizon) that the calibration weighs; None when it weighs none.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).

        Returns
        -------
        numpy.ndarray or None
            One probability per row (NaN for customers without an order).
        """
        bgnbd = self.calibration_.get("bgnbd")
        if bgnbd is None:
            return None
        return bgnbd_no_purchase(bgnbd, history_from_features(X))


class ValuePredictor(BoosterPredictor):
    """Expected net spend over the window the model learned, never negative."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predict net spend over the model's value window, never negative.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).

        Returns
        -------
        numpy.ndarray
            One amount per row, in the transactions' currency.
        """
        return np.clip(self.raw_predict(X), 0, None)


def logit(probability: np.ndarray) -> np.ndarray:
    """The log-odds log(p / (1 - p)), with p kept within [1e-7, 1 - 1e-7].

    Parameters
    ----------
    probability : numpy.ndarray
        Probabilities.

    Returns
    -------
    numpy.ndarray
        The log-odds.

    Examples
    --------
    >>> float(logit(np.array([0.5]))[0])
    0.0
    """
    return np.log(np.clip(probability, 1e-7, 1 - 1e-7) / np.clip(1 - probability, 1e-7, 1))


def bgnbd_no_purchase(bgnbd: dict, history: pd.DataFrame) -> np.ndarray:
    """P(no purchase in ``bgnbd["horizon_weeks"]``) per row of ``history`` (``x``, ``t_x``, ``T``), from saved parameters.

    Parameters
    ----------
    bgnbd : dict
        The saved fit: ``r``, ``alpha``, ``a``, ``b`` and ``horizon_weeks``.
    history : pandas.DataFrame
        ``x``, ``t_x``, ``T`` (see :func:`history_from_features`).

    Returns
    -------
    numpy.ndarray
        One probability per row.
    """
    fit = BetaGeoFit(bgnbd["r"], bgnbd["alpha"], bgnbd["a"], bgnbd["b"])
    return fit.p_no_purchase(bgnbd["horizon_weeks"], history["x"], history["t_x"], history["T"])


def apply_calibration(calibration: dict, raw: np.ndarray, features: pd.DataFrame | None = None) -> np.ndarray:
    """Calibrated lapse probabilities; ``features`` are needed when the map weighs the BG/NBD forecast.

    Parameters
    ----------
    calibration : dict
        The saved calibration map (isotonic or Platt, with or without the BG/NBD term).
    raw : numpy.ndarray
        The booster's uncalibrated probabilities.
    features : pandas.DataFrame, optional
        The rows' features, for the BG/NBD term.

    Returns
    -------
    numpy.ndarray
        One probability per row.
    """
    if calibration["method"] == "isotonic":
        return np.interp(raw, calibration["x"], calibration["y"])
    if calibration["method"] == "sigmoid":
        log_odds = calibration["a"] * logit(raw) + calibration["b"]
        if "bgnbd" in calibration:
            if features is None:
                raise TierwiseError("model: this churn calibration weighs the BG/NBD forecast and needs the features")
            bgnbd = calibration["bgnbd"]
            log_odds = log_odds + bgnbd["weight"] * logit(bgnbd_no_purchase(bgnbd, history_from_features(features)))
        return 1 / (1 + np.exp(-log_odds))
    return raw


def saved_metadata(model: ChurnPredictor | ValuePredictor, kind: str) -> dict:
    """What :func:`restore_model` needs beside the booster, as plain JSON: kind, layout, iterations, calibration.

    Parameters
    ----------
    model : ChurnPredictor or ValuePredictor
        A fitted model.
    kind : str
        ``churn``, ``value`` or ``retained_value``.

    Returns
    -------
    dict
        JSON-serialisable metadata.
    """
    metadata = {
        "tierwise_kind": kind,
        "feature_names": list(model.feature_names_in_),
        "categories": model.categories_,
        "best_iteration": int(model.best_iteration_),
    }
    if isinstance(model, ChurnPredictor):
        metadata["calibration"] = model.calibration_
    return metadata


def restore_model(booster: lgb.Booster, metadata: dict) -> ChurnPredictor | ValuePredictor:
    """Rebuild a fitted model from its saved booster and the metadata logged beside it.

    Parameters
    ----------
    booster : lightgbm.Booster
        The saved booster.
    metadata : dict
        What :func:`saved_metadata` returned when the model was saved.

    Returns
    -------
    ChurnPredictor or ValuePredictor
        The model, ready to predict.
    """
    kind = metadata.get("tierwise_kind")
    model: ChurnPredictor | ValuePredictor
    if kind == "churn":
        model = churn = ChurnPredictor()
        churn.calibration_ = metadata["calibration"]
    elif kind in ("value", "retained_value"):
        if float(metadata.get("scale", 1.0)) != 1.0:
            raise TierwiseError(
                f"model: this value model stretches a {metadata.get('value_label_days')}-day prediction to "
                f"{metadata.get('value_horizon_days')} days, which tierwise no longer does; run tierwise train again"
            )
        model = ValuePredictor()
    else:
        raise TierwiseError(f"model: metadata names kind {kind!r}; expected a tierwise churn, value or retained-value model")
    model.booster_ = booster
    model.feature_names_in_ = np.array(metadata["feature_names"], dtype=object)
    model.categories_ = {k: list(v) for k, v in metadata["categories"].items()}
    model.best_iteration_ = int(metadata["best_iteration"])
    return model


PredictorT = TypeVar("PredictorT", "ChurnPredictor", "ValuePredictor")


def expect_kind(model: ChurnPredictor | ValuePredictor, kind: type[PredictorT], where: str) -> PredictorT:
    """``model`` itself when it is a ``kind``; a model of the other kind is refused, not used in its place.

    Parameters
    ----------
    model : ChurnPredictor or ValuePredictor
        A restored model.
    kind : type
        :class:`ChurnPredictor` or :class:`ValuePredictor`: what belongs where ``model`` was found.
    where : str
        Where ``model`` came from (a model URI or artifact name), for the error.

    Returns
    -------
    ChurnPredictor or ValuePredictor
        ``model``, typed as ``kind``.

    Raises
    ------
    ModelNotFoundError
        When ``model`` is of the other kind (e.g. a value model registered under the churn model's name).
    """
    if not isinstance(model, kind):
        found = "churn" if isinstance(model, ChurnPredictor) else "value"
        wanted = "churn" if kind is ChurnPredictor else "value"
        raise ModelNotFoundError(f"model: {where} is a {found} model where a {wanted} model belongs; "
                                 "check the registered model names in the registry section")
    return model
