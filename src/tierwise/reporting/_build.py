"""The run report: one self-contained HTML page built from a run's scores, list and manifest.

No script, no stylesheet or font from the network: the charts are PNG data
URIs and all text is HTML text, so the page reads offline, as an e-mail
attachment, in any language the config's tier names and actions use.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable

import pandas as pd
from matplotlib.figure import Figure

from tierwise.config import PURCHASES_UNIT, UNSPECIFIED_CURRENCY
from tierwise.errors import InputDataError
from tierwise.monitoring import NEW_TO_RUN, migration_matrix, moves_that_matter
from tierwise.reporting import _charts
from tierwise.reporting._columns import DriftKeys, ListColumns, ManifestKeys, ScoreColumns
from tierwise.reporting._figures import (
    OutreachSettings,
    common_reasons,
    headline,
    targeting_curve,
    tier_summary,
    value_concentration,
)
from tierwise.reporting._model_card import ModelCard
from tierwise.reporting._outcomes import outcomes_section

logger = logging.getLogger(__name__)

LIST_ROWS_SHOWN = 20
_FONTS = ('system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, '
          '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", '
          '"Microsoft YaHei", "WenQuanYi Zen Hei", sans-serif')
_STYLE = """
body { font-family: %FONTS%; color: #1d2731; margin: 0; background: #f4f6f8; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 0 0 6px; }
p.lead { margin: 0 0 18px; color: #4a5968; }
section { background: #fff; border-radius: 8px; padding: 18px 22px; margin: 0 0 18px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
p.note { color: #4a5968; margin: 8px 0 12px; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; }
.card { background: #f7f9fb; border-left: 4px solid #34495e; border-radius: 6px; padding: 10px 14px; }
.card.risk { border-color: #c0392b; } .card.list { border-color: #1f77b4; } .card.money { border-color: #2ca02c; }
.card .value { font-size: 24px; font-weight: 700; } .card .label { font-size: 13px; color: #4a5968; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin-top: 10px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e3e8ed; vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; } td.num, th.num { text-align: right; white-space: nowrap; }
img.chart { display: block; max-width: 100%; height: auto; margin: 6px 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; } @media (max-width: 900px) { .pair { grid-template-columns: 1fr; } }
.bar { display: inline-block; height: 10px; background: #34495e; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.control { color: #8a5a00; font-weight: 600; } .muted { color: #6b7a89; }
footer { color: #6b7a89; font-size: 12px; text-align: center; }
#list td:nth-child(4), td[data-field=tier], #reasons th { white-space: nowrap; }
#migration-matrix td.stayed { color: #6b7a89; background: #f7f9fb; } #migration-matrix th.risk { color: #c0392b; }
"""


_METHODS = {"model": "tierwise model", "model_uncalibrated": "tierwise model, before calibration",
            "rfm_score": "RFM score (rule)", "recency_rank": "days since last purchase (rule)",
            "last_period": "last period's spend again (rule)", "model_squared_error": "tierwise, squared-error variant"}
_BACKTEST_NOTE = ("Judged on a past period the models had not seen. ROC AUC, PR AUC and lift: higher is better; Brier "
                  "score: lower is better; rank correlation and Gini: how well the value model orders customers, "
                  "higher is better. The rules are what a team could do without a model.")
_RELIABILITY_NOTE = ("How to read it: each dot is a group of customers with similar predicted churn probability. On the "
                     "dotted line, the prediction came true as often as it said: of customers given 30%, 30% lapsed.")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _count(value: float) -> str:
    return f"{int(value):,}"


class _Money:
    """Formats amounts, with the run's currency when the manifest names one."""

    def __init__(self, currency: str | None):
        # export.currency defaults to "unspecified": the data's own unit, which needs no label on every figure.
        self.currency = None if currency in (None, "", UNSPECIFIED_CURRENCY) else currency

    def __call__(self, value: float, decimals: int = 0) -> str:
        if value != value:
            return "–"
        amount = f"{value:,.{decimals}f}"
        if self.currency == PURCHASES_UNIT:  # a log without amounts: value counts purchases
            return f"{amount} {PURCHASES_UNIT}"
        return f"{self.currency} {amount}" if self.currency else amount


def _percent(value: float, decimals: int = 0) -> str:
    return "–" if value != value else f"{value:.{decimals}%}"


def _figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list]:
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, list(axes)


def _image(uri: str, alt: str, name: str) -> str:
    return f'<img class="chart" data-chart="{_e(name)}" src="{uri}" alt="{_e(alt)}">'


def _table(headers: Iterable[tuple[str, bool]], rows: Iterable[str], attributes: str = "") -> str:
    head = "".join(f'<th{" class=num" if numeric else ""}>{_e(label)}</th>' for label, numeric in headers)
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(text: str, *, field: str | None = None, numeric: bool = False, raw: bool = False) -> str:
    attributes = (f' data-field="{field}"' if field else "") + (' class="num"' if numeric else "")
    return f"<td{attributes}>{text if raw else _e(text)}</td>"


def _headline_section(figures: dict[str, float], settings: OutreachSettings, money: _Money) -> str:
    share = figures["high_risk"] / figures["customers"] if figures["customers"] else float("nan")
    cards = [
        ("customers", "", _count(figures["customers"]), "customers scored"),
        ("high_risk", "risk", _count(figures["high_risk"]),
         f"at high risk of lapsing ({_percent(share)} of customers), holding {money(figures['high_risk_value_at_risk'])} "
         "of value at risk"),
        ("value_at_risk", "risk", money(figures["value_at_risk"]), "value at risk across all customers"),
        ("list_customers", "list", _count(figures["list_customers"]),
         f"customers on the outreach list: {figures['contacted']:,} to contact, {figures['control']:,} held out as "
         "control (do not contact)"),
    ]
    if figures["contact_cost"] == figures["contact_cost"]:
        cards.append(("contact_cost", "list", money(figures["contact_cost"]),
                      f"contact cost ({figures['contacted']:,} x {money(settings.cost_per_contact or 0, 2)})"))
    cards.append(("expected_saving", "money", money(figures["expected_saving"]),
                  "expected saving from contacting the list" + (
                      f" (if a contact keeps {settings.save_rate:.0%} of would-be lapsers)" if settings.save_rate else "")
                  + ("; no contact cost is set, so no net value" if settings.cost_per_contact is None else "")))
    if figures["expected_net"] == figures["expected_net"]:
        cards.append(("expected_net", "money", money(figures["expected_net"]), "net value: saving minus contact cost"))
    body = "".join(
        f'<div class="card {kind}"><div class="value" data-figure="{name}">{_e(value)}</div>'
        f'<div class="label">{_e(label)}</div></div>'
        for name, kind, value, label in cards
    )
    return f'<section id="headline"><h2>At a glance</h2><div class="cards">{body}</div></section>'


def _tier_section(tiers: pd.DataFrame, money: _Money, cjk_family: str | None) -> str:
    labels = list(tiers["tier"])
    if _charts.needs_cjk(labels) and cjk_family is None:
        logger.warning("no CJK font found for the report's charts: tiers are numbered there, named in the table")
        labels = [f"tier {i}" for i in range(1, len(labels) + 1)]
    with _charts.chart_style(cjk_family):
        figure, (left, right) = _figure(11, 0.9 + 0.42 * len(tiers), columns=2)
        _charts.plot_tier_customers(tiers, left, labels)
        _charts.plot_tier_value_at_risk(tiers, right)
        right.set_yticks(range(len(tiers)), [""] * len(tiers))
        chart = _image(_charts.figure_png(figure), "Customers and value at risk per tier", "tiers")
    rows = []
    for number, row in enumerate(tiers.itertuples(index=False), start=1):
        p = row.mean_churn_probability
        rows.append(
            f'<tr data-tier="{_e(row.tier)}">' + _cell(str(number), numeric=True) + _cell(row.tier, field="tier")
            + _cell(_count(row.customers), field="customers", numeric=True)
            + _cell(_percent(p) if p == p else "not modelled", field="mean_churn_probability", numeric=True)
            + _cell(money(row.value_at_risk), field="value_at_risk", numeric=True)
            + _cell(_count(row.on_list), field="on_list", numeric=True)
            + _cell(row.action, field="action") + "</tr>"
        )
    table = _table([("#", True), ("tier", False), ("customers", True), ("mean churn probability", True),
                    ("value at risk", True), ("on the list", True), ("playbook action", False)], rows, ' id="tier-table"')
    note = ("Bars on the left are coloured by the tier's mean churn probability (green: likely to stay, red: likely to "
            "lapse; grey: not modelled, e.g. customers already lost or who never bought). Tiers are sorted by value at risk.")
    return f'<section id="tiers"><h2>Tiers</h2><p class="note">{_e(note)}</p>{chart}{table}</section>'


def _distribution_section(scores: pd.DataFrame, concentration: pd.DataFrame) -> str:
    parts = []
    if scores[ScoreColumns.churn_probability].notna().any():
        with _charts.chart_style():
            figure, (ax,) = _figure(5.6, 3.6)
            _charts.plot_risk_distribution(scores, ax)
            parts.append(_image(_charts.figure_png(figure), "Histogram of churn probability by risk band", "risk"))
    if not concentration.empty:
        with _charts.chart_style():
            figure, (ax,) = _figure(5.6, 3.6)
            _charts.plot_value_concentration(scores, concentration, ax)
            parts.append(_image(_charts.figure_png(figure), "Cumulative share of predicted value", "concentration"))
    if not parts:
        return ""
    rows = [
        f'<tr data-top="{row.top_share:g}">' + _cell(f"top {row.top_share:.0%}") + _cell(_count(row.customers), numeric=True)
        + _cell(_percent(row.value_share, 1), field="value_share", numeric=True) + "</tr>"
        for row in concentration.itertuples(index=False)
    ]
    table = _table([("customers by predicted value", False), ("customers", True), ("share of predicted value", True)],
                   rows, ' id="concentration-table"') if rows else ""
    return (f'<section id="distribution"><h2>Risk and value</h2><p class="note">Only customers who are still active or '
            f'new get a churn probability. Predicted value counts everyone.</p><div class="pair">{"".join(parts)}</div>'
            f"{table}</section>")


def _targeting_section(curve: pd.DataFrame, settings: OutreachSettings, money: _Money) -> str:
    if curve.empty:
        return ""
    with _charts.chart_style():
        columns = 2 if "expected_saving" in curve else 1
        figure, axes = _figure(11, 3.8, columns=columns)
        _charts.plot_targeting_people(curve, axes[0])
        if columns == 2:
            _charts.plot_targeting_money(curve, axes[1])
        chart = _image(_charts.figure_png(figure), "Targeting curve: lapsers reached and value for the first N contacts",
                       "targeting")
    list_end = int(curve["on_list"].sum())
    points = sorted({n for n in (list_end, *(int(len(curve) * q) for q in (0.1, 0.25, 0.5, 1.0))) if n > 0})
    rows = []
    for n in points:
        row = curve.iloc[n - 1]
        cells = [_cell(f"{n:,}" + (" (list stops)" if n == list_end else ""), numeric=True),
                 _cell(_count(round(row["lapsers_reached"])), numeric=True),
                 _cell(_count(round(row["false_alarms"])), numeric=True)]
        if "expected_saving" in curve:
            cells.append(_cell(money(row["expected_saving"]), numeric=True))
        if "net_value" in curve:
            cells.append(_cell(money(row["net_value"]), numeric=True))
        rows.append(f'<tr data-contacts="{n}">' + "".join(cells) + "</tr>")
    headers = [("first N contacts", True), ("expected lapsers reached", True), ("expected false alarms", True)]
    headers += [("expected saving", True)] if "expected_saving" in curve else []
    headers += [("net value", True)] if "net_value" in curve else []
    note = ("Contacting customers in list order (control group left out), then, past the dashed line, the ranked "
            "customers the list leaves out. A lapser reached is a customer who would otherwise stop buying; a false "
            "alarm would have stayed anyway. Expected figures add up each customer's churn probability.")
    if settings.cost_per_contact is None:
        note += " No contact cost is set, so no net value is shown."
    return (f'<section id="targeting"><h2>How far down the list to go</h2><p class="note">{_e(note)}</p>{chart}'
            f"{_table(headers, rows, ' id=targeting-table')}</section>")


def _reasons_section(reasons: pd.DataFrame, tier_order: list[str]) -> str:
    if reasons.empty:
        return ""
    rows = []
    for tier in [t for t in tier_order if t in set(reasons["tier"])]:
        of_tier = reasons[reasons["tier"] == tier]
        for index, row in enumerate(of_tier.itertuples(index=False)):
            bar = f'<span class="bar" style="width:{max(2, round(row.share * 80))}px"></span>'
            first = f'<th rowspan="{len(of_tier)}">{_e(tier)}</th>' if index == 0 else ""
            rows.append(f'<tr data-tier="{_e(tier)}">' + first + _cell(row.example)
                        + _cell(f"{bar}{row.customers:,} ({row.share:.0%})", numeric=True, raw=True) + "</tr>")
    note = ("The reasons given most often in each tier, counted with their figures set aside (one example shown). "
            "Share: of the tier's customers who were given reasons.")
    return (f'<section id="reasons"><h2>What drives the risk, tier by tier</h2><p class="note">{_e(note)}</p>'
            f'{_table([("tier", False), ("reason (example)", False), ("customers", True)], rows)}</section>')


MOVES_SHOWN = 10


def _migration_section(scores: pd.DataFrame, manifest: dict, money: _Money) -> str:
    """Who moved since the previous run: the migration matrix and the moves into an at-risk tier.

    Left out for a run without a previous run, or from before tierwise
    recorded one (no ``previous_tier`` column).
    """
    s, k = ScoreColumns, ManifestKeys
    previous = manifest.get(k.previous_run)
    if s.previous_tier not in scores.columns or not previous:
        return ""
    at_risk = list(manifest.get(k.at_risk_tiers) or [])
    matrix = migration_matrix(scores, list(manifest.get(k.tiers) or []))
    head = ("".join(f'<th class="num{" risk" if tier in at_risk else ""}">{_e(tier)}</th>' for tier in matrix.columns)
            + '<th class="num">total</th>')
    rows = []
    for was, counts in matrix.iterrows():
        label = NEW_TO_RUN if was == NEW_TO_RUN else f"was {was}"
        cells = "".join(
            f'<td class="num{" stayed" if was == now else ""}" data-from="{_e(was)}" data-to="{_e(now)}">'
            f'{_count(count) if count else "·"}</td>' for now, count in counts.items())
        rows.append(f'<tr data-from="{_e(was)}"><th>{_e(label)}</th>{cells}'
                    f'<td class="num">{_count(counts.sum())}</td></tr>')
    table = (f'<table id="migration-matrix"><thead><tr><th>tier on {_e(previous["as_of"])} ↓, now →</th>{head}</tr>'
             f'</thead><tbody>{"".join(rows)}</tbody></table>')
    gone = previous.get("customers_not_scored_now", 0)
    note = (f"Each row holds the customers who were in that tier in the run as of {previous['as_of']} "
            f"({previous.get('source', 'previous run')}), each column their tier now; grey cells stayed put. "
            f"'{NEW_TO_RUN}': customers that run did not score."
            + (f" {gone:,} customers of that run are not scored now." if gone else "")
            + (f" At-risk tiers (in red): {', '.join(at_risk)}." if at_risk else ""))
    moves = moves_that_matter(scores, at_risk) if at_risk else pd.DataFrame()
    if moves.empty:
        moved = "<p class=\"note\">Nobody moved from a tier that is not at risk into one that is.</p>" if at_risk else ""
    else:
        move_rows = [
            f'<tr data-from="{_e(row.previous_tier)}" data-to="{_e(row.tier)}">' + _cell(row.previous_tier)
            + _cell(row.tier) + _cell(_count(row.customers), field="customers", numeric=True)
            + _cell(money(row.value_at_risk), field="value_at_risk", numeric=True) + "</tr>"
            for row in moves.head(MOVES_SHOWN).itertuples(index=False)
        ]
        moved = (f"<h3>Moves that matter</h3><p class=\"note\">{_count(moves['customers'].sum())} customers moved into "
                 f"an at-risk tier from one that was not, holding {_e(money(moves['value_at_risk'].sum()))} of value "
                 "at risk; they are in movers.csv, with whether each is on the list or held out as control.</p>"
                 + _table([("was", False), ("now", False), ("customers", True), ("value at risk", True)], move_rows,
                          ' id="moves-table"'))
    return (f'<section id="migration"><h2>Who moved</h2><p class="note">{_e(note)}</p>{table}{moved}</section>')


def _list_section(outreach: pd.DataFrame, money: _Money) -> str:
    o = ListColumns
    contacts = outreach[~outreach[o.control].astype(bool)]  # control customers are in control.csv, never contacted
    if contacts.empty:
        return ""
    rows = []
    for row in contacts.sort_values(o.list_position).head(LIST_ROWS_SHOWN).to_dict("records"):
        reasons = "; ".join(r for r in (row[c] for c in o.reasons) if isinstance(r, str)) or "–"
        rows.append(
            "<tr>" + _cell(str(row[o.list_position]), numeric=True) + _cell(row[o.customer_id])
            + _cell(row[o.tier]) + _cell(_percent(row[o.churn_probability]), numeric=True)
            + _cell(money(row[o.retained_value]), numeric=True) + _cell(money(row[o.value_at_risk]), numeric=True)
            + _cell(reasons) + "</tr>"
        )
    headers = [("#", True), ("customer", False), ("tier", False), ("churn probability", True),
               ("value if retained", True), ("value at risk", True), ("reasons", False)]
    shown = min(LIST_ROWS_SHOWN, len(contacts))
    return (f'<section id="list"><h2>The top of the contact list</h2><p class="note">The first {shown} of '
            f"{len(contacts):,} customers to contact; the full list is in outreach.csv, the control customers (not to "
            f"be contacted) in control.csv.</p>{_table(headers, rows)}</section>")


def _model_section(manifest: dict, card: ModelCard | None, horizons: str) -> str:
    k = ManifestKeys
    facts = [("models", manifest.get(k.model_version, "–")), ("what the figures mean", horizons)]
    chart = ""
    tables = ""
    if card is not None:
        if card.run_id:
            facts.append(("MLflow run", card.run_id))
        if card.data_window:
            facts.append(("trained on transactions", f"{card.data_window.get('first_transaction', '?')} to "
                                                     f"{card.data_window.get('last_transaction', '?')}"))
        if card.churn_test_cutoff:
            facts.append(("backtest", f"churn judged from {card.churn_test_cutoff}, value from {card.value_test_cutoff}, "
                                      "on customers the models had not seen"))
        for title, table, columns in (
            ("Churn backtest: the model against simple rules", card.backtest_churn,
             {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "lift_top_decile": "lift in top 10%", "brier": "Brier score"}),
            ("Value backtest", card.backtest_value,
             {"spearman": "rank correlation", "normalized_gini": "normalised Gini",
              "top_decile_revenue_share": "top-10% revenue share"}),
        ):
            if table is None or table.empty:
                continue
            shown = {c: label for c, label in columns.items() if c in table.columns}
            rows = ["<tr>" + _cell(_METHODS.get(str(method), str(method).replace("_", " ")))
                    + "".join(_cell("–" if row[c] != row[c] else f"{row[c]:.3f}", numeric=True) for c in shown) + "</tr>"
                    for method, row in table.iterrows()]
            tables += f"<h3>{_e(title)}</h3>" + _table([("method", False), *((v, True) for v in shown.values())], rows)
        if tables:
            tables += f'<p class="note">{_e(_BACKTEST_NOTE)}</p>'
        if card.reliability is not None:
            with _charts.chart_style():
                figure, (ax,) = _figure(5.0, 3.8)
                _charts.plot_reliability(card.reliability, ax)
                chart = (f'<div class="pair">{_image(_charts.figure_png(figure), "Reliability of the churn probability", "reliability")}'
                         f'<p class="note">{_e(_RELIABILITY_NOTE)}</p></div>')
    fact_rows = [f"<tr><th>{_e(label)}</th><td>{_e(value)}</td></tr>" for label, value in facts]
    return (f'<section id="model"><h2>About the models</h2><table>{"".join(fact_rows)}</table>{tables}'
            f"{chart}</section>")


_DRIFT_NOTE = ("Population stability index (PSI): how far the spread of an input across customers has moved, bin by "
               "bin, since training; 0 means unchanged. Below {warning:g} is usually read as stable, {warning:g} to "
               "{severe:g} as a moderate shift, {severe:g} or more as a large one. A large shift does not mean the "
               "scores are wrong, but the model is judging customers unlike those it learned from: check the data "
               "feed first (a new currency, a renamed event, a region added), then consider retraining.")


def _drift_section(drift: dict) -> str:
    """Which inputs changed since the churn model was trained, from the run's drift.json, in plain words."""
    d = DriftKeys
    score = drift[d.churn_probability]
    flagged = [e for e in drift[d.features] if e[d.flag] is not None]
    if score[d.flag] is not None:
        flagged.insert(0, {**score, d.feature: d.churn_probability, d.description: "the churn probability itself"})
    lead = (f"The {drift[d.customers]:,} customers given a churn probability as of {drift[d.as_of]}, against the "
            f"{drift[d.reference_customers]:,} active customers the churn model was trained on (as of "
            f"{drift[d.reference_as_of]}). ")
    if not flagged:
        worst = max(drift[d.features], key=lambda e: e[d.psi], default=None)
        lead += "No input moved past a drift threshold: the data look like what the model learned from."
        if worst is not None:
            lead += f" The largest shift: {worst[d.description]}, PSI {worst[d.psi]:.2f}."
        lead += f" The churn probabilities' PSI: {score[d.psi]:.2f}."
        table = ""
    else:
        severe = sum(e[d.flag] == "severe" for e in flagged)
        lead += (f"{len(flagged)} input{'s' if len(flagged) > 1 else ''} changed since the model was trained, "
                 f"{severe} of them severely.")
        rows = [f'<tr data-feature="{_e(e[d.feature])}" data-flag="{_e(e[d.flag])}">'
                + _cell(e[d.description]) + _cell(f"{e[d.psi]:.2f}", field="psi", numeric=True)
                + _cell(e[d.flag], field="flag") + _cell("; ".join(e[d.crossed])) + _cell(e[d.feature], field="feature")
                + "</tr>" for e in flagged]
        table = _table([("input", False), ("PSI", True), ("drift", False), ("what crossed a threshold", False),
                        ("column", False)], rows, ' id="drift-table"')
    thresholds = drift[d.thresholds]
    note = _DRIFT_NOTE.format(warning=thresholds[d.psi_warning], severe=thresholds[d.psi_severe])
    return (f'<section id="drift"><h2>Data drift</h2><p class="note">{_e(lead)}</p>{table}'
            f'<p class="note">{_e(note)}</p></section>')


def check_run_columns(scores: pd.DataFrame, outreach: pd.DataFrame, *, where: str) -> None:
    """Refuse a run whose files lack a column the report reads, naming the file and the column.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores.parquet.
    outreach : pandas.DataFrame
        The run's whole list (contacts and control), with ``control``.
    where : str
        The run's folder, named in the message.

    Raises
    ------
    InputDataError
        When a column is missing, or the run has no customers.
    """
    for name, frame, required in (("scores.parquet", scores, ScoreColumns.required),
                                  ("outreach.parquet", outreach, ListColumns.required)):
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputDataError(f"{where}/{name}: column '{missing[0]}' is missing ({len(missing)} of the report's "
                                 f"{len(required)} columns); re-run tierwise score")
    if scores.empty:
        raise InputDataError(f"{where}/scores.parquet: no customers in the run")


def settings_from_run(outreach: pd.DataFrame, manifest: dict) -> OutreachSettings:
    """The list's save rate and contact cost: from the manifest, else the save rate implied by the list itself.

    Parameters
    ----------
    outreach : pandas.DataFrame
        The run's whole list, with ``expected_saving`` and ``value_at_risk``.
    manifest : dict
        The run's manifest.

    Returns
    -------
    OutreachSettings
        The save rate, the contact cost (None when none was set) and the list's order.
    """
    save_rate = manifest.get(ManifestKeys.save_rate)
    if save_rate is None:
        o = ListColumns
        priced = outreach[outreach[o.value_at_risk] > 0]
        save_rate = float((priced[o.expected_saving] / priced[o.value_at_risk]).median()) if len(priced) else None
    return OutreachSettings(save_rate=save_rate, cost_per_contact=manifest.get(ManifestKeys.cost_per_contact),
                            rank_by=manifest.get(ManifestKeys.rank_by))


def build_report(
    scores: pd.DataFrame, outreach: pd.DataFrame, manifest: dict, *, model_card: ModelCard | None = None,
    evaluation: dict | None = None,
    drift: dict | None = None,
) -> str:
    """The run's report as one self-contained HTML page (UTF-8).

    ``scores`` and ``outreach`` are a run's ``scores.parquet`` and
    ``outreach.parquet`` (columns in :mod:`tierwise.reporting._columns`);
    ``manifest`` its manifest's content: ``as_of``, ``model_version``, the
    horizons and, when present, ``save_rate``, ``cost_per_contact``,
    ``rank_by`` and ``currency``. ``model_card`` adds
    the backtest and reliability chart; without it the page says what the
    manifest says about the models. ``evaluation`` (the run's
    evaluation.json, see docs/evaluation.md) adds the "Outcomes" section. A
    run with a previous run (manifest ``previous_run``, scores
    ``previous_tier``) gets the "Who moved" section. ``drift``, the run's
    ``drift.json``, adds the "Data drift" section.
    Sections whose data is absent are left out.

    Parameters
    ----------
    scores : pandas.DataFrame
        The run's scores.parquet.
    outreach : pandas.DataFrame
        The run's whole list (contacts and control), with ``control``.
    manifest : dict
        The run's manifest.
    model_card : ModelCard, optional
        The models' backtest (see :func:`read_model_card`).
    evaluation : dict, optional
        The run's evaluation.json.
    drift : dict, optional
        The run's drift.json.

    Returns
    -------
    str
        The HTML page, charts embedded as PNG data URIs.

    Raises
    ------
    InputDataError
        When the run's files lack a column the report reads.
    """
    check_run_columns(scores, outreach, where="run")
    k = ManifestKeys
    money = _Money(manifest.get(k.currency))
    settings = settings_from_run(outreach, manifest)
    tiers = tier_summary(scores, outreach)
    churn_days, value_days = manifest.get(k.churn_horizon_days), manifest.get(k.value_horizon_days)
    # A log without amounts counts value in purchases (see tierwise.config.PURCHASES_UNIT), not money.
    worth = "purchases" if manifest.get(k.currency) == PURCHASES_UNIT else "net spend"
    horizons = ", ".join(part for part in (
        f"churn probability = chance of no purchase in the next {churn_days} days" if churn_days else "",
        f"predicted value = expected {worth} over the next {value_days} days" if value_days else "",
        f"value if retained = expected {worth} over the next {value_days} days if the customer does not lapse"
        if value_days else "",
        "value at risk = churn probability x value if retained",
    ) if part)
    as_of = manifest.get(k.as_of) or str(pd.Timestamp(scores[ScoreColumns.as_of].iloc[0]).date())
    ranking = {"churn_probability": "most likely to lapse first", "value_at_risk": "most value at risk first"}.get(
        settings.rank_by or "", "")
    sections = [
        _headline_section(headline(scores, outreach, settings), settings, money),
        outcomes_section(evaluation, money) if evaluation is not None else "",
        _tier_section(tiers, money, _charts.cjk_font_family() if _charts.needs_cjk(tiers["tier"]) else None),
        _migration_section(scores, manifest, money),
        _targeting_section(targeting_curve(scores, outreach, settings), settings, money),
        _distribution_section(scores, value_concentration(scores)),
        _reasons_section(common_reasons(scores), list(tiers["tier"])),
        _list_section(outreach, money),
        _drift_section(drift) if drift is not None else "",
        _model_section(manifest, model_card, horizons),
    ]
    scored_at = manifest.get(k.scored_at)
    lead = f"Customers as of {as_of}" + (f", list ranked {ranking}" if ranking else "") + f". {horizons.capitalize()}."
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tierwise report, as of {_e(as_of)}</title><style>{_STYLE.replace('%FONTS%', _FONTS)}</style></head>"
        f'<body><main><h1>Customer retention report</h1><p class="lead">{_e(lead)}</p>'
        + "".join(s for s in sections if s)
        + f"<footer>tierwise{_e(f', scored at {scored_at}') if scored_at else ''}</footer></main></body></html>\n"
    )
