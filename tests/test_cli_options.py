"""The CLI as people and cron jobs use it: help, version, quiet and JSON logs, exit codes, paths and stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import tierwise
from cli_helpers import FAST_TRAINING, run_cli
from tierwise.errors import ExitCode

ROOT = Path(__file__).resolve().parents[1]


def _help(args: list[str], capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "300")  # no wrapping inside an option's name or choices
    code, out, err = run_cli([*args, "-h"], capsys, monkeypatch)
    assert code == 0, err
    return " ".join(out.replace("│", " ").split())


def test_version_and_short_help(capsys, monkeypatch):
    code, out, _ = run_cli(["--version"], capsys, monkeypatch)
    assert code == 0 and out.strip() == f"tierwise {tierwise.__version__}"
    text = _help([], capsys, monkeypatch)
    assert "--quiet" in text and "--log-format" in text and "--tracking-uri" in text
    assert "Exit codes: 0 ok; 1 failed; 2 bad input; 3 no model; 4 delivery failed; 5 missing driver" in text


def test_help_shows_formats_and_choices(capsys, monkeypatch):
    score = _help(["score"], capsys, monkeypatch)
    assert "KEY=VALUE" in score and "YYYY-MM-DD" in score
    assert "<value_at_risk|expected_net_saving|churn_probability>" in score
    assert "--out FOLDER" in score
    assert "--out FILE" in _help(["features"], capsys, monkeypatch)
    assert "<parquet|csv>" in _help(["generate"], capsys, monkeypatch)


def test_a_usage_error_is_one_line_with_exit_code_2(capsys, monkeypatch, tmp_path):
    code, out, err = run_cli(["score", "--config", tmp_path / "c.yaml", "--rank-by", "loudest"], capsys, monkeypatch)
    lines = err.strip().splitlines()
    assert code == ExitCode.BAD_INPUT and len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("error: ") and "loudest" in lines[0] and "(see tierwise score -h)" in lines[0]


@pytest.fixture
def demo_folder(tmp_path, small_demo_dir):
    """configs/demo.yaml as shipped, in a copy of the repository's layout, its data where tierwise demo writes."""
    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "demo.yaml", tmp_path / "configs" / "demo.yaml")
    shutil.copytree(small_demo_dir, tmp_path / "tierwise-demo" / "data")
    return tmp_path


def test_generate_writes_where_configs_demo_yaml_reads(tmp_path, capsys, monkeypatch):
    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "demo.yaml", tmp_path / "configs" / "demo.yaml")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["generate", "--customers", 120, "--seed", 5], capsys, monkeypatch)
    assert code == 0, err
    code, _, err = run_cli(["features", "--config", "configs/demo.yaml", "--as-of", "2025-01-01", "--out", "f.parquet"],
                           capsys, monkeypatch)
    assert code == 0, err


def test_json_logs_are_one_object_a_line_and_quiet_is_silent(demo_folder, tmp_path, capsys, monkeypatch):
    config = demo_folder / "configs" / "demo.yaml"
    args = ["features", "--config", config, "--as-of", "2025-01-01", "--out", tmp_path / "f.parquet"]
    code, _, err = run_cli(["--log-format", "json", *args], capsys, monkeypatch)
    assert code == 0, err
    records = [json.loads(line) for line in err.strip().splitlines()]
    assert records and all({"time", "level", "message"} <= set(r) for r in records)
    assert pd.Timestamp(records[0]["time"]).tzinfo is not None
    assert any(r["message"].startswith("Features as of 2025-01-01") for r in records)

    code, out, err = run_cli(["--quiet", *args], capsys, monkeypatch)
    assert code == 0 and err == "" and out == ""

    code, _, err = run_cli(["--log-format", "json", "features", "--config", config, "--as-of", "2025-13-01",
                            "--out", tmp_path / "g.parquet"], capsys, monkeypatch)
    record = json.loads(err.strip().splitlines()[-1])
    assert code == ExitCode.BAD_INPUT and record["level"] == "error" and "2025-13-01" in record["message"]


def test_a_missing_store_exits_3_and_says_where_it_looked(demo_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = tmp_path / "nowhere" / "mlflow.db"
    code, _, err = run_cli(["--tracking-uri", f"sqlite:///{store}", "score", "--config",
                            demo_folder / "configs" / "demo.yaml", "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL == 3
    assert f"no MLflow store at {store}" in " ".join(err.split())


def test_a_missing_database_driver_names_the_extra(demo_folder, tmp_path, capsys, monkeypatch):
    pytest.importorskip("sqlalchemy")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg is installed")
    code, _, err = run_cli(["score", "--config", demo_folder / "configs" / "demo.yaml", "--out", tmp_path / "out",
                            "--db", "postgresql+psycopg://crm@localhost/crm"], capsys, monkeypatch)
    assert code == ExitCode.MISSING_DRIVER == 5
    assert "pip install 'tierwise[postgres]'" in " ".join(err.split())


def test_a_cron_job_from_another_folder_uses_the_configs_paths_and_store(demo_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = demo_folder / "configs" / "demo.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["registry"]["tracking_uri"] = "sqlite:///../mlruns/mlflow.db"  # relative to the config file too
    config.write_text(yaml.safe_dump(raw))
    elsewhere = tmp_path / "cron-home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run_cli(["--quiet", "train", "--config", config, *FAST_TRAINING], capsys, monkeypatch)
    assert code == 0, err
    assert (demo_folder / "mlruns" / "mlflow.db").exists() and not (elsewhere / "mlruns").exists()
    code, _, err = run_cli(["--quiet", "score", "--config", config, "--as-of", "2025-06-01", "--out", "run"],
                           capsys, monkeypatch)
    assert code == 0, err
    assert (elsewhere / "run" / "manifest.json").exists()

    code, _, err = run_cli(["explain", "--config", config, "--as-of", "2025-06-01", "--customer",
                            pd.read_parquet(elsewhere / "run" / "outreach.parquet")["customer_id"].iloc[0],
                            "--plot", "why.png"], capsys, monkeypatch)
    assert code == 0, err
    assert (elsewhere / "why.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_promote_a_version_and_roll_back(tmp_path, small_demo_dir, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient

    from cli_helpers import train_into_new_store

    uri, config = train_into_new_store(tmp_path, small_demo_dir)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code, _, err = run_cli(["train", "--config", config, *FAST_TRAINING, "--set", "registry.auto_promote=false"],
                           capsys, monkeypatch)
    assert code == 0, err
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    names = [m.name for m in client.search_registered_models()]
    churn = "tierwise-demo-churn"

    def champion() -> str:
        return str(client.get_model_version_by_alias(churn, "champion").version)

    assert champion() == "1"
    code, _, err = run_cli(["promote", "--config", config, "--version", 2], capsys, monkeypatch)
    assert code == 0, err
    assert champion() == "2" and all(str(client.get_model_version_by_alias(n, "champion").version) == "2" for n in names)
    code, _, err = run_cli(["promote", "--config", config, "--rollback"], capsys, monkeypatch)
    assert code == 0, err
    assert champion() == "1"
    code, _, err = run_cli(["promote", "--config", config, "--version", 9], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL and "has no version 9" in err

    version = client.get_model_version(churn, "2")
    assert version.tags["as_of"] < version.tags["trained_through"]
    assert "transactions=" in version.tags["data_source"] and float(version.tags["backtest_churn_pr_auc"]) > 0
    run = client.get_run(version.run_id)
    assert run.info.run_name.startswith(f"train demo as of {version.tags['as_of']}")


@pytest.mark.parametrize(("quiet", "log_format", "shown"), [(False, "text", True), (True, "text", False),
                                                             (False, "json", False)])
def test_progress_shows_beside_the_spinner_on_a_terminal_only(quiet, log_format, shown, monkeypatch, capsys):
    import functools
    import logging

    from tierwise import cli
    from tierwise.progress import PROGRESS_LOGGER, report_progress

    monkeypatch.setattr(cli, "Console", functools.partial(cli.Console, force_terminal=True))
    messages = cli.Messages()
    monkeypatch.setattr(cli, "console", messages)
    messages.configure(quiet=quiet, log_format=log_format)
    try:
        cli._configure_logging()
        with messages.status("Training...") as _:
            report_progress("building the features as of 2025-06-01: snapshot", done=3, total=12)
            spinner = messages._spinner
            text = "" if spinner is None else str(spinner[0].status)
    finally:
        messages.restore()
        logging.getLogger(PROGRESS_LOGGER).handlers.clear()
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_tierwise", False)]:
            root.removeHandler(handler)
    assert ("snapshot (3 of 12)" in text) is shown, text
    if not shown:  # not a JSON record, not a line in the log
        assert "snapshot (3 of 12)" not in capsys.readouterr().err
