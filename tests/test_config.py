from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from cli_helpers import run_cli
from tierwise.config import demo_config, load_config
from tierwise.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_demo_yaml_is_the_demo_default():
    assert load_config(ROOT / "configs" / "demo.yaml") == demo_config(ROOT / "tierwise-demo" / "data")


def test_dotted_overrides_apply_and_validate():
    config = load_config(ROOT / "configs" / "demo.yaml", ["features.order_grouping=line", "features.event_windows_days=[14, 7]"])
    assert config.features.order_grouping == "line"
    assert config.features.event_windows_days == (7, 14)
    with pytest.raises(ConfigError, match=r"demo.yaml: features.order_grouping: Input should be 'day'"):
        load_config(ROOT / "configs" / "demo.yaml", ["features.order_grouping=weekly"])


def test_cli_path_keeps_columns_and_format():
    config = load_config(ROOT / "configs" / "cdnow.yaml").with_paths(transactions="other.txt")
    assert config.data.transactions.path == "other.txt"
    assert config.data.transactions.format == "whitespace"
    assert config.data.transactions.columns.amount == "dollar_value"


def test_config_is_frozen():
    config = demo_config("demo")
    with pytest.raises(ValidationError, match="frozen"):
        config.features = None  # type: ignore[misc]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line"):
        load_config(bad)


def test_order_id_grouping_needs_a_mapped_column(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {transactions: {path: t.csv}}\nfeatures: {order_grouping: order_id}\n")
    with pytest.raises(ConfigError, match="order_grouping is 'order_id' but data.transactions.columns.order_id is not set"):
        load_config(path)


def _demo_yaml_without_events(tmp_path) -> Path:
    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    del raw["data"]["events"]
    path = tmp_path / "no_events.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_event_types_without_an_events_source_are_refused_in_one_line(tmp_path, capsys, monkeypatch):
    config = _demo_yaml_without_events(tmp_path)
    code, _, err = run_cli(
        ["features", "--config", config, "--as-of", "2025-01-01", "--out", tmp_path / "f.parquet"], capsys, monkeypatch
    )
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {config}: features.event_types lists visit, email_open, email_click, complaint, return, "
        "support_ticket but data.events is not set: add an events source or set event_types: []"
    ]


def test_an_events_source_with_no_event_types_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {transactions: {path: t.csv}, events: {path: e.csv}}\n")
    with pytest.raises(ConfigError, match=r"c.yaml: data.events is set but features.event_types is empty.*list the"):
        load_config(path)


def test_transactions_only_config_needs_no_event_types(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {transactions: {path: t.csv}}\n")
    assert load_config(path).features.event_types == ()


def test_path_flags_are_validated_like_the_file(tmp_path, capsys, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("data: {transactions: {path: t.csv}}\n")
    with pytest.raises(ConfigError, match="data.events is set but features.event_types is empty"):
        load_config(path).with_paths(events="e.csv")
    code, _, err = run_cli(
        ["features", "--config", path, "--events", tmp_path / "e.csv", "--as-of", "2025-01-01", "--out", tmp_path / "f"],
        capsys, monkeypatch,
    )
    assert code == 2 and "data.events is set but features.event_types is empty" in err and "Traceback" not in err
    # The --events flag supplies the source that listed event types need.
    path.write_text("data: {transactions: {path: t.csv}}\nfeatures: {event_types: [visit]}\n")
    (tmp_path / "t.csv").write_text("customer_id,timestamp,amount\n1,2024-01-01,10\n2,2024-01-05,20\n")
    (tmp_path / "e.csv").write_text("customer_id,timestamp,event_type\n1,2024-01-02,visit\n")
    code, _, err = run_cli(
        ["features", "--config", path, "--transactions", tmp_path / "t.csv", "--events", tmp_path / "e.csv",
         "--as-of", "2024-02-01", "--out", tmp_path / "f.parquet"], capsys, monkeypatch,
    )
    assert code == 0, err
    assert pd.read_parquet(tmp_path / "f.parquet")["visit_count_30d"].tolist() == [1, 0]


def test_tier_quotas_and_probability_ranges_must_make_sense(tmp_path):
    """A quota for a tier that does not exist, or a probability written in percent, would change the list silently."""
    path = tmp_path / "c.yaml"
    path.write_text("data: {transactions: {path: t.csv}}\n")
    with pytest.raises(ConfigError, match=r"outreach.tier_quotas: no tier is named 'VIPs'; tiers: \['lost', "):
        load_config(path, ["outreach.tier_quotas={VIPs: 3}"])
    assert load_config(path, ["outreach.tier_quotas={VIP: 3}"]).outreach.tier_quotas == {"VIP": 3}
    percent = "tiers=[{tier: risky, action: call, when: {churn_probability: {min: 60}}}, {tier: rest, action: none}]"
    with pytest.raises(ConfigError, match=r"tier rule 1 \('risky'\): field 'churn_probability' is a share from 0 to 1; "
                                          r"60 would match no one \(write 0.6 for 60%\)"):
        load_config(path, [percent])
    assert load_config(path, [percent.replace("60", "0.6")]).tiers[0].when["churn_probability"].min == 0.6
