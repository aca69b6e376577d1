"""End-to-end runs of the CLI on tiny synthetic data."""

from __future__ import annotations

import pandas as pd

from cli_helpers import run_cli
from tierwise.config import demo_config
from tierwise.errors import ExitCode
from tierwise.io import write_parquet


def test_generate_then_features(tmp_path, capsys, monkeypatch):
    data_dir = tmp_path / "demo"
    code, _, err = run_cli(["generate", "--customers", 150, "--seed", 4, "--out", data_dir], capsys, monkeypatch)
    assert code == 0, err
    config_path = tmp_path / "demo.yaml"
    config_path.write_text(demo_config(data_dir).model_dump_json())  # JSON is YAML
    out = tmp_path / "feats.parquet"
    code, _, err = run_cli(["features", "--config", config_path, "--as-of", "2025-01-01", "--out", out], capsys, monkeypatch)
    assert code == 0, err
    features = pd.read_parquet(out)
    assert features["customer_id"].is_unique and len(features) > 50
    assert (features["as_of"] == pd.Timestamp("2025-01-01")).all()
    assert "Features as of 2025-01-01" in " ".join(err.split())


def test_generate_csv_reads_back_like_parquet(tmp_path, capsys, monkeypatch, small_demo):
    code, _, _ = run_cli(["generate", "--customers", 60, "--format", "csv", "--out", tmp_path / "csv"], capsys, monkeypatch)
    assert code == 0
    assert pd.read_csv(tmp_path / "csv" / "transactions.csv").shape[0] > 0


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    frame = pd.DataFrame({"a": [1, 2]})
    write_parquet(frame, tmp_path / "x.parquet")
    write_parquet(frame, tmp_path / "x.parquet")
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]


def test_a_path_in_the_way_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("not a folder")
    code, _, err = run_cli(["generate", "--customers", 50, "--out", tmp_path / "afile" / "data"], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [f"error: {tmp_path / 'afile' / 'data'}: Not a directory"]


def test_an_unusable_mlflow_store_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch, small_demo_config):
    import json

    config = tmp_path / "demo.json"
    config.write_text(json.dumps(small_demo_config.model_dump(mode="json")))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(tmp_path / "plain_folder"))  # a file store, which MLflow 3 refuses
    code, _, err = run_cli(["score", "--config", config, "--out", tmp_path / "out"], capsys, monkeypatch)
    message = " ".join(err.split())
    assert code == ExitCode.NO_MODEL and "Traceback" not in err
    assert message.startswith(f"error: MLflow store {tmp_path / 'plain_folder'}: ")
