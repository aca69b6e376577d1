"""What predicting needs, below training and inference: fitted models restored and their scoring rules.

Training fits subclasses of the predictors here and saves them; inference and
the MLflow pyfuncs (:func:`log_pyfunc_model`, :func:`log_scorer`) restore and
predict with the same code, so every path gives the same numbers.
"""

from tierwise.models._bands import activity_classes, base_lapse_rate, risk_band_terms, risk_bands
from tierwise.models._bgnbd import BetaGeoFit, history_from_features
from tierwise.models._predictors import (
    MODEL_KINDS,
    BoosterPredictor,
    ChurnPredictor,
    ValuePredictor,
    apply_calibration,
    bgnbd_no_purchase,
    expect_kind,
    logit,
    model_features,
    prepare_features,
    restore_model,
    saved_metadata,
)
from tierwise.models._pyfunc import (
    PREDICTION_NAMES,
    TierwiseModel,
    TierwiseScorer,
    as_model_input,
    input_schema,
    log_pyfunc_model,
    log_scorer,
)
from tierwise.models._scoring import SCORING_COLUMNS, lifecycle_stage, score_features
from tierwise.models._source import (
    data_source_differences,
    data_source_metadata,
    data_source_signature,
    describe_data_source,
)
from tierwise.models._store import connect, log_scoring_metrics, sqlite_store_path, tracking_uri, using_tracking_uri
from tierwise.models._tiers import assign_tiers

__all__ = [
    "MODEL_KINDS",
    "PREDICTION_NAMES",
    "SCORING_COLUMNS",
    "TierwiseModel",
    "TierwiseScorer",
    "BetaGeoFit",
    "BoosterPredictor",
    "ChurnPredictor",
    "ValuePredictor",
    "activity_classes",
    "apply_calibration",
    "as_model_input",
    "assign_tiers",
    "base_lapse_rate",
    "bgnbd_no_purchase",
    "connect",
    "log_scoring_metrics",
    "data_source_differences",
    "data_source_metadata",
    "data_source_signature",
    "describe_data_source",
    "expect_kind",
    "history_from_features",
    "input_schema",
    "lifecycle_stage",
    "log_pyfunc_model",
    "log_scorer",
    "logit",
    "model_features",
    "prepare_features",
    "restore_model",
    "risk_band_terms",
    "risk_bands",
    "saved_metadata",
    "score_features",
    "sqlite_store_path",
    "tracking_uri",
    "using_tracking_uri",
]
