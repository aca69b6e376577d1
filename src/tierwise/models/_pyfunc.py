"""The tierwise models as MLflow pyfuncs: ``mlflow.pyfunc.load_model`` predicts what ``tierwise score`` does.

Each model is logged from code (MLflow's models-from-code, no pickle): the
model folder holds the LightGBM booster in its text format, the metadata as
JSON and a three-line file that builds :class:`TierwiseModel` or
:class:`TierwiseScorer` from the installed tierwise. The pyfunc's
requirements name tierwise itself rather than copying its code in with
``code_paths``: a copy would be a second ``tierwise`` package that shadows,
or is shadowed by, the installed one in any process that has both, and the
predicting code must be the one that scores. So a model loads wherever
tierwise (same version) is installed.

Signatures name every column the model reads. MLflow gives a column one type
and its ``double`` refuses an ``int64`` column (Spark's ``bigint``), so
feature columns are declared ``Any`` and checked here instead: numeric
features take integer, floating, decimal or boolean columns, missing values
allowed; attribute features take strings or categoricals (or numbers, matched
to the training levels as text).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import AnyType, ColSpec, DataType, Schema, TensorSpec

import tierwise
from tierwise.config import ScoringConfig, TierRule
from tierwise.errors import TierwiseError
from tierwise.models._predictors import ChurnPredictor, ValuePredictor, expect_kind, restore_model
from tierwise.models._scoring import SCORING_COLUMNS, score_features

# What each model's pyfunc returns, one number per row.
PREDICTION_NAMES = {"churn": "churn_probability", "value": "predicted_value", "retained_value": "retained_value"}
_SCORE_TYPES = {
    "lifecycle": DataType.string, "churn_probability": DataType.double, "risk_band": DataType.string,
    "predicted_value": DataType.double, "retained_value": DataType.double, "value_horizon_days": DataType.long,
    "value_at_risk": DataType.double, "value_percentile": DataType.double, "value_grade": DataType.string,
    "activity_class": DataType.string, "tier": DataType.string, "tier_action": DataType.string,
}


def _requirements() -> list[str]:
    return [f"tierwise=={tierwise.__version__}", f"lightgbm=={lgb.__version__}"]


def as_model_input(frame: pd.DataFrame, feature_names: list[str], categories: dict[str, list[str]]) -> pd.DataFrame:
    """The feature columns of ``frame`` with every numeric feature as float64; attribute columns as given.

    Raises :class:`TierwiseError` naming a missing column, or a numeric
    feature column with values that are not numbers (with an example).

    Parameters
    ----------
    frame : pandas.DataFrame
        A feature table (other columns are left out).
    feature_names : list of str
        The model's features.
    categories : dict of str to list of str
        The model's categorical features and their levels.

    Returns
    -------
    pandas.DataFrame
        The model's columns, in order.

    Raises
    ------
    TierwiseError
        When a feature column is missing or a numeric one holds values that are not numbers.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TierwiseError(f"features: expected a table with columns {', '.join(feature_names[:3])}, ...; got {type(frame).__name__}")
    missing = [c for c in feature_names if c not in frame.columns]
    if missing:
        raise TierwiseError(f"features: the model needs columns that are missing: {', '.join(missing[:5])}")
    prepared = {}
    for column in feature_names:
        values = frame[column]
        if column not in categories:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                raise TierwiseError(
                    f"features: column '{column}': {int(bad.sum())} rows are not numbers, e.g. {values[bad].iloc[0]!r}"
                )
            values = numbers.astype("float64")
        prepared[column] = values
    return pd.DataFrame(prepared, index=frame.index)


def input_schema(feature_names: list[str], *, with_customer_id: bool = False) -> Schema:
    """Every feature column, of any type (checked by :func:`as_model_input`); optionally an optional customer_id.

    Parameters
    ----------
    feature_names : list of str
        The model's features.
    with_customer_id : bool
        Add an optional ``customer_id`` column.

    Returns
    -------
    mlflow.types.Schema
        The pyfunc's input schema.
    """
    columns: list[ColSpec | TensorSpec] = [ColSpec(AnyType(), name) for name in feature_names]
    if with_customer_id:
        columns.insert(0, ColSpec(DataType.string, "customer_id", required=False))
    return Schema(columns)


def _saved(folder: Path, stem: str, model: ChurnPredictor | ValuePredictor, metadata: dict) -> dict[str, str]:
    booster, meta = folder / f"{stem}_booster.txt", folder / f"{stem}_metadata.json"
    model.booster_.save_model(str(booster))
    meta.write_text(json.dumps(metadata, sort_keys=True, default=str), encoding="utf-8")
    return {f"{stem}_booster": str(booster), f"{stem}_metadata": str(meta)}


def _restored(artifacts: dict[str, str], stem: str) -> tuple[ChurnPredictor | ValuePredictor, dict]:
    metadata = json.loads(Path(artifacts[f"{stem}_metadata"]).read_text(encoding="utf-8"))
    return restore_model(lgb.Booster(model_file=artifacts[f"{stem}_booster"]), metadata), metadata


class TierwiseModel(PythonModel):
    """One tierwise model as an MLflow pyfunc.

    ``predict`` takes a feature table (``tierwise features`` output; other
    columns are ignored) and returns one number per row: the calibrated churn
    probability (churn model, BG/NBD term included when the calibration has
    one), or the predicted spend over ``value_horizon_days``, never negative
    (value and retained-value models). The churn model answers for every row;
    ``tierwise score`` only asks it about new and active customers, as the
    scorer does.
    """

    def load_context(self, context) -> None:
        """Restore the model from the logged artifacts.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            Gives the logged artifacts.
        """
        self.model_, self.metadata_ = _restored(context.artifacts, "model")

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        """Predict one number per row of a feature table.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            Gives the logged artifacts.
        model_input : pandas.DataFrame
            A feature table.
        params : dict, optional
            Unused; MLflow's signature.

        Returns
        -------
        numpy.ndarray
            The calibrated churn probability, or the predicted spend.

        Raises
        ------
        TierwiseError
            When a feature column is missing or not numeric.
        """
        model = self.model_
        features = as_model_input(model_input, list(model.feature_names_in_), model.categories_)
        if isinstance(model, ChurnPredictor):
            return model.predict_proba(features)[:, 1]
        return model.predict(features)


class TierwiseScorer(PythonModel):
    """The three models and the scoring rules as one MLflow pyfunc.

    ``predict`` takes a feature table and returns the scoring columns of
    :func:`tierwise.models.score_features` (lifecycle, churn_probability,
    risk_band, predicted_value, retained_value, value_horizon_days,
    value_at_risk, value_percentile, value_grade, activity_class, tier,
    tier_action), after ``customer_id`` when the input has one, with the
    scoring and tier settings saved at training. Relative risk bands, value
    percentiles and grades rank the rows of one call among themselves: pass
    every customer of a cutoff in one call, as ``tierwise score`` does.
    """

    def load_context(self, context) -> None:
        """Restore the three models and the scoring rules from the logged artifacts.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            Gives the logged artifacts.
        """
        churn, self.metadata_ = _restored(context.artifacts, "churn")
        self.churn_ = expect_kind(churn, ChurnPredictor, "the scorer's churn model")
        self.value_ = expect_kind(_restored(context.artifacts, "value")[0], ValuePredictor, "the scorer's value model")
        self.retained_value_ = expect_kind(
            _restored(context.artifacts, "retained_value")[0], ValuePredictor, "the scorer's retained-value model")
        rules = json.loads(Path(context.artifacts["scoring_rules"]).read_text(encoding="utf-8"))
        self.scoring_ = ScoringConfig.model_validate(rules["scoring"])
        self.tiers_ = tuple(TierRule.model_validate(rule) for rule in rules["tiers"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Score every row of a feature table into tiers.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            Gives the logged artifacts.
        model_input : pandas.DataFrame
            A feature table, every customer of one cutoff.
        params : dict, optional
            Unused; MLflow's signature.

        Returns
        -------
        pandas.DataFrame
            ``customer_id`` (when given) and the scoring columns, one row per input row.

        Raises
        ------
        TierwiseError
            When a feature column is missing or not numeric.
        """
        churn = self.churn_
        features = as_model_input(model_input, list(churn.feature_names_in_), churn.categories_)
        others = [c for c in model_input.columns if c not in features.columns]
        scores = score_features(
            features.join(model_input[others]), churn=churn, value=self.value_,
            retained_value=self.retained_value_, scoring=self.scoring_, tiers=self.tiers_,
            lookback_days=float(self.metadata_["active_lookback_days"]),
            value_horizon_days=int(self.metadata_["value_horizon_days"]),
        )
        if "customer_id" in model_input.columns:
            scores.insert(0, "customer_id", model_input["customer_id"].astype("object"))
        return scores.reset_index(drop=True)


def _scorer_metadata(churn_metadata: dict) -> dict:
    """The churn model's metadata less what only the churn booster needs: what the models were trained for."""
    own = ("tierwise_kind", "calibration", "best_iteration", "categories")
    return {"tierwise_kind": "scorer", **{k: v for k, v in churn_metadata.items() if k not in own}}


def _code(file_name: str) -> str:
    return str(resources.files("tierwise.models").joinpath(file_name))


def log_pyfunc_model(
    model: ChurnPredictor | ValuePredictor, *, name: str, metadata: dict, registered_model_name: str | None = None
) -> ModelInfo:
    """Log one model as a :class:`TierwiseModel` pyfunc in the active run, ``metadata`` in its MLmodel too.

    ``metadata`` must hold what :func:`restore_model` reads (see
    :func:`saved_metadata`); it is saved beside the booster and logged as
    the model's MLflow metadata.

    Parameters
    ----------
    model : ChurnPredictor or ValuePredictor
        The fitted model.
    name : str
        The model's artifact path in the run.
    metadata : dict
        The model's metadata.
    registered_model_name : str, optional
        Register the model under this name too.

    Returns
    -------
    mlflow.models.model.ModelInfo
        The logged model (its URI and registered version).
    """
    kind = metadata["tierwise_kind"]
    signature = ModelSignature(
        inputs=input_schema(list(model.feature_names_in_)),
        outputs=Schema([ColSpec(DataType.double, PREDICTION_NAMES[kind])]),
    )
    with tempfile.TemporaryDirectory() as folder:
        return _log_with_signature(
            name=name, python_model=_code("_pyfunc_model.py"), artifacts=_saved(Path(folder), "model", model, metadata),
            signature=signature, pip_requirements=_requirements(), metadata=metadata,
            registered_model_name=registered_model_name,
        )


def _log_with_signature(**arguments) -> ModelInfo:
    """``mlflow.pyfunc.log_model`` without its advice to add an input example: the signature is given in full."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*An input example was not provided")  # coloured: not at the start
        return mlflow.pyfunc.log_model(**arguments)


def log_scorer(
    models: Mapping[str, ChurnPredictor | ValuePredictor],
    metadata: dict[str, dict],
    *,
    scoring: ScoringConfig,
    tiers: tuple[TierRule, ...],
    name: str = "scorer",
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Log the :class:`TierwiseScorer` pyfunc in the active run: the three models and the scoring rules.

    ``models`` and ``metadata`` are keyed by kind (churn, value,
    retained_value); the churn metadata must hold ``active_lookback_days`` and
    ``value_horizon_days``. ``scoring`` and ``tiers`` are saved with it.

    Parameters
    ----------
    models : mapping of str to ChurnPredictor or ValuePredictor
        The three fitted models.
    metadata : dict of str to dict
        Their metadata.
    scoring : ScoringConfig
        The scoring settings saved with the scorer.
    tiers : tuple of TierRule
        The tier rules saved with it.
    name : str
        The scorer's artifact path in the run.
    registered_model_name : str, optional
        Register the scorer under this name too.

    Returns
    -------
    mlflow.models.model.ModelInfo
        The logged scorer.
    """
    churn = models["churn"]
    outputs: list[ColSpec | TensorSpec] = [ColSpec(DataType.string, "customer_id", required=False)]
    outputs += [ColSpec(_SCORE_TYPES[column], column) for column in SCORING_COLUMNS]
    signature = ModelSignature(inputs=input_schema(list(churn.feature_names_in_), with_customer_id=True),
                               outputs=Schema(outputs))
    with tempfile.TemporaryDirectory() as folder:
        artifacts = {}
        for kind, model in models.items():
            artifacts.update(_saved(Path(folder), kind, model, metadata[kind]))
        rules = Path(folder) / "scoring_rules.json"
        rules.write_text(json.dumps({"scoring": scoring.model_dump(mode="json"),
                                     "tiers": [rule.model_dump(mode="json") for rule in tiers]}, sort_keys=True))
        artifacts["scoring_rules"] = str(rules)
        return _log_with_signature(
            name=name, python_model=_code("_pyfunc_scorer.py"), artifacts=artifacts, signature=signature,
            pip_requirements=_requirements(), metadata=_scorer_metadata(metadata["churn"]),
            registered_model_name=registered_model_name,
        )
