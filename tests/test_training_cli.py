"""A tiny train -> register -> promote cycle through the CLI, with a temporary MLflow store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.models import get_model_info
from mlflow.tracking import MlflowClient

from cli_helpers import run_cli
from tierwise.config import TierwiseConfig, cdnow_config, demo_config
from tierwise.io import resolve_path

ROOT = Path(__file__).resolve().parents[1]
CDNOW_CONFIG = ROOT / "configs" / "cdnow.yaml"

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
    # The registered value model predicts the very window the backtest judged.
    judged = int(re.search(r"Value backtest at \S+ \((\d+)-day window", out).group(1))
    assert get_model_info("models:/tierwise-demo-value@champion").metadata["value_horizon_days"] == judged
    first = store.get_model_version_by_alias("tierwise-demo-churn", "champion")
    assert str(first.version) == "1"
    assert str(store.get_model_version_by_alias("tierwise-demo-value", "champion").version) == "1"
    run = store.get_run(first.run_id)
    assert {"churn_model_roc_auc", "churn_rfm_score_roc_auc", "value_model_normalized_gini",
            "retained_value_model_normalized_gini", "retained_value_value_model_normalized_gini"} <= set(run.data.metrics)
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
    retained = store.get_model_version_by_alias("tierwise-demo-retained-value", "champion")
    assert str(retained.version) == "2" and retained.run_id == second_run.info.run_id
    assert retained.tags["data_source_signature"] == first.tags["data_source_signature"]
    assert get_model_info("models:/tierwise-demo-retained-value@champion").metadata["value_horizon_days"] == judged


def test_backtest_registers_nothing(small_demo_dir, tmp_path, store, capsys, monkeypatch):
    config = tmp_path / "demo.json"
    config.write_text(json.dumps(demo_config(small_demo_dir).model_dump(mode="json")))
    code, out, err = run_cli(["backtest", "--config", config, *FAST], capsys, monkeypatch)
    assert code == 0, err
    assert "Value backtest at" in out
    # The retained-value model is judged beside the value model on the customers who did not lapse.
    judged = re.search(r"Retained-value backtest at \S+ \((\d+)-day window, customers active at the cutoff who "
                       r"bought again within (\d+) days; trained on \d+ snapshots, ([\d,]+) rows\)", _one_line(out))
    assert judged and judged.group(2) == "90" and int(judged.group(3).replace(",", "")) > 0
    assert re.search(r"^\W*value_model\W", out, re.M)
    assert store.search_registered_models() == []


def _cdnow_cut(folder: Path, before: str) -> Path:
    """CDNOW_master.txt, same format, with only the lines dated before ``before`` (YYYYMMDD)."""
    lines = resolve_path("tierwise:data/cdnow/CDNOW_master.txt").read_text().splitlines()
    path = folder / f"cdnow_before_{before}.txt"
    path.write_text("\n".join([lines[0], *(line for line in lines[1:] if line.split()[1] < before)]) + "\n")
    return path


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.slow
def test_train_on_the_literature_calibration_period_gives_the_benchmark_model(tmp_path, store, capsys, monkeypatch, caplog):
    from tierwise.evaluation._cdnow import SPLITS
    from tierwise.features import build_features
    from tierwise.inference import load_models, records_before
    from tierwise.io import read_config_inputs
    from tierwise.training import train_models

    cut = _cdnow_cut(tmp_path, "19971001")
    code, out, err = run_cli(["train", "--config", CDNOW_CONFIG, "--transactions", cut, *FAST], capsys, monkeypatch)
    assert code == 0, err
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "no backtest: the data hold 273 days (1997-01-01 to 1997-09-30); a backtest needs 363 " in warnings
    assert "predicting spend over 91 days, not training.value_horizon_days 365" in warnings
    assert "No backtest" in out and "Churn backtest" not in out

    # `tierwise benchmark cdnow` trains on the full log cut at the same date, with the literature split's settings.
    config = cdnow_config(FAST[1::2])
    calibration = records_before(read_config_inputs(config), pd.Timestamp("1997-10-01"))
    benchmark = train_models(calibration, features=config.features, training=SPLITS["literature"].training(config.training))
    registered = load_models(config.registry, "champion")
    X = build_features(calibration, as_of="1997-10-01", config=config.features)[benchmark.feature_names]
    np.testing.assert_allclose(registered.churn.predict_proba(X), benchmark.churn.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(registered.value.predict(X), benchmark.value.predict(X), rtol=1e-12)
    assert registered.metadata["value_horizon_days"] == benchmark.value_plan.horizon_days == 91

    code, _, err = run_cli(
        ["score", "--config", CDNOW_CONFIG, "--transactions", cut, "--out", tmp_path / "out", "--reasons-for", "0"],
        capsys, monkeypatch,
    )
    assert code == 0, err
    assert set(pd.read_parquet(tmp_path / "out" / "scores.parquet")["value_horizon_days"]) == {91}


@pytest.mark.slow
def test_train_on_six_months_says_how_many_days_it_needs(tmp_path, store, capsys, monkeypatch):
    cut = _cdnow_cut(tmp_path, "19970701")
    code, _, err = run_cli(["train", "--config", CDNOW_CONFIG, "--transactions", cut, *FAST], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert _one_line(err).endswith(
        "error: transactions: the data hold 181 days (1997-01-01 to 1997-06-30); training needs 272 with these "
        "settings (training.min_history_days 90 + 2 x 91-day label windows for training and validation, none "
        "overlapping the next); lower training.min_history_days or training.churn_horizon_days"
    )
    # Following the advice trains.
    shorter = ["--set", "training.churn_horizon_days=45"]
    code, _, err = run_cli(["train", "--config", CDNOW_CONFIG, "--transactions", cut, *FAST, *shorter], capsys, monkeypatch)
    assert code == 0, err


def test_train_with_one_label_class_names_the_snapshots(tmp_path, store, capsys, monkeypatch):
    # Everyone buys every week for 18 months: no active customer ever lapses.
    days = pd.date_range("2024-01-01", "2025-06-30", freq="7D")
    rows = [(f"c{i}", day + pd.Timedelta(hours=i), 10.0) for i in range(40) for day in days]
    pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).to_csv(tmp_path / "tx.csv", index=False)
    config = TierwiseConfig.model_validate(
        {"data": {"transactions": {"path": str(tmp_path / "tx.csv")}}, "features": {"event_types": []}}
    )
    (tmp_path / "config.json").write_text(json.dumps(config.model_dump(mode="json")))
    code, _, err = run_cli(["train", "--config", tmp_path / "config.json", *FAST], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert re.search(
        r"error: transactions: the churn training snapshots \(\d{4}-\d\d-\d\d, \d{4}-\d\d-\d\d\) hold 0 active "
        r"customers who lapsed and [\d,]+ who bought again; the churn model needs both ", _one_line(err),
    )
