"""The report's "Outcomes" section, from a run's evaluation.json (see docs/evaluation.md)."""

from __future__ import annotations

import html
from collections.abc import Callable

# A realized ranking metric this far below the backtest's says the model no longer ranks as it did.
WORSE_THAN_BACKTEST = 0.05
_OUTCOME_WORDS = {
    "retention": ("retention", "kept buying"),
    "conversion": ("conversion", "bought again"),
    "revenue_per_customer": ("revenue per customer", "spent"),
}
_VERDICT_WORDS = {
    "positive": "the outreach helped",
    "negative": "the outreach hurt",
    "no clear effect": "no clear effect either way",
    "not enough customers to tell": "not enough customers to tell",
}
_QUALITY_ROWS = (
    ("churn", "roc_auc", "churn ROC AUC (ranking of who lapses)", True),
    ("churn", "pr_auc", "churn PR AUC", True),
    ("churn", "brier", "churn Brier score (lower is better)", False),
    ("value", "spearman", "value rank correlation", True),
    ("value", "normalized_gini", "value normalised Gini", True),
    ("value", "predicted_over_actual", "predicted / actual revenue", None),
)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _points(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f} pts"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _effect_text(effect: dict, money: Callable[[float, int], str]) -> tuple[str, str]:
    """(difference, interval) in the outcome's unit: percentage points for rates, money for revenue."""
    if effect["outcome"] == "revenue_per_customer":
        def fmt(v):
            return "–" if v is None else ("+" if v >= 0 else "") + money(v, 2)
    else:
        fmt = _points
    interval = ("–" if effect["lower"] is None else f"{fmt(effect['lower'])} to {fmt(effect['upper'])}")
    return fmt(effect["estimate"]), interval


def _cards(evaluation: dict, money) -> str:
    windows = evaluation["windows"]
    level = f"{evaluation['confidence_level']:.0%}"
    cards = []
    for effect in (e for e in evaluation["effects"] if e["group"] == "all"):
        name, verb = _OUTCOME_WORDS[effect["outcome"]]
        estimate, interval = _effect_text(effect, money)
        days = windows["conversion" if effect["outcome"] == "conversion" else
                      "value" if effect["outcome"] == "revenue_per_customer" else "churn"]["matured_days"]
        if effect["outcome"] == "revenue_per_customer":
            groups = f"contacted {money(effect['contacted'] or 0, 2)} vs control {money(effect['control'] or 0, 2)}"
        else:
            groups = f"contacted {_share(effect['contacted'])} vs control {_share(effect['control'])}"
        label = (f"{name}: {groups} {verb} over {days} days; {level} interval {interval}: "
                 f"{_VERDICT_WORDS[effect['verdict']]}")
        cards.append((f"effect_{effect['outcome']}", effect["verdict"], estimate, label))
    incremental = evaluation["incremental"]
    revenue = incremental["revenue"]
    if revenue["estimate"] is not None:
        interval = "" if revenue["lower"] is None else f" ({level} interval {money(revenue['lower'])} to {money(revenue['upper'])})"
        cards.append(("incremental_revenue", "", money(revenue["estimate"]),
                      f"incremental revenue from the {incremental['n_contacted']:,} contacted customers{interval}"))
    roc = incremental["return_on_cost"]
    if roc is not None and roc["estimate"] is not None:
        interval = "" if roc["lower"] is None else f" ({level} interval {roc['lower']:+.0%} to {roc['upper']:+.0%})"
        cards.append(("return_on_cost", "", f"{roc['estimate']:+.0%}",
                      f"return on the contact cost of {money(incremental['contact_cost'])}: incremental revenue minus "
                      f"the cost, over the cost{interval}"))
    kind = {"positive": "money", "negative": "risk"}
    return '<div class="cards">' + "".join(
        f'<div class="card {kind.get(verdict, "list")}"><div class="value" data-figure="{name}">{_e(value)}</div>'
        f'<div class="label">{_e(label)}</div></div>' for name, verdict, value, label in cards) + "</div>"


def _tier_table(evaluation: dict, money) -> str:
    by_group: dict[str, dict[str, dict]] = {}
    for effect in evaluation["effects"]:
        by_group.setdefault(effect["group"], {})[effect["outcome"]] = effect
    rows = []
    for group, effects in by_group.items():
        retention = effects["retention"]
        cells = [group if group != "all" else "whole list", f"{retention['n_contacted']:,}",
                 f"{retention['n_control']:,}"]
        for outcome in ("retention", "conversion", "revenue_per_customer"):
            estimate, interval = _effect_text(effects[outcome], money)
            cells.append(f"{estimate} ({interval})")
        cells.append(_VERDICT_WORDS[retention["verdict"]])
        rows.append(f'<tr data-group="{_e(group)}">' + "".join(
            f'<td{" class=num" if 0 < i < 6 else ""}>{_e(c)}</td>' for i, c in enumerate(cells)) + "</tr>")
    headers = ["tier", "contacted", "control", "retention, difference (interval)",
               "conversion, difference (interval)", "revenue per customer, difference (interval)", "retention verdict"]
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f'<table id="outcome-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _quality_table(evaluation: dict) -> str:
    rows = []
    for kind, metric, label, higher_is_better in _QUALITY_ROWS:
        quality = evaluation["model_quality"][kind]
        now, then = quality["realized"].get(metric), quality["backtest"].get(metric)
        reading = ""
        if now is not None and then is not None and higher_is_better is not None:
            worse = (then - now) if higher_is_better else (now - then)
            reading = "worse than in the backtest" if worse > WORSE_THAN_BACKTEST else "as in the backtest"
        rows.append(f'<tr data-metric="{kind}_{metric}"><td>{_e(label)}</td><td class=num>{_number(now)}</td>'
                    f"<td class=num>{_number(then)}</td><td>{_e(reading)}</td></tr>")
    return ('<table id="quality-table"><thead><tr><th>measure</th><th class=num>since the run</th>'
            f'<th class=num>backtest</th><th>reading</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _contribution_table(evaluation: dict, money) -> str:
    contribution = evaluation["value_contribution"]
    rows = [f'<tr><td>{_e(t["tier"])}</td><td class=num>{t["customers"]:,}</td><td class=num>{money(t["revenue"])}</td>'
            f'<td class=num>{_share(t["revenue_share"])}</td><td class=num>{_share(t["predicted_share"])}</td></tr>'
            for t in contribution["by_tier"]]
    rows += [f'<tr><td>top {t["top_share"]:.0%} by predicted value</td><td class=num>{t["customers"]:,}</td>'
             f'<td class=num>{money(t["revenue"])}</td><td class=num>{_share(t["revenue_share"])}</td><td></td></tr>'
             for t in contribution["top_predicted"]]
    return ('<table id="contribution-table"><thead><tr><th>customers</th><th class=num>customers</th>'
            '<th class=num>revenue since the run</th><th class=num>share of revenue</th>'
            f'<th class=num>share of predicted value</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def outcomes_section(evaluation: dict, money: Callable[[float, int], str]) -> str:
    """The "Outcomes" section: the outreach's effect, overall and per tier, and whether the models still work.

    Parameters
    ----------
    evaluation : dict
        The run's evaluation.json.
    money : callable
        ``money(amount, decimals)`` formats an amount in the report's currency.

    Returns
    -------
    str
        The section's HTML.
    """
    windows = evaluation["windows"]
    matured = ", ".join(f"{w['matured_days']} of {w['horizon_days']} days of the {name} window"
                        for name, w in windows.items())
    power = evaluation["power"]
    lead = (f"What happened after {evaluation['as_of']}, in the data up to {evaluation['data_end']} ({matured}). "
            "Contacted customers are compared with the control customers, drawn at random from the same list and "
            "not contacted, so the difference is what the outreach did. Retention: no lapse; conversion: any "
            f"purchase; revenue: net spend. Intervals: {evaluation['confidence_level']:.0%}, Newcombe's score "
            "interval for rates, Welch's t interval for revenue.")
    if power["minimum_detectable_effect"] is not None:
        lead += (f" With {power['n_control']:,} control and {power['n_contacted']:,} contacted customers, a retention "
                 f"effect would need to be {power['minimum_detectable_effect'] * 100:.1f} points or more to be found "
                 f"{power['power']:.0%} of the time; groups with fewer than {power['min_group_size']:,} customers on "
                 "either side are not enough to tell.")
    churn = evaluation["model_quality"]["churn"]
    quality_note = (f"Churn measures on {churn['customers']:,} customers ({churn['population']}); value measures on "
                    "every scored customer. The backtest column is what the same models scored before they were used.")
    notes = "".join(f"<li>{_e(n)}</li>" for n in evaluation["notes"])
    return (f'<section id="outcomes"><h2>Outcomes</h2><p class="note">{_e(lead)}</p>{_cards(evaluation, money)}'
            f"<h3>By tier</h3>{_tier_table(evaluation, money)}"
            f'<h3>Do the models still work?</h3><p class="note">{_e(quality_note)}</p>{_quality_table(evaluation)}'
            f"<h3>Where the revenue came from</h3>{_contribution_table(evaluation, money)}"
            + (f'<ul class="note">{notes}</ul>' if notes else "") + "</section>")
