"""Outcomes of a past run: did the predictions come true, and what did the outreach do.

A run (``tierwise score --out DIR``) fixed, at its ``as_of``, everyone's
scores and a list split into contacted and control customers. Once the data
reach past ``as_of``, :func:`evaluate_run` labels what each scored customer
did since, with the training labels' window rule (``as_of <= ts < as_of +
days``), over the part of each horizon that has matured (up to the day after
the last transaction), and compares:

- the scores with what happened (realized model quality), beside the
  backtest figures of the models that produced them;
- the contacted customers with the control customers (the outreach's effect),
  each difference with a confidence interval;
- where the realized revenue came from (each tier, the top of the predicted
  value ranking).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from tierwise.config import EvaluationConfig, TierwiseConfig
from tierwise.errors import InputDataError, TierwiseError
from tierwise.features import build_features, normalize_as_of
from tierwise.inputs import InputData
from tierwise.training import churn_metrics, data_end, make_labels, reliability_table, value_metrics
from tierwise.training._metrics import _tie_averaged

if TYPE_CHECKING:  # the report imports this package, so the model card's type is only named here
    from tierwise.reporting import ModelCard

EVALUATION_SCHEMA_VERSION = 1
TOP_PREDICTED_SHARES = (0.01, 0.05, 0.20)
# Scored customers whose purchase history before as_of may differ between the run and the data given (late
# corrections); beyond this share the data are another data set than the one the run scored.
MAX_HISTORY_MISMATCH_SHARE = 0.01
PROPORTION_METHOD = "newcombe_hybrid_score"  # Newcombe (1998), method 10: Wilson score intervals combined
MEAN_METHOD = "welch_t"  # Welch's t interval for a difference of means, unequal variances
_SCORE_COLUMNS = ("customer_id", "churn_probability", "predicted_value", "tier", "recency_days", "frequency_orders")
_LIST_COLUMNS = ("customer_id", "control", "tier")
_MANIFEST_KEYS = ("as_of", "churn_horizon_days", "value_horizon_days", "model_version")

Outcome = Literal["retention", "conversion", "revenue_per_customer"]
Verdict = Literal["positive", "negative", "no clear effect", "not enough customers to tell"]
RunParts = tuple[pd.DataFrame, pd.DataFrame, dict]


@dataclass(frozen=True)
class Window:
    """A label window after ``as_of``: the days asked for, and how many of them the data cover."""

    horizon_days: int
    matured_days: int

    @property
    def fully_matured(self) -> bool:
        """Whether the data cover the whole window.

        Returns
        -------
        bool
            True when ``matured_days >= horizon_days``.
        """
        return self.matured_days >= self.horizon_days


@dataclass(frozen=True)
class Effect:
    """Contacted minus control for one outcome in one group of the list.

    ``contacted`` and ``control`` are the groups' rates (retention,
    conversion: shares from 0 to 1) or means (revenue per customer, in the
    data's currency); ``estimate`` is their difference and ``lower``/``upper``
    its confidence interval by ``method`` (None where a group is empty or, for
    means, has fewer than two customers).
    """

    outcome: Outcome
    group: str
    n_contacted: int
    n_control: int
    contacted: float | None
    control: float | None
    estimate: float | None
    lower: float | None
    upper: float | None
    method: str
    verdict: Verdict


@dataclass(frozen=True)
class RunEvaluation:
    """What :func:`evaluate_run` found; :meth:`to_dict` is the content of ``evaluation.json`` (docs/evaluation.md)."""

    as_of: str
    data_end: str
    model_version: str
    model_run_id: str | None
    confidence_level: float
    windows: dict[str, Window]
    churn_quality: dict
    value_quality: dict
    effects: list[Effect]
    incremental: dict
    power: dict
    value_contribution: dict
    notes: list[str] = field(default_factory=list)

    def effect(self, outcome: Outcome, group: str = "all") -> Effect:
        """The effect on ``outcome`` in ``group`` (``"all"`` or a tier name).

        Parameters
        ----------
        outcome : {"retention", "conversion", "revenue_per_customer"}
            The outcome.
        group : str
            ``"all"`` or a tier name.

        Returns
        -------
        Effect
            Contacted minus control, with its interval and verdict.

        Raises
        ------
        KeyError
            When the evaluation has no such outcome or group.
        """
        for found in self.effects:
            if found.outcome == outcome and found.group == group:
                return found
        raise KeyError(f"no {outcome} effect for group {group!r}")

    def to_dict(self) -> dict:
        """The evaluation as JSON-ready data: NaN becomes None, windows gain ``fully_matured``.

        Returns
        -------
        dict
            What evaluation.json holds.
        """
        document = {
            "schema_version": EVALUATION_SCHEMA_VERSION,
            "as_of": self.as_of,
            "data_end": self.data_end,
            "model_version": self.model_version,
            "model_run_id": self.model_run_id,
            "confidence_level": self.confidence_level,
            "windows": {name: {**dataclasses.asdict(w), "fully_matured": w.fully_matured}
                        for name, w in self.windows.items()},
            "model_quality": {"churn": self.churn_quality, "value": self.value_quality},
            "effects": [dataclasses.asdict(e) for e in self.effects],
            "incremental": self.incremental,
            "power": self.power,
            "value_contribution": self.value_contribution,
            "notes": list(self.notes),
        }
        return _clean(document)


def _clean(value):
    """Plain JSON types: NumPy numbers to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _z(confidence_level: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence_level / 2))


def wilson_interval(successes: int, n: int, *, confidence_level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion ``successes / n`` (n >= 1).

    Parameters
    ----------
    successes : int
        The count of successes.
    n : int
        The count of trials.
    confidence_level : float
        The interval's confidence, e.g. 0.95.

    Returns
    -------
    lower : float
        The lower bound.
    upper : float
        The upper bound.

    Examples
    --------
    >>> [round(bound, 4) for bound in wilson_interval(5, 10)]
    [0.2366, 0.7634]
    """
    z = _z(confidence_level)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_of_proportions(
    successes_a: int, n_a: int, successes_b: int, n_b: int, *, confidence_level: float = 0.95
) -> tuple[float, float, float]:
    """``p_a - p_b`` and its Newcombe hybrid score interval (Newcombe 1998, method 10): (estimate, lower, upper).

    Each proportion gets its Wilson interval; the difference's bounds combine
    the distances from each estimate to its bounds. Unlike the Wald interval
    it stays inside [-1, 1] and keeps its coverage near 0 and 1 and in small
    groups.

    Parameters
    ----------
    successes_a, n_a : int
        Successes and size of group a (the contacted customers).
    successes_b, n_b : int
        Successes and size of group b (the control).
    confidence_level : float
        The interval's confidence, e.g. 0.95.

    Returns
    -------
    estimate : float
        The difference.
    lower : float
        The interval's lower bound.
    upper : float
        The interval's upper bound.
    """
    p_a, p_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = wilson_interval(successes_a, n_a, confidence_level=confidence_level)
    low_b, high_b = wilson_interval(successes_b, n_b, confidence_level=confidence_level)
    estimate = p_a - p_b
    lower = estimate - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    upper = estimate + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return estimate, lower, upper


def difference_of_means(a: np.ndarray, b: np.ndarray, *, confidence_level: float = 0.95) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` and its Welch t interval (each group at least two values): (estimate, lower, upper).

    Parameters
    ----------
    a, b : numpy.ndarray
        The two groups' values.
    confidence_level : float
        The interval's confidence, e.g. 0.95.

    Returns
    -------
    estimate : float
        The difference.
    lower : float
        The interval's lower bound.
    upper : float
        The interval's upper bound.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    estimate = float(a.mean() - b.mean())
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(var_a + var_b)
    if se == 0:
        return estimate, estimate, estimate
    df = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence_level / 2, df)) * se
    return estimate, estimate - half, estimate + half


def minimum_detectable_difference(
    baseline: float, n_a: int, n_b: int, *, confidence_level: float = 0.95, power: float = 0.8
) -> float:
    """The smallest difference of proportions a two-sided test at ``1 - confidence_level`` finds with ``power``.

    Normal approximation at the ``baseline`` rate in both groups:
    ``(z_(1-alpha/2) + z_power) * sqrt(p (1 - p) (1/n_a + 1/n_b))``.

    Parameters
    ----------
    baseline : float
        The proportion in both groups.
    n_a, n_b : int
        The group sizes.
    confidence_level : float
        The interval's confidence, e.g. 0.95.
    power : float
        The chance of finding a true difference of that size.

    Returns
    -------
    float
        The difference, in proportion points.
    """
    return (_z(confidence_level) + float(stats.norm.ppf(power))) * math.sqrt(
        baseline * (1 - baseline) * (1 / n_a + 1 / n_b))


def _verdict(estimate_interval: tuple[float | None, float | None], n_contacted: int, n_control: int,
             min_group_size: int) -> Verdict:
    lower, upper = estimate_interval
    if min(n_contacted, n_control) < min_group_size or lower is None or upper is None:
        return "not enough customers to tell"
    if lower > 0:
        return "positive"
    if upper < 0:
        return "negative"
    return "no clear effect"


def _effects(listed: pd.DataFrame, group: str, *, confidence_level: float, min_group_size: int) -> list[Effect]:
    """Retention, conversion and revenue per customer, contacted vs control, in one group of the list."""
    contacted, control = listed[~listed["control"]], listed[listed["control"]]
    n_a, n_b = len(contacted), len(control)
    found = []
    rates: tuple[tuple[Literal["retention", "conversion"], str], ...] = (("retention", "retained"), ("conversion", "converted"))
    for outcome, column in rates:
        estimate = lower = upper = rate_a = rate_b = None
        if n_a and n_b:
            hits_a, hits_b = int(contacted[column].sum()), int(control[column].sum())
            rate_a, rate_b = hits_a / n_a, hits_b / n_b
            estimate, lower, upper = difference_of_proportions(hits_a, n_a, hits_b, n_b,
                                                               confidence_level=confidence_level)
        found.append(Effect(outcome, group, n_a, n_b, rate_a, rate_b, estimate, lower, upper, PROPORTION_METHOD,
                            _verdict((lower, upper), n_a, n_b, min_group_size)))
    estimate = lower = upper = None
    mean_a = float(contacted["revenue"].mean()) if n_a else None
    mean_b = float(control["revenue"].mean()) if n_b else None
    if n_a >= 2 and n_b >= 2:
        estimate, lower, upper = difference_of_means(contacted["revenue"], control["revenue"],
                                                     confidence_level=confidence_level)
    elif mean_a is not None and mean_b is not None:
        estimate = mean_a - mean_b
    found.append(Effect("revenue_per_customer", group, n_a, n_b, mean_a, mean_b, estimate, lower, upper, MEAN_METHOD,
                        _verdict((lower, upper), n_a, n_b, min_group_size)))
    return found


def _read_parts(run: str | Path | RunParts) -> tuple[pd.DataFrame, pd.DataFrame, dict, str]:
    if isinstance(run, (str, Path)):
        from tierwise.io import read_run

        scores, listed, manifest = read_run(run)
        return scores, listed, manifest, str(run)
    scores, listed, manifest = run
    return scores, listed, manifest, "run"


def _check_run(scores: pd.DataFrame, listed: pd.DataFrame, manifest: dict, where: str) -> None:
    for name, frame, required in (("scores.parquet", scores, _SCORE_COLUMNS), ("the list", listed, _LIST_COLUMNS)):
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputDataError(f"{where}/{name}: column '{missing[0]}' is missing; re-run tierwise score")
    missing = [k for k in _MANIFEST_KEYS if manifest.get(k) in (None, "")]
    if missing:
        raise InputDataError(f"{where}/manifest.json: no '{missing[0]}'; the run is from an older tierwise, "
                             "re-run tierwise score")
    if scores.empty:
        raise InputDataError(f"{where}/scores.parquet: no customers in the run")
    unscored = ~listed["customer_id"].isin(scores["customer_id"])
    if unscored.any():
        raise InputDataError(f"{where}: {int(unscored.sum()):,} customers on the list are not in scores.parquet "
                             f"(e.g. {listed.loc[unscored, 'customer_id'].iloc[0]}); re-run tierwise score")


def _check_same_data(scores: pd.DataFrame, inputs: InputData, *, as_of: pd.Timestamp, config: TierwiseConfig,
                     where: str) -> list[str]:
    """Refuse data whose histories before ``as_of`` are not the ones the run scored; note a few late corrections."""
    rebuilt = build_features(inputs, as_of=as_of, config=config.features)[["customer_id", "recency_days",
                                                                             "frequency_orders"]]
    merged = scores[["customer_id", "recency_days", "frequency_orders"]].merge(
        rebuilt, on="customer_id", how="left", suffixes=("_run", "_data"), indicator=True)
    same_orders = merged["frequency_orders_run"].to_numpy(float) == merged["frequency_orders_data"].to_numpy(float)
    same_recency = np.isclose(merged["recency_days_run"].to_numpy(float), merged["recency_days_data"].to_numpy(float),
                              atol=1e-6, equal_nan=True)
    differ = merged[~(same_orders & same_recency) | (merged["_merge"] != "both")]
    if differ.empty:
        return []
    example = differ.iloc[0]
    in_data = ("absent from the data" if example["_merge"] != "both"
               else f"{example['frequency_orders_data']:.0f} orders in the data")
    detail = (f"{len(differ):,} of {len(scores):,} scored customers have another purchase history before "
              f"{as_of.date()} than the run scored (e.g. {example['customer_id']}: "
              f"{example['frequency_orders_run']:.0f} orders in the run, {in_data})")
    if len(differ) > MAX_HISTORY_MISMATCH_SHARE * len(scores):
        raise TierwiseError(f"{where}: the data are not the data set the run scored: {detail}; "
                            "evaluate with the data the run was scored on, extended past its as_of")
    return [f"{detail}: late corrections to the data, within the {MAX_HISTORY_MISMATCH_SHARE:.0%} tolerated"]


def _outcomes(inputs: InputData, customers: pd.Series, *, as_of: pd.Timestamp, windows: dict[str, Window],
              cancellation_event: str | None) -> pd.DataFrame:
    """Per scored customer: ``retained`` and ``converted`` (0/1) and ``revenue`` over the matured windows."""
    churn = make_labels(inputs, as_of=as_of, churn_horizon_days=windows["churn"].matured_days,
                        value_horizon_days=windows["value"].matured_days, cancellation_event=cancellation_event)
    # Conversion is a purchase whatever churn means here (a cancellation event under contractual churn).
    conversion = make_labels(inputs, as_of=as_of, churn_horizon_days=windows["conversion"].matured_days)
    frame = pd.DataFrame({"customer_id": customers.to_numpy()})
    frame = frame.merge(churn[["customer_id", "lapsed", "value"]], on="customer_id", how="left")
    frame = frame.merge(conversion[["customer_id", "lapsed"]].rename(columns={"lapsed": "no_purchase"}),
                        on="customer_id", how="left")
    # Labels list only customers with a record; a customer without one neither bought nor cancelled.
    no_record_lapsed = 0 if cancellation_event is not None else 1
    return pd.DataFrame({
        "customer_id": frame["customer_id"],
        "retained": 1 - frame["lapsed"].fillna(no_record_lapsed).astype(int),
        "converted": 1 - frame["no_purchase"].fillna(1).astype(int),
        "revenue": frame["value"].fillna(0.0).astype(float),
    })


def _backtest_row(table: pd.DataFrame | None, columns: tuple[str, ...]) -> dict[str, float | None]:
    if table is None or "model" not in table.index:
        return {c: None for c in columns}
    row = table.loc["model"]
    return {c: float(row[c]) if c in row.index and row[c] == row[c] else None for c in columns}


def _churn_quality(scored: pd.DataFrame, window: Window, card: ModelCard | None) -> tuple[dict, list[str]]:
    modelled = scored[scored["churn_probability"].notna()]
    lapsed = 1 - modelled["retained"].to_numpy(int)
    columns = ("roc_auc", "pr_auc", "lift_top_decile", "brier")
    quality: dict[str, Any] = {
        "population": "scored customers given a churn probability (lifecycle new or active), the customers the "
                      "churn model is trained on",
        "customers": len(modelled),
        "lapse_rate": float(lapsed.mean()) if len(modelled) else None,
        "realized": {c: None for c in columns},
        "backtest": _backtest_row(card.backtest_churn if card else None, columns),
        "reliability": None,
        "backtest_reliability": None if card is None or card.reliability is None
        else card.reliability.rename(columns={card.reliability.columns[0]: "bin"}).to_dict(orient="records"),
    }
    notes = []
    if len(modelled) == 0 or lapsed.min() == lapsed.max():
        notes.append(f"churn: no ranking metric, since {'no customer' if len(modelled) == 0 else 'every customer'} "
                     f"{'was modelled' if len(modelled) == 0 else ('lapsed' if lapsed.mean() == 1 else 'stayed')}")
        return quality, notes
    metrics = churn_metrics(lapsed, modelled["churn_probability"], is_probability=True)
    quality["realized"] = {c: metrics[c] for c in columns}
    if window.fully_matured:
        table = reliability_table(lapsed, modelled["churn_probability"])
        quality["reliability"] = table.rename_axis("bin").reset_index().to_dict(orient="records")
    else:
        quality["realized"]["brier"] = None
        notes.append(f"churn: {window.matured_days} of {window.horizon_days} days have passed, so lapse is measured "
                     f"over {window.matured_days} days: ROC AUC, PR AUC and lift only rank customers; Brier score and "
                     "the reliability table wait for the whole window")
    return quality, notes


def _value_quality(scored: pd.DataFrame, window: Window, card: ModelCard | None) -> tuple[dict, list[str]]:
    actual, predicted = scored["revenue"].to_numpy(float), scored["predicted_value"].to_numpy(float)
    matured_share = window.matured_days / window.horizon_days
    columns = ("spearman", "normalized_gini", "predicted_over_actual")
    quality: dict[str, Any] = {
        "population": "every scored customer",
        "customers": len(scored),
        "realized": {"spearman": None, "normalized_gini": None, "predicted_over_actual": None},
        "actual_total": float(actual.sum()),
        "predicted_total": float(predicted.sum()),
        # Predictions cover the whole window; on a partial one they are compared pro rata, as if spend were even.
        "predicted_total_matured": float(predicted.sum() * matured_share),
        "backtest": _backtest_row(card.backtest_value if card else None, columns),
    }
    notes = []
    if not window.fully_matured:
        notes.append(f"value: {window.matured_days} of {window.horizon_days} days have passed; predicted value is "
                     "compared pro rata over them")
    if actual.sum() <= 0 or actual.min() == actual.max():
        notes.append("value: no ranking metric, since the customers' realized revenue does not vary or is not positive")
        return quality, notes
    metrics = value_metrics(actual, predicted)
    quality["realized"] = {"spearman": metrics["spearman"], "normalized_gini": metrics["normalized_gini"],
                           "predicted_over_actual": quality["predicted_total_matured"] / float(actual.sum())}
    return quality, notes


def _value_contribution(scored: pd.DataFrame) -> dict:
    total = float(scored["revenue"].sum())
    predicted_total = float(scored["predicted_value"].sum())

    def share(part: float, whole: float) -> float | None:
        return part / whole if whole > 0 else None

    by_tier = scored.groupby("tier", sort=False).agg(customers=("customer_id", "size"), revenue=("revenue", "sum"),
                                                      predicted=("predicted_value", "sum"))
    tiers = [{"tier": str(tier), "customers": int(row["customers"]), "revenue": float(row["revenue"]),
              "revenue_share": share(float(row["revenue"]), total),
              "predicted_share": share(float(row["predicted"]), predicted_total)}
             for tier, row in by_tier.sort_values("revenue", ascending=False, kind="stable").iterrows()]
    predicted = scored["predicted_value"].to_numpy(float)
    order = np.lexsort((scored["customer_id"].to_numpy(), -predicted))
    # Customers tied on predicted value count at their average revenue, as in the backtest's top-decile share.
    averaged = _tie_averaged(scored["revenue"].to_numpy(float), predicted)[order]
    top = []
    for fraction in TOP_PREDICTED_SHARES:
        count = max(1, math.ceil(len(scored) * fraction))
        top.append({"top_share": fraction, "customers": count, "revenue": float(averaged[:count].sum()),
                    "revenue_share": share(float(averaged[:count].sum()), total)})
    return {"total_revenue": total, "by_tier": tiers, "top_predicted": top}


def evaluate_run(
    run: str | Path | RunParts,
    inputs: InputData,
    *,
    config: TierwiseConfig,
    backtest: ModelCard | None = None,
) -> RunEvaluation:
    """Judge a past run against what happened after its ``as_of``.

    Parameters
    ----------
    run : path or (scores, list, manifest)
        A ``tierwise score --out`` folder, or its parts as
        :func:`tierwise.io.read_run` returns them (scores.parquet; the list,
        contacts and control, with ``customer_id``, ``control`` and ``tier``;
        the manifest with ``as_of``, ``churn_horizon_days``,
        ``value_horizon_days`` and ``model_version``).
    inputs : InputData
        The same data set the run scored, now reaching past its ``as_of``.
        Refused when they end by ``as_of`` (nothing has matured) or when more
        than 1% of the scored customers have another history before it
        (another data set).
    config : TierwiseConfig
        ``evaluation`` (conversion window, confidence level, minimum group
        size, power), ``features`` (to check the histories),
        ``training.cancellation_event`` (what lapse means) and
        ``outreach.cost_per_contact`` (else the manifest's) are used.
    backtest : ModelCard, optional
        The backtest of the models behind the scores
        (:func:`tierwise.monitoring.read_run_backtest`); without it the
        backtest figures are None.

    Returns
    -------
    RunEvaluation
        Windows: each horizon and the days of it that have matured, i.e.
        ``min(horizon, data end - as_of)`` with the data end the day after the
        last transaction. Retention: no lapse over the matured churn window;
        conversion: a purchase (amount >= 0) within the matured
        ``conversion_window_days``; revenue: net spend over the matured value
        window.
    """
    scores, listed, manifest, where = _read_parts(run)
    _check_run(scores, listed, manifest, where)
    settings = config.evaluation
    as_of = normalize_as_of(manifest["as_of"])
    end = data_end(inputs)
    if end <= as_of:
        raise TierwiseError(f"transactions: the data end on {(end - pd.Timedelta(days=1)).date()}, before the run's "
                            f"as_of {as_of.date()}: nothing has happened since it yet; evaluate with data that reach "
                            "past it")
    available = int((end - as_of).days)
    windows = {
        "churn": Window(int(manifest["churn_horizon_days"]), min(int(manifest["churn_horizon_days"]), available)),
        "value": Window(int(manifest["value_horizon_days"]), min(int(manifest["value_horizon_days"]), available)),
        "conversion": Window(settings.conversion_window_days, min(settings.conversion_window_days, available)),
    }
    notes = _check_same_data(scores, inputs, as_of=as_of, config=config, where=where)
    outcomes = _outcomes(inputs, scores["customer_id"], as_of=as_of, windows=windows,
                         cancellation_event=config.training.cancellation_event)
    scored = scores[["customer_id", "churn_probability", "predicted_value", "tier"]].merge(outcomes, on="customer_id")
    churn_quality, churn_notes = _churn_quality(scored, windows["churn"], backtest)
    value_quality, value_notes = _value_quality(scored, windows["value"], backtest)
    on_list = listed[["customer_id", "control", "tier"]].assign(control=listed["control"].astype(bool)).merge(
        outcomes, on="customer_id")
    effects = _effects(on_list, "all", confidence_level=settings.confidence_level,
                       min_group_size=settings.min_group_size)
    for tier in pd.unique(on_list["tier"]):
        effects += _effects(on_list[on_list["tier"] == tier], str(tier), confidence_level=settings.confidence_level,
                            min_group_size=settings.min_group_size)
    result = RunEvaluation(
        as_of=str(as_of.date()), data_end=str(end.date()), model_version=str(manifest["model_version"]),
        model_run_id=manifest.get("model_run_id") or (backtest.run_id if backtest else None),
        confidence_level=settings.confidence_level, windows=windows, churn_quality=churn_quality,
        value_quality=value_quality, effects=effects, incremental={}, power={}, value_contribution={},
        notes=[*notes, *churn_notes, *value_notes],
    )
    cost = config.outreach.cost_per_contact
    cost = manifest.get("cost_per_contact") if cost is None else cost
    return dataclasses.replace(
        result, incremental=_incremental(result, cost), power=_power(on_list, settings),
        value_contribution=_value_contribution(scored),
    )


def _incremental(result: RunEvaluation, cost_per_contact: float | None) -> dict:
    """The effects scaled to the contacted customers: customers kept, revenue, and the return on the contact cost."""
    retention, revenue = result.effect("retention"), result.effect("revenue_per_customer")
    n = revenue.n_contacted

    def scaled(effect: Effect) -> dict:
        return {k: None if getattr(effect, k) is None else getattr(effect, k) * n for k in ("estimate", "lower", "upper")}

    incremental: dict[str, Any] = {"n_contacted": n, "customers_retained": scaled(retention), "revenue": scaled(revenue),
                   "cost_per_contact": cost_per_contact, "contact_cost": None, "return_on_cost": None}
    if cost_per_contact:
        cost = cost_per_contact * n
        incremental["contact_cost"] = cost
        # (incremental revenue - cost) / cost: 0 pays the contacts back, 1 doubles them.
        incremental["return_on_cost"] = {k: None if v is None else (v - cost) / cost
                                         for k, v in incremental["revenue"].items()}
    return incremental


def _power(on_list: pd.DataFrame, settings: EvaluationConfig) -> dict:
    n_a, n_b = int((~on_list["control"]).sum()), int(on_list["control"].sum())
    baseline = float(on_list["retained"].mean()) if len(on_list) else None
    detectable = None
    if n_a and n_b and baseline is not None:
        # At a retention of 0 or 1 the binomial variance vanishes; the worst case, 50%, keeps the figure honest.
        at = baseline if 0 < baseline < 1 else 0.5
        detectable = minimum_detectable_difference(at, n_a, n_b, confidence_level=settings.confidence_level,
                                                   power=settings.power)
    return {"outcome": "retention", "baseline_retention": baseline, "n_contacted": n_a, "n_control": n_b,
            "power": settings.power, "alpha": round(1 - settings.confidence_level, 10),
            "minimum_detectable_effect": detectable, "min_group_size": settings.min_group_size}


def read_run_backtest(manifest: dict) -> ModelCard | None:
    """The backtest of the models behind a run, from MLflow: by the manifest's ``model_run_id``, else its versions.

    None (with a logged reason) when the store is absent or does not answer.

    Parameters
    ----------
    manifest : dict
        The run's manifest.

    Returns
    -------
    ModelCard or None
        The backtest figures of the models.
    """
    from tierwise.reporting import read_model_card

    run_id = manifest.get("model_run_id")
    return read_model_card(f"runs:/{run_id}" if run_id else str(manifest.get("model_version", "")))


def evaluation_metrics(evaluation: RunEvaluation) -> dict[str, float]:
    """The evaluation's headline figures as flat MLflow metric names (those that could be computed).

    Parameters
    ----------
    evaluation : RunEvaluation
        The evaluation.

    Returns
    -------
    dict of str to float
        E.g. ``outreach_effect_retained``.
    """
    flat: dict[str, float | None] = {f"evaluation.{kind}_matured_days": w.matured_days for kind, w in evaluation.windows.items()}
    for kind, quality in (("churn", evaluation.churn_quality), ("value", evaluation.value_quality)):
        flat.update({f"evaluation.{kind}_{name}": value for name, value in quality["realized"].items()})
    for outcome in ("retention", "conversion", "revenue_per_customer"):
        effect = evaluation.effect(outcome)
        flat.update({f"evaluation.{outcome}_effect": effect.estimate, f"evaluation.{outcome}_effect_lower": effect.lower,
                     f"evaluation.{outcome}_effect_upper": effect.upper})
    flat["evaluation.minimum_detectable_retention_effect"] = evaluation.power["minimum_detectable_effect"]
    return {k: float(v) for k, v in flat.items() if v is not None and math.isfinite(v)}


def log_evaluation(evaluation: RunEvaluation) -> str | None:
    """Log the evaluation to the MLflow run of the models behind the scores; None, or why it could not be.

    Metrics go in at step ``YYYYMMDD`` of the run's as_of (and its time), so
    evaluations of several runs of the same models line up in the MLflow UI;
    the whole document is the artifact ``evaluations/<as_of>/evaluation.json``.
    The run's files are written whether or not this works, so a store that
    does not answer is reported, not raised.

    Parameters
    ----------
    evaluation : RunEvaluation
        The evaluation.

    Returns
    -------
    str or None
        None when logged; else why not, in one line.
    """
    from tierwise.training import log_run_evaluation, tracking_uri

    if evaluation.model_run_id is None:
        return "the run's manifest names no MLflow run and the store could not tell which run made its models"
    as_of = pd.Timestamp(evaluation.as_of)
    try:
        log_run_evaluation(
            evaluation.model_run_id, evaluation_metrics(evaluation), step=int(as_of.strftime("%Y%m%d")),
            timestamp_ms=int(as_of.timestamp() * 1000), document=evaluation.to_dict(),
            artifact_file=f"evaluations/{evaluation.as_of}/evaluation.json",
        )
    except TierwiseError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - any store failure is reported in one line; the files stand
        return f"MLflow store {tracking_uri()}: {(str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]}"
    return None
