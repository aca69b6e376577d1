"""The SQL standardization and checks give what the row-wise pandas code gave: tables, warnings and one-line errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import reference_inputs
from tierwise.config import (
    CustomerColumns,
    CustomersSource,
    DataConfig,
    EventsSource,
    FeatureConfig,
    TransactionColumns,
    TransactionsSource,
)
from tierwise.errors import InputDataError
from tierwise.input_sql import transactions_sql
from tierwise.inputs import DuckDBTables, inputs_from_frames
from tierwise.io import read_config_inputs, read_inputs, read_table, write_demo_data


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing text as NaN, so frames from either path compare cell by cell."""
    return frame.astype({c: object for c in frame.columns if frame[c].dtype == object}).fillna(np.nan)


def _assert_same_inputs(new, old) -> None:
    for table in ("transactions", "events", "customers"):
        mine, theirs = getattr(new, table), getattr(old, table)
        if theirs is None:
            assert mine is None, table
            continue
        pd.testing.assert_frame_equal(_canonical(mine), _canonical(theirs), check_dtype=True, obj=table)
    assert list(new.warnings) == list(old.warnings)


def _reference(config, *, raw_reader=read_table):
    data = config.data
    return reference_inputs.inputs_from_frames(
        raw_reader(data.transactions.path, data.transactions.format), data=data, features=config.features,
        events=raw_reader(data.events.path, data.events.format),
        customers=raw_reader(data.customers.path, data.customers.format),
        origins={"transactions": data.transactions.path, "events": data.events.path, "customers": data.customers.path},
    )


def test_demo_parquet_files_standardize_as_pandas_did(small_demo_config):
    _assert_same_inputs(read_config_inputs(small_demo_config), _reference(small_demo_config))


def test_demo_csv_files_standardize_as_pandas_did(small_demo, small_demo_config, tmp_path):
    write_demo_data(small_demo, tmp_path, "csv")
    data = small_demo_config.data.model_copy(
        update={name: getattr(small_demo_config.data, name).model_copy(update={"path": str(tmp_path / f"{name}.csv")})
                for name in ("transactions", "events", "customers")}
    )
    config = small_demo_config.model_copy(update={"data": data})
    _assert_same_inputs(read_config_inputs(config), _reference(config))


def test_demo_frames_standardize_as_pandas_did(small_demo, small_demo_config):
    config = small_demo_config
    args = dict(data=config.data, features=config.features, events=small_demo.events, customers=small_demo.customers)
    _assert_same_inputs(
        inputs_from_frames(small_demo.transactions, **args), reference_inputs.inputs_from_frames(small_demo.transactions, **args)
    )


def _tx(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["cust", "day", "value"])


_GOOD = [("1", "2024-01-01", "10.5"), ("2", "2024-01-03", "7")]
_SOURCE = TransactionsSource(path="tx", columns=TransactionColumns(customer_id="cust", timestamp="day", amount="value"))
_LATE = [(f"c{i % 5}", f"2024-01-{1 + i % 28:02d}", "5") for i in range(1200)]

# Each case: rows of text (as a CSV has them) that the checks refuse, or warn about.
CASES = {
    "missing ids": [("1", "2024-01-01", "3"), ("", "2024-01-02", "4"), ("  ", "2024-01-02", "5")],
    "bad dates": [("1", "2024-01-01", "3"), ("2", "yesterday", "4"), ("3", "32/13/2024", "5")],
    "missing dates": [("1", "2024-01-01", "3"), ("2", "", "4")],
    "not numbers": [("1", "2024-01-01", "n/a"), ("2", "2024-01-02", "inf"), ("3", "2024-01-02", "1_000")],
    "missing amounts": [("1", "2024-01-01", "3"), ("2", "2024-01-02", "")],
    "too large": [("1", "2024-01-01", "3"), ("2", "2024-01-02", "-2e13")],
    "future": [("1", "2024-01-01", "3"), ("2", "2999-01-02", "4")],
    "far after": [("1", "2024-01-01", "3"), ("2", "2024-01-02", "4"), ("3", "2024-01-03", "4"), ("4", "2030-01-03", "4")],
    "isolated tail": _LATE + [("c1", "2024-03-15", "5"), ("c2", "2024-03-20", "5")],
    "warnings": [("a", "2024-01-05", "-5"), ("a", "2024-01-10", "20"), ("a", "2024-01-10", "20"), ("b", "2024-01-11", "3")]
    + [("c", f"2024-01-{d:02d}", "1") for d in range(1, 29)] * 2 + [("c", "1970-01-01", "1")],
}


def _outcome(build) -> tuple[str, object]:
    try:
        inputs = build()
    except InputDataError as exc:
        return "error", str(exc)
    return "warnings", list(inputs.warnings)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_each_check_says_what_pandas_said_from_csv_and_parquet(tmp_path, case, file_format):
    path = tmp_path / f"tx.{file_format}"
    frame = _tx(CASES[case])
    if file_format == "csv":
        frame.to_csv(path, index=False)
    else:  # typed columns, as Parquet files usually have them
        frame.assign(day=pd.to_datetime(frame["day"], errors="coerce"), value=pd.to_numeric(frame["value"], errors="coerce")).to_parquet(path)
    data = DataConfig(transactions=_SOURCE.model_copy(update={"path": str(path)}))
    mine = _outcome(lambda: read_inputs(data, FeatureConfig()))
    theirs = _outcome(lambda: reference_inputs.inputs_from_frames(
        read_table(path), data=data, features=FeatureConfig(), origins={"transactions": str(path)}))
    assert mine == theirs
    assert mine[1], "every case is refused or warned about"


def test_events_and_customers_checks_say_what_pandas_said():
    data = DataConfig(
        transactions=TransactionsSource(path="t"), events=EventsSource(path="e"),
        customers=CustomersSource(path="c", columns=CustomerColumns(signup_date="signup"), attributes=("region", "Region!")),
    )
    tx = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": ["2024-01-01", "2024-01-02"], "amount": [1.0, 2.0]})
    events = pd.DataFrame({"customer_id": [1.0, 2.0, 2.0, 3.0], "timestamp": ["2024-01-01"] * 4,
                           "event_type": ["visit", "odd", "odd", "rare"]})
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup": ["2023-01-01", None], "region": ["x", None],
                              "Region!": ["y", "z"]})
    features = FeatureConfig(event_types=("visit",))
    cases = [
        dict(events=events, customers=customers),  # attribute names collide
        dict(events=events.assign(customer_id=[1.0, 2.5, 2.0, 3.0])),  # fractional ids
        dict(events=events.assign(event_type=["visit", " ", "odd", "x"])),  # missing event type
        dict(events=events),  # unknown types: a warning
        dict(events=events, customers=customers.assign(customer_id=["a", "a"]).drop(columns="Region!")),  # repeated ids
        dict(events=events, customers=customers.assign(signup=["2023-01-01", "soon"]).drop(columns="Region!")),
    ]
    for case in cases:
        if "customers" in case and "Region!" not in case["customers"]:
            case_data = data.model_copy(update={"customers": data.customers.model_copy(update={"attributes": ("region",)})})
        else:
            case_data = data
        mine = _outcome(lambda: inputs_from_frames(tx, data=case_data, features=features, **case))
        theirs = _outcome(lambda: reference_inputs.inputs_from_frames(tx, data=case_data, features=features, **case))
        assert mine == theirs
        assert mine[1]


def test_max_timestamp_and_typed_frames_say_what_pandas_said():
    # Examples of zoned timestamps are written in UTC (pandas wrote them in the column's zone, which DuckDB drops).
    data = DataConfig(transactions=TransactionsSource(path="t"), max_timestamp=dt.date(2024, 6, 30))
    aware = pd.DataFrame({"customer_id": [1, 2, 3], "timestamp": pd.to_datetime(
        ["2024-01-01T05:00:00+02:00", "2024-07-01T01:00:00+02:00", "2024-08-01T00:00:00+00:00"], utc=True
    ), "amount": [1, 2, 3]})
    for frame in (aware, aware.assign(amount=[True, False, True]), aware.assign(amount=[1.0, np.nan, 2.0])):
        mine = _outcome(lambda: inputs_from_frames(frame, data=data, features=FeatureConfig()))
        theirs = _outcome(lambda: reference_inputs.inputs_from_frames(frame, data=data, features=FeatureConfig()))
        assert mine == theirs


def test_canonical_select_is_plain_sql_over_a_named_relation():
    engine = DuckDBTables()
    raw = engine.register_frame("raw_tx", _tx(_GOOD))
    sql = transactions_sql(raw, _SOURCE, origin="tx", dialect=engine.dialect)
    assert sql.endswith("FROM raw_tx")
    assert engine.rows(f"SELECT customer_id, amount, line_no FROM ({sql}) s ORDER BY line_no") == [("1", 10.5, 0), ("2", 7.0, 1)]


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_an_events_file_with_only_a_header_is_refused(tmp_path, file_format):
    transactions, events = tmp_path / f"tx.{file_format}", tmp_path / f"events.{file_format}"
    header_only = pd.DataFrame({"customer_id": pd.Series(dtype=str), "timestamp": pd.Series(dtype=str),
                                "event_type": pd.Series(dtype=str)})
    rows = pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "amount": [1.0]})
    if file_format == "csv":
        rows.to_csv(transactions, index=False)
        header_only.to_csv(events, index=False)
    else:
        rows.to_parquet(transactions)
        header_only.to_parquet(events)
    data = DataConfig(transactions=TransactionsSource(path=str(transactions)), events=EventsSource(path=str(events)))
    with pytest.raises(InputDataError, match=f"^{events}: no data rows"):
        read_inputs(data, FeatureConfig(event_types=("visit",)))


def test_csv_rows_are_numbered_in_file_order_beyond_one_chunk(tmp_path):
    path = tmp_path / "tx.csv"
    rows = [(f"c{i}", "2024-01-01", "1") for i in range(150_000)]
    rows[123_456] = ("c1", "2024-01-01", "n/a")
    _tx(rows).to_csv(path, index=False)
    data = DataConfig(transactions=_SOURCE.model_copy(update={"path": str(path)}))
    with pytest.raises(InputDataError, match=r"1 rows are not numbers, e\.g\. 'n/a'"):
        read_inputs(data, FeatureConfig())
    rows[123_456] = ("", "2024-01-01", "1")
    _tx(rows).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="1 rows have no customer id, e.g. data row 123457$"):
        read_inputs(data, FeatureConfig())


def test_a_whitespace_file_read_as_csv_gets_a_hint(tmp_path):
    path = tmp_path / "tx.txt"
    path.write_text("customer_id timestamp amount\na 2024-01-01 3\nb\t2024-01-02\t4\n")
    data = DataConfig(transactions=TransactionsSource(path=str(path)))
    with pytest.raises(InputDataError, match="has: customer_id timestamp amount; it looks separated by spaces or tabs, "
                                             "not commas: set format: whitespace$"):
        read_inputs(data, FeatureConfig())
    whitespace = data.transactions.model_copy(update={"format": "whitespace"})
    read_inputs(data.model_copy(update={"transactions": whitespace}), FeatureConfig())


@pytest.mark.parametrize("file_format", ["csv", "whitespace"])
def test_a_headerless_file_reads_by_position_and_equals_the_same_file_with_a_header(tmp_path, file_format):
    separator = "," if file_format == "csv" else " "
    lines = ["a 2024-01-01 3", "b 2024-01-02 4.5", "a 2024-02-01 1"]
    headed, headerless = tmp_path / "headed.txt", tmp_path / "headerless.txt"
    headed.write_text("\n".join(["customer_id timestamp amount", *lines]).replace(" ", separator) + "\n")
    headerless.write_text("\n".join(lines).replace(" ", separator) + "\n")
    by_name = TransactionsSource(path=str(headed), format=file_format)
    by_position = TransactionsSource(path=str(headerless), format=file_format, header=False, columns=TransactionColumns(
        customer_id="column_1", timestamp="column_2", amount="column_3"))
    named = read_inputs(DataConfig(transactions=by_name), FeatureConfig())
    positional = read_inputs(DataConfig(transactions=by_position), FeatureConfig())
    pd.testing.assert_frame_equal(positional.transactions, named.transactions)
    assert len(positional.transactions) == 3  # the first line is data, not lost as a header


def test_a_headerless_file_read_with_a_header_says_to_set_header_false(tmp_path):
    # Read with header: true, the first data row became the column names and the error only listed them.
    path = tmp_path / "tx.csv"
    path.write_text("a,2024-01-01,3\nb,2024-01-02,4\n")
    with pytest.raises(InputDataError, match=r"the file has: a, 2024-01-01, 3; its first line looks like data "
                                             r"\('2024-01-01'\), not column names: for a file without a header line, "
                                             r"set header: false and name the columns by position \(column_1"):
        read_inputs(DataConfig(transactions=TransactionsSource(path=str(path))), FeatureConfig())
    unmapped = TransactionsSource(path=str(path), header=False)
    with pytest.raises(InputDataError, match="column 'customer_id' .* the file has: column_1, column_2, column_3$"):
        read_inputs(DataConfig(transactions=unmapped), FeatureConfig())


def test_header_false_on_a_parquet_file_is_refused(tmp_path):
    path = tmp_path / "tx.parquet"
    pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "amount": [1.0]}).to_parquet(path)
    with pytest.raises(InputDataError, match="header: false is for text files"):
        read_inputs(DataConfig(transactions=TransactionsSource(path=str(path), header=False)), FeatureConfig())
