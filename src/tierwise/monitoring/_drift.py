"""Data drift: how far the customers scored now have moved from those the churn model was trained on.

At training, :func:`drift_reference` summarises the churn model's latest
training snapshot (the active customers at its newest training cutoff): per
feature, quantile bin edges and the share of customers per bin and missing,
or for a categorical feature the share of each level; and the same for the
calibrated churn probability. The summary is plain numbers, stored with the
churn model. At scoring, :func:`measure_drift` bins the customers of the same
population (those who get a churn probability) the same way and compares:
population stability index (PSI) per feature and for the churn probability,
the share of categorical levels never seen in training, and missing rates.

PSI = sum over bins of (now - reference) x ln(now / reference), with shares
as fractions of the customers; a bin empty on either side counts as
``EMPTY_BIN_SHARE`` (1e-4) there, so the logarithm stays finite. PSI is 0 for
identical distributions; by the usual reading below 0.1 is stable, 0.1 to
0.25 a moderate shift, above 0.25 a large one.

Those readings assume many customers. Two samples of a few hundred customers
from one and the same distribution differ by chance: their PSI times
1 / (1/n_reference + 1/n_now) follows a chi-square law with bins - 1 degrees
of freedom, so with 250 customers on each side and 11 bins a PSI of 0.08 is
typical and 0.24 happens once in 1,000 comparisons. A threshold therefore
flags a PSI (or a change in the missing share) only when it is also larger
than chance gives once in 1,000 comparisons (``CHANCE_LEVEL``) at these
sample sizes; on thousands of customers that bound is far below the
thresholds and changes nothing.

This module depends on nothing above the config: training builds the
reference with it and inference compares with it, binning by the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tierwise.config import DriftConfig

REFERENCE_BINS = 10
# The share a bin empty on one side gets in the PSI: the logarithm of 0 has no value.
EMPTY_BIN_SHARE = 1e-4
CHURN_SCORE = "churn_probability"
# How rarely a flag may come from sampling noise alone, between two samples of one distribution.
CHANCE_LEVEL = 0.001
_DIGITS = 6
FLAG_ORDER = {"severe": 0, "warning": 1, None: 2}


def _round(shares) -> list[float]:
    return [round(float(share), _DIGITS) for share in shares]


def _is_categorical(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object


def quantile_edges(values: pd.Series, *, bins: int = REFERENCE_BINS) -> list[float]:
    """Inner bin edges at the quantiles 1/bins ... (bins-1)/bins of the finite values, ties merged.

    Edges are observed values (no interpolation) and each bin is right-closed,
    ``(edge[i-1], edge[i]]``, with open ends below the first and above the
    last edge; so a heavy point mass (say 60% zeros) gets a bin of its own,
    ``(-inf, 0]``, and equal quantiles collapse into one edge instead of
    leaving empty bins. Returns at most ``bins - 1`` edges, fewer for tied
    values, none when no value is finite.

    Parameters
    ----------
    values : pandas.Series
        A numeric feature's values.
    bins : int
        The number of quantile bins wanted.

    Returns
    -------
    list of float
        The inner edges, ascending.

    Examples
    --------
    >>> quantile_edges(pd.Series([0, 0, 0, 1, 2, 3]), bins=2)
    [0.0]
    """
    finite = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return []
    quantiles = np.quantile(finite, np.arange(1, bins) / bins, method="inverted_cdf")
    return [float(edge) for edge in np.unique(quantiles)]


def bin_shares(values: pd.Series, edges: list[float]) -> tuple[list[float], float]:
    """The share of ``values`` in each of the ``len(edges) + 1`` bins of :func:`quantile_edges`, and the share missing.

    Shares are fractions of all values, missing ones included, so the bins
    and the missing share add up to 1. Infinite values fall in the end bins.

    Parameters
    ----------
    values : pandas.Series
        A numeric feature's values.
    edges : list of float
        :func:`quantile_edges` of the reference.

    Returns
    -------
    shares : list of float
        The share per bin.
    missing_share : float
        The share of missing values.
    """
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    count = max(len(numbers), 1)
    missing = np.isnan(numbers)
    index = np.searchsorted(np.asarray(edges, dtype=float), numbers[~missing], side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return list(counts / count), float(missing.sum() / count)


def level_shares(values: pd.Series, levels: list[str] | None = None) -> tuple[dict[str, float], float, float]:
    """Each level's share of ``values``, the share missing and the share of levels outside ``levels``.

    With ``levels`` (the training levels), values outside them are counted
    apart, as unseen, and left out of the level shares; without, every level
    is counted. Shares are fractions of all values.

    Parameters
    ----------
    values : pandas.Series
        A categorical feature's values.
    levels : list of str, optional
        The training levels.

    Returns
    -------
    shares : dict of str to float
        The share per level.
    missing_share : float
        The share of missing values.
    unseen_share : float
        The share of values outside ``levels`` (0 without ``levels``).
    """
    text = values.astype("object").where(values.notna())
    count = max(len(text), 1)
    missing = text.isna()
    present = text[~missing].astype(str)
    counts = present.value_counts()
    if levels is None:
        levels = sorted(counts.index)
    known = counts.reindex(levels, fill_value=0)
    unseen = int(counts.sum() - known.sum())
    return {str(level): float(n / count) for level, n in known.items()}, float(missing.sum() / count), unseen / count


def _numeric_reference(values: pd.Series, bins: int) -> dict[str, Any]:
    edges = quantile_edges(values, bins=bins)
    shares, missing = bin_shares(values, edges)
    return {"kind": "numeric", "edges": edges, "shares": _round(shares), "missing_share": round(missing, _DIGITS)}


def drift_reference(
    features: pd.DataFrame, churn_probability, *, as_of: pd.Timestamp, bins: int = REFERENCE_BINS
) -> dict[str, Any]:
    """Summarise the churn model's training snapshot for later drift checks; plain numbers, JSON-ready.

    ``features`` holds one row per customer of the snapshot and the churn
    model's feature columns only; ``churn_probability`` the calibrated
    probabilities the model gives those rows; ``as_of`` the snapshot's cutoff.
    Returns ``as_of``, ``customers``, ``bins``, ``features`` (per feature:
    numeric ``edges``, ``shares`` and ``missing_share``, or categorical
    ``levels`` with their shares and ``missing_share``) and
    ``churn_probability`` (binned like a numeric feature).

    Parameters
    ----------
    features : pandas.DataFrame
        The snapshot's rows, the churn model's feature columns only.
    churn_probability : array-like of float
        The calibrated probabilities of those rows.
    as_of : pandas.Timestamp
        The snapshot's cutoff.
    bins : int
        Quantile bins per numeric feature.

    Returns
    -------
    dict of str to object
        The reference, stored in the churn model's metadata.
    """
    summary: dict[str, Any] = {}
    for name in features.columns:
        column = features[name]
        if _is_categorical(column):
            levels, missing, _ = level_shares(column)
            summary[name] = {"kind": "categorical", "levels": {k: round(v, _DIGITS) for k, v in levels.items()},
                             "missing_share": round(missing, _DIGITS)}
        else:
            summary[name] = _numeric_reference(column, bins)
    return {
        "as_of": str(pd.Timestamp(as_of).date()),
        "customers": len(features),
        "bins": bins,
        "features": summary,
        CHURN_SCORE: _numeric_reference(pd.Series(np.asarray(churn_probability, dtype=float)), bins),
    }


def population_stability_index(reference, current, *, empty_bin_share: float = EMPTY_BIN_SHARE) -> float:
    """PSI between two distributions over the same bins: sum of (current - reference) x ln(current / reference).

    ``reference`` and ``current`` are shares per bin (fractions, each adding
    up to 1); a share below ``empty_bin_share`` counts as ``empty_bin_share``
    so that an empty bin gives a finite term. 0 for identical distributions.

    Parameters
    ----------
    reference, current : array-like of float
        The shares per bin.
    empty_bin_share : float
        The floor of a share.

    Returns
    -------
    float
        The PSI, 0 or more.

    Examples
    --------
    >>> round(population_stability_index([0.5, 0.5], [0.25, 0.75]), 4)
    0.2747
    """
    expected = np.maximum(np.asarray(reference, dtype=float), empty_bin_share)
    actual = np.maximum(np.asarray(current, dtype=float), empty_bin_share)
    if expected.shape != actual.shape:
        raise ValueError(f"PSI needs the same bins on both sides, got {expected.size} and {actual.size}")
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi_by_chance(bins: int, reference_count: int, current_count: int, *, level: float = CHANCE_LEVEL) -> float:
    """The PSI that two samples of these sizes from one distribution over ``bins`` bins exceed with probability ``level``.

    Sampling noise alone gives a PSI of about chi-square(bins - 1) x
    (1/reference_count + 1/current_count); this is that law's upper
    ``level`` quantile. 0 for fewer than two bins.

    Parameters
    ----------
    bins : int
        The number of bins (or levels) compared.
    reference_count, current_count : int
        The sample sizes.
    level : float
        The chance of exceeding it by sampling noise alone.

    Returns
    -------
    float
        The PSI.
    """
    if bins < 2:
        return 0.0
    return float(stats.chi2.isf(level, bins - 1) * (1 / max(reference_count, 1) + 1 / max(current_count, 1)))


def missing_change_by_chance(
    reference_share: float, current_share: float, reference_count: int, current_count: int, *, level: float = CHANCE_LEVEL
) -> float:
    """The change in a missing share that two samples of these sizes from one population exceed with probability ``level``.

    Parameters
    ----------
    reference_share, current_share : float
        The missing shares.
    reference_count, current_count : int
        The sample sizes.
    level : float
        The chance of exceeding it by sampling noise alone.

    Returns
    -------
    float
        The absolute change in share.
    """
    pooled = (reference_share * reference_count + current_share * current_count) / max(reference_count + current_count, 1)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / max(reference_count, 1) + 1 / max(current_count, 1)))
    return float(stats.norm.isf(level / 2) * spread)


def _chance(entry: dict, reference_shares: list[float], reference_count: int, current_count: int) -> dict:
    """The PSI and the missing-share change that chance alone reaches at these sample sizes (see the module notes)."""
    bins = sum(share > 0 for share in reference_shares)
    return {
        "psi_by_chance": round(psi_by_chance(bins, reference_count, current_count), _DIGITS),
        "missing_change_by_chance": round(missing_change_by_chance(
            entry["missing_share_reference"], entry["missing_share_now"], reference_count, current_count), _DIGITS),
    }


def _compare_numeric(values: pd.Series, reference: dict) -> dict[str, Any]:
    shares, missing = bin_shares(values, reference["edges"])
    psi = population_stability_index([*reference["shares"], reference["missing_share"]], [*shares, missing])
    return {"kind": "numeric", "psi": round(psi, _DIGITS), "missing_share_reference": reference["missing_share"],
            "missing_share_now": round(missing, _DIGITS), "unseen_share": 0.0, "edges": reference["edges"],
            "shares_reference": reference["shares"], "shares_now": _round(shares)}


def _compare_categorical(values: pd.Series, reference: dict) -> dict[str, Any]:
    levels = list(reference["levels"])
    shares, missing, unseen = level_shares(values, levels)
    # The model reads a level it never saw as missing, so that is where it counts in the PSI.
    psi = population_stability_index([*reference["levels"].values(), reference["missing_share"]],
                                      [*shares.values(), missing + unseen])
    return {"kind": "categorical", "psi": round(psi, _DIGITS), "missing_share_reference": reference["missing_share"],
            "missing_share_now": round(missing, _DIGITS), "unseen_share": round(unseen, _DIGITS), "levels": levels,
            "shares_reference": list(reference["levels"].values()), "shares_now": _round(shares.values())}


def _flag(entry: dict, thresholds: DriftConfig) -> tuple[str | None, list[str]]:
    """The entry's flag (severe, warning or None) and the thresholds it crossed, in words.

    A PSI or a missing-share change counts only beyond what chance reaches
    (``psi_by_chance``, ``missing_change_by_chance``); unseen levels always
    count, since the training snapshot had none.
    """
    severe, warning = [], []
    psi = entry["psi"] if entry["psi"] > entry["psi_by_chance"] else 0.0
    if psi >= thresholds.psi_severe:
        severe.append(f"PSI {entry['psi']:.2f} >= {thresholds.psi_severe:g}")
    elif psi >= thresholds.psi_warning:
        warning.append(f"PSI {entry['psi']:.2f} >= {thresholds.psi_warning:g}")
    if entry["unseen_share"] >= thresholds.unseen_share_severe:
        severe.append(f"{entry['unseen_share']:.1%} of customers have levels never seen in training "
                      f"(>= {thresholds.unseen_share_severe:.1%})")
    change = entry["missing_share_now"] - entry["missing_share_reference"]
    if abs(change) >= thresholds.missing_rate_change_severe and abs(change) > entry["missing_change_by_chance"]:
        severe.append(f"missing {entry['missing_share_reference']:.1%} in training, {entry['missing_share_now']:.1%} "
                      f"now (change >= {thresholds.missing_rate_change_severe:.1%})")
    if severe:
        return "severe", severe + warning
    return ("warning", warning) if warning else (None, [])


def measure_drift(
    features: pd.DataFrame,
    churn_probability,
    reference: dict,
    *,
    as_of: pd.Timestamp,
    thresholds: DriftConfig,
    descriptions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Compare the customers scored now with the churn model's training snapshot; JSON-ready.

    ``features`` are the customers of the population the churn model was
    trained on (those given a churn probability), one row each, with at least
    the reference's feature columns; ``churn_probability`` their calibrated
    probabilities; ``reference`` what :func:`drift_reference` gave at
    training. Each feature and the churn probability get ``psi``, the
    reference and current shares per bin (or level), ``missing_share_reference``
    and ``missing_share_now``, ``unseen_share`` (categorical levels never seen
    in training, which the model reads as missing and the PSI counts as
    such), ``psi_by_chance`` and ``missing_change_by_chance`` (what sampling
    noise alone reaches once in 1,000 comparisons at these sample sizes), a
    ``flag`` (``severe``, ``warning`` or null) and ``crossed`` (the
    thresholds crossed, in words); a threshold counts only beyond chance. Features are ordered worst first: severe,
    then warning, then by PSI. ``descriptions`` (feature -> plain words) are
    carried along for readers.

    Parameters
    ----------
    features : pandas.DataFrame
        The customers given a churn probability now, with the reference's feature columns.
    churn_probability : array-like of float
        Their calibrated churn probabilities.
    reference : dict
        :func:`drift_reference`'s result, from the churn model's metadata.
    as_of : pandas.Timestamp
        The scoring cutoff, recorded in the result.
    thresholds : DriftConfig
        The PSI and missing-share thresholds of a warning and a severe drift.
    descriptions : dict of str to str, optional
        Feature descriptions, carried along.

    Returns
    -------
    dict of str to object
        ``as_of``, ``reference_as_of``, ``customers``, ``reference_customers``, the thresholds, ``severe`` and
        ``warning`` (the inputs flagged), ``features`` (one entry per feature, worst first) and
        ``churn_probability``; written as drift.json.
    """
    counts = (reference["customers"], len(features))
    entries = []
    for name, summary in reference["features"].items():
        compare = _compare_categorical if summary["kind"] == "categorical" else _compare_numeric
        entry = {"feature": name, "description": (descriptions or {}).get(name, name), **compare(features[name], summary)}
        entry.update(_chance(entry, [*entry["shares_reference"], entry["missing_share_reference"]], *counts))
        entry["flag"], entry["crossed"] = _flag(entry, thresholds)
        entries.append(entry)
    entries.sort(key=lambda e: (FLAG_ORDER[e["flag"]], -e["psi"], e["feature"]))
    score = _compare_numeric(pd.Series(np.asarray(churn_probability, dtype=float)), reference[CHURN_SCORE])
    score.update(_chance(score, [*score["shares_reference"], score["missing_share_reference"]], *counts))
    score["flag"], score["crossed"] = _flag(score, thresholds)
    flagged = [e for e in entries if e["flag"] is not None]
    return {
        "as_of": str(pd.Timestamp(as_of).date()),
        "reference_as_of": reference["as_of"],
        "customers": len(features),
        "reference_customers": reference["customers"],
        "population": "customers given a churn probability (a purchase within the churn model's lookback), as in training",
        "empty_bin_share": EMPTY_BIN_SHARE,
        "chance_level": CHANCE_LEVEL,
        "thresholds": thresholds.model_dump(mode="json"),
        "severe": [e["feature"] for e in flagged if e["flag"] == "severe"] + ([CHURN_SCORE] if score["flag"] == "severe" else []),
        "warning": [e["feature"] for e in flagged if e["flag"] == "warning"] + ([CHURN_SCORE] if score["flag"] == "warning" else []),
        CHURN_SCORE: score,
        "features": entries,
    }


def drift_lines(drift: dict, *, most: int = 3) -> list[str]:
    """One line per input past a threshold, worst first, at most ``most`` of them, then a count of the rest.

    Parameters
    ----------
    drift : dict
        :func:`measure_drift`'s result.
    most : int
        How many inputs to name.

    Returns
    -------
    list of str
        The lines, e.g. for warnings.
    """
    flagged = [e for e in drift["features"] if e["flag"] is not None]
    score = drift[CHURN_SCORE]
    if score["flag"] is not None:
        flagged.insert(0, {**score, "feature": CHURN_SCORE, "description": "the churn probability"})
    lines = [f"{e['feature']} ({e['description']}): {e['flag']}, {'; '.join(e['crossed'])}" for e in flagged[:most]]
    if len(flagged) > most:
        lines.append(f"and {len(flagged) - most} more past a drift threshold (see drift.json)")
    return lines


def drift_metrics(drift: dict) -> dict[str, float]:
    """Flat figures for a tracking store: ``drift_psi_<feature>``, the churn probability's PSI and the flag counts.

    Parameters
    ----------
    drift : dict
        :func:`measure_drift`'s result.

    Returns
    -------
    dict of str to float
        ``drift_psi_<feature>``, ``drift_unseen_share_<attribute>``, ``drift_severe_count``,
        ``drift_warning_count``, ...
    """
    metrics = {f"drift_psi_{e['feature']}": round(e["psi"], _DIGITS) for e in drift["features"]}
    metrics.update({f"drift_unseen_share_{e['feature']}": round(e["unseen_share"], _DIGITS)
                    for e in drift["features"] if e["kind"] == "categorical"})
    metrics[f"drift_psi_{CHURN_SCORE}"] = round(drift[CHURN_SCORE]["psi"], _DIGITS)
    metrics["drift_severe_count"] = float(len(drift["severe"]))
    metrics["drift_warning_count"] = float(len(drift["warning"]))
    return metrics
