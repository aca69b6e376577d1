"""Risk bands mean something on any data, and tiers that say "at risk" hold customers riskier than the base rate.

Observed lapse: no purchase in the window after as_of, from the full log (make_labels).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli_helpers import run_cli
from tierwise.config import TierwiseConfig, load_config
from tierwise.inputs import inputs_from_frames
from tierwise.io import read_config_inputs, read_table
from tierwise.training import make_labels

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--set", "training.training_snapshots=2", "--set", "training.churn_model.max_rounds=40",
        "--set", "training.value_model.max_rounds=40"]
MIN_CUSTOMERS_OBSERVED = 5  # fewer: one customer's luck decides the observed rate
AT_RISK = {"activity_class": {"lapsing", "drifting"}, "risk_band": {"high", "medium"}}


def at_risk_tiers(config: TierwiseConfig) -> list[str]:
    """Tiers whose rule asks for lapsing or drifting customers, or high or medium risk, and nothing else there."""
    return [rule.tier for rule in config.tiers
            if any(field in rule.when and set(rule.when[field]) <= values for field, values in AT_RISK.items())]


def tier_lapse_rates(scores: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Per tier of the modelled customers: customers, mean predicted and observed lapse rate."""
    modelled = scores[scores["churn_probability"].notna()].merge(labels[["customer_id", "lapsed"]], on="customer_id")
    return modelled.groupby("tier").agg(
        customers=("customer_id", "size"), predicted=("churn_probability", "mean"), observed=("lapsed", "mean"),
    )


def check_at_risk_tiers_keep_their_promise(
    scores: pd.DataFrame, labels: pd.DataFrame, config: TierwiseConfig
) -> pd.DataFrame:
    """Every at-risk tier that holds customers is above the base rate, predicted and observed."""
    modelled = scores[scores["churn_probability"].notna()].merge(labels[["customer_id", "lapsed"]], on="customer_id")
    base_predicted, base_observed = modelled["churn_probability"].mean(), modelled["lapsed"].mean()
    rates = tier_lapse_rates(scores, labels)
    at_risk = [tier for tier in at_risk_tiers(config) if tier in rates.index]
    assert len(at_risk), "no at-risk tier holds customers"
    for tier in at_risk:
        row = rates.loc[tier]
        assert row["predicted"] > base_predicted, (tier, row.to_dict(), base_predicted)
        if row["customers"] >= MIN_CUSTOMERS_OBSERVED:
            assert row["observed"] > base_observed, (tier, row.to_dict(), base_observed)
    return rates.assign(base_predicted=base_predicted, base_observed=base_observed)


def _train_and_score(config_path, tmp_path, capsys, monkeypatch, *, as_of: str, extra: list[str]) -> pd.DataFrame:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["train", "--config", config_path, *FAST, *extra], capsys, monkeypatch)
    assert code == 0, err
    code, _, err = run_cli(["score", "--config", config_path, "--out", tmp_path / "out", "--as-of", as_of, *extra],
                           capsys, monkeypatch)
    assert code == 0, err
    return pd.read_parquet(tmp_path / "out" / "scores.parquet")


def test_at_risk_tiers_are_riskier_than_the_base_rate_on_the_demo(small_demo_dir, small_demo_config, tmp_path, capsys,
                                                                  monkeypatch):
    """Scored at 2025-10-03, whose 90-day window the demo log (to 2026-01-01) observes."""
    config_path = tmp_path / "demo.json"
    config_path.write_text(json.dumps(small_demo_config.model_dump(mode="json")))
    cut = tmp_path / "cut"
    cut.mkdir()
    transactions = pd.read_parquet(small_demo_dir / "transactions.parquet")
    transactions[transactions["timestamp"] < "2025-10-03"].to_parquet(cut / "transactions.parquet")
    scores = _train_and_score(config_path, tmp_path, capsys, monkeypatch, as_of="2025-10-03",
                              extra=["--transactions", cut / "transactions.parquet"])
    labels = make_labels(read_config_inputs(small_demo_config), as_of="2025-10-03", churn_horizon_days=90)
    check_at_risk_tiers_keep_their_promise(scores, labels, small_demo_config)
    bands = scores["risk_band"].value_counts(normalize=True)
    assert bands.max() <= 0.55, bands.to_dict()


@pytest.mark.slow
def test_cdnow_bands_spread_and_at_risk_tiers_lapse_more_over_the_39_week_holdout(tmp_path, capsys, monkeypatch):
    """CDNOW cut at 1997-10-01 (70-84% lapse): no band holds most customers; observed to 1998-06-30."""
    config_path = ROOT / "configs" / "cdnow.yaml"
    config = load_config(config_path)
    raw = read_table(config.data.transactions.path, config.data.transactions.format)
    cut = tmp_path / "cut.txt"
    raw[raw["date"] < "19971001"].to_csv(cut, sep=" ", index=False)  # YYYYMMDD text sorts as dates do
    scores = _train_and_score(config_path, tmp_path, capsys, monkeypatch, as_of="1997-10-01",
                              extra=["--transactions", cut])
    modelled = scores[scores["churn_probability"].notna()]
    bands = modelled["risk_band"].value_counts(normalize=True)
    assert bands.max() <= 0.55, bands.to_dict()
    full = inputs_from_frames(raw, data=config.data, features=config.features)
    holdout_days = (pd.Timestamp("1998-07-01") - pd.Timestamp("1997-10-01")).days  # the 39-week holdout
    labels = make_labels(full, as_of="1997-10-01", churn_horizon_days=holdout_days)
    check_at_risk_tiers_keep_their_promise(scores, labels, config)


def test_relative_bands_split_a_log_where_most_lapse_and_a_spend_dip_alone_is_not_drift():
    from tierwise.config import ScoringConfig
    from tierwise.inference import activity_classes, risk_bands

    probability = pd.Series([0.95, 0.93, 0.91, 0.90, 0.88, 0.86, 0.85, 0.80, 0.70, 0.62, None])  # mean 0.84
    relative = risk_bands(probability, config=ScoringConfig())
    assert list(relative) == ["high", "high", "medium", "medium", "medium", "low", "low", "low", "low", "low", None]
    absolute = risk_bands(probability, config=ScoringConfig(risk_bands="absolute"))
    assert set(absolute.dropna()) == {"high"}  # the fixed 0.6 calls every one of them high
    spend_trend = pd.Series([0.0] * 7 + [-0.5, -0.5, 0.0, -0.9])
    classes = activity_classes(relative, probability, spend_trend, pd.Series([5] * 11), config=ScoringConfig())
    assert list(classes[7:9]) == ["loyal", "loyal"]  # spend down, but less likely to lapse than the average
    assert classes.iloc[-1] is None
