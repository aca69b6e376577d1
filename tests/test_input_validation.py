"""Each broken input gives one line naming the file, the column and the problem, and exit code 2."""

from __future__ import annotations

import pandas as pd
import pytest

from cli_helpers import run_cli
from tierwise.config import DataConfig, FeatureConfig, TransactionsSource
from tierwise.errors import InputDataError
from tierwise.inputs import inputs_from_frames

CONFIG = """
data:
  transactions:
    path: unused.csv
    columns: {customer_id: cust, timestamp: day, amount: value}
features:
  event_types: []
"""

GOOD = "cust,day,value\n1,2024-01-01,10.5\n2,2024-01-03,7\n"


def _run_features(tmp_path, capsys, monkeypatch, name: str, content: bytes | str):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    data_file = tmp_path / name
    data_file.write_bytes(content.encode() if isinstance(content, str) else content)
    return run_cli(
        ["features", "--config", config, "--transactions", data_file, "--as-of", "2024-02-01", "--out", tmp_path / "f.parquet"],
        capsys,
        monkeypatch,
    )


def _parquet_bytes(tmp_path) -> bytes:
    path = tmp_path / "real.parquet"
    pd.DataFrame({"cust": ["1"], "day": ["2024-01-01"], "value": [1.0]}).to_parquet(path)
    return path.read_bytes()


CASES = [
    ("missing column", "tx.csv", "cust,day\n1,2024-01-01\n", ["tx.csv", "column 'value'", "missing"]),
    ("bad timestamps", "tx.csv", "cust,day,value\n1,2024-01-01,3\n2,yesterday,4\n3,32/13/2024,5\n",
     ["tx.csv", "column 'day'", "2 rows are not dates", "'yesterday'"]),
    ("bad amounts", "tx.csv", "cust,day,value\n1,2024-01-01,n/a\n2,2024-01-02,4\n",
     ["tx.csv", "column 'value'", "1 rows are not numbers", "'n/a'"]),
    ("null ids", "tx.csv", "cust,day,value\n1,2024-01-01,3\n,2024-01-02,4\n,2024-01-02,5\n",
     ["tx.csv", "column 'cust'", "2 rows have no customer id", "data row 2"]),
    ("empty file", "tx.csv", "", ["tx.csv", "empty"]),
    ("header only", "tx.csv", "cust,day,value\n", ["tx.csv", "no data rows"]),
    ("csv named parquet", "tx.parquet", GOOD, ["tx.parquet", "not a Parquet file"]),
]


@pytest.mark.parametrize(("case", "name", "content", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_error(tmp_path, capsys, monkeypatch, case, name, content, expected):
    code, _, err = _run_features(tmp_path, capsys, monkeypatch, name, content)
    assert code == 2
    assert "Traceback" not in err
    message = " ".join(err.split())
    assert message.startswith("error:")
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_parquet_named_csv_is_refused(tmp_path, capsys, monkeypatch):
    code, _, err = _run_features(tmp_path, capsys, monkeypatch, "tx.csv", _parquet_bytes(tmp_path))
    assert code == 2
    assert "tx.csv" in err and "not a text CSV file" in " ".join(err.split())


def test_good_file_passes(tmp_path, capsys, monkeypatch):
    code, _, err = _run_features(tmp_path, capsys, monkeypatch, "tx.csv", GOOD)
    assert code == 0, err
    features = pd.read_parquet(tmp_path / "f.parquet")
    assert list(features["customer_id"]) == ["1", "2"]


def test_unknown_config_key_names_file_and_key(tmp_path, capsys, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.replace("features:", "features:\n  spend_windowz: [3]"))
    code, _, err = run_cli(["features", "--config", config, "--as-of", "2024-01-01", "--out", tmp_path / "x"], capsys, monkeypatch)
    assert code == 2
    assert "config.yaml: features.spend_windowz: Extra inputs are not permitted" in " ".join(err.split())


def test_bad_as_of(tmp_path, capsys, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    code, _, err = run_cli(["features", "--config", config, "--as-of", "soon", "--out", tmp_path / "x"], capsys, monkeypatch)
    assert code == 2 and "as_of: 'soon' is not a date" in err


def test_suspicious_rows_are_kept_and_counted():
    rows = [("a", "2024-01-05", -5.0), ("a", "2024-01-10", 20.0), ("a", "2024-01-10", 20.0), ("b", "2024-01-11", 3.0)]
    rows += [("c", f"2024-01-{d:02d}", 1.0) for d in range(1, 29)] * 4 + [("c", "1970-01-01", 1.0)]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    data = DataConfig(transactions=TransactionsSource(path="t"))
    inputs = inputs_from_frames(frame, data=data, features=FeatureConfig())
    assert len(inputs.transactions) == len(rows)
    text = " | ".join(inputs.warnings)
    assert "1 refund rows come before any purchase" in text
    assert "85 rows repeat an earlier row" in text
    assert "1 timestamps lie far before the rest of the data" in text


def test_cli_prints_warnings(tmp_path, capsys, monkeypatch):
    code, _, err = _run_features(tmp_path, capsys, monkeypatch, "tx.csv", GOOD + "1,2024-01-01,10.5\n")
    assert code == 0
    assert "warning:" in err and "1 rows repeat an earlier row" in " ".join(err.split())


def test_integer_and_string_ids_are_both_accepted():
    data = DataConfig(transactions=TransactionsSource(path="t"))
    as_int = pd.DataFrame({"customer_id": [1, 2, 10], "timestamp": ["2024-01-01"] * 3, "amount": [1.0, 2.0, 3.0]})
    as_text = as_int.assign(customer_id=["001", "002", "010"])
    assert list(inputs_from_frames(as_int, data=data, features=FeatureConfig()).transactions["customer_id"]) == ["1", "2", "10"]
    assert list(inputs_from_frames(as_text, data=data, features=FeatureConfig()).transactions["customer_id"]) == ["001", "002", "010"]
    with_gap = as_int.assign(customer_id=[1.0, None, 3.0])
    with pytest.raises(InputDataError, match="1 rows have no customer id, e.g. data row 2"):
        inputs_from_frames(with_gap, data=data, features=FeatureConfig())


def _tx_frame(days: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [f"c{i % 3}" for i in range(len(days))], "timestamp": days, "amount": 5.0})


def test_a_future_date_in_a_small_file_is_refused_through_the_cli(tmp_path, capsys, monkeypatch):
    # Four rows from 2024 and one mistyped 2099: today it moves the data end, and every cutoff, to 2099.
    code, _, err = _run_features(tmp_path, capsys, monkeypatch, "tx.csv", GOOD + "3,2024-01-05,4\n4,2024-03-01,2\n5,2099-01-01,10\n")
    message = " ".join(err.split())
    assert code == 2, err
    assert "Traceback" not in err
    assert "tx.csv: column 'day': 1 rows are dated after" in message
    assert "data.max_timestamp sets another limit), e.g. '2099-01-01' (data row 5)" in message


def test_max_timestamp_sets_the_limit_for_transactions_and_events():
    data = DataConfig.model_validate({"transactions": {"path": "t"}, "max_timestamp": "2024-06-30"})
    on_the_day = _tx_frame(["2024-06-01", "2024-06-10", "2024-06-30 23:59"])
    assert len(inputs_from_frames(on_the_day, data=data, features=FeatureConfig()).transactions) == 3
    with pytest.raises(InputDataError, match=r"column 'timestamp': 2 rows are dated after 2024-06-30 \(data.max_timestamp\), "
                                             r"e.g. '2024-07-01' \(data row 3\)"):
        inputs_from_frames(_tx_frame(["2024-06-01", "2024-06-10", "2024-07-01", "2024-07-02"]), data=data, features=FeatureConfig())
    events = pd.DataFrame({"customer_id": ["c0", "c1"], "timestamp": ["2024-06-02", "2024-08-01"], "event_type": "visit"})
    with pytest.raises(InputDataError, match=r"events DataFrame: column 'timestamp': 1 rows are dated after 2024-06-30"):
        inputs_from_frames(on_the_day, events=events, data=data, features=FeatureConfig())


def test_transactions_far_after_the_rest_are_refused_in_any_file_size():
    data = DataConfig(transactions=TransactionsSource(path="t"))
    five_rows = ["2014-01-05", "2014-01-07", "2014-02-05", "2014-03-01", "2019-01-01"]
    with pytest.raises(InputDataError, match=r"1 rows lie far after the rest of the data .* e.g. '2019-01-01' \(data row 5\)"):
        inputs_from_frames(_tx_frame(five_rows), data=data, features=FeatureConfig())
    many_rows = [str(day.date()) for day in pd.date_range("2014-01-01", "2015-12-31", freq="D")] + ["2022-05-01", "2023-01-01"]
    with pytest.raises(InputDataError, match="2 rows lie far after the rest of the data"):
        inputs_from_frames(_tx_frame(many_rows), data=data, features=FeatureConfig())
    vouched = DataConfig.model_validate({"transactions": {"path": "t"}, "max_timestamp": "2023-01-01"})
    assert len(inputs_from_frames(_tx_frame(many_rows), data=vouched, features=FeatureConfig()).transactions) == len(many_rows)


def test_a_thinning_tail_is_not_far_after():
    """Front-loaded logs like CDNOW (one acquisition cohort, fading) keep their tail."""
    data = DataConfig(transactions=TransactionsSource(path="t"))
    weekly_counts = [200 // (1 + week // 4) for week in range(78)]
    days = [str((pd.Timestamp("2021-01-01") + pd.Timedelta(weeks=w)).date()) for w, n in enumerate(weekly_counts) for _ in range(n)]
    inputs = inputs_from_frames(_tx_frame(days), data=data, features=FeatureConfig())
    assert not [w for w in inputs.warnings if "far" in w]
    small = ["2024-01-05", "2024-01-07", "2024-02-05", "2024-03-01", "2024-06-01"]
    assert not [w for w in inputs_from_frames(_tx_frame(small), data=data, features=FeatureConfig()).warnings if "far" in w]


def test_far_before_is_a_warning_in_small_files_too():
    data = DataConfig(transactions=TransactionsSource(path="t"))
    inputs = inputs_from_frames(_tx_frame(["1970-01-01", "2024-01-05", "2024-01-07", "2024-02-05"]), data=data, features=FeatureConfig())
    assert len(inputs.transactions) == 4
    assert inputs.warnings == (
        "transactions DataFrame: column 'timestamp': 1 timestamps lie far before the rest of the data, "
        "e.g. '1970-01-01' (data row 1) (kept)",
    )


def test_customer_attributes_are_opt_in(tmp_path, capsys, monkeypatch):
    # A status or churned_at column joined with no time would leak the label: only listed columns become features.
    customers = tmp_path / "customers.csv"
    customers.write_text("cust,region,status,churned_at\n1,north,churned,2024-03-01\n2,south,active,\n")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.replace("features:", f"  customers:\n    path: {customers}\n    columns: {{customer_id: cust}}\nfeatures:"))
    transactions = tmp_path / "tx.csv"
    transactions.write_text(GOOD)
    out = tmp_path / "f.parquet"
    args = ["features", "--config", config, "--transactions", transactions, "--as-of", "2024-02-01", "--out", out]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    assert [c for c in pd.read_parquet(out).columns if c.startswith("attr_")] == []
    code, _, err = run_cli([*args, "--set", "data.customers.attributes=[region]"], capsys, monkeypatch)
    assert code == 0, err
    assert [c for c in pd.read_parquet(out).columns if c.startswith("attr_")] == ["attr_region"]
