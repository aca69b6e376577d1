"""Memory-bounded training (sampled snapshots) and LightGBM threads that are not frozen into the models."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from tierwise.config import demo_config
from tierwise.io import read_config_inputs, write_demo_data
from tierwise.models import model_features, restore_model, saved_metadata
from tierwise.synthetic import generate_demo_data
from tierwise.training import ChurnModel
from tierwise.training._snapshots import SnapshotBuilder, plan_snapshots, stratified_sample


def test_a_stratified_sample_keeps_every_stratum_share_and_is_the_same_each_time():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(10_000)], "lapsed": rng.random(10_000) < 0.23})
    sample = stratified_sample(rows, rows["lapsed"], 2_000, salt="7|churn|2025-01-01")
    assert abs(len(sample) - 2_000) <= 1
    assert abs(sample["lapsed"].mean() - rows["lapsed"].mean()) < 1 / 2_000 + 1e-12
    again = stratified_sample(rows, rows["lapsed"], 2_000, salt="7|churn|2025-01-01")
    pd.testing.assert_frame_equal(sample, again)
    other = stratified_sample(rows, rows["lapsed"], 2_000, salt="7|churn|2025-02-01")
    assert set(other["customer_id"]) != set(sample["customer_id"])  # each snapshot draws its own customers
    assert stratified_sample(rows, rows["lapsed"], 10_000, salt="x") is rows  # small enough: whole


@pytest.fixture(scope="module")
def config_of_3000(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo3000")
    write_demo_data(generate_demo_data(3_000, seed=5), folder)
    return demo_config(folder)


def test_snapshots_above_the_cap_are_sampled_by_label_and_only_one_cutoff_of_features_stays(config_of_3000):
    training = config_of_3000.training.model_copy(update={"max_rows_per_snapshot": 1_000})
    inputs = read_config_inputs(config_of_3000)
    capped = SnapshotBuilder(inputs, config_of_3000.features, training)
    whole = SnapshotBuilder(inputs, config_of_3000.features, training.model_copy(update={"max_rows_per_snapshot": None}))
    plan = plan_snapshots(inputs, training, horizon_days=training.churn_horizon_days, for_backtest=True)
    for cutoff in plan.train:
        full, sample = whole.churn_rows(cutoff), capped.churn_rows(cutoff)
        if len(full) <= 1_000:
            assert len(sample) == len(full)
            continue
        assert abs(len(sample) - 1_000) <= 4  # one rounding per stratum
        assert abs(sample["lapsed"].mean() - full["lapsed"].mean()) < 0.005
        assert set(sample["customer_id"]) <= set(full["customer_id"])
        merged = sample.merge(full, on="customer_id", suffixes=("", "_full"))
        assert (merged["lapsed"] == merged["lapsed_full"]).all()  # labels are the customers' own
    assert capped.sampled  # the 3,000-customer demo has snapshots above 1,000 rows
    assert len(capped._features) == 1
    horizon = training.churn_horizon_days
    retained = capped.retained_value_rows(plan.train[-1], horizon)
    stayed = whole.churn_rows(plan.train[-1]).query("lapsed == 0")["customer_id"]
    assert set(retained["customer_id"]) <= set(stayed)
    assert len(retained) >= min(1_000, len(stayed)) - 4  # sampled once from all who stayed, not a sample of samples


@pytest.fixture(scope="module")
def churn_rows(config_of_3000):
    inputs = read_config_inputs(config_of_3000)
    training = config_of_3000.training
    builder = SnapshotBuilder(inputs, config_of_3000.features, training)
    plan = plan_snapshots(inputs, training, horizon_days=training.churn_horizon_days, for_backtest=False)
    train = builder.stacked(plan.train, builder.churn_rows)
    valid = builder.churn_rows(plan.validation)
    columns = model_features(inputs, config_of_3000.features)
    return train[columns], train["lapsed"], valid[columns], valid["lapsed"]


def _fitted(rows, threads: int) -> ChurnModel:
    X, y, X_valid, y_valid = rows
    return ChurnModel(seed=3, num_threads=threads).fit(X, y, X_valid=X_valid, y_valid=y_valid)


def test_predictions_use_all_cores_whatever_thread_count_the_model_was_saved_with(churn_rows, monkeypatch):
    model = _fitted(churn_rows, threads=1)
    assert "[num_threads: 1]" in model.booster_.model_to_string()  # what LightGBM writes into the saved model
    restored = restore_model(lgb.Booster(model_str=model.booster_.model_to_string()), saved_metadata(model, "churn"))
    seen = []
    predict = lgb.Booster.predict

    def spy(self, data, *args, **kwargs):
        seen.append(kwargs.get("num_threads"))
        return predict(self, data, *args, **kwargs)

    monkeypatch.setattr(lgb.Booster, "predict", spy)
    X = churn_rows[2]
    probabilities = restored.predict_proba(X)[:, 1]
    assert seen == [0]  # 0: LightGBM's default, every core of the machine that scores
    monkeypatch.setattr(lgb.Booster, "predict", predict)
    one_thread = restored.booster_.predict(restored.prepare(X), num_iteration=restored.best_iteration_, num_threads=1)
    two_threads = restored.booster_.predict(restored.prepare(X), num_iteration=restored.best_iteration_, num_threads=2)
    np.testing.assert_array_equal(one_thread, two_threads)  # the thread count never changes a prediction
    np.testing.assert_array_equal(probabilities, model.predict_proba(X)[:, 1])


def test_training_threads_come_from_the_caller_and_give_the_same_trees(churn_rows):
    one, two = _fitted(churn_rows, threads=1), _fitted(churn_rows, threads=2)
    assert one.get_params()["num_threads"] == 1 and two.get_params()["num_threads"] == 2

    def trees(model: ChurnModel) -> str:
        return model.booster_.model_to_string().split("\nparameters:")[0]

    assert trees(one) == trees(two)
