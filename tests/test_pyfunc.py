"""The registered models through MLflow's own APIs give tierwise's numbers: pyfunc, serving and Spark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest

from cli_helpers import run_cli
from tierwise.errors import TierwiseError

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
FAST = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=40",
        "--set", "training.value_model.max_rounds=40"]
PREDICTIONS = {"churn": "churn_probability", "value": "predicted_value", "retained-value": "retained_value"}


def _cli(args: list, monkeypatch, capsys) -> None:
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err


@pytest.fixture(scope="module")
def trained(small_demo_dir, tmp_path_factory):
    """The demo config (customer attributes on) trained once into a temp store; its scores and features at one as_of."""
    root = tmp_path_factory.mktemp("pyfunc")
    uri = f"sqlite:///{root / 'store' / 'mlflow.db'}"
    inputs = ["--transactions", small_demo_dir / "transactions.parquet", "--events", small_demo_dir / "events.parquet",
              "--customers", small_demo_dir / "customers.parquet"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(root)
        quiet = _Quiet()
        _cli(["train", "--config", DEMO_CONFIG, *inputs, *FAST], patch, quiet)
        _cli(["score", "--config", DEMO_CONFIG, *inputs, "--out", root / "scores", "--no-report"], patch, quiet)
        scores = pd.read_parquet(root / "scores" / "scores.parquet")
        as_of = str(scores["as_of"].iloc[0].date())
        _cli(["features", "--config", DEMO_CONFIG, *inputs, "--as-of", as_of, "--out", root / "features.parquet"],
             patch, quiet)
    features = pd.read_parquet(root / "features.parquet")
    return uri, scores.set_index("customer_id"), features


class _Quiet:
    """Stands in for capsys in a module fixture: the CLI's output is not looked at there."""

    def readouterr(self) -> SimpleNamespace:
        return SimpleNamespace(out="", err="")


@pytest.fixture
def store(trained, monkeypatch):
    uri, scores, features = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return scores, features


def _expected(scores: pd.DataFrame, features: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """tierwise score's column on the customers it gives one, and which rows of ``features`` they are."""
    aligned = scores.loc[features["customer_id"], column].to_numpy(float)
    return aligned, ~np.isnan(aligned)


def _with_integer_columns(features: pd.DataFrame) -> pd.DataFrame:
    """Every whole-number column without gaps as int64, attributes as plain strings: what Spark or a CSV gives."""
    converted = features.copy()
    for column in converted.columns:
        values = converted[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            converted[column] = values.astype("object")
        elif pd.api.types.is_float_dtype(values) and values.notna().all() and (values == values.round()).all():
            converted[column] = values.astype("int64")
    return converted


@pytest.mark.slow
def test_each_registered_model_predicts_what_tierwise_score_gives(store):
    scores, features = store
    assert features.filter(like="attr_").shape[1] == 3  # the demo's customer attributes are features
    as_ints = _with_integer_columns(features)
    assert (as_ints.dtypes == "int64").sum() >= 5
    for kind, column in PREDICTIONS.items():
        model = mlflow.pyfunc.load_model(f"models:/tierwise-demo-{kind}@champion")
        expected, scored = _expected(scores, features, column)
        assert scored.sum() > 50
        for frame in (features, as_ints):
            predicted = np.asarray(model.predict(frame), float)
            np.testing.assert_allclose(predicted[scored], expected[scored], rtol=0, atol=1e-9, err_msg=kind)


@pytest.mark.slow
def test_the_scorer_returns_tierwise_scores_columns(store):
    scores, features = store
    scorer = mlflow.pyfunc.load_model("models:/tierwise-demo-scorer@champion")
    for frame in (features, _with_integer_columns(features)):
        result = scorer.predict(frame).set_index("customer_id")
        expected = scores.loc[result.index]
        for column in ("churn_probability", "predicted_value", "retained_value", "value_at_risk", "value_percentile"):
            np.testing.assert_allclose(result[column].to_numpy(float), expected[column].to_numpy(float),
                                       rtol=0, atol=1e-9, err_msg=column)
        for column in ("lifecycle", "risk_band", "value_grade", "activity_class", "tier", "tier_action"):
            # None where there is none (parquet reads a missing text back as NaN).
            assert result[column].fillna("-").tolist() == expected[column].fillna("-").tolist(), column
        assert (result["value_horizon_days"] == expected["value_horizon_days"]).all()


def test_a_numeric_feature_that_is_not_a_number_is_one_line(store):
    _, features = store
    model = mlflow.pyfunc.load_model("models:/tierwise-demo-value@champion")
    broken = features.head(3).astype({"recency_days": "object"})
    broken.loc[broken.index[1], "recency_days"] = "yesterday"
    with pytest.raises(TierwiseError, match=r"column 'recency_days': 1 rows are not numbers, e.g. 'yesterday'"):
        model.predict(broken)


def _modelled(scores: pd.DataFrame, features: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` customers of ``features`` that tierwise score gives a churn probability."""
    return features[features["customer_id"].isin(scores.index[scores["churn_probability"].notna()])].head(n)


def _free_port() -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 0))
        except OSError as exc:
            pytest.skip(f"cannot bind a local port: {exc}")
        return probe.getsockname()[1]


@pytest.mark.slow
def test_mlflow_models_serve_answers_with_tierwise_numbers(store, trained, tmp_path):
    scores, features = store
    uri = trained[0]
    rows = _modelled(scores, features, 5)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/tierwise-demo-churn@champion",
         "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)],
        # MLflow starts the server as `uvicorn` from PATH: the one installed beside this Python.
        env={**os.environ, "MLFLOW_TRACKING_URI": uri,
             "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "w"),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as ping:
                    if ping.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the server did not answer /ping within 120 s"
            time.sleep(0.5)
        payload = {"dataframe_split": json.loads(_with_integer_columns(rows).to_json(orient="split", index=False))}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            predictions = np.asarray(json.loads(answer.read())["predictions"], float)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    expected, scored = _expected(scores, rows, "churn_probability")
    assert scored.all()
    np.testing.assert_allclose(predictions, expected, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_spark_udf_scores_spark_integer_columns(store, spark):
    import pyspark
    from pyspark.sql import functions

    scores, features = store
    rows = _with_integer_columns(_modelled(scores, features, 40))
    frame = spark.createDataFrame(rows.drop(columns=["as_of"]))
    assert dict(frame.dtypes)["frequency_orders"] == "bigint"
    model = mlflow.pyfunc.load_model("models:/tierwise-demo-churn@champion")
    names = model.metadata.get_input_schema().input_names()
    udf = mlflow.pyfunc.spark_udf(spark, "models:/tierwise-demo-churn@champion", result_type="double",
                                  env_manager="local")
    out = frame.withColumn("churn_probability", udf(functions.struct(*names))).select(
        "customer_id", "churn_probability").toPandas()
    assert pyspark.__version__.startswith("4.")
    expected, _ = _expected(scores, out, "churn_probability")
    np.testing.assert_allclose(out["churn_probability"].to_numpy(float), expected, rtol=0, atol=1e-9)
