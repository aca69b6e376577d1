"""One customer's full breakdown: every feature's value, SHAP contribution and meaning."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

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


def explain_customer(
    inputs: InputData, customer_id: str, *, as_of: AsOf, config: TierwiseConfig, models: ScoringModels
) -> pd.DataFrame:
    """Every feature of one customer with its churn contribution (log-odds), largest effect first.

    Columns: feature, value, contribution, sentence, description, unit. The
    frame's ``attrs`` hold ``bias`` (the model's average log-odds),
    ``raw_probability``, ``churn_probability`` (calibrated) and
    ``bgnbd_lapse_probability`` (the BG/NBD forecast the calibration weighs, or None).
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


def plot_waterfall(explanation: pd.DataFrame, ax: Axes, *, top: int = 12) -> Axes:
    """SHAP waterfall: from the average log-odds to this customer's, the largest contributions drawn."""
    shown = explanation.head(top).iloc[::-1]
    rest = explanation["contribution"].iloc[top:].sum()
    labels = [f"{len(explanation) - top} other features"] if len(explanation) > top else []
    steps = ([rest] if labels else []) + shown["contribution"].tolist()
    labels += [f"{f} = {v:.4g}" if isinstance(v, float) else f"{f} = {v}" for f, v in zip(shown["feature"], shown["value"], strict=True)]
    start = explanation.attrs["bias"]
    reached = [start]
    for position, step in enumerate(steps):
        ax.barh(position, step, left=start, color="tab:red" if step > 0 else "tab:blue")
        start += step
        reached.append(start)
    ax.set_yticks(range(len(labels)), labels)
    ax.axvline(explanation.attrs["bias"], color="grey", linestyle=":", label="average customer")
    ax.axvline(start, color="black", linewidth=1, label="this customer")
    pad = 0.08 * (max(reached) - min(reached) or 1.0)
    ax.set_xlim(min(reached) - pad, max(reached) + pad)
    ax.legend(loc="lower right")
    ax.set(
        xlabel="log-odds of lapsing",
        title=f"Customer {explanation.attrs['customer_id']}: churn probability {explanation.attrs['churn_probability']:.0%}",
    )
    return ax
