"""Why a customer is at risk: exact TreeSHAP contributions turned into plain sentences.

LightGBM's ``pred_contrib`` is exact TreeSHAP (the same numbers as
``shap.TreeExplainer``) in log-odds of lapsing. The features that push a
customer's risk up the most become sentences with that customer's own values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from tierwise.features import FeatureSpec
from tierwise.models import ChurnPredictor

_WINDOW = re.compile(r"^(?P<stem>.+)_(?P<days>\d+)d$")
_TREND = re.compile(r"^(?P<stem>.+)_trend_(?P<days>\d+)d_vs_prior_\d+d$")


def churn_contributions(model: ChurnPredictor, X: pd.DataFrame) -> pd.DataFrame:
    """Per-customer SHAP values (log-odds of lapsing), one column per feature plus ``bias``.

    Parameters
    ----------
    model : ChurnPredictor
        The churn model.
    X : pandas.DataFrame
        Feature rows, as :func:`tierwise.features.build_features` returns them (other columns are ignored).

    Returns
    -------
    pandas.DataFrame
        On ``X``'s index; each row sums to the raw log-odds of lapsing.
    """
    prepared = model.prepare(X)
    values = model.booster_.predict(prepared, pred_contrib=True, num_iteration=model.best_iteration_, num_threads=0)
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


def reason_sentence(feature: str, row: Mapping[str, Any], spec: FeatureSpec | None = None) -> str:
    """One readable sentence about ``feature`` for the customer in ``row`` (all their feature values).

    Parameters
    ----------
    feature : str
        The feature column, e.g. ``days_since_last_order``.
    row : mapping of str to object
        The customer's feature values.
    spec : FeatureSpec, optional
        The feature's catalog entry (its unit and description).

    Returns
    -------
    str
        E.g. "no order for 120 days".
    """
    value: Any = row.get(feature)
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    gap: Any = row.get("rhythm_gap_mean_days")
    has_gap = gap is not None and not (isinstance(gap, float) and math.isnan(gap))
    if feature in ("recency_days", "rhythm_recency_ratio") and not missing:
        recency: Any = row.get("recency_days")
        text = f"No purchase for {_days(recency)}"
        return text + (f"; usually buys every {_days(gap)}" if has_gap else "")
    if feature == "frequency_orders":
        return f"{value:.0f} order{'s' if value != 1 else ''} so far"
    if feature == "tenure_days" and not missing:
        return f"Customer for {_days(value)}"
    if feature.startswith("rhythm_") and missing:
        orders: Any = row.get("frequency_orders") or 0
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


# Event types whose occurrence is itself a warning sign; any other event type (visits, email opens, ...)
# is engagement, whose absence or decline is the risk. Matched on words, since event types are free text.
_WARNING_EVENT_WORDS = ("complaint", "return", "refund", "ticket", "cancel", "unsubscribe", "bounce", "dispute",
                        "chargeback", "downgrade", "escalation", "error", "failure")
_FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "0.0"})
_COUNT = re.compile(r"^(?P<stem>.+)_count_(?P<days>\d+)d$")
_Value = Callable[[str], float]  # one customer's value of a numeric feature, NaN when missing
_OWN_FAMILIES = ("recency", "frequency", "monetary", "rhythm", "spend", "tenure", "refund", "attribute")


def _risk_side(spec: FeatureSpec) -> tuple[str, str] | None:
    """The reason topic of a feature and the side of its values that reads as a risk in words.

    Sides: ``low`` (above zero, clearly below the population's typical value), ``scarce`` (the same,
    zero included), ``high`` (clearly above it; for the days since an engagement event, never
    having one counts when most customers have), ``fall`` (a trend between -100% and 0), ``drop``
    (down to nothing included), ``rise`` (a warning event up, or new), ``overdue`` (the recency
    ratio above 1.1), ``recent`` (a warning event on record), ``false`` (a yes/no attribute at no).
    None when no value of the feature reads as a risk in plain words (the spread of the gaps
    between orders, the largest order, a region or channel).
    """
    name, family = spec.name, spec.family
    if name in ("recency_days", "rhythm_gap_mean_days"):
        return "buying", "high"
    if name == "rhythm_recency_ratio":
        return "buying", "overdue"
    if name.startswith(("frequency_", "orders_count_")):
        return "buying", "low"
    if name == "tenure_days":
        return "tenure", "low"
    if name in ("refund_share", "refund_count"):
        return "refund", "high"
    if name.startswith("spend_trend_") or name == "spend_slope_30d_periods":
        return "spend", "fall"
    if name.startswith("spend_sum_") or name in ("monetary_total", "net_spend_total", "monetary_mean_order",
                                                   "monetary_per_30d"):
        return "spend", "low"
    if family == "attribute":
        return name, "false"
    if family and family not in _OWN_FAMILIES and name.startswith(f"{family}_"):
        warning = any(word in family for word in _WARNING_EVENT_WORDS)
        if name == f"{family}_days_since_last":
            return family, "recent" if warning else "high"
        if _TREND.match(name):
            return family, "rise" if warning else "drop"
        if _COUNT.match(name):
            return family, "high" if warning else "scarce"
    return None


def _risky(
    name: str, side: str, values: pd.Series, population: pd.DataFrame, rows: pd.DataFrame
) -> tuple[np.ndarray, float]:
    """Which customers' values read as a risk on ``side``, and the population's typical (median) value."""
    if side == "false":
        return values.astype("string").str.strip().str.lower().isin(_FALSE_WORDS).fillna(False).to_numpy(bool), np.nan
    v = values.to_numpy(dtype=float, na_value=np.nan)
    known = population[name].to_numpy(dtype=float, na_value=np.nan)
    typical = float(np.nanmedian(known)) if (~np.isnan(known)).any() else np.nan
    # The comparison must hold in the words too: days are said rounded ("94 days against a typical 94"
    # would not read as more), orders per 30 days as the rounded days between orders.
    with np.errstate(invalid="ignore", divide="ignore"):
        shown = (v, typical)
        if name.endswith("days") and not np.isnan(typical):
            shown = (np.round(v), round(typical))
        elif name == "frequency_orders_per_30d" and typical > 0:
            shown = (-np.round(30 / v), -round(30 / typical))
        if side in ("low", "scarce"):
            below = (v < 0.9 * typical) & (shown[0] < shown[1])
            return below & ((v >= 0) if side == "scarce" else (v > 0)), typical
        if side == "high":
            above = (v > 1.1 * typical) & (shown[0] > shown[1]) & (v > 0)
            if name.endswith("_days_since_last") and np.isnan(known).mean() < 0.5:
                above |= np.isnan(v)  # never, where most customers have one
            return above, typical
        if side == "fall":
            return (v < 0) & (v > -1), typical
        if side == "drop":
            return (v < 0) & (v >= -1), typical
        if side == "rise":
            count = rows[name.replace("_trend_", "_count_").split("_vs_prior_")[0]].to_numpy(dtype=float, na_value=np.nan)
            return (v > 0) | (np.isnan(v) & (count > 0)), typical
        if side == "overdue":
            return v > 1.1, typical
        if side == "recent":
            return ~np.isnan(v), typical
    raise ValueError(f"unknown risk side {side!r}")


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _plural(label: str, value: float) -> str:
    return label if value == 1 else f"{label}s"


def _window_days(pattern: re.Pattern[str], name: str) -> str:
    """The window length, in days, that a windowed feature's name carries (e.g. ``orders_count_90d``: ``90``)."""
    match = pattern.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a windowed feature name")
    return match["days"]


def _buying_sentence(name: str, get: _Value, typical: float) -> str:
    recency, gap = get("recency_days"), get("rhythm_gap_mean_days")
    if name in ("recency_days", "rhythm_recency_ratio"):
        if not math.isnan(gap) and recency > 1.1 * gap:
            return f"No purchase for {_days(recency)}; usually buys every {_days(gap)}"
        return f"No purchase for {_days(recency)}, against a typical {_days(typical)}"
    if name == "rhythm_gap_mean_days":
        return (f"Buys less often than most customers: about once every {_days(gap)} "
                f"against a typical once every {_days(typical)}")
    value = get(name)
    if name == "frequency_orders":
        return f"Only {_count(value)} {_plural('order', value)} so far, against a typical {_count(typical)}"
    if name == "frequency_orders_per_30d":
        return (f"Buys less often than most customers: about once every {_days(30 / value)} "
                f"against a typical once every {_days(30 / typical)}")
    days = _window_days(_COUNT, name)
    return f"Fewer orders than most customers: {_count(value)} in the last {days} days against a typical {_count(typical)}"


def _spend_sentence(name: str, get: _Value, typical: float) -> str:
    value = get(name)
    if name == "spend_slope_30d_periods":
        return "Spending has been falling month by month over the last year"
    trend = _TREND.match(name)
    if trend:
        days = trend["days"]
        recent = get(f"spend_sum_{days}d")
        return (f"Spending fell: {_money(recent)} in the last {days} days, "
                f"down from {_money(recent / (1 + value))} in the {days} days before")
    if name.startswith("spend_sum_"):
        days = _window_days(_WINDOW, name)
        per_month = 30 / int(days)
        return (f"Spends less than most customers: {_money(value * per_month)} a month over the last "
                f"{days} days against a typical {_money(typical * per_month)}")
    if name == "monetary_per_30d":
        return f"Spends less than most customers: {_money(value)} a month against a typical {_money(typical)}"
    if name == "monetary_mean_order":
        return f"Smaller orders than most customers: {_money(value)} on average against a typical {_money(typical)}"
    return f"Has spent {_money(value)} in all, against a typical {_money(typical)}"


def _event_sentence(name: str, family: str, get: _Value, typical: float) -> str:
    label = family.replace("_", " ")
    value = get(name)
    if name.endswith("_days_since_last"):
        if math.isnan(value):
            return f"No {label} on record, though most customers have one"
        if any(word in family for word in _WARNING_EVENT_WORDS):
            return f"Last {label} {_days(value)} ago"
        return f"Last {label} {_days(value)} ago, against a typical {_days(typical)}"
    days = _window_days(_COUNT if _COUNT.match(name) else _TREND, name)
    count = get(f"{family}_count_{days}d")
    if _TREND.match(name):
        if math.isnan(value):
            return f"{_count(count)} {_plural(label, count)} in the last {days} days, none in the {days} days before"
        if value <= -1:
            return f"No {label}s in the last {days} days, after some in the {days} days before"
        prior = count / (1 + value)
        direction = "More" if value > 0 else "Fewer"
        return (f"{direction} {label}s lately: {_count(count)} in the last {days} days, "
                f"{'up' if value > 0 else 'down'} from {_count(round(prior))} in the {days} days before")
    if value == 0:
        since = get(f"{family}_days_since_last")
        silence = f"No {label} on record" if math.isnan(since) else f"No {label} for {_days(since)}"
        return f"{silence}, against a typical {_count(typical)} in the last {days} days"
    more = value > typical
    return (f"{'More' if more else 'Fewer'} {label}s than most customers: {_count(value)} in the last {days} days "
            f"against a typical {_count(typical)}")


def _topic_sentence(name: str, spec: FeatureSpec, topic: str, get: _Value, typical: float) -> str:
    if topic == "buying":
        return _buying_sentence(name, get, typical)
    if topic == "spend":
        return _spend_sentence(name, get, typical)
    if topic == "tenure":
        return f"A newer customer than most: with us for {_days(get(name))} against a typical {_days(typical)}"
    if topic == "refund":
        if name == "refund_share":
            return f"Returned {get(name):.0%} of purchase value, against a typical {typical:.0%}"
        value = get(name)
        return f"{_count(value)} refund or return {_plural('line', value)}, against a typical {_count(typical)}"
    if spec.family == "attribute":
        label = name.removeprefix("attr_").replace("_", " ")
        article = "an" if label[:1].lower() in "aeiou" else "a"
        return f"Not {article} {label}"
    return _event_sentence(name, topic, get, typical)


def top_reasons(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    specs: dict[str, FeatureSpec],
    *,
    k: int = 3,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Up to ``k`` reasons per customer why their risk is up, in plain words (``reason_1``..``reason_k``).

    A feature can give a reason only where its SHAP value is positive *and* the
    customer's value reads as a risk in words: below the typical (median) value
    of ``population`` (default: ``features``) for counts, spend and orders, a
    falling trend, a long silence, a warning event such as a complaint, a
    yes/no attribute at no. A positive contribution that cannot be said that
    way (many visits raising the risk through an interaction, a region) gives
    no reason. Features of one topic (buying: recency, rhythm and orders;
    spend; each event type; refunds; tenure; each attribute) give one reason,
    weighed by the sum of their readable contributions and worded from the
    largest. Slots stay empty when fewer topics qualify.

    Parameters
    ----------
    contributions : pandas.DataFrame
        :func:`churn_contributions` of the customers.
    features : pandas.DataFrame
        Their feature values, on the same index.
    specs : dict of str to FeatureSpec
        The feature catalog by name.
    k : int
        The number of reasons per customer.
    population : pandas.DataFrame, optional
        The customers whose medians say what is typical.

    Returns
    -------
    pandas.DataFrame
        ``reason_1`` to ``reason_k`` on ``contributions``' index; None where a slot is empty.
    """
    population = features if population is None else population
    values = contributions.drop(columns="bias")
    rows = features.loc[values.index]
    shap_values = values.to_numpy()
    readable = [(j, name, specs[name], *topic_side) for j, name in enumerate(values.columns)
                if name in specs and (topic_side := _risk_side(specs[name])) is not None]
    topics = list(dict.fromkeys(topic for *_, topic, _ in readable))
    strength = np.zeros((len(values), len(readable)))
    typical: dict[str, float] = {}
    for position, (j, name, _, _, side) in enumerate(readable):
        risky, typical[name] = _risky(name, side, rows[name], population, rows)
        strength[:, position] = np.where(risky & (shap_values[:, j] > 0), shap_values[:, j], 0.0)
    topic_of = np.array([topics.index(topic) for *_, topic, _ in readable], dtype=int)
    weight = np.zeros((len(values), len(topics)))
    np.add.at(weight.T, topic_of, strength.T)
    best_topics = np.argsort(-weight, axis=1, kind="stable")[:, :k]
    columns = {name: rows[name].to_numpy(dtype=float, na_value=np.nan) for name in values.columns
               if name in rows and specs.get(name) is not None and specs[name].kind == "numeric"}
    members = [np.flatnonzero(topic_of == t) for t in range(len(topics))]
    out = np.full((len(values), k), None, dtype=object)
    for i in range(len(values)):
        def get(name: str, i: int = i) -> float:
            return float(columns[name][i])

        for slot, t in enumerate(best_topics[i]):
            if weight[i, t] <= 0:
                break
            lead = members[t][np.argmax(strength[i, members[t]])]
            _, name, spec, topic, _ = readable[lead]
            out[i, slot] = _topic_sentence(name, spec, topic, get, typical[name])
    return pd.DataFrame(out, index=values.index, columns=[f"reason_{n + 1}" for n in range(k)])
