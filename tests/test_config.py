from __future__ import annotations

from pathlib import Path

import pytest

from pydantic import ValidationError

from tierwise.config import demo_config, load_config
from tierwise.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_demo_yaml_is_the_demo_default():
    assert load_config(ROOT / "configs" / "demo.yaml") == demo_config("demo")


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
