"""The run report: its figures on hand-made frames, and the page itself opened in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_helpers import run_cli, run_main
from tierwise.config import demo_config
from tierwise.reporting import (
    OutreachSettings,
    common_reasons,
    headline,
    reason_pattern,
    registered_versions,
    targeting_curve,
    value_concentration,
)

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which this sandbox refuses.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FAST = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=40",
        "--set", "training.value_model.max_rounds=40"]
CHINESE_TIERS = [
    {"tier": "已流失客户", "when": {"lifecycle": ["lost"]}, "action": "低成本召回邮件"},
    {"tier": "重要挽留客户", "when": {"value_grade": ["VIP", "important"], "activity_class": ["lapsing", "drifting"]},
     "action": "客户经理电话回访"},
    {"tier": "一般客户", "action": "常规营销"},
]


def _scores(rows: list[tuple]) -> pd.DataFrame:
    columns = ["customer_id", "tier", "tier_action", "churn_probability", "risk_band", "predicted_value",
               "value_at_risk", "outreach_rank", "reason_1", "reason_2", "reason_3"]
    return pd.DataFrame(rows, columns=columns)


def _list(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "list_position", "control", "tier", "expected_saving"])


HAND_SCORES = _scores([
    # id, tier, action, p, band, value, value at risk, rank, reasons
    ("a", "t1", "call", 0.9, "high", 100.0, 90.0, 1, "No purchase for 94 days", "Spent 70% less", None),
    ("b", "t1", "call", 0.8, "high", 50.0, 40.0, 2, "No purchase for 12 days", None, None),
    ("c", "t2", "mail", 0.2, "low", 10.0, 2.0, 3, "Spent 5% less", None, None),
    ("d", "lost", "win back", np.nan, None, 0.0, np.nan, np.nan, None, None, None),  # not modelled: never ranked
])


def test_headline_counts_the_contacted_and_prices_them():
    outreach = _list([("a", 1, False, "t1", 18.0), ("b", 2, True, "t1", 8.0), ("c", 3, False, "t2", 0.4)])
    figures = headline(HAND_SCORES, outreach, OutreachSettings(save_rate=0.2, cost_per_contact=1.5))
    assert figures["customers"] == 4 and figures["modelled"] == 3 and figures["high_risk"] == 2
    assert figures["high_risk_value_at_risk"] == 130.0 and figures["value_at_risk"] == 132.0
    assert figures["list_customers"] == 3 and figures["contacted"] == 2 and figures["control"] == 1
    assert figures["expected_saving"] == pytest.approx(18.4)  # b is control: not contacted, not counted
    assert figures["contact_cost"] == 3.0 and figures["expected_net"] == pytest.approx(15.4)


def test_targeting_curve_follows_the_list_then_the_rest_of_the_ranking():
    outreach = _list([("b", 1, False, "t1", 8.0), ("a", 2, True, "t1", 18.0)])  # a is control: never contacted
    curve = targeting_curve(HAND_SCORES, outreach, OutreachSettings(save_rate=0.5, cost_per_contact=2.0))
    # Order: b (the list's only contact), then c (ranked, not on the list); a is held out, d never ranked.
    assert list(curve["contacts"]) == [1, 2] and list(curve["on_list"]) == [True, False]
    assert curve["lapsers_reached"].tolist() == pytest.approx([0.8, 1.0])
    assert curve["false_alarms"].tolist() == pytest.approx([0.2, 1.0])
    assert curve["expected_saving"].tolist() == pytest.approx([20.0, 21.0])
    assert curve["net_value"].tolist() == pytest.approx([18.0, 17.0])
    no_cost = targeting_curve(HAND_SCORES, outreach, OutreachSettings(save_rate=0.5, cost_per_contact=None))
    assert "net_value" not in no_cost


def test_value_concentration_and_reason_counts():
    scores = _scores([(str(i), "t", "x", 0.5, "high", float(v), 0.0, i, None, None, None)
                      for i, v in enumerate([60, 20, 10, 5, 5] + [0] * 95)])
    table = value_concentration(scores).set_index("top_share")
    assert table.loc[0.01, "customers"] == 1 and table.loc[0.01, "value_share"] == pytest.approx(0.6)
    assert table.loc[0.05, "value_share"] == pytest.approx(1.0)
    assert reason_pattern("No purchase for 94 days; usually buys every 21.5 days") == \
        "No purchase for # day; usually buys every # day"
    assert reason_pattern("1 visit in the last 90 days") == reason_pattern("12 visits in the last 90 days")
    reasons = common_reasons(HAND_SCORES)
    top_t1 = reasons[reasons["tier"] == "t1"].iloc[0]
    assert top_t1["reason"] == "No purchase for # day" and top_t1["customers"] == 2 and top_t1["share"] == 1.0
    assert "lost" not in set(reasons["tier"])


def test_registered_versions_are_read_from_the_model_version_label():
    assert registered_versions("tierwise-demo-churn v3, tierwise-demo-value v4") == {
        "tierwise-demo-churn": "3", "tierwise-demo-value": "4"}
    assert registered_versions("runs:/abc") == {}


@pytest.fixture(scope="module")
def chinese_run(small_demo_dir, tmp_path_factory):
    """Train on the small demo with Chinese tier names, then score: the run folder and any missing-glyph warnings."""
    folder = tmp_path_factory.mktemp("report")
    config = demo_config(small_demo_dir).model_dump(mode="json")
    config_path = folder / "chinese.json"
    config_path.write_text(json.dumps({**config, "tiers": CHINESE_TIERS}, ensure_ascii=False), encoding="utf-8")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        for args in (["train", "--config", config_path, *FAST],
                     ["score", "--config", config_path, "--out", folder / "run", "--set", "outreach.cost_per_contact=1",
                      "--set", "outreach.save_rate=0.2"]):
            run_main(patch, args)
    missing_glyphs = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    return folder / "run", missing_glyphs


def test_score_writes_the_report_into_the_run_and_its_manifest(chinese_run):
    import hashlib

    run, missing_glyphs = chinese_run
    assert missing_glyphs == []  # the charts draw the Chinese tier names with a CJK font
    page = (run / "report.html").read_text(encoding="utf-8")
    # No currency configured: amounts carry no "unspecified" label; value at risk is explained on the value if retained.
    assert "unspecified" not in page and "value at risk = churn probability x value if retained" in page
    assert '<meta charset="utf-8">' in page and "重要挽留客户" in page and "客户经理电话回访" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page must not load anything from a network"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["files"]["report.html"]["sha256"] == hashlib.sha256((run / "report.html").read_bytes()).hexdigest()
    assert manifest["cost_per_contact"] == 1.0 and manifest["save_rate"] == 0.2
    assert 'id="model"' in page and "Churn backtest" in page  # the store is there: the card shows the backtest


def test_report_command_rewrites_the_report_and_leaves_out_what_it_cannot_reach(
    chinese_run, tmp_path, capsys, monkeypatch
):
    run, _ = chinese_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "report.html").unlink()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}")
    code, _, err = run_cli(["report", "--run", copy], capsys, monkeypatch)
    assert code == 0, err
    assert "Report ->" in err and (copy / "report.html").is_file()
    assert not (tmp_path / "gone").exists()  # no store is created just to look for one
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert 'id="model"' in page and "Churn backtest" not in page and "重要挽留客户" in page
    code, _, err = run_cli(["report", "--run", tmp_path / "nowhere"], capsys, monkeypatch)
    assert code == 2 and "is not a folder" in err and not (tmp_path / "nowhere").exists()
    (copy / "scores.parquet").write_bytes(b"PAR1 edited")
    code, _, err = run_cli(["report", "--run", copy], capsys, monkeypatch)
    assert code == 2 and "scores.parquet: does not match manifest.json" in err and "Traceback" not in err


def _browser():
    """Playwright's Chromium on Debian's browser; skipped locally, failed in CI, when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = ("the playwright package (pip install -e '.[test]')" if sync_playwright is None
               else f"{CHROMIUM} (apt-get install chromium)" if not CHROMIUM.exists() else None)
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test needs {missing}; .ci/run installs it")
        pytest.skip(f"needs {missing}; .ci/run installs it in CI")
    return sync_playwright


def open_report(path: Path, screenshot: Path):
    """Open ``path`` in headless Chromium with the network cut; returns what the page showed and logged."""
    sync_playwright = _browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems, requests = [], []
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))

            def only_local(route):
                url = route.request.url
                if url.startswith(("file:", "data:")):
                    return route.continue_()
                requests.append(url)
                return route.abort()

            page.route("**/*", only_local)
            page.goto(path.as_uri(), wait_until="load")
            charts = page.eval_on_selector_all("img.chart", """images => images.map(image => ({
                name: image.dataset.chart, complete: image.complete, natural: image.naturalWidth * image.naturalHeight,
                width: image.getBoundingClientRect().width, height: image.getBoundingClientRect().height}))""")
            figures = page.eval_on_selector_all("[data-figure]", "cells => cells.map(c => [c.dataset.figure, c.innerText])")
            tiers = page.eval_on_selector_all("#tier-table tr[data-tier]", """rows => rows.map(row => [row.dataset.tier,
                row.querySelector('[data-field=tier]').innerText, row.querySelector('[data-field=customers]').innerText,
                row.querySelector('[data-field=on_list]').innerText])""")
            cdp = page.context.new_cdp_session(page)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument")["root"]["nodeId"]
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": f'tr[data-tier="{CHINESE_TIERS[1]["tier"]}"] '
                                                                             "[data-field=tier]"})["nodeId"]
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"problems": problems, "requests": requests, "charts": charts, "figures": dict(figures),
            "tiers": tiers, "fonts": fonts}


def _number(text: str) -> float:
    return float(re.sub(r"[^\d.\-]", "", text))


def test_the_report_renders_in_a_real_browser(chinese_run, tmp_path):
    run, _ = chinese_run
    shown = open_report(run / "report.html", tmp_path / "report.png")
    assert shown["problems"] == [] and shown["requests"] == []
    assert {c["name"] for c in shown["charts"]} >= {"tiers", "targeting", "risk", "concentration", "reliability"}
    for chart in shown["charts"]:
        assert chart["complete"] and chart["natural"] > 0 and chart["width"] > 100 and chart["height"] > 100, chart
    scores = pd.read_parquet(run / "scores.parquet")
    # The whole list: the customers to contact, then those held out as control.
    outreach = pd.concat([pd.read_parquet(run / "outreach.parquet"), pd.read_parquet(run / "control.parquet")])
    figures = shown["figures"]
    assert _number(figures["customers"]) == len(scores)
    assert _number(figures["high_risk"]) == (scores["risk_band"] == "high").sum()
    assert _number(figures["list_customers"]) == len(outreach)
    assert _number(figures["contact_cost"]) == (~outreach["control"]).sum() * 1.0
    assert _number(figures["expected_saving"]) == round(outreach.loc[~outreach["control"], "expected_saving"].sum())
    sizes = scores["tier"].value_counts()
    on_list = outreach["tier"].value_counts()
    assert {tier for tier, *_ in shown["tiers"]} == set(sizes.index)
    for tier, name_shown, customers, listed in shown["tiers"]:
        assert name_shown == tier and _number(customers) == sizes[tier] and _number(listed) == on_list.get(tier, 0)
    # The Chinese name is drawn as text with a font that has its glyphs, not as boxes.
    cjk = [f for f in shown["fonts"] if re.search("CJK|Hei|Han|YaHei|PingFang", f["familyName"])]
    assert cjk and sum(f["glyphCount"] for f in cjk) >= len(CHINESE_TIERS[1]["tier"]), shown["fonts"]
    assert (tmp_path / "report.png").stat().st_size > 10_000  # kept under pytest's basetemp to look at
