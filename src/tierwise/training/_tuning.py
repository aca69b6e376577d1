"""Optional hyper-parameter search (Optuna), judged on the validation snapshot only.

The test cutoff of a backtest is never seen: each trial fits on the training
snapshots and is scored by its early-stopping loss on the later validation
snapshot. The sampler is seeded, so the same data give the same choice.
"""

from __future__ import annotations

import logging

import optuna

logger = logging.getLogger(__name__)


def tune_config(model_class, config, X, y, *, X_valid, y_valid, trials: int, seed: int, num_threads: int = 0):
    """Return ``config`` with the tree shape and learning rate that minimise the validation loss.

    Parameters
    ----------
    model_class : type
        :class:`ChurnModel` or :class:`ValueModel`.
    config : ChurnModelConfig or ValueModelConfig
        The starting settings.
    X : pandas.DataFrame
        The training rows' features.
    y : array-like
        Their labels.
    X_valid : pandas.DataFrame
        The validation rows' features.
    y_valid : array-like
        Their labels.
    trials : int
        The number of optuna trials.
    seed : int
        Seeds the sampler and the models.
    num_threads : int
        LightGBM threads; 0 uses all cores.

    Returns
    -------
    ChurnModelConfig or ValueModelConfig
        A copy of ``config`` with the best ``num_leaves``, ``max_depth``, ``learning_rate``, ``min_child_samples``
        and ``lambda_l2``.
    """

    def objective(trial: optuna.Trial) -> float:
        candidate = config.model_copy(
            update={
                "num_leaves": trial.suggest_int("num_leaves", 7, 63),
                "max_depth": trial.suggest_int("max_depth", 3, 8),
                "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
                "min_child_samples": trial.suggest_int("min_child_samples", 10, 200, log=True),
                "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
                # A trial is judged by its validation loss alone, which neither a refit nor the calibration changes.
                "refit_on_validation": False,
                "bgnbd_in_calibration": False,
            }
        )
        model = model_class(candidate, seed=seed, num_threads=num_threads).fit(X, y, X_valid=X_valid, y_valid=y_valid)
        return model.validation_loss_

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    logger.info("%s: best validation loss %.5f with %s", model_class.__name__, study.best_value, study.best_params)
    return config.model_copy(update=study.best_params)  # keeps the config's own refit and calibration
