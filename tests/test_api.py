"""The public API for notebooks: tierwise.fit, tierwise.score and tierwise.deliver on DataFrames."""

from __future__ import annotations

import json
import logging
import sqlite3
import warnings
from pathlib import Path

import pandas as pd
import pytest

import tierwise
from cli_helpers import FAST_TRAINING, run_cli
from tierwise.errors import DeliveryError, ExitCode, InputWarning, TierwiseError
from tierwise.inference import SCORE_COLUMNS, ScoringModels
from tierwise.io import write_parquet
from tierwise.progress import PROGRESS_LOGGER, Progress

ROOT = Path(__file__).resolve().parents[1]
DEMO_YAML = ROOT / "configs" / "demo.yaml"
FAST = FAST_TRAINING[1::2]


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.steps: list[Progress] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.steps.append(record.progress)  # type: ignore[attr-defined]


FIT_PROGRESS = _Recorder()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, small_demo):
    """The small demo fitted once from DataFrames, into a store of this module's own (progress recorded)."""
    folder = tmp_path_factory.mktemp("api")
    progress = logging.getLogger(PROGRESS_LOGGER)
    progress.addHandler(FIT_PROGRESS)
    progress.setLevel(logging.INFO)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
            result = tierwise.fit(small_demo.transactions, events=small_demo.events, customers=small_demo.customers,
                                  config=DEMO_YAML, overrides=FAST)
    finally:
        progress.removeHandler(FIT_PROGRESS)
    return folder, result


@pytest.fixture
def store(fitted, monkeypatch):
    folder, _ = fitted
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    return folder


def _frames(demo) -> dict[str, pd.DataFrame]:
    return {"events": demo.events, "customers": demo.customers}


def test_fit_returns_the_models_scoring_uses_and_the_backtest(fitted):
    _, result = fitted
    assert isinstance(result.models, ScoringModels)
    assert str(result.run.churn_version) == "1" and result.run.promoted
    assert result.models.run_id == result.run.run_id
    assert result.backtest is not None and "model" in result.backtest.churn.index
    assert result.config.training.training_snapshots == 2  # the overrides applied


def test_fit_reports_each_snapshot_as_i_of_the_planned_n_and_each_model_fitted(fitted):
    snapshots = [step for step in FIT_PROGRESS.steps if "snapshot" in step.message]
    planned = {step.total for step in snapshots}
    assert len(planned) == 1 and planned.pop() == len(snapshots) > 1, [str(step) for step in snapshots]
    assert [step.done for step in snapshots] == list(range(1, len(snapshots) + 1))
    assert str(snapshots[-1]).endswith(f"({len(snapshots)} of {len(snapshots)})")
    fits = [step.message.split(" on ")[0] for step in FIT_PROGRESS.steps if step.message.startswith("fitting")]
    # The backtest's churn, value, squared-error value and retained-value models, then the three final ones.
    assert fits.count("fitting the churn model") == 2 and fits.count("fitting the retained-value model") == 2
    assert fits.count("fitting the value model") == 3


def test_score_a_dataframe_then_deliver_it(fitted, store, small_demo, tmp_path):
    _, result = fitted
    scores = tierwise.score(result, small_demo.transactions, **_frames(small_demo), as_of="2025-06-01")
    assert list(scores.columns) == SCORE_COLUMNS
    assert (scores["as_of"] == pd.Timestamp("2025-06-01")).all() and scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all() or scores["churn_probability"].isna().any()

    delivery = tierwise.deliver(scores, tmp_path / "run")  # the config the scores were made with
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest == delivery.manifest and manifest["as_of"].startswith("2025-06-01")
    assert len(delivery.outreach) == manifest["row_count"] + manifest["control_row_count"]
    assert (tmp_path / "run" / "report.html").exists() and delivery.previous is None

    # The registered champion, by name, scores the same as the fitted models in hand.
    by_name = tierwise.score("champion", small_demo.transactions, **_frames(small_demo), config=result.config,
                             as_of="2025-06-01")
    pd.testing.assert_frame_equal(by_name.drop(columns="model_version"), scores.drop(columns="model_version"))


def test_the_cli_scores_through_the_same_api(fitted, store, small_demo, small_demo_dir, tmp_path, capsys, monkeypatch):
    _, result = fitted
    config = tmp_path / "demo.json"
    raw = result.config.model_dump(mode="json")
    for table in ("transactions", "events", "customers"):
        raw["data"][table]["path"] = str(small_demo_dir / f"{table}.parquet")
    config.write_text(json.dumps(raw))
    code, _, err = run_cli(["score", "--config", config, "--as-of", "2025-06-01", "--out", tmp_path / "cli"],
                           capsys, monkeypatch)
    assert code == 0, err
    scores = tierwise.score("champion", small_demo.transactions, **_frames(small_demo), config=config,
                            as_of="2025-06-01")
    write_parquet(scores, tmp_path / "api.parquet")  # the same round trip: missing text reads back alike
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cli" / "scores.parquet"),
                                  pd.read_parquet(tmp_path / "api.parquet"))


def test_input_warnings_reach_a_notebook_as_python_warnings(fitted, store, small_demo):
    _, result = fitted
    repeated = pd.concat([small_demo.transactions, small_demo.transactions.head(3)], ignore_index=True)
    with pytest.warns(InputWarning, match="3 rows repeat an earlier row exactly"):
        tierwise.score(result, repeated, **_frames(small_demo), as_of="2025-06-01")


def test_a_config_mapping_without_paths_takes_dataframes(fitted, store, small_demo):
    _, result = fitted
    config = result.config.model_dump(mode="json")
    for table in ("transactions", "events", "customers"):
        del config["data"][table]["path"]
    scores = tierwise.score(result, small_demo.transactions, **_frames(small_demo), config=config, as_of="2025-06-01")
    same = tierwise.score(result, small_demo.transactions, **_frames(small_demo), as_of="2025-06-01")
    pd.testing.assert_frame_equal(scores, same)
    with pytest.raises(TierwiseError, match="transactions: expected a pandas DataFrame, got str"):
        tierwise.score(result, "transactions.csv")  # type: ignore[arg-type]


def test_deliver_refuses_a_frame_it_did_not_score(tmp_path):
    with pytest.raises(TierwiseError, match=r"not a frame tierwise.score returned"):
        tierwise.deliver(pd.DataFrame({"customer_id": ["a"]}), tmp_path / "run", config=DEMO_YAML)


def test_a_database_that_fails_after_the_files_is_a_delivery_error(fitted, store, small_demo, tmp_path, capsys,
                                                                   monkeypatch):
    _, result = fitted
    database = tmp_path / "crm.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE tierwise_outreach (something_else TEXT)")
    scores = tierwise.score(result, small_demo.transactions, **_frames(small_demo), as_of="2025-06-01")
    with pytest.raises(DeliveryError, match=r"the files in .* are written") as failure:
        tierwise.deliver(scores, tmp_path / "run", overrides=[f"export.database_url=sqlite:///{database}"])
    assert failure.value.exit_code == ExitCode.DELIVERY_FAILED == 4
    assert (tmp_path / "run" / "manifest.json").exists()


def test_fit_without_warnings_on_clean_data_and_notebook_shows_none(small_demo):
    from tierwise.api import read_inputs, resolve_config

    config = resolve_config(DEMO_YAML, with_frames=["transactions", "events", "customers"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        inputs = read_inputs(config, transactions=small_demo.transactions, events=small_demo.events,
                             customers=small_demo.customers)
    assert len(inputs.transactions) == len(small_demo.transactions)


def test_explanations_are_shap_explanations_that_shaps_plots_draw(fitted, store, small_demo):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import shap

    from tierwise.api import read_inputs
    from tierwise.inference import churn_explanation, plot_explanation

    _, result = fitted
    inputs = read_inputs(result.config, transactions=small_demo.transactions, events=small_demo.events,
                         customers=small_demo.customers)
    explanation = churn_explanation(inputs, as_of="2025-06-01", config=result.config, models=result.models)
    assert isinstance(explanation, shap.Explanation) and explanation.values.shape[0] == len(explanation.customer_ids)
    assert "Days since the last purchase" in explanation.feature_names
    assert "complaint_days_since_last" in explanation.feature_ids
    complaint = explanation.feature_ids.index("complaint_days_since_last")
    never = np.isnan(explanation.data[:, complaint])
    assert never.any() and set(explanation.display_data[never, complaint]) == {"never"}
    # LightGBM's exact contributions: base value plus contributions is the model's raw log-odds.
    from tierwise.features import build_features

    rows = build_features(inputs, as_of="2025-06-01", config=result.config.features).set_index("customer_id")
    raw = result.models.churn.raw_predict(rows.loc[explanation.customer_ids, explanation.feature_ids])
    np.testing.assert_allclose(1 / (1 + np.exp(-(explanation.base_values + explanation.values.sum(axis=1)))), raw,
                               rtol=1e-9)
    shap.plots.beeswarm(explanation, show=False)
    shap.plots.bar(explanation, show=False)
    figure = plot_explanation(explanation[0], customer_id=explanation.customer_ids[0], churn_probability=0.5)
    assert "churn probability 50%" in figure.get_suptitle()
    plt.close("all")


def test_a_log_without_amounts_predicts_churn_and_counts_value_in_purchases(small_demo, tmp_path, monkeypatch):
    from tierwise.config import config_from_dict, load_config
    from tierwise.errors import ConfigError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    counts_only = small_demo.transactions.drop(columns=["amount"])
    no_amount = [*FAST, "data.transactions.columns.amount=null"]
    result = tierwise.fit(counts_only, events=small_demo.events, customers=small_demo.customers, config=DEMO_YAML,
                          overrides=no_amount)
    features = list(result.models.churn.feature_names_in_)
    assert not [name for name in features if name.startswith(("monetary", "spend", "net_spend", "refund"))], features
    assert result.config.export.currency == "purchases" and not result.config.features.spend
    assert result.backtest.churn.loc["model", "roc_auc"] > 0.7
    scores = tierwise.score(result, counts_only, events=small_demo.events, customers=small_demo.customers,
                            as_of="2025-06-01")
    active = scores[scores["lifecycle"].isin(["new", "active"])]
    # Value counts purchase lines over the value horizon: about what the same customers bought in as long a window.
    horizon = int(result.models.metadata["value_horizon_days"])
    bought = counts_only[(counts_only["timestamp"] >= "2025-06-01")
                         & (counts_only["timestamp"] < pd.Timestamp("2025-06-01") + pd.Timedelta(days=horizon))]
    actual = bought[bought["customer_id"].isin(active["customer_id"])].shape[0]
    assert 0.5 < active["predicted_value"].sum() / actual < 2.0
    reasons = " ".join(active[["reason_1", "reason_2", "reason_3"]].stack().dropna().astype(str))
    assert "spen" not in reasons.lower() and "order value" not in reasons.lower()
    delivered = tierwise.deliver(scores, tmp_path / "out", config=result.config, report=True)
    assert delivered.manifest["currency"] == "purchases"
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert " purchases" in page and "expected purchases over the next" in page and "net spend" not in page
    raw = load_config(DEMO_YAML, no_amount).model_dump(mode="json")
    for money in ({"outreach": {**raw["outreach"], "cost_per_contact": 2.0}}, {"export": {**raw["export"], "currency": "EUR"}},
                  {"outreach": {**raw["outreach"], "rank_by": "expected_net_saving"}}):
        with pytest.raises(ConfigError, match="purchases"):
            config_from_dict({**raw, **money})
