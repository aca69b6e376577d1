"""Scoring, tiers and reasons, end to end through the CLI on a tiny synthetic retailer."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import pytest
import shap

from cli_helpers import run_cli, train_into_new_store
from tierwise.config import config_from_dict
from tierwise.errors import ConfigError, ExitCode
from tierwise.inference import churn_contributions, default_as_of, load_models, score_customers
from tierwise.io import read_config_inputs
from tierwise.training import model_features


@pytest.fixture(scope="module")
def trained(small_demo_dir, tmp_path_factory):
    """Train once on the small demo into a temporary MLflow store."""
    folder = tmp_path_factory.mktemp("scoring")
    uri, config_path = train_into_new_store(folder, small_demo_dir)
    return folder, uri, config_path


@pytest.fixture
def store(trained, monkeypatch):
    folder, uri, config_path = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    return config_path


def test_score_writes_every_customer_once_with_one_tier(store, tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(["score", "--config", store, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    assert "as_of not given: scoring as of 2026-01-01" in " ".join(err.split())
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert scores["customer_id"].is_unique
    assert scores["tier"].notna().all() and scores["tier_action"].notna().all()
    assert {"lost", "prospect", "new", "active"} <= set(scores["lifecycle"])
    assert (scores.loc[scores["lifecycle"] == "new", "tier"] == "new customer").all()
    assert (scores.loc[scores["lifecycle"] == "prospect", "tier"] == "prospect").all()
    lost = scores[scores["lifecycle"] == "lost"]
    assert (lost["tier"] == "lost").all() and lost["churn_probability"].isna().all() and lost["outreach_rank"].isna().all()
    ranked = scores.dropna(subset=["outreach_rank"]).sort_values("outreach_rank")
    assert list(ranked["outreach_rank"]) == list(range(1, len(ranked) + 1))
    assert ranked["value_at_risk"].is_monotonic_decreasing
    assert ranked["reason_1"].notna().mean() > 0.9
    assert "Tiers as of" in out and "most value at risk" in out
    outreach = pd.read_csv(tmp_path / "out" / "outreach.csv")
    control = pd.read_csv(tmp_path / "out" / "control.csv")
    assert len(outreach) + len(control) == len(ranked) and not outreach["control"].any()


def test_the_default_list_ranks_by_value_at_risk_on_the_value_if_retained(store, tmp_path, capsys, monkeypatch):
    code, out, err = run_cli(["score", "--config", store, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    modelled = scores["lifecycle"].isin(["new", "active"])
    # Value at risk = P(lapse) x the value the customer brings if retained; no one outside the model gets either.
    np.testing.assert_allclose(scores["value_at_risk"], scores["churn_probability"] * scores["retained_value"])
    assert scores.loc[~modelled, ["retained_value", "value_at_risk"]].isna().all().all()
    assert scores.loc[modelled, "retained_value"].gt(0).all()
    ranked = scores[modelled].sort_values("outreach_rank")
    assert ranked["value_at_risk"].is_monotonic_decreasing
    days = int(scores["value_horizon_days"].iloc[0])
    churn_days = json.loads(store.read_text())["training"]["churn_horizon_days"]
    title = " ".join(out.split())
    assert (f"The ten customers with the most value at risk (expected spend over the next {days} days if retained "
            f"x P(lapse within {churn_days} days))") in title
    for header in ("P(lapse)", "retained value", "value at risk"):
        assert header in out
    exported = pd.read_csv(tmp_path / "out" / "outreach.csv", dtype={"customer_id": str})
    control = pd.read_csv(tmp_path / "out" / "control.csv", dtype={"customer_id": str})
    # The printed ten are the first ten to contact: the ranking with the control customers left out.
    contacts_in_rank_order = ranked[~ranked["customer_id"].isin(control["customer_id"])]
    top = contacts_in_rank_order.head(10)
    assert exported["customer_id"].head(10).tolist() == top["customer_id"].tolist()
    assert top["customer_id"].isin(out.split()).all() and (top["value_at_risk"] > 1).all()
    assert not control["customer_id"].isin(out.split()).any()
    assert "retained_value" in exported.columns

    code, out, err = run_cli(["score", "--config", store, "--out", tmp_path / "by_risk", "--rank-by", "churn_probability"],
                             capsys, monkeypatch)
    assert code == 0, err
    assert f"The ten customers most likely to lapse (P(lapse within {churn_days} days))" in " ".join(out.split())
    by_risk = pd.read_parquet(tmp_path / "by_risk" / "scores.parquet").dropna(subset=["outreach_rank"])
    assert by_risk.sort_values("outreach_rank")["churn_probability"].is_monotonic_decreasing


def test_rerun_gives_identical_files(store, tmp_path, capsys, monkeypatch):
    for name in ("a", "b"):
        code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / name, "--as-of", "2026-01-01"], capsys, monkeypatch)
        assert code == 0, err
    assert (tmp_path / "a" / "outreach.csv").read_bytes() == (tmp_path / "b" / "outreach.csv").read_bytes()
    assert (tmp_path / "a" / "scores.parquet").read_bytes() == (tmp_path / "b" / "scores.parquet").read_bytes()


def test_pred_contrib_is_exact_tree_shap_and_reasons_follow_it(store, small_demo_config):
    models = load_models(small_demo_config.registry)
    inputs = read_config_inputs(small_demo_config)
    from tierwise.features import build_features

    features = build_features(inputs, as_of="2025-06-01", config=small_demo_config.features)
    active = features[features["recency_days"] <= 365].head(60)
    columns = model_features(inputs, small_demo_config.features)
    ours = churn_contributions(models.churn, active[columns])
    prepared = models.churn.prepare(active[columns])
    theirs = shap.TreeExplainer(models.churn.booster_).shap_values(prepared)
    np.testing.assert_allclose(ours.drop(columns="bias").to_numpy(), np.asarray(theirs), atol=1e-6)


# Which topic a reason speaks of, read from its words; the first match wins ("Returned 30% of purchase value"
# is about refunds, "Smaller orders" about spend).
_REASON_TOPICS = [
    ("refund", r"refund|purchase value"), ("email_open", r"email open"), ("email_click", r"email click"),
    ("support_ticket", r"support ticket"), ("complaint", r"complaint"), ("return", r"\breturns?\b"),
    ("visit", r"visit"), ("tenure", r"newer customer"), ("attr_loyalty_member", r"loyalty"),
    ("spend", r"spen|smaller orders"), ("buying", r"purchase|order|buys"),
]
_RISK_WHEN_HIGH = {"refund", "support_ticket", "complaint", "return"}


def _reason_topic(reason: str) -> str:
    return next(topic for topic, pattern in _REASON_TOPICS if re.search(pattern, reason, flags=re.IGNORECASE))


def _feature_topic(feature: str) -> str:
    if feature.startswith(("recency", "rhythm", "frequency", "orders_count")):
        return "buying"
    if feature.startswith(("spend", "monetary", "net_spend")):
        return "spend"
    if feature.startswith("tenure"):
        return "tenure"
    return next((t for t, _ in _REASON_TOPICS if feature.startswith(t)), feature)


def _number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%."))


def _says_value_on_the_risky_side(reason: str, topic: str) -> bool:
    """Where a reason compares two figures, the customer's side of the comparison must be the risky one."""
    numbers = re.findall(r"\d[\d,]*(?:\.\d+)?%?", reason)
    if "typical" in reason:
        value = 0.0 if reason.startswith("No ") and "No purchase for" not in reason else _number(numbers[0])
        typical = _number(re.search(r"typical (?:once every )?(\d[\d,]*(?:\.\d+)?%?)", reason)[1])
        high_is_risky = topic in _RISK_WHEN_HIGH or "ago" in reason or "No purchase for" in reason or "once every" in reason
        return value > typical if high_is_risky else value < typical
    if "down from" in reason:
        return _number(numbers[0]) < _number(re.search(r"down from (\d[\d,]*(?:\.\d+)?)", reason)[1])
    if "up from" in reason:
        return _number(numbers[0]) > _number(re.search(r"up from (\d[\d,]*(?:\.\d+)?)", reason)[1])
    return True


def test_reasons_read_as_risks_one_per_topic_in_plain_words(store, small_demo_config):
    """Every reason of every scored customer: a risk in words, backed by a positive SHAP value, one per topic."""
    models = load_models(small_demo_config.registry)
    inputs = read_config_inputs(small_demo_config)
    from tierwise.features import build_features

    as_of = default_as_of(inputs)
    scores = score_customers(inputs, as_of=as_of, config=small_demo_config, models=models, reasons_top_n=None)
    features = build_features(inputs, as_of=as_of, config=small_demo_config.features).set_index("customer_id")
    columns = model_features(inputs, small_demo_config.features)
    explained = scores.dropna(subset=["reason_1"]).set_index("customer_id")
    assert len(explained) > 100
    contributions = churn_contributions(models.churn, features.loc[explained.index, columns]).drop(columns="bias")
    topic_of_feature = {feature: _feature_topic(feature) for feature in columns}
    for customer_id, row in explained.iterrows():
        reasons = [r for r in row[["reason_1", "reason_2", "reason_3"]] if isinstance(r, str)]
        assert "_" not in " ".join(reasons) and not any(f in r for f in columns for r in reasons), reasons
        topics = [_reason_topic(r) for r in reasons]
        assert len(set(topics)) == len(topics), (customer_id, reasons)
        for reason, topic in zip(reasons, topics, strict=True):
            pushing_up = [f for f, t in topic_of_feature.items() if t == topic and contributions.loc[customer_id, f] > 0]
            assert pushing_up, (customer_id, reason)
            if topic not in _RISK_WHEN_HIGH:
                assert not re.search(r"\bmore\b|\bup from\b|\brose\b|: yes|per 30 days", reason), (customer_id, reason)
            assert _says_value_on_the_risky_side(reason, topic), (customer_id, reason)


def test_schema_mismatch_is_refused(store, tmp_path, capsys, monkeypatch):
    args = ["score", "--config", store, "--out", tmp_path / "x", "--set", "features.event_windows_days=[14]"]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL
    message = " ".join(err.split())
    assert ("error: model: tierwise-demo-churn v1, tierwise-demo-value v1, tierwise-demo-retained-value v1 was trained "
            "for another data source") in message
    assert "features.event_windows_days [30, 90] in the model, [14] here" in message
    code, _, err = run_cli([*args, "--allow-other-source"], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL
    message = " ".join(err.split())
    assert "error: model: tierwise-demo-churn v1" in message and "trained on other features" in message
    assert "Traceback" not in err


def test_stale_data_is_refused(store, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "x", "--as-of", "2026-06-01"], capsys, monkeypatch)
    assert code == 2
    assert "(2025-12-31) is 151 days before as_of 2026-06-01; the limit is 31 days" in " ".join(err.split())


def test_score_before_all_data_is_refused(store, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "x", "--as-of", "2022-06-01"], capsys, monkeypatch)
    assert code == 2
    assert "Traceback" not in err
    assert ("error: as_of 2022-06-01: no customer has a record before it; the data start on 2023-01-01"
            in " ".join(err.split()))
    assert not (tmp_path / "x").exists()  # nothing written, and the folder the refused run created is gone


def test_explain_prints_breakdown_and_saves_plot(store, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "s"], capsys, monkeypatch)
    assert code == 0, err
    first = pd.read_csv(tmp_path / "s" / "outreach.csv", dtype={"customer_id": str})["customer_id"].iloc[0]
    code, out, err = run_cli(["explain", "--config", store, "--customer", first, "--plot", tmp_path / "w.png"], capsys, monkeypatch)
    assert code == 0, err
    assert f"Customer {first}" in out and "recency_days" in out and "days since the last purchase" in out
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(["explain", "--config", store, "--customer", "nobody"], capsys, monkeypatch)
    assert code == 2 and "customer 'nobody'" in err


def test_tiers_in_any_language_and_bad_rules_refused():
    base = {"data": {"transactions": {"path": "t.csv"}}}
    chinese = config_from_dict({**base, "scoring": {"value_grades": {"重要价值": 0.8, "一般价值": 0.0}}, "tiers": [
        {"tier": "重要挽留客户", "when": {"value_grade": ["重要价值"], "activity_class": ["lapsing"]}, "action": "客户经理电话回访"},
        {"tier": "一般客户", "action": "常规营销"},
    ]})
    assert chinese.tiers[0].tier == "重要挽留客户"
    with pytest.raises(ConfigError, match="the last tier rule must have no 'when'"):
        config_from_dict({**base, "tiers": [{"tier": "a", "action": "b", "when": {"lifecycle": ["new"]}}]})
    with pytest.raises(ConfigError, match="field 'churn_prob' is not a score field or a feature"):
        config_from_dict({**base, "tiers": [{"tier": "a", "action": "b", "when": {"churn_prob": {"min": 0.5}}},
                                            {"tier": "c", "action": "d"}]})
    with pytest.raises(ConfigError, match="unknown value 'VIPP'"):
        config_from_dict({**base, "tiers": [{"tier": "a", "action": "b", "when": {"value_grade": ["VIPP"]}},
                                            {"tier": "c", "action": "d"}]})


def test_default_as_of_is_the_day_after_the_last_transaction(small_demo_config):
    inputs = read_config_inputs(small_demo_config)
    assert default_as_of(inputs) == inputs.transactions["ts"].max().normalize() + pd.Timedelta(days=1)


def test_score_options_reach_the_export_and_database(store, tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    args = ["score", "--config", store, "--out", tmp_path / "o", "--top", 50, "--rank-by", "value_at_risk", "--db", url,
            "--set", "outreach.cost_per_contact=0.5"]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    exported = pd.read_csv(tmp_path / "o" / "outreach.csv")
    assert len(exported) <= 50 and exported["value_at_risk"].is_monotonic_decreasing
    assert (exported["expected_saving"] >= 0.5).all()
    message = " ".join(err.split())
    assert "expected saving" in message and "Replaced the 2026-01-01 rows of tierwise_outreach" in message
    code, _, err = run_cli(args, capsys, monkeypatch)  # a rerun updates, never duplicates
    import sqlite3

    with sqlite3.connect(tmp_path / "crm.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM tierwise_outreach").fetchone()[0] == len(exported)


def test_models_load_by_alias_version_and_run(store, small_demo_config):
    from mlflow.tracking import MlflowClient

    from tierwise.training import tracking_uri

    run_id = MlflowClient(tracking_uri()).get_model_version("tierwise-demo-churn", "1").run_id
    inputs = read_config_inputs(small_demo_config)
    from tierwise.features import build_features

    features = build_features(inputs, as_of="2025-06-01", config=small_demo_config.features)
    columns = model_features(inputs, small_demo_config.features)
    predictions = [
        load_models(small_demo_config.registry, selector).churn.predict_proba(features[columns])[:, 1]
        for selector in ("champion", "1", f"runs:/{run_id}")
    ]
    np.testing.assert_array_equal(predictions[0], predictions[1])
    np.testing.assert_array_equal(predictions[0], predictions[2])
    assert load_models(small_demo_config.registry, f"runs:/{run_id}").version == f"runs:/{run_id}"


def test_redelivery_of_an_as_of_leaves_exactly_its_list_in_the_table(store, tmp_path, capsys, monkeypatch):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    base = ["score", "--config", store, "--out", tmp_path / "o", "--db", url]
    for extra in (["--as-of", "2025-12-01"], ["--as-of", "2026-01-01"], ["--as-of", "2026-01-01", "--top", 100]):
        code, _, err = run_cli([*base, *extra], capsys, monkeypatch)
        assert code == 0, err
        if extra == ["--as-of", "2025-12-01"]:
            earlier = pd.read_csv(tmp_path / "o" / "outreach.csv", dtype={"customer_id": str})
        elif "--top" not in extra:
            assert len(pd.read_csv(tmp_path / "o" / "outreach.csv")) > 100  # the full list was longer
    exported = pd.read_csv(tmp_path / "o" / "outreach.csv", dtype={"customer_id": str})
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        table = pd.read_sql("SELECT as_of, customer_id, list_position FROM tierwise_outreach", connection)
    latest = table[table["as_of"] == "2026-01-01"].sort_values("list_position")
    assert len(exported) + len(pd.read_csv(tmp_path / "o" / "control.csv")) == 100  # contacts and control
    delivered = list(zip(exported["customer_id"], exported["list_position"]))
    assert list(zip(latest["customer_id"], latest["list_position"])) == delivered
    assert latest["list_position"].is_unique
    assert (table["as_of"] == "2025-12-01").sum() == len(earlier)  # an earlier as_of stays as delivered


def test_manifest_covers_every_file_of_the_run(store, tmp_path, capsys, monkeypatch):
    import hashlib

    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "o"], capsys, monkeypatch)
    assert code == 0, err
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"scores.parquet", "outreach.csv", "outreach.parquet", "control.csv", "control.parquet",
                                     "movers.csv", "movers.parquet", "report.html", "drift.json"}
    assert manifest["currency"] == "unspecified" and manifest["save_rate"] == 0.1
    assert manifest["risk_bands"]["method"] == "relative"
    # The horizons behind the figures: those the models learned, as the scores say too.
    scores = pd.read_parquet(tmp_path / "o" / "scores.parquet")
    assert manifest["value_horizon_days"] == scores["value_horizon_days"].iloc[0] < 365
    assert manifest["churn_horizon_days"] == 90
    assert manifest["risk_bands"]["base_lapse_rate"] == pytest.approx(scores["churn_probability"].mean(), abs=1e-6)
    for name, entry in manifest["files"].items():
        content = (tmp_path / "o" / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def test_a_second_score_into_a_busy_folder_is_refused_before_any_work(store, tmp_path, capsys, monkeypatch):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tierwise.io import lock_folder\n"
         f"with lock_folder({str(tmp_path / 'o')!r}):\n    print('locked', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, out, err = run_cli(["score", "--config", store, "--out", tmp_path / "o"], capsys, monkeypatch)
    finally:
        holder.communicate("done\n", timeout=60)
    message = " ".join(err.split())
    assert code == 2 and f"another tierwise run is writing here (pid {holder.pid}, started " in message
    assert "Scored" not in message and not out and not (tmp_path / "o" / "manifest.json").exists()
    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "o"], capsys, monkeypatch)
    assert code == 0, err  # free again once the other run ended


@pytest.mark.parametrize("out_below_file", ["", "sub"])
def test_score_out_on_a_file_is_refused_before_any_work(store, tmp_path, capsys, monkeypatch, out_below_file):
    (tmp_path / "taken").write_text("not a folder")
    args = ["score", "--config", store, "--out", tmp_path / "taken" / out_below_file]
    code, out, err = run_cli(args, capsys, monkeypatch)
    message = " ".join(err.split())
    assert code == 2 and "is a file, not a folder" in message and str(tmp_path / "taken") in message
    assert "Scored" not in message and not out and "Traceback" not in err


@pytest.mark.parametrize("options", [
    ["--rank-by", "churn_probability", "--set", "outreach.cost_per_contact=2"],  # by risk, skipping those not worth it
    ["--rank-by", "value_at_risk", "--set", "outreach.tier_quotas={lapsing: 10}"],
    ["--rank-by", "value_at_risk", "--set", "outreach.tier_quotas={lapsing: 10}",
     "--set", "outreach.cost_per_contact=0.5"],
])
def test_reasons_follow_the_delivered_list(store, tmp_path, capsys, monkeypatch, options):
    args = ["score", "--config", store, "--out", tmp_path / "o", "--top", 50, "--reasons-for", 40, *options]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    scores = pd.read_parquet(tmp_path / "o" / "scores.parquet")
    rank = scores.set_index("customer_id")["outreach_rank"]
    exported = pd.concat([pd.read_csv(tmp_path / "o" / f"{name}.csv", dtype={"customer_id": str})
                          for name in ("outreach", "control")])  # the whole list: contacts and control
    exported = exported.iloc[rank.loc[exported["customer_id"]].to_numpy().argsort()].reset_index(drop=True)
    assert len(exported) == 50
    assert exported["reason_1"].head(40).notna().all() and exported["reason_1"].iloc[40:].isna().all()
    assert set(scores.loc[scores["reason_1"].notna(), "customer_id"]) == set(exported["customer_id"].head(40))
    on_list = scores.set_index("customer_id").loc[exported["customer_id"], ["reason_1", "reason_2", "reason_3"]]
    pd.testing.assert_frame_equal(on_list.reset_index(drop=True), exported[["reason_1", "reason_2", "reason_3"]],
                                  check_dtype=False)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_files_follow_the_umask(store, tmp_path, capsys, monkeypatch, umask):
    previous = os.umask(umask)
    try:
        code, _, err = run_cli(["generate", "--out", tmp_path / "data", "--customers", 50], capsys, monkeypatch)
        assert code == 0, err
        code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "o"], capsys, monkeypatch)
        assert code == 0, err
    finally:
        os.umask(previous)
    written = [*(tmp_path / "data").iterdir(), *(tmp_path / "o").iterdir()]
    assert len(written) >= 7
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {p.name: oct(0o666 & ~umask) for p in written}


def test_scoring_refuses_when_features_the_model_relied_on_are_constant(
    store, small_demo_dir, tmp_path, capsys, monkeypatch, caplog
):
    events = pd.read_parquet(small_demo_dir / "events.parquet")
    events["event_type"] = "page_view"  # a type the model never saw: every visit and email feature is 0 or missing
    renamed = tmp_path / "renamed_events.parquet"
    events.to_parquet(renamed)

    code, _, err = run_cli(["score", "--config", store, "--events", renamed, "--out", tmp_path / "x"], capsys, monkeypatch)
    assert code == 2, err
    error = err.strip().splitlines()[-1]
    assert re.match(
        r"error: scoring data: \d+ features the models relied on are missing or constant across the 400 customers "
        r"scored: visit_\w+ \(\d+% of churn gain", error,
    ), error
    assert "are the events missing" in error and "set scoring.on_feature_loss: warn" in error and "Traceback" not in err
    assert not (tmp_path / "x" / "outreach.csv").exists()

    code, _, err = run_cli(
        ["score", "--config", store, "--events", renamed, "--out", tmp_path / "y", "--set", "scoring.on_feature_loss=warn"],
        capsys, monkeypatch,
    )
    assert code == 0, err
    # The CLI shows logger warnings on stderr; in-process, pytest captures them instead.
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "relied on" in r.getMessage()]
    assert len(warned) == 1 and "are the events missing" in warned[0] and "visit_" in warned[0]
    assert (tmp_path / "y" / "outreach.csv").exists()


def test_demo_scoring_raises_no_feature_loss_alarm(store, tmp_path, capsys, monkeypatch, caplog):
    for as_of in ("2026-01-01", "2025-06-01"):
        code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / as_of, "--as-of", as_of], capsys, monkeypatch)
        assert code == 0, err
    assert not [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_attribute_levels_the_model_never_saw_are_counted_and_warned(
    store, small_demo_dir, tmp_path, capsys, monkeypatch, caplog
):
    customers = pd.read_parquet(small_demo_dir / "customers.parquet")
    customers.loc[customers.index[:37], "region"] = "Mars"
    moved = tmp_path / "customers.parquet"
    customers.to_parquet(moved)
    code, _, err = run_cli(["score", "--config", store, "--customers", moved, "--out", tmp_path / "x"], capsys, monkeypatch)
    assert code == 0, err
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned[0] == (
        "customers: attribute 'region': 37 customers have levels the model never saw, e.g. 'Mars' (scored as missing)"
    )
    # Among the customers given a churn probability they are more than 5%: the drift check says so too.
    assert len(warned) == 2 and warned[1].startswith("drift since the training snapshot of ")
    assert "attr_region (customer attribute 'region'): severe" in warned[1] and "never seen in training" in warned[1]


def test_explain_refuses_customers_scoring_gives_no_probability(store, tmp_path, capsys, monkeypatch):
    """The export leaves prospects and lost customers without a churn probability; explain must not invent one."""
    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "o"], capsys, monkeypatch)
    assert code == 0, err
    scores = pd.read_parquet(tmp_path / "o" / "scores.parquet")
    for stage, why in (("prospect", "never bought"), ("lost", "no purchase within 365 days")):
        customer = scores.loc[scores["lifecycle"] == stage, "customer_id"].iloc[0]
        assert pd.isna(scores.loc[scores["customer_id"] == customer, "churn_probability"]).all()
        code, out, err = run_cli(["explain", "--config", store, "--customer", customer], capsys, monkeypatch)
        assert code == 2 and not out and "Traceback" not in err
        assert (f"error: customer '{customer}': lifecycle '{stage}' ({why}): scoring gives such customers no churn "
                "probability, so there is no risk to explain") in " ".join(err.split())


def test_a_database_that_cannot_be_reached_is_refused_before_any_work(store, tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'no_such_folder' / 'crm.db'}"
    code, out, err = run_cli(["score", "--config", store, "--out", tmp_path / "o", "--db", url], capsys, monkeypatch)
    message = " ".join(err.split())
    assert code == 2 and "Traceback" not in err and "Scored" not in message and not out
    assert message.startswith("error: export.database_url: cannot connect: ")
    assert not (tmp_path / "o").exists()  # refused before the folder was even locked


def test_a_value_model_registered_under_the_churn_name_is_refused_in_one_line(store, tmp_path, capsys, monkeypatch):
    # A config naming the value model as its churn model (a copy-paste slip in the registry section) once
    # scored with a regressor in the classifier's place and failed with a traceback deep in scoring.
    code, _, err = run_cli(
        ["score", "--config", store, "--out", tmp_path / "out", "--set", "registry.churn_model_name=tierwise-demo-value"],
        capsys, monkeypatch,
    )
    assert code == ExitCode.NO_MODEL, err
    assert "is a value model where a churn model belongs" in " ".join(err.split())
    assert "Traceback" not in err and not (tmp_path / "out" / "outreach.csv").exists()
