"""Explanations: one customer's full breakdown, and SHAP's own :class:`shap.Explanation` for any customers.

The contributions are LightGBM's exact tree SHAP values (``pred_contrib``),
in log-odds of lapsing; :func:`churn_explanation` hands them out as a
``shap.Explanation`` with readable feature names and each customer's values,
so that ``shap.plots.waterfall``, ``beeswarm`` and ``bar`` draw them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tierwise.config import TierwiseConfig
from tierwise.errors import TierwiseError
from tierwise.features import attribute_columns, build_features, describe_features, normalize_as_of
from tierwise.features._build import AsOf
from tierwise.inference._checks import check_scoring_data
from tierwise.inference._models import ScoringModels
from tierwise.inference._reasons import churn_contributions, reason_sentence
from tierwise.inference._score import check_compatible
from tierwise.inputs import InputData
from tierwise.models import apply_calibration, lifecycle_stage

if TYPE_CHECKING:
    import shap
    from matplotlib.figure import Figure


def explain_customer(
    inputs: InputData, customer_id: str, *, as_of: AsOf, config: TierwiseConfig, models: ScoringModels
) -> pd.DataFrame:
    """Every feature of one customer with its churn contribution (log-odds), largest effect first.

    Columns: feature, value, contribution, sentence, description, unit. The
    frame's ``attrs`` hold ``bias`` (the model's average log-odds),
    ``raw_probability``, ``churn_probability`` (calibrated) and
    ``bgnbd_lapse_probability`` (the BG/NBD forecast the calibration weighs, or None).

    Parameters
    ----------
    inputs : InputData
        The validated inputs (see :func:`tierwise.io.read_inputs`).
    customer_id : str
        The customer to explain.
    as_of : str or pandas.Timestamp
        The cutoff: the features see only records before it.
    config : TierwiseConfig
        The features, scoring and tier settings.
    models : ScoringModels
        The churn, value and retained-value models (see :func:`load_models`).

    Returns
    -------
    pandas.DataFrame
        One row per feature, sorted by absolute contribution.

    Raises
    ------
    TierwiseError
        When the customer has no record before ``as_of``, or is not new or active (no churn probability to explain),
        or a feature the models relied on is lost.
    """
    columns = check_compatible(inputs, config, models)
    features = build_features(inputs, as_of=normalize_as_of(as_of), config=config.features)
    check_scoring_data(features, models, config=config)
    row = features[features["customer_id"] == str(customer_id)]
    if row.empty:
        raise TierwiseError(f"customer '{customer_id}': no transaction, event or signup before {normalize_as_of(as_of).date()}")
    lookback = float(models.metadata.get("active_lookback_days", config.training.active_lookback_days))
    stage = lifecycle_stage(row, lookback_days=lookback, new_customer_days=config.scoring.new_customer_days)[0]
    if stage not in ("new", "active"):
        why = "never bought" if stage == "prospect" else f"no purchase within {lookback:.0f} days"
        raise TierwiseError(
            f"customer '{customer_id}': lifecycle '{stage}' ({why}): scoring gives such customers no churn "
            "probability, so there is no risk to explain"
        )
    contributions = churn_contributions(models.churn, row[columns]).iloc[0]
    specs = {s.name: s for s in describe_features(config.features, attribute_columns(inputs))}
    values = row.iloc[0]
    record = values.to_dict()
    table = pd.DataFrame(
        {
            "feature": columns,
            "value": [values[c] for c in columns],
            "contribution": [contributions[c] for c in columns],
            "sentence": [reason_sentence(c, record, specs.get(c)) for c in columns],
            "description": [specs[c].description for c in columns],
            "unit": [specs[c].unit for c in columns],
        }
    )
    table = table.iloc[np.argsort(-table["contribution"].abs().to_numpy(), kind="stable")].reset_index(drop=True)
    raw_log_odds = contributions.sum()
    bgnbd = models.churn.bgnbd_lapse_probability(row[columns])
    raw = 1 / (1 + np.exp(-raw_log_odds))
    table.attrs.update(
        customer_id=str(customer_id), bias=float(contributions["bias"]), raw_probability=float(raw),
        churn_probability=float(apply_calibration(models.churn.calibration_, np.array([raw]), row[columns])[0]),
        bgnbd_lapse_probability=None if bgnbd is None else float(bgnbd[0]),
    )
    return table


def _readable_name(description: str) -> str:
    """A feature's description as a plot label: capitalised, without its parenthesised aside."""
    label = description.split(" (")[0].strip()
    return label[:1].upper() + label[1:]


def _shown_value(value: object, unit: str, feature: str) -> str:
    """A feature value in words for a plot: its unit, and what a missing value means."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "never" if feature.endswith("_days_since_last") or feature == "recency_days" else "none"
    if isinstance(value, str):
        return value
    number = float(value)  # type: ignore[arg-type]
    if unit == "days":
        return f"{number:,.0f} days"
    if unit.startswith("currency"):
        return f"{number:,.2f}"
    if unit in ("relative change", "share"):
        return f"{number:+.0%}" if unit == "relative change" else f"{number:.0%}"
    if unit in ("orders", "events", "lines"):
        return f"{number:,.0f} {unit}"
    return f"{number:.3g}"


def churn_explanation(
    inputs: InputData,
    *,
    as_of: AsOf,
    config: TierwiseConfig,
    models: ScoringModels,
    customers: Sequence[str] | None = None,
) -> shap.Explanation:
    """The churn model's SHAP values as a :class:`shap.Explanation`, for ``shap.plots`` to draw.

    Values are LightGBM's exact tree SHAP contributions (log-odds of lapsing,
    before calibration); ``base_values`` the model's average log-odds;
    ``data`` each customer's feature values (numbers; a categorical attribute
    as its level's code) and ``display_data`` the same in words with units.
    Feature names are the features' descriptions.

    Parameters
    ----------
    inputs : InputData
        The validated tables.
    as_of : date-like
        The cutoff the features are built at.
    config : TierwiseConfig
        The settings the models were trained with.
    models : ScoringModels
        The loaded models (``tierwise.fit(...).models`` or ``load_models``).
    customers : sequence of str, optional
        Which customers, in this order; default: every customer the churn
        model scores (lifecycle new or active).

    Returns
    -------
    shap.Explanation
        One row per customer; ``explanation[0]`` is the first customer's,
        for ``shap.plots.waterfall``. ``feature_names`` are readable; the
        attribute ``feature_ids`` holds the column names and
        ``customer_ids`` the customers, row by row.

    Raises
    ------
    TierwiseError
        When a customer is unknown or not scored by the churn model.

    Examples
    --------
    >>> import shap  # doctest: +SKIP
    >>> explanation = churn_explanation(inputs, as_of="2025-06-01", config=config, models=models)  # doctest: +SKIP
    >>> shap.plots.beeswarm(explanation)  # doctest: +SKIP
    >>> shap.plots.waterfall(explanation[0])  # doctest: +SKIP
    """
    import shap

    cutoff = normalize_as_of(as_of)
    columns = check_compatible(inputs, config, models)
    features = build_features(inputs, as_of=cutoff, config=config.features)
    check_scoring_data(features, models, config=config)
    lookback = float(models.metadata.get("active_lookback_days", config.training.active_lookback_days))
    stages = lifecycle_stage(features, lookback_days=lookback, new_customer_days=config.scoring.new_customer_days)
    scored = features[np.isin(stages, ("new", "active"))]
    if customers is not None:
        wanted = [str(c) for c in customers]
        by_id = scored.set_index("customer_id")
        missing = [c for c in wanted if c not in by_id.index]
        if missing:
            raise TierwiseError(
                f"customer '{missing[0]}': not scored by the churn model as of {cutoff.date()} (no purchase before it, "
                f"or none within {lookback:.0f} days)" + (f"; and {len(missing) - 1} more" if len(missing) > 1 else "")
            )
        scored = by_id.loc[wanted].reset_index()
    rows = scored[columns]
    contributions = churn_contributions(models.churn, rows)
    specs = {s.name: s for s in describe_features(config.features, attribute_columns(inputs))}
    numeric = models.churn.prepare(rows)
    data = np.column_stack([
        numeric[c].cat.codes.astype(float).where(numeric[c].notna()).to_numpy() if isinstance(numeric[c].dtype, pd.CategoricalDtype)
        else numeric[c].astype(float).to_numpy() for c in columns
    ]) if columns else np.empty((len(rows), 0))
    display = np.array([[_shown_value(value, specs[c].unit, c) for c, value in zip(columns, record, strict=True)]
                        for record in rows.itertuples(index=False)], dtype=object).reshape(len(rows), len(columns))
    explanation = shap.Explanation(
        values=contributions[columns].to_numpy(),
        base_values=contributions["bias"].to_numpy(),
        data=data,
        display_data=display,
        feature_names=[_readable_name(specs[c].description) for c in columns],
    )
    explanation.feature_ids = list(columns)
    explanation.customer_ids = scored["customer_id"].astype(str).tolist()
    return explanation


def plot_explanation(
    explanation: shap.Explanation,
    *,
    customer_id: str | None = None,
    churn_probability: float | None = None,
    max_display: int = 12,
) -> Figure:
    """Draw shap's waterfall of one customer, with the probability it leads to and an axis in probability too.

    Parameters
    ----------
    explanation : shap.Explanation
        One customer's (``churn_explanation(...)[i]``).
    customer_id : str, optional
        Named in the title.
    churn_probability : float, optional
        The calibrated churn probability, named in the title.
    max_display : int
        Features drawn; the rest are summed into one bar.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure (not shown nor closed).
    """
    import matplotlib.pyplot as plt
    import shap

    shap.plots.waterfall(explanation, max_display=max_display, show=False)
    figure = plt.gcf()
    customer = customer_id
    base = float(explanation.base_values)
    raw = 1 / (1 + math.exp(-(base + float(np.sum(explanation.values)))))
    lines = [f"Customer {customer}" if customer else "One customer"]
    if churn_probability is not None:
        lines[0] += f": churn probability {churn_probability:.0%}"
    lines.append(f"E[f(X)] = average customer's log-odds of lapsing ({1 / (1 + math.exp(-base)):.0%}); "
                 f"f(x) = this customer's ({raw:.0%} before calibration)")
    figure.suptitle("\n".join(lines), fontsize=11, y=1.0, va="bottom")
    figure.axes[0].set_xlabel("log-odds of lapsing: red bars raise the risk, blue bars lower it", labelpad=22)
    return figure
