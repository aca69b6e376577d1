"""The MLflow store and registry as users meet them: where artifacts go, which model scores which data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from cli_helpers import run_cli, run_main
from tierwise.config import config_from_dict, load_config
from tierwise.errors import ExitCode
from tierwise.synthetic import generate_demo_data

FAST = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=40",
        "--set", "training.value_model.max_rounds=40"]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _write_sources(small_demo_dir: Path, folder: Path) -> tuple[Path, Path]:
    """Two retailers, transactions only: A in parquet with tierwise's names, B a CSV with its own names."""
    folder.mkdir(parents=True, exist_ok=True)
    shop_a = folder / "shop_a.yaml"
    shop_a.write_text(textwrap.dedent(f"""\
        data:
          transactions: {{path: {small_demo_dir / 'transactions.parquet'}}}
        features: {{event_types: []}}
        """))
    other = generate_demo_data(300, seed=11).transactions[["customer_id", "timestamp", "amount"]]
    other.rename(columns={"customer_id": "client", "timestamp": "bought_at", "amount": "total"}).to_csv(
        folder / "b.csv", index=False
    )
    shop_b = folder / "shop_b.yaml"
    shop_b.write_text(textwrap.dedent(f"""\
        data:
          transactions:
            path: {folder / 'b.csv'}
            columns: {{customer_id: client, timestamp: bought_at, amount: total}}
        features: {{event_types: []}}
        """))
    return shop_a, shop_b


def _train(config: Path, capsys, monkeypatch, *extra: str) -> str:
    code, _, err = run_cli(["train", "--config", config, *FAST, *extra], capsys, monkeypatch)
    assert code == 0, err
    return _flat(err)


@pytest.fixture(scope="module")
def one_store(small_demo_dir, tmp_path_factory):
    """Shops A and B, each trained with its own config and default settings into one SQLite store elsewhere."""
    root = tmp_path_factory.mktemp("registry")
    shop_a, shop_b = _write_sources(small_demo_dir, root / "configs")
    uri = f"sqlite:///{root / 'store' / 'x.db'}"
    work = root / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(work)
        for config in (shop_a, shop_b):
            run_main(patch, ["train", "--config", config, *FAST])
    return root, uri, shop_a, shop_b


@pytest.fixture
def in_store(one_store, monkeypatch):
    root, uri, shop_a, shop_b = one_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(root / "work")
    return one_store


def test_each_data_set_gets_its_own_models_and_artifacts_stay_beside_the_store(in_store):
    root, uri, _, _ = in_store
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for shop in ("shop-a", "shop-b"):
        for kind in ("churn", "value"):
            champion = client.get_model_version_by_alias(f"tierwise-{shop}-{kind}", "champion")
            assert str(champion.version) == "1"
            assert champion.tags["data_name"] == shop.replace("-", "_")
            assert {"data_source_signature", "trained_through", "backtest_test_cutoff", "backtest_churn_roc_auc"} <= set(
                champion.tags
            )
    signatures = {client.get_model_version(f"tierwise-{s}-churn", "1").tags["data_source_signature"] for s in ("shop-a", "shop-b")}
    assert len(signatures) == 2
    assert not (root / "work" / "mlruns").exists()
    assert list(os.listdir(root / "work")) == []
    assert (root / "store" / "artifacts").is_dir()


def test_scoring_one_data_set_with_the_other_ones_model_is_refused_unless_allowed(in_store, tmp_path, capsys, monkeypatch):
    _, _, shop_a, _ = in_store
    with_b = ["--set", "registry.churn_model_name=tierwise-shop-b-churn", "--set", "registry.value_model_name=tierwise-shop-b-value",
              "--set", "registry.retained_value_model_name=tierwise-shop-b-retained-value"]
    code, _, err = run_cli(["score", "--config", shop_a, "--out", tmp_path / "x", *with_b], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL
    message = _flat(err)
    assert ("error: model: tierwise-shop-b-churn v1, tierwise-shop-b-value v1, tierwise-shop-b-retained-value v1 was "
            "trained for another data source") in message
    assert "(data set 'shop_b', here 'shop_a')" in message
    assert "transactions.columns.amount 'total' in the model, 'amount' here" in message
    assert "--allow-other-source" in message and "Traceback" not in err
    assert not [p for p in (tmp_path / "x").glob("*") if p.name != ".tierwise.lock"]  # nothing written

    code, _, err = run_cli(["explain", "--config", shop_a, "--customer", "C0000001", *with_b], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL and "was trained for another data source" in _flat(err)

    code, _, err = run_cli(
        ["score", "--config", shop_a, "--out", tmp_path / "y", *with_b, "--allow-other-source"], capsys, monkeypatch
    )
    assert code == 0, err
    assert (tmp_path / "y" / "outreach.csv").exists()

    code, _, err = run_cli(["score", "--config", shop_a, "--out", tmp_path / "z"], capsys, monkeypatch)
    assert code == 0, err
    assert "with tierwise-shop-a-churn v1, tierwise-shop-a-value v1" in _flat(err)


def test_a_model_from_another_data_source_is_never_auto_promoted(in_store, capsys, monkeypatch):
    _, uri, shop_a, shop_b = in_store
    into_a = ["--set", "registry.churn_model_name=tierwise-shop-a-churn", "--set", "registry.value_model_name=tierwise-shop-a-value",
              "--set", "registry.retained_value_model_name=tierwise-shop-a-retained-value"]
    message = _train(shop_b, capsys, monkeypatch, *into_a)
    assert "tierwise-shop-a-churn v2, tierwise-shop-a-value v2, tierwise-shop-a-retained-value v2 are 'candidate'" in message
    assert "Not made champion: the champion (v1) was trained for another data source" in message
    assert f"tierwise promote --config {shop_b}" in message
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias("tierwise-shop-a-churn", "champion").version) == "1"


def test_missing_artifacts_and_missing_models_are_told_apart(small_demo_dir, tmp_path, capsys, monkeypatch):
    shop_a, _ = _write_sources(small_demo_dir, tmp_path / "configs")
    store = tmp_path / "store"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'x.db'}")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    _train(shop_a, capsys, monkeypatch)
    assert not (work / "mlruns").exists()

    # The models are looked up before any data is read: a missing input file is not what stops it.
    missing_file = ["--transactions", tmp_path / "nowhere.parquet"]
    with_b = ["--set", "registry.churn_model_name=tierwise-shop-b-churn"]
    started = time.perf_counter()
    code, _, err = run_cli(["score", "--config", shop_a, "--out", tmp_path / "x", *with_b, *missing_file], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL
    assert f"error: model: no registered model 'tierwise-shop-b-churn' in sqlite:///{store / 'x.db'}; run tierwise train first" in _flat(err)
    assert time.perf_counter() - started < 10

    shutil.rmtree(store / "artifacts")
    code, _, err = run_cli(["score", "--config", shop_a, "--out", tmp_path / "x", *missing_file], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL
    message = _flat(err)
    assert "error: model: the files of tierwise-shop-a-churn v1 are missing" in message
    assert str(store / "artifacts") in message and "run tierwise train first" not in message

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere' / 'y.db'}")
    code, _, err = run_cli(["score", "--config", shop_a, "--out", tmp_path / "x"], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL and f"error: model: no MLflow store at {tmp_path / 'elsewhere' / 'y.db'}" in _flat(err)
    assert not (tmp_path / "elsewhere").exists()


_OPEN_STORE = """
import sys, time
from pathlib import Path
from tierwise.training._tracking import _experiment_id, connect
go = Path(sys.argv[1])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.01)
print(_experiment_id(connect(), "tierwise"))
"""


def test_two_processes_can_open_a_fresh_store_at_once(tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'store' / 'fresh.db'}",
           "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    go = tmp_path / "go"
    processes = [
        subprocess.Popen([sys.executable, "-c", _OPEN_STORE, str(go)], cwd=tmp_path, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    go.touch()
    results = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    assert results[0][0].strip() == results[1][0].strip()


def test_the_data_source_signature_ignores_paths_but_not_column_meanings(tmp_path):
    from tierwise.training import data_source_differences, data_source_signature, describe_data_source

    base = {"data": {"transactions": {"path": "a/t.csv", "columns": {"amount": "net"}}}, "features": {"event_types": []}}
    same = config_from_dict({**base, "data": {"transactions": {"path": "b/newer.csv", "columns": {"amount": "net"}}}})
    other = config_from_dict({**base, "data": {"transactions": {"path": "a/t.csv", "columns": {"amount": "gross"}}}})
    with_events = config_from_dict(
        {"data": {**base["data"], "events": {"path": "e.csv"}}, "features": {"event_types": ["visit"]}}
    )
    first = describe_data_source(config_from_dict(base))
    assert data_source_signature(first) == data_source_signature(describe_data_source(same))
    assert data_source_signature(first) != data_source_signature(describe_data_source(other))
    assert data_source_differences(first, describe_data_source(other)) == (
        "transactions.columns.amount 'net' in the model, 'gross' here"
    )
    assert data_source_differences(first, describe_data_source(with_events)).startswith(
        "events configured in this config, not the model's data"
    )


def test_data_names_and_default_model_names(tmp_path):
    path = tmp_path / "My Shop.yaml"
    path.write_text("data:\n  transactions: {path: t.csv}\n")
    config = load_config(path)
    assert config.data.name == "My Shop"
    assert (config.registry.churn_model_name, config.registry.value_model_name) == (
        "tierwise-my-shop-churn", "tierwise-my-shop-value"
    )
    explicit = load_config(path, ["registry.churn_model_name=mine", "data.name=cdnow"])
    assert (explicit.registry.churn_model_name, explicit.registry.value_model_name) == ("mine", "tierwise-cdnow-value")
    assert config_from_dict({"data": {"transactions": {"path": "t.csv"}}}).registry.churn_model_name == "tierwise-default-churn"


def test_promotion_compares_like_with_like():
    from tierwise.training import VersionRecord, promotion_decision

    new = VersionRecord("2", "abc", "2025-10-03", 0.80)
    same = VersionRecord("1", "abc", "2025-10-03", 0.75)
    assert promotion_decision(new, None, auto_promote=True)[0]
    assert promotion_decision(new, same, auto_promote=True)[0]
    assert not promotion_decision(new, same, auto_promote=False)[0]
    refused = {
        "does not beat": VersionRecord("1", "abc", "2025-10-03", 0.80),
        "another data source": VersionRecord("1", "xyz", "2025-10-03", 0.50),
        "another test period": VersionRecord("1", "abc", "2025-09-03", 0.50),
        "older tierwise": VersionRecord("1", None, None, None),
    }
    for why, champion in refused.items():
        promoted, note = promotion_decision(new, champion, auto_promote=True)
        assert not promoted and why in note
    no_backtest = VersionRecord("2", "abc", None, None)
    assert promotion_decision(no_backtest, None, auto_promote=True)[0]
    promoted, note = promotion_decision(no_backtest, same, auto_promote=True)
    assert not promoted and "no backtest" in note
    # Another project's champion is named as such, even when the new version has no backtest to compare.
    promoted, note = promotion_decision(no_backtest, refused["another data source"], auto_promote=True)
    assert not promoted and "another data source" in note
