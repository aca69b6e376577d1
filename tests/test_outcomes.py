"""Outcomes of a past run: realized model quality, the outreach's effect, and the evaluate command end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from cli_helpers import run_cli, run_main
from tierwise.config import DataConfig, FeatureConfig, TierwiseConfig, TransactionsSource
from tierwise.errors import TierwiseError
from tierwise.features import build_features
from tierwise.inputs import inputs_from_frames
from tierwise.monitoring import (
    difference_of_means,
    difference_of_proportions,
    evaluate_run,
    minimum_detectable_difference,
)
from tierwise.reporting import build_report

AS_OF = "2024-07-01"
DATA = DataConfig(transactions=TransactionsSource(path="tx.csv"))
CONFIG = TierwiseConfig(data=DATA, evaluation={"min_group_size": 2})
FAST = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=40",
        "--set", "training.value_model.max_rounds=40"]

# Everyone bought once on 2024-06-01, 30 days before as_of. After as_of (churn 90 days, value 120, conversion 30):
AFTER = [
    ("a", "2024-07-10", 50.0),  # day 9: retained, converted, revenue 50
    ("b", "2024-08-15", 100.0),  # day 45: retained, not converted (after 30 days)
    ("d", "2024-09-20", 20.0),  # day 81: retained
    ("e", "2024-10-05", 30.0),  # day 96: lapsed (after 90 days), but its revenue counts (before 120)
    ("f", "2024-07-05", -10.0),  # a refund is no purchase: lapsed, not converted, revenue -10
    ("h", "2024-07-03", 200.0),  # a lost customer: no churn probability, value only
    ("z", "2024-11-30", 5.0),  # not scored (first seen after as_of): sets the data end, every window matured
]  # c and g buy nothing: lapsed, revenue 0
CHURN = {"a": 0.1, "b": 0.2, "c": 0.9, "d": 0.3, "e": 0.25, "f": 0.7, "g": 0.8, "h": np.nan}
PREDICTED = {"a": 40.0, "b": 120.0, "c": 5.0, "d": 30.0, "e": 25.0, "f": 0.0, "g": 10.0, "h": 150.0}
LAPSED = {"a": 0, "b": 0, "c": 1, "d": 0, "e": 1, "f": 1, "g": 1}
REVENUE = {"a": 50.0, "b": 100.0, "c": 0.0, "d": 20.0, "e": 30.0, "f": -10.0, "g": 0.0, "h": 200.0}


def _inputs(after=AFTER, before_day="2024-06-01"):
    rows = [(c, before_day, 10.0) for c in CHURN] + list(after)
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    return inputs_from_frames(frame, data=DATA, features=FeatureConfig())


def _run(inputs=None, *, tiers=None, control=("e", "f", "g")):
    """A hand-made run: scores with the histories the data give at as_of, a list of a-g, its manifest."""
    features = build_features(inputs or _inputs(), as_of=AS_OF, config=FeatureConfig())
    scores = features[["customer_id", "recency_days", "frequency_orders"]].copy()
    scores["churn_probability"] = scores["customer_id"].map(CHURN)
    scores["predicted_value"] = scores["customer_id"].map(PREDICTED)
    scores["tier"] = scores["customer_id"].map(tiers or {c: "VIP" if c in "abch" else "loyal" for c in CHURN})
    listed = scores[scores["churn_probability"].notna()][["customer_id", "tier"]].copy()
    listed["control"] = listed["customer_id"].isin(control)
    manifest = {"as_of": AS_OF, "churn_horizon_days": 90, "value_horizon_days": 120, "model_version": "m v1",
                "cost_per_contact": 2.0}
    return scores, listed, manifest


def test_realized_model_metrics_equal_those_computed_by_hand():
    evaluation = evaluate_run(_run(), _inputs(), config=CONFIG)
    assert {k: (w.horizon_days, w.matured_days) for k, w in evaluation.windows.items()} == {
        "churn": (90, 90), "value": (120, 120), "conversion": (30, 30)}
    modelled = sorted(LAPSED)
    y, p = [LAPSED[c] for c in modelled], [CHURN[c] for c in modelled]
    churn = evaluation.churn_quality
    assert churn["customers"] == 7 and churn["lapse_rate"] == pytest.approx(4 / 7)  # h is lost: not modelled
    assert churn["realized"]["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert churn["realized"]["roc_auc"] == pytest.approx(11 / 12)  # of 12 (lapser, stayer) pairs, only e (0.25) below d (0.3) is wrong
    assert churn["realized"]["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert churn["realized"]["brier"] == pytest.approx(brier_score_loss(y, p))
    assert sum(row["customers"] for row in churn["reliability"]) == 7
    everyone = sorted(REVENUE)
    actual, predicted = [REVENUE[c] for c in everyone], [PREDICTED[c] for c in everyone]
    value = evaluation.value_quality
    assert value["customers"] == 8 and value["actual_total"] == pytest.approx(390.0)
    assert value["realized"]["spearman"] == pytest.approx(stats.spearmanr(actual, predicted).statistic)
    assert value["realized"]["predicted_over_actual"] == pytest.approx(380.0 / 390.0)
    contribution = evaluation.value_contribution
    assert {t["tier"]: t["revenue_share"] for t in contribution["by_tier"]} == pytest.approx(
        {"VIP": 350 / 390, "loyal": 40 / 390})
    assert contribution["top_predicted"][0]["customers"] == 1  # the top 1% of 8 is h alone
    assert contribution["top_predicted"][0]["revenue_share"] == pytest.approx(200 / 390)


def test_effects_of_the_hand_made_list():
    evaluation = evaluate_run(_run(), _inputs(), config=CONFIG)
    retention = evaluation.effect("retention")  # contacted a b c d: 3 of 4 kept buying; control e f g: none
    assert (retention.n_contacted, retention.n_control) == (4, 3)
    assert retention.estimate == pytest.approx(0.75) and retention.method == "newcombe_hybrid_score"
    conversion = evaluation.effect("conversion")  # only a bought within 30 days
    assert conversion.estimate == pytest.approx(0.25)
    revenue = evaluation.effect("revenue_per_customer")  # (50 + 100 + 0 + 20) / 4 - (30 - 10 + 0) / 3
    assert revenue.estimate == pytest.approx(170 / 4 - 20 / 3) and revenue.method == "welch_t"
    incremental = evaluation.incremental
    assert incremental["revenue"]["estimate"] == pytest.approx(4 * (170 / 4 - 20 / 3))
    assert incremental["contact_cost"] == 8.0  # the manifest's cost per contact, 4 contacts
    assert incremental["return_on_cost"]["estimate"] == pytest.approx((4 * (170 / 4 - 20 / 3) - 8) / 8)
    assert evaluation.effect("retention", "VIP").n_control == 0  # a b c contacted, no VIP in control
    assert evaluation.effect("retention", "VIP").verdict == "not enough customers to tell"


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 - 48/80, method 10.
    estimate, lower, upper = difference_of_proportions(56, 70, 48, 80)
    assert estimate == pytest.approx(0.2) and lower == pytest.approx(0.0524, abs=5e-5)
    assert upper == pytest.approx(0.3339, abs=5e-5)


def test_intervals_cover_a_known_difference():
    # Retention built by hand: contacted 0.6 (240 of 400), control 0.4 (160 of 400).
    estimate, lower, upper = difference_of_proportions(240, 400, 160, 400)
    assert estimate == pytest.approx(0.2) and lower < 0.2 < upper and lower > 0.1 and upper < 0.3
    rng = np.random.default_rng(5)
    a, b = rng.gamma(2.0, 30.0, 300) + 10, rng.gamma(2.0, 30.0, 200)  # mean difference 10
    estimate, lower, upper = difference_of_means(a, b)
    reference = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (lower, upper) == pytest.approx((reference.low, reference.high))
    assert lower < 10 < upper
    # Two groups of 1,000 at a 50% baseline: 2.8 * sqrt(0.25 * 0.002) = 0.0626.
    assert minimum_detectable_difference(0.5, 1000, 1000) == pytest.approx(0.0626, abs=2e-4)


def test_a_small_control_group_is_not_enough_to_tell():
    evaluation = evaluate_run(_run(), _inputs(), config=TierwiseConfig(data=DATA))  # min_group_size 50
    assert {e.verdict for e in evaluation.effects} == {"not enough customers to tell"}
    assert evaluation.effect("retention").lower is not None  # the interval is still given, and wide
    assert evaluation.power["minimum_detectable_effect"] > 0.5


def test_a_partly_matured_window_gives_ranking_metrics_and_says_so():
    cut = [row for row in AFTER if row[1] <= "2024-08-15"]  # last transaction 2024-08-15: 46 days matured
    evaluation = evaluate_run(_run(), _inputs(cut), config=CONFIG)
    assert evaluation.windows["churn"].matured_days == 46 and not evaluation.windows["churn"].fully_matured
    assert evaluation.windows["conversion"].fully_matured
    churn = evaluation.churn_quality
    assert churn["realized"]["brier"] is None and churn["reliability"] is None
    # Over 46 days d (day 81) has not bought yet: lapsed so far.
    y = [0, 0, 1, 1, 1, 1, 1]
    assert churn["realized"]["roc_auc"] == pytest.approx(roc_auc_score(y, [CHURN[c] for c in "abcdefg"]))
    assert any("46 of 90 days" in note for note in evaluation.notes)
    assert evaluation.value_quality["predicted_total_matured"] == pytest.approx(380.0 * 46 / 120)


def test_data_that_end_before_as_of_or_belong_to_another_data_set_are_refused():
    with pytest.raises(TierwiseError, match=r"^transactions: the data end on 2024-06-01, before the run's as_of"):
        evaluate_run(_run(), _inputs([]), config=CONFIG)
    other = _inputs(before_day="2024-05-01")  # same ids, other histories
    with pytest.raises(TierwiseError, match=r"not the data set the run scored: 8 of 8 scored customers"):
        evaluate_run(_run(), other, config=CONFIG)


def test_the_report_shows_the_outcomes():
    scores, listed, manifest = _run()
    evaluation = evaluate_run((scores, listed, manifest), _inputs(), config=CONFIG).to_dict()
    report_scores = scores.assign(
        as_of=pd.Timestamp(AS_OF), tier_action="call", risk_band="high", retained_value=scores["predicted_value"],
        value_at_risk=scores["churn_probability"] * scores["predicted_value"],
        outreach_rank=scores["churn_probability"].rank(ascending=False), reason_1=None, reason_2=None, reason_3=None,
        value_horizon_days=120, model_version="m v1")
    report_list = listed.merge(report_scores.drop(columns=["tier"]), on="customer_id").assign(
        list_position=lambda f: f.groupby("control").cumcount() + 1, expected_saving=1.0)
    page = build_report(report_scores, report_list, manifest, evaluation=evaluation)
    assert 'id="outcomes"' in page and "<h2>Outcomes</h2>" in page and 'data-group="VIP"' in page
    assert "+75.0 pts" in page and "Do the models still work?" in page
    assert 'id="outcomes"' not in build_report(report_scores, report_list, manifest)


@pytest.fixture(scope="module")
def scored_run(small_demo_dir, tmp_path_factory):
    """Train on the small demo, then score at 2025-06-01, so that every window has matured by the data end."""
    folder = tmp_path_factory.mktemp("evaluate")
    config = folder / "demo.json"
    from tierwise.config import demo_config

    config.write_text(json.dumps(demo_config(small_demo_dir).model_dump(mode="json")), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.chdir(folder)
        for args in (["train", "--config", config, *FAST],
                     ["score", "--config", config, "--out", folder / "run", "--as-of", "2025-06-01",
                      "--set", "outreach.control_share=0.3", "--set", "outreach.cost_per_contact=1"]):
            run_main(patch, args)
    return folder, config


def test_evaluate_command_writes_evaluation_report_and_mlflow(scored_run, tmp_path, capsys, monkeypatch):
    import shutil

    from mlflow.tracking import MlflowClient

    folder, config = scored_run
    run = tmp_path / "run"
    shutil.copytree(folder / "run", run)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    code, out, err = run_cli(["evaluate", "--config", config, "--run", run], capsys, monkeypatch)
    assert code == 0, err
    assert "The outreach's effect since 2025-06-01" in out and "Realized model quality" in out
    first = (run / "evaluation.json").read_bytes()
    evaluation = json.loads(first)
    manifest = json.loads((run / "manifest.json").read_text())
    assert {"evaluation.json", "report.html"} <= set(manifest["files"]) and manifest["model_run_id"]
    assert evaluation["windows"]["churn"] == {"horizon_days": 90, "matured_days": 90, "fully_matured": True}
    assert evaluation["model_quality"]["churn"]["backtest"]["roc_auc"] is not None  # read from the MLflow run
    assert evaluation["model_quality"]["churn"]["realized"]["roc_auc"] > 0.6
    assert 'id="outcomes"' in (run / "report.html").read_text(encoding="utf-8")
    client = MlflowClient(tracking_uri=uri)
    logged = client.get_metric_history(manifest["model_run_id"], "evaluation.churn_roc_auc")
    assert [m.step for m in logged] == [20250601]
    assert "Logged to MLflow run" in err
    code, _, err = run_cli(["evaluate", "--config", config, "--run", run], capsys, monkeypatch)
    assert code == 0 and (run / "evaluation.json").read_bytes() == first  # same inputs, same bytes
    code, _, err = run_cli(["report", "--run", run], capsys, monkeypatch)
    assert code == 0 and 'id="outcomes"' in (run / "report.html").read_text(encoding="utf-8")
    # The store gone: the files are still written, and the warning is one line.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}")
    code, _, err = run_cli(["evaluate", "--config", config, "--run", run], capsys, monkeypatch)
    assert code == 0 and "warning: not logged to MLflow (no MLflow store at" in " ".join(err.split())
    without_store = json.loads((run / "evaluation.json").read_text())
    assert without_store["model_quality"]["churn"]["backtest"]["roc_auc"] is None  # no store: no backtest figures
    assert without_store["effects"] == evaluation["effects"]


def test_evaluate_refuses_in_one_line(scored_run, tmp_path, capsys, monkeypatch):
    folder, config = scored_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    code, _, err = run_cli(["evaluate", "--config", config, "--run", tmp_path], capsys, monkeypatch)
    assert code == 2 and "holds no manifest.json" in err and "Traceback" not in err
    code, _, err = run_cli(["evaluate", "--config", config, "--run", tmp_path / "nowhere"], capsys, monkeypatch)
    assert code == 2 and "is not a folder" in err and not (tmp_path / "nowhere").exists()
    code, _, err = run_cli(["evaluate", "--config", config, "--run", folder / "run", "--set",
                            "evaluation.unknown=1"], capsys, monkeypatch)
    assert code == 2 and "evaluation.unknown" in err
