"""A tiny train -> register -> promote cycle through the CLI, with a temporary MLflow store."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from cli_helpers import run_cli
from tierwise.config import demo_config

FAST = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=40",
        "--set", "training.value_model.max_rounds=40"]


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_train_registers_and_promotes(small_demo_dir, tmp_path, store, capsys, monkeypatch):
    config = tmp_path / "demo.json"
    config.write_text(json.dumps(demo_config(small_demo_dir).model_dump(mode="json")))

    code, out, err = run_cli(["train", "--config", config, *FAST], capsys, monkeypatch)
    assert code == 0, err
    assert "Churn backtest at" in out and "rfm_score" in out and "recency_rank" in out and "last_period" in out
    first = store.get_model_version_by_alias("tierwise-demo-churn", "champion")
    assert str(first.version) == "1"
    assert str(store.get_model_version_by_alias("tierwise-demo-value", "champion").version) == "1"
    run = store.get_run(first.run_id)
    assert {"churn_model_roc_auc", "churn_rfm_score_roc_auc", "value_model_normalized_gini"} <= set(run.data.metrics)
    artifacts = {a.path for a in store.list_artifacts(first.run_id)} | {
        a.path for a in store.list_artifacts(first.run_id, "plots")
    }
    assert {"config.json", "data_fingerprint.json", "features.json", "plots/roc.png", "plots/reliability.png"} <= artifacts

    # The same data and seed give the same backtest: a rerun is no better, so it stays candidate.
    code, _, err = run_cli(["train", "--config", config, *FAST], capsys, monkeypatch)
    assert code == 0, err
    message = " ".join(err.split())
    assert "Not made champion: its backtest churn ROC AUC" in message and "does not beat the champion's" in message
    assert f"tierwise promote --config {config}" in message
    assert str(store.get_model_version_by_alias("tierwise-demo-churn", "candidate").version) == "2"
    assert str(store.get_model_version_by_alias("tierwise-demo-churn", "champion").version) == "1"
    second_run = store.get_run(store.get_model_version_by_alias("tierwise-demo-churn", "candidate").run_id)
    assert second_run.data.metrics["churn_model_roc_auc"] == run.data.metrics["churn_model_roc_auc"]

    code, _, err = run_cli(["promote", "--config", config], capsys, monkeypatch)
    assert code == 0, err
    assert str(store.get_model_version_by_alias("tierwise-demo-churn", "champion").version) == "2"
    assert str(store.get_model_version_by_alias("tierwise-demo-value", "champion").version) == "2"


def test_backtest_registers_nothing(small_demo_dir, tmp_path, store, capsys, monkeypatch):
    config = tmp_path / "demo.json"
    config.write_text(json.dumps(demo_config(small_demo_dir).model_dump(mode="json")))
    code, out, err = run_cli(["backtest", "--config", config, *FAST], capsys, monkeypatch)
    assert code == 0, err
    assert "Value backtest at" in out
    assert store.search_registered_models() == []
