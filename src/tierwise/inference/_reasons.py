"""Why a customer is at risk: exact TreeSHAP contributions turned into plain sentences.

LightGBM's ``pred_contrib`` is exact TreeSHAP (the same numbers as
``shap.TreeExplainer``) in log-odds of lapsing. The features that push a
customer's risk up the most become sentences with that customer's own values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tierwise.features import FeatureSpec
from tierwise.training import ChurnModel

_WINDOW = re.compile(r"^(?P<stem>.+)_(?P<days>\d+)d$")
_TREND = re.compile(r"^(?P<stem>.+)_trend_(?P<days>\d+)d_vs_prior_\d+d$")


def churn_contributions(model: ChurnModel, X: pd.DataFrame) -> pd.DataFrame:
    """Per-customer SHAP values (log-odds of lapsing), one column per feature plus ``bias``."""
    prepared = model.prepare(X)
    values = model.booster_.predict(prepared, pred_contrib=True, num_iteration=model.best_iteration_)
    return pd.DataFrame(values, index=X.index, columns=[*model.feature_names_in_, "bias"])


def _days(value: float) -> str:
    return f"{value:.0f} day" + ("" if round(value) == 1 else "s")


def _money(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _change(value: float, noun: str, days: str) -> str:
    if value <= -1:
        return f"No {noun} in the last {days} days, after some in the {days} before"
    if noun == "spend":
        return f"Spent {abs(value):.0%} {'less' if value < 0 else 'more'} in the last {days} days than in the {days} before"
    return f"{abs(value):.0%} {'fewer' if value < 0 else 'more'} {noun} in the last {days} days than in the {days} before"


def reason_sentence(feature: str, row: Mapping[str, object], spec: FeatureSpec | None = None) -> str:
    """One readable sentence about ``feature`` for the customer in ``row`` (all their feature values)."""
    value = row.get(feature)
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    gap = row.get("rhythm_gap_mean_days")
    has_gap = gap is not None and not (isinstance(gap, float) and math.isnan(gap))
    if feature in ("recency_days", "rhythm_recency_ratio") and not missing:
        recency = row.get("recency_days")
        text = f"No purchase for {_days(recency)}"
        return text + (f"; usually buys every {_days(gap)}" if has_gap else "")
    if feature == "frequency_orders":
        return f"{value:.0f} order{'s' if value != 1 else ''} so far"
    if feature == "tenure_days" and not missing:
        return f"Customer for {_days(value)}"
    if feature.startswith("rhythm_") and missing:
        orders = row.get("frequency_orders") or 0
        return f"Only {orders:.0f} order{'s' if orders != 1 else ''} so far: no buying rhythm yet"
    if feature in ("rhythm_gap_mean_days", "rhythm_gap_std_days"):
        return f"Buys every {_days(gap)} on average" if has_gap else f"Irregular buying ({_days(value)} spread)"
    if feature == "frequency_orders_per_30d" and not missing:
        return f"{value:.2f} orders per 30 days since becoming a customer"
    if feature == "monetary_per_30d" and not missing:
        return f"Spends {_money(value)} per 30 days on average"
    if feature == "refund_share" and not missing:
        return f"Returned {value:.0%} of purchase value"
    if feature == "refund_count":
        return f"{value:.0f} refund or return line{'s' if value != 1 else ''}"
    if feature in ("monetary_mean_order", "monetary_max_order", "monetary_total", "net_spend_total") and not missing:
        label = {"monetary_mean_order": "Average order", "monetary_max_order": "Largest order",
                 "monetary_total": "Total spend", "net_spend_total": "Net spend"}[feature]
        return f"{label} {_money(value)}"
    if feature == "spend_slope_30d_periods":
        return "Spend falling month by month" if value < 0 else "Spend flat or rising month by month"
    trend = _TREND.match(feature)
    if trend:
        stem, days = trend["stem"], trend["days"]
        noun = "spend" if stem == "spend" else f"{stem.replace('_', ' ')}s"
        if missing:
            return f"No {noun} in the {days} days before the last {days}"
        return _change(value, noun, days)
    if feature.endswith("_days_since_last"):
        label = feature.removesuffix("_days_since_last").replace("_", " ")
        return f"No {label} on record" if missing else f"Last {label} {_days(value)} ago"
    window = _WINDOW.match(feature)
    if window:
        stem, days = window["stem"], window["days"]
        if stem == "spend_sum":
            return f"No purchases in the last {days} days" if value == 0 else f"Spent {_money(value)} in the last {days} days"
        if stem == "orders_count":
            return f"{value:.0f} order{'s' if value != 1 else ''} in the last {days} days"
        if stem.endswith("_count"):
            label = stem.removesuffix("_count").replace("_", " ")
            if value == 0:
                return f"No {label}s in the last {days} days"
            return f"{value:.0f} {label}{'s' if value != 1 else ''} in the last {days} days"
    if feature.startswith("attr_"):
        return f"{feature.removeprefix('attr_').replace('_', ' ').capitalize()}: {value}"
    if spec is not None:
        if missing:
            return f"{spec.description.capitalize()}: not known yet"
        return f"{spec.description.capitalize()}: {value:,.2f} {spec.unit}"
    return f"{feature}: {value}"


def top_reasons(
    contributions: pd.DataFrame, features: pd.DataFrame, specs: dict[str, FeatureSpec], *, k: int = 3
) -> pd.DataFrame:
    """The ``k`` features pushing each customer's risk up most, as sentences (``reason_1``..``reason_k``).

    A slot stays empty when fewer than ``k`` features raise the risk; two
    features that would give the same sentence (recency and the recency ratio)
    fill one slot.
    """
    values = contributions.drop(columns="bias")
    matrix = values.to_numpy()
    order = np.argsort(-matrix, axis=1, kind="stable")
    names = values.columns.to_numpy()
    out = np.full((len(values), k), None, dtype=object)
    for i, row in enumerate(features.loc[values.index].to_dict("records")):
        sentences: list[str] = []
        for j in order[i]:
            if matrix[i, j] <= 0 or len(sentences) == k:
                break
            sentence = reason_sentence(names[j], row, specs.get(names[j]))
            if sentence not in sentences:
                sentences.append(sentence)
        out[i, : len(sentences)] = sentences
    return pd.DataFrame(out, index=values.index, columns=[f"reason_{n + 1}" for n in range(k)])
