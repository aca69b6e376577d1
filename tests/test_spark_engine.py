"""The Spark engine gives the DuckDB engine's features and scores exactly: demo, CDNOW, any session time zone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli_helpers import run_cli, train_into_new_store
from tierwise.config import demo_config, load_config
from tierwise.errors import InputDataError
from tierwise.features import build_features
from tierwise.io import read_config_inputs, write_demo_data
from tierwise.synthetic import generate_demo_data

ROOT = Path(__file__).resolve().parents[1]
# Summer time moves clocks here; a Spark TIMESTAMP turned into wall-clock time in this zone would shift records.
NEW_YORK = "America/New_York"


def _spark_features(spark, config, as_of):
    from tierwise.spark import read_spark_inputs, spark_features, utc_session

    with utc_session(spark):
        inputs = read_spark_inputs(spark, config.data, config.features)
        return spark_features(inputs, as_of=as_of, config=config), inputs.warnings


@pytest.fixture(scope="module")
def demo_2000(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_2000")
    write_demo_data(generate_demo_data(2000, seed=5), folder)
    return demo_config(folder)


@pytest.mark.slow
def test_demo_features_from_spark_tables_in_a_new_york_session_equal_duckdb(spark, demo_2000):
    """Sources named as Spark tables whose timestamps are Spark TIMESTAMPs (with local time zone), read in a session
    whose zone has summer time: every column, dtype and missing value equals the DuckDB engine's."""
    from pyspark.sql import functions as F

    config = demo_2000
    inputs = read_config_inputs(config)
    as_of = inputs.transactions["ts"].max().normalize() - pd.Timedelta(days=40)
    expected = build_features(inputs, as_of=as_of, config=config.features)
    sources = {"transactions": "timestamp", "events": "timestamp", "customers": "signup_date"}
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    for name, column in sources.items():
        frame = spark.read.parquet(getattr(config.data, name).path)
        frame.withColumn(column, F.col(column).cast("timestamp")).createOrReplaceTempView(f"demo_{name}")
    raw = config.model_dump(mode="json")
    for name in sources:
        raw["data"][name] = {**raw["data"][name], "path": None, "table": f"demo_{name}"}
    from tierwise.config import config_from_dict

    spark.conf.set("spark.sql.session.timeZone", NEW_YORK)
    try:
        features, _ = _spark_features(spark, config_from_dict(raw), as_of)
        assert spark.conf.get("spark.sql.session.timeZone") == NEW_YORK  # the caller's zone is put back
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert dict(spark.table("demo_transactions").dtypes)["timestamp"] == "timestamp"
    pd.testing.assert_frame_equal(features, expected, check_exact=True)


@pytest.mark.slow
def test_cdnow_features_from_the_whitespace_file_equal_duckdb(spark):
    config = load_config(ROOT / "configs" / "cdnow.yaml")
    inputs = read_config_inputs(config)
    expected = build_features(inputs, as_of="1997-10-01", config=config.features)
    features, _ = _spark_features(spark, config, "1997-10-01")
    assert len(features) == 23_570
    pd.testing.assert_frame_equal(features, expected, check_exact=True)


@pytest.mark.parametrize("file_format", ["csv", "whitespace"])
def test_a_headerless_log_without_amounts_gives_duckdbs_features(spark, small_demo, tmp_path, file_format):
    from tierwise.config import config_from_dict

    lines = small_demo.transactions[["customer_id", "timestamp"]].head(3000)
    path = tmp_path / "tx.txt"
    lines.assign(timestamp=lines["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")).to_csv(
        path, header=False, index=False, sep="," if file_format == "csv" else " ")
    config = config_from_dict({"data": {"transactions": {
        "path": str(path), "format": file_format, "header": False,
        "columns": {"customer_id": "column_1", "timestamp": "column_2", "amount": None}}}})
    expected = build_features(read_config_inputs(config), as_of="2024-06-01", config=config.features)
    features, _ = _spark_features(spark, config, "2024-06-01")
    assert not [c for c in features.columns if c.startswith(("monetary", "spend"))]
    pd.testing.assert_frame_equal(features, expected, check_exact=True)


@pytest.fixture(scope="module")
def trained(small_demo_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("spark_scoring")
    uri, config_path = train_into_new_store(folder, small_demo_dir)
    return folder, uri, config_path


@pytest.mark.slow
def test_features_and_scores_through_the_cli_equal_duckdb(spark, trained, tmp_path, capsys, monkeypatch):
    folder, uri, config_path = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    runs = {}
    for engine in ("duckdb", "spark"):
        code, _, err = run_cli(["features", "--config", config_path, "--as-of", "2025-11-01", "--engine", engine,
                                "--out", tmp_path / f"{engine}.parquet"], capsys, monkeypatch)
        assert code == 0, err
        code, out, err = run_cli(["score", "--config", config_path, "--engine", engine, "--no-report",
                                  "--out", tmp_path / engine], capsys, monkeypatch)
        assert code == 0, err
        runs[engine] = tmp_path / engine
    assert (tmp_path / "spark.parquet").read_bytes() == (tmp_path / "duckdb.parquet").read_bytes()
    assert "as_of not given: scoring as of 2026-01-01" in " ".join(err.split())
    for name in ("scores.parquet", "outreach.parquet", "control.parquet", "outreach.csv", "control.csv",
                 "movers.parquet", "drift.json"):
        assert (runs["spark"] / name).read_bytes() == (runs["duckdb"] / name).read_bytes(), name
    manifests = [json.loads((runs[e] / "manifest.json").read_text()) for e in ("duckdb", "spark")]
    for manifest in manifests:
        manifest.pop("scored_at")
    assert manifests[0] == manifests[1]


@pytest.mark.slow
def test_bad_input_gives_the_same_one_line_error_on_both_engines(spark, small_demo_config, tmp_path):
    transactions = pd.read_parquet(small_demo_config.data.transactions.path)
    transactions["amount"] = transactions["amount"].astype(str)
    transactions.loc[7, "amount"] = "n/a"
    broken = tmp_path / "transactions.parquet"
    transactions.to_parquet(broken)
    config = small_demo_config.with_paths(transactions=broken)
    with pytest.raises(InputDataError) as duckdb_error:
        read_config_inputs(config)
    with pytest.raises(InputDataError) as spark_error:
        _spark_features(spark, config, "2025-11-01")
    assert str(spark_error.value) == str(duckdb_error.value)
    assert "1 rows are not numbers, e.g. 'n/a'" in str(spark_error.value)

    missing = config.with_paths(transactions=small_demo_config.data.transactions.path).model_dump(mode="json")
    missing["data"]["transactions"]["columns"]["amount"] = "price"
    from tierwise.config import config_from_dict

    config = config_from_dict(missing)
    with pytest.raises(InputDataError) as duckdb_error:
        read_config_inputs(config)
    with pytest.raises(InputDataError) as spark_error:
        _spark_features(spark, config, "2025-11-01")
    assert str(spark_error.value) == str(duckdb_error.value)


def test_a_spark_table_is_refused_by_the_duckdb_engine(small_demo_config):
    raw = small_demo_config.model_dump(mode="json")
    raw["data"]["transactions"] = {**raw["data"]["transactions"], "path": None, "table": "crm.transactions"}
    from tierwise.config import config_from_dict

    with pytest.raises(InputDataError, match=r"data.transactions.table: 'crm.transactions' is a Spark table"):
        read_config_inputs(config_from_dict(raw))


@pytest.mark.parametrize("missing", ["pyspark", "java"])
def test_without_pyspark_or_java_the_spark_engine_is_refused_in_one_line(missing, small_demo_config, tmp_path,
                                                                          capsys, monkeypatch):
    import shutil
    import sys

    if missing == "pyspark":
        monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark raises ImportError
    else:
        monkeypatch.setattr(shutil, "which", lambda name: None)
        monkeypatch.delenv("JAVA_HOME", raising=False)
    config_path = tmp_path / "demo.json"
    config_path.write_text(json.dumps(small_demo_config.model_dump(mode="json")))
    code, _, err = run_cli(["features", "--config", config_path, "--as-of", "2025-11-01", "--engine", "spark",
                            "--out", tmp_path / "features.parquet"], capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'tierwise[spark]'" in err and ("Java" in err) == (missing == "java")
