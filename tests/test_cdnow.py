"""The real CDNOW log ships in the package and loads through configs/cdnow.yaml."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from tierwise.config import load_config
from tierwise.features import build_features
from tierwise.inputs import inputs_from_frames
from tierwise.io import read_config_inputs, read_table, resolve_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cdnow():
    config = load_config(ROOT / "configs" / "cdnow.yaml")
    return config, read_config_inputs(config)


def test_shipped_file_is_the_published_one():
    digest = hashlib.sha256(resolve_path("tierwise:data/cdnow/CDNOW_master.txt").read_bytes()).hexdigest()
    assert digest == "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef"


def test_loads_all_lines_and_customers(cdnow):
    _, inputs = cdnow
    tx = inputs.transactions
    assert len(tx) == 69_659
    assert tx["customer_id"].nunique() == 23_570
    assert tx["ts"].min() == pd.Timestamp("1997-01-01") and tx["ts"].max() == pd.Timestamp("1998-06-30")
    assert tx["customer_id"].iloc[0] == "00001"  # ids keep their leading zeros


@pytest.mark.parametrize("cut", [None, "19971001", "19970701"])
def test_the_fading_tail_is_not_far_from_the_rest(cdnow, cut):
    """A front-loaded log (one cohort, thinning to 1998-06-30) keeps its tail at every cut."""
    config, _ = cdnow
    raw = read_table(config.data.transactions.path, config.data.transactions.format)
    kept = raw if cut is None else raw[raw["date"] < cut]  # YYYYMMDD text sorts as dates do
    cut_inputs = inputs_from_frames(kept, data=config.data, features=config.features)
    assert len(cut_inputs.transactions) == len(kept)
    assert not [w for w in cut_inputs.warnings if "far" in w]


def test_features_at_the_literature_cutoff(cdnow):
    config, inputs = cdnow
    features = build_features(inputs, as_of="1997-10-01", config=config.features)
    assert len(features) == 23_570  # every customer first bought in Q1 1997
    repeaters = (features["frequency_orders"] > 1).mean()
    assert 0.35 < repeaters < 0.45  # about 40% repeat within the calibration period
    assert features["recency_days"].between(0, 274).all()


def test_a_year_typed_wrong_at_the_end_of_a_cut_is_refused(tmp_path, capsys, monkeypatch):
    """One 1998 row in the calibration period (to 1997-09-30) would move the default as_of to 1998-03-16."""
    from cli_helpers import run_cli

    cut = tmp_path / "cut.txt"
    lines = resolve_path("tierwise:data/cdnow/CDNOW_master.txt").read_text().splitlines()
    kept = [line for line in lines[1:] if line.split()[1] < "19971001"]
    cut.write_text("\n".join([lines[0], *kept, "00001 19980315 1 10.00"]) + "\n")
    code, _, err = run_cli(["features", "--config", ROOT / "configs" / "cdnow.yaml", "--transactions", cut,
                            "--as-of", "1997-10-01", "--out", tmp_path / "f.parquet"], capsys, monkeypatch)
    message = " ".join(err.split())
    assert code == 2 and "Traceback" not in err
    assert (f"column 'date': 1 rows lie more than 30 days after every other row (which end 1997-09-30), "
            f"e.g. '19980315' (data row {len(kept) + 1})") in message
    assert not (tmp_path / "f.parquet").exists()
