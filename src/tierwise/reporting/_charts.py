"""The report's charts. Each ``plot_*`` draws on a matplotlib Axes and returns it; :func:`figure_png` embeds one."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import subprocess
from collections.abc import Iterator

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from tierwise.reporting._columns import ScoreColumns

logger = logging.getLogger(__name__)

BAND_COLOURS = {"high": "#c0392b", "medium": "#e69f00", "low": "#4c9f70"}
SAVING, COST, NET, REACHED, FALSE_ALARMS = "#1f77b4", "#7f7f7f", "#2ca02c", "#c0392b", "#b0b0b0"
_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Zen Hei", "Source Han Sans SC",
                 "Droid Sans Fallback", "AR PL UMing CN")


def _registered_cjk_family() -> str | None:
    known = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in _CJK_FAMILIES if family in known), None)


def cjk_font_family() -> str | None:
    """A CJK-capable font family matplotlib can draw with, or None.

    Looks in matplotlib's font list, then asks fontconfig: a font installed
    after matplotlib built its cache (e.g. Debian's fonts-noto-cjk) is added
    to matplotlib's list, which only makes one more font available.

    Returns
    -------
    str or None
        The family name, e.g. ``"Noto Sans CJK JP"``.
    """
    family = _registered_cjk_family()
    if family is not None:
        return family
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in listed.splitlines():
        path = line.split(":", 1)[0].strip()
        if path.lower().endswith((".ttf", ".otf", ".ttc")):
            with contextlib.suppress(Exception):  # a font matplotlib cannot read is simply not used
                font_manager.fontManager.addfont(path)
    return _registered_cjk_family()


def needs_cjk(texts) -> bool:
    """True when any text has characters outside Latin, Greek and Cyrillic, which DejaVu Sans lacks.

    Parameters
    ----------
    texts : iterable of str
        The labels a chart will draw.

    Returns
    -------
    bool
        Whether a CJK font is needed.
    """
    return any(ord(char) > 0x2FFF for text in texts for char in str(text))


@contextlib.contextmanager
def chart_style(cjk_family: str | None = None) -> Iterator[None]:
    """Matplotlib settings for the report's charts, for the duration of the block only.

    Parameters
    ----------
    cjk_family : str, optional
        A font family (see :func:`cjk_font_family`) tried after DejaVu Sans, for labels in CJK scripts.

    Yields
    ------
    None
        While the settings hold.
    """
    families = ["DejaVu Sans", *([cjk_family] if cjk_family else [])]
    with matplotlib.rc_context({
        "font.family": families, "font.size": 10, "axes.spines.top": False,
        "axes.spines.right": False, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.titlelocation": "left",
        "svg.fonttype": "none",
    }):
        yield


def figure_png(figure: Figure, *, dpi: int = 110) -> str:
    """The figure as a ``data:image/png;base64,...`` URI.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The figure.
    dpi : int
        The resolution.

    Returns
    -------
    str
        The data URI, for an ``<img src>``.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _money(value: float, _position=None) -> str:
    """Axis ticks: 2,500, 40,000, 1.2M (one style up to a million, so no axis mixes 5,000 and 10k)."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.1f}".removesuffix(".0") + "M"
    return f"{value:,.0f}"


def plot_tier_customers(tiers: pd.DataFrame, ax: Axes, labels: list[str]) -> Axes:
    """Draw the customers per tier, a bar each, coloured by the tier's mean churn probability (grey: not modelled).

    Parameters
    ----------
    tiers : pandas.DataFrame
        :func:`tier_summary`'s frame.
    ax : matplotlib.axes.Axes
        The axes to draw on.
    labels : list of str
        The tier labels, in the frame's order.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    colour_map = matplotlib.colormaps["RdYlGn_r"]
    colours = [colour_map(p) if p == p else "#cfcfcf" for p in tiers["mean_churn_probability"]]
    positions = np.arange(len(tiers))
    ax.barh(positions, tiers["customers"], color=colours)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    for position, count in zip(positions, tiers["customers"], strict=True):
        ax.annotate(f"{count:,}", (count, position), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set(title="Customers", xlabel="customers")
    ax.margins(x=0.18)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    return ax


def plot_tier_value_at_risk(tiers: pd.DataFrame, ax: Axes) -> Axes:
    """Value at risk per tier (shares the tier order of :func:`plot_tier_customers`).

    Parameters
    ----------
    tiers : pandas.DataFrame
        :func:`tier_summary`'s frame.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    positions = np.arange(len(tiers))
    total = tiers["value_at_risk"].sum()
    ax.barh(positions, tiers["value_at_risk"], color="#34495e")
    ax.invert_yaxis()
    for position, value in zip(positions, tiers["value_at_risk"], strict=True):
        share = f" ({value / total:.0%})" if total > 0 else ""
        ax.annotate(f"{value:,.0f}{share}", (max(value, 0), position), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=9)
    ax.set(title="Value at risk", xlabel="value at risk")
    ax.margins(x=0.3)
    ax.xaxis.set_major_formatter(FuncFormatter(_money))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # six-digit amounts side by side would run into each other
    return ax


def plot_risk_distribution(scores: pd.DataFrame, ax: Axes) -> Axes:
    """Histogram of churn probability, stacked by risk band.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores, with ``churn_probability`` and ``risk_band``.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    s = ScoreColumns
    modelled = scores[scores[s.churn_probability].notna()]
    bands = [b for b in s.band_order if b in set(modelled[s.risk_band])]
    bands += sorted(set(modelled[s.risk_band].dropna()) - set(bands))
    bins = list(np.linspace(0, 1, 21))
    ax.hist([modelled.loc[modelled[s.risk_band] == band, s.churn_probability] for band in bands], bins=bins,
            stacked=True, label=[f"{band} risk" for band in bands],
            color=[BAND_COLOURS.get(band, "#999999") for band in bands])
    ax.set(title="How likely customers are to lapse", xlabel="churn probability", ylabel="customers", xlim=(0, 1))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(frameon=False)
    return ax


def plot_value_concentration(scores: pd.DataFrame, concentration: pd.DataFrame, ax: Axes) -> Axes:
    """Cumulative share of predicted value against the share of customers, most valuable first.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores, with ``predicted_value``.
    concentration : pandas.DataFrame
        :func:`value_concentration`'s frame, marked on the curve.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    values = np.sort(scores[ScoreColumns.predicted_value].fillna(0).clip(lower=0).to_numpy())[::-1]
    customer_share = np.arange(1, len(values) + 1) / len(values)
    ax.plot(np.r_[0, customer_share], np.r_[0, np.cumsum(values) / values.sum()], color="#34495e")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="if every customer were worth the same")
    for _, row in concentration.iterrows():
        ax.plot(row["top_share"], row["value_share"], "o", color="#c0392b")
        ax.annotate(f"top {row['top_share']:.0%}: {row['value_share']:.0%} of value", (row["top_share"], row["value_share"]),
                    xytext=(8, -12), textcoords="offset points", fontsize=9)
    ax.set(title="Where the predicted value is", xlabel="customers, most valuable first",
           ylabel="share of predicted value", xlim=(0, 1), ylim=(0, 1.02))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(frameon=False, loc="center right")
    return ax


def _mark_list_end(ax: Axes, list_end: int, contacts: int) -> None:
    if list_end > 0:
        ax.axvline(list_end, color="black", linestyle="--", linewidth=1)
        near_right = list_end > 0.6 * contacts  # the label goes on the side with room
        ax.annotate(f"list stops: {list_end:,} contacts", (list_end, 0), xycoords=("data", "axes fraction"),
                    xytext=(-4 if near_right else 4, 6), textcoords="offset points", fontsize=9,
                    ha="right" if near_right else "left")


def plot_targeting_people(curve: pd.DataFrame, ax: Axes) -> Axes:
    """Expected lapsers reached and false alarms for the first N contacts.

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`targeting_curve`'s frame.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    ax.plot(curve["contacts"], curve["lapsers_reached"], color=REACHED, label="expected lapsers reached")
    ax.plot(curve["contacts"], curve["false_alarms"], color=FALSE_ALARMS, label="expected false alarms (would have stayed)")
    _mark_list_end(ax, int(curve["on_list"].sum()), len(curve))
    ax.set(title="Who the contacts reach", xlabel="customers contacted, in list order", ylabel="customers")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    return ax


def plot_targeting_money(curve: pd.DataFrame, ax: Axes) -> Axes:
    """Expected saving, contact cost and net value for the first N contacts.

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`targeting_curve`'s frame.
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    ax.plot(curve["contacts"], curve["expected_saving"], color=SAVING, label="expected saving")
    if "net_value" in curve:
        ax.plot(curve["contacts"], curve["contact_cost"], color=COST, linestyle="-.", label="contact cost")
        ax.plot(curve["contacts"], curve["net_value"], color=NET, linewidth=2, label="net value (saving - cost)")
        best = curve.loc[curve["net_value"].idxmax()]
        ax.plot(best["contacts"], best["net_value"], "o", color=NET)
    ax.axhline(0, color="grey", linewidth=0.8)
    _mark_list_end(ax, int(curve["on_list"].sum()), len(curve))
    ax.set(title="What the contacts are worth", xlabel="customers contacted, in list order", ylabel="value")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    return ax


def plot_reliability(reliability: pd.DataFrame, ax: Axes) -> Axes:
    """Observed lapse rate against the mean predicted probability per bin, at the backtest's test cutoff.

    Parameters
    ----------
    reliability : pandas.DataFrame
        ``mean_predicted`` and ``observed_rate`` per bin (the model card's).
    ax : matplotlib.axes.Axes
        The axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, drawn on.
    """
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    sizes = 20 + 180 * reliability["customers"] / reliability["customers"].max()
    ax.scatter(reliability["mean_predicted"], reliability["observed_rate"], s=sizes, color="#1f77b4", zorder=3,
               label="model (dot size: customers)")
    ax.plot(reliability["mean_predicted"], reliability["observed_rate"], color="#1f77b4")
    ax.set(title="Predicted vs observed lapse rate (backtest)", xlabel="predicted churn probability",
           ylabel="observed lapse rate", xlim=(0, 1), ylim=(0, 1))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(frameon=False, loc="upper left")
    return ax
