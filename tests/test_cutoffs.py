"""Cutoffs are whole days written one way, and a cutoff with nothing before it is refused."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from cli_helpers import run_cli
from tierwise.errors import InputDataError
from tierwise.features import normalize_as_of

CONFIG = """
data:
  transactions:
    path: tx.csv
    columns: {customer_id: customer_id, timestamp: ts, amount: amount}
features:
  event_types: []
"""
TRANSACTIONS = "customer_id,ts,amount\nA1,2024-01-05,10.5\nA1,2024-02-05,12.0\nB2,2024-01-07,99.9\nB2,2024-03-01,20\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    (tmp_path / "tx.csv").write_text(TRANSACTIONS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _features(as_of: str, out: str, capsys, monkeypatch):
    return run_cli(["features", "--config", "cfg.yaml", "--as-of", as_of, "--out", out], capsys, monkeypatch)


@pytest.mark.parametrize("as_of", ["01/06/2024", "13/06/2024", "2024-06-01T12:30", "2024-6-1", "20240601", "June 1, 2024"])
def test_only_iso_dates_are_cutoffs_on_the_cli(project, capsys, monkeypatch, as_of):
    code, _, err = _features(as_of, "f.parquet", capsys, monkeypatch)
    assert code == 2
    assert "Traceback" not in err
    assert f"error: as_of: {as_of!r} is not a date in the form YYYY-MM-DD (e.g. 2024-06-01)" in " ".join(err.split())
    assert not (project / "f.parquet").exists()


def test_an_iso_date_is_its_midnight(project, capsys, monkeypatch):
    code, _, err = _features("2024-02-06", "f.parquet", capsys, monkeypatch)
    assert code == 0, err
    features = pd.read_parquet(project / "f.parquet").set_index("customer_id")
    assert features.loc["A1", "frequency_orders"] == 2  # 2024-02-05 is before the cutoff; nothing at 12:30 on the 6th
    assert (features["as_of"] == pd.Timestamp("2024-02-06")).all()


def test_python_dates_are_accepted_when_they_are_whole_days():
    expected = pd.Timestamp("2024-06-01")
    for as_of in (dt.date(2024, 6, 1), dt.datetime(2024, 6, 1), expected, pd.Timestamp("2024-06-01 02:00", tz="Europe/Paris")):
        assert normalize_as_of(as_of) == expected
    for as_of in (dt.datetime(2024, 6, 1, 12, 30), pd.Timestamp("2024-06-01 00:00:01")):
        with pytest.raises(InputDataError, match=r"as_of: .* has a time of day; cutoffs are whole days, e.g. 2024-06-01"):
            normalize_as_of(as_of)
    with pytest.raises(InputDataError, match=r"as_of: '2024-02-30' is not a date"):
        normalize_as_of("2024-02-30")
    with pytest.raises(InputDataError, match="as_of: 20240601 is not a date"):
        normalize_as_of(20240601)  # type: ignore[arg-type]


def test_help_of_every_as_of_says_the_form(capsys, monkeypatch):
    for command in ("features", "score", "explain"):
        code, out, _ = run_cli([command, "--help"], capsys, monkeypatch)
        assert code == 0
        assert "YYYY-MM-DD" in out, command


def test_features_before_all_data_are_refused(project, capsys, monkeypatch):
    code, _, err = _features("2024-01-05", "f.parquet", capsys, monkeypatch)
    assert code == 2
    assert "Traceback" not in err
    assert ("error: as_of 2024-01-05: no customer has a record before it; the data start on 2024-01-05"
            in " ".join(err.split()))
    assert not (project / "f.parquet").exists()


@pytest.mark.parametrize("out", ["outdir", "tx.csv/f.parquet"])
def test_features_out_must_name_a_file_and_is_checked_before_reading(project, capsys, monkeypatch, out):
    (project / "outdir").mkdir()
    (project / "tx.csv").write_text("not,the,columns\n")  # reading it would fail: the --out check must come first
    code, _, err = _features("2024-06-01", out, capsys, monkeypatch)
    message = " ".join(err.split())
    assert code == 2
    assert "Traceback" not in err
    assert message.startswith(f"error: --out: {out}")
    assert "is a folder" in message or "is a file, not a folder" in message
