"""Drift where a user meets it: tierwise score writes drift.json, warns or refuses, and the report shows it."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cli_helpers import run_cli, train_into_new_store
from tierwise.io import write_parquet


@pytest.fixture(scope="module")
def trained(small_demo_dir, tmp_path_factory):
    """Train once on the small demo into a temporary MLflow store; also a copy of its transactions in cents."""
    folder = tmp_path_factory.mktemp("drift")
    uri, config_path = train_into_new_store(folder, small_demo_dir)
    cents = pd.read_parquet(small_demo_dir / "transactions.parquet")
    cents["amount"] = cents["amount"] * 100  # a currency change: the same purchases, in cents
    write_parquet(cents, folder / "transactions_in_cents.parquet")
    return folder, uri, config_path


@pytest.fixture
def store(trained, monkeypatch):
    folder, uri, config_path = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    return config_path


def _in_cents(store) -> list[str]:
    return ["--transactions", str(store.parent / "transactions_in_cents.parquet")]


def _warnings(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and text in r.getMessage()]


def _hashes(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and p.name != ".tierwise.lock"}  # the lock records who ran last


def test_scoring_close_to_training_raises_no_flag_and_logs_to_the_models_run(store, tmp_path, capsys, monkeypatch, caplog):
    out = tmp_path / "out"
    code, _, err = run_cli(["score", "--config", store, "--out", out], capsys, monkeypatch)
    assert code == 0, err
    drift = json.loads((out / "drift.json").read_text())
    assert drift["severe"] == [] and drift["warning"] == []
    assert drift["as_of"] == "2026-01-01" and drift["reference_as_of"] < drift["as_of"]
    assert drift["thresholds"] == {"psi_warning": 0.1, "psi_severe": 0.25, "unseen_share_severe": 0.05,
                                   "missing_rate_change_severe": 0.1}
    scores = pd.read_parquet(out / "scores.parquet")
    assert drift["customers"] == int(scores["churn_probability"].notna().sum())  # the population the model learned on
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"]["drift.json"]["sha256"] == hashlib.sha256((out / "drift.json").read_bytes()).hexdigest()
    assert _warnings(caplog, "drift") == [] and "0 severe, 0 warnings" in " ".join(err.split())
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="drift"' in page and "No input moved past a drift threshold" in page
    client = MlflowClient()
    run_id = client.get_model_version_by_alias("tierwise-demo-churn", "champion").run_id
    history = client.get_metric_history(run_id, "drift_psi_churn_probability")
    assert [(m.step, m.value) for m in history] == [(20260101, drift["churn_probability"]["psi"])]


def test_a_currency_change_is_flagged_on_the_console_in_drift_json_and_in_the_report(
    store, tmp_path, capsys, monkeypatch, caplog
):
    out = tmp_path / "out"
    code, _, err = run_cli(["score", "--config", store, "--out", out, *_in_cents(store)], capsys, monkeypatch)
    assert code == 0, err
    drift = json.loads((out / "drift.json").read_text())
    by_name = {e["feature"]: e for e in drift["features"]}
    assert by_name["spend_sum_365d"]["flag"] == "severe" and by_name["spend_sum_365d"]["psi"] > 1
    assert by_name["frequency_orders"]["flag"] is None  # the count of orders did not change
    warnings = _warnings(caplog, "drift since the training snapshot")
    assert len(warnings) == 4 and "more past a drift threshold (see drift.json)" in warnings[-1]
    # The worst inputs come first; a churn score that moved too (prices in cents cross the trees' spend splits)
    # is named among them.
    assert any(drift["features"][0]["feature"] in line for line in warnings[:3]) and "severe, PSI" in warnings[0]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="drift-table"' in page and 'data-feature="spend_sum_365d" data-flag="severe"' in page

    (out / "report.html").unlink()
    code, _, err = run_cli(["report", "--run", out], capsys, monkeypatch)
    assert code == 0, err
    assert 'data-feature="spend_sum_365d" data-flag="severe"' in (out / "report.html").read_text(encoding="utf-8")


def test_refuse_on_severe_drift_delivers_nothing(store, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    code, _, err = run_cli(["score", "--config", store, "--out", out], capsys, monkeypatch)
    assert code == 0, err
    before = _hashes(out)
    code, _, err = run_cli(["score", "--config", store, "--out", out, *_in_cents(store),
                            "--set", "scoring.on_severe_drift=refuse"], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    message = " ".join(err.split())
    assert message.count("error:") == 1 and "error: drift: " in message and "nothing delivered" in message
    assert "monetary_" in message and "set it to warn to deliver anyway" in message
    assert "drift.json" not in message  # it was not written
    assert _hashes(out) == before  # the earlier run's files, untouched


def test_a_model_without_a_drift_reference_warns_and_scores(store, tmp_path, capsys, monkeypatch, caplog):
    import tierwise.inference as inference

    out = tmp_path / "out"
    code, _, err = run_cli(["score", "--config", store, "--out", out], capsys, monkeypatch)
    assert code == 0 and (out / "drift.json").is_file()
    load_models = inference.load_models

    def trained_by_an_older_tierwise(*args, **kwargs):
        models = load_models(*args, **kwargs)
        models.metadata.pop("drift_reference")
        return models

    monkeypatch.setattr(inference, "load_models", trained_by_an_older_tierwise)
    code, _, err = run_cli(["score", "--config", store, "--out", out], capsys, monkeypatch)
    assert code == 0, err
    assert len(_warnings(caplog, "has no drift reference (trained by an older tierwise), so drift cannot be checked")) == 1
    assert not (out / "drift.json").exists()  # the earlier run's figures are gone, not passed off as this run's
    assert "drift.json" not in json.loads((out / "manifest.json").read_text())["files"]
    assert 'id="drift"' not in (out / "report.html").read_text(encoding="utf-8")
    code, _, err = run_cli(["report", "--run", out], capsys, monkeypatch)
    assert code == 0, err


def test_a_store_that_cannot_take_the_figures_warns_and_delivers(store, tmp_path, capsys, monkeypatch, caplog):
    import tierwise.inference._drift as drift_module

    def refused(*args, **kwargs):
        raise MlflowException("the store is read-only")

    monkeypatch.setattr(drift_module, "log_scoring_metrics", refused)
    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    assert len(_warnings(caplog, "could not log the drift figures to MLflow run")) == 1
    assert (tmp_path / "out" / "manifest.json").is_file() and (tmp_path / "out" / "drift.json").is_file()
