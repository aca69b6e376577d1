"""The synthetic world with an outreach of known effect: coupled, stable, and measured as the labels measure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cli_helpers import run_cli
from tierwise.config import demo_config
from tierwise.errors import InputDataError, TierwiseError
from tierwise.inputs import inputs_from_frames
from tierwise.io import write_demo_data
from tierwise.synthetic import generate_demo_data, simulate_outreach_effect
from tierwise.training._labels import make_labels

N, SEED, AS_OF, END = 1_500, 5, pd.Timestamp("2025-09-01"), pd.Timestamp("2026-03-01")
HORIZONS = {"churn_horizon_days": 90, "value_horizon_days": 120}


@pytest.fixture(scope="module")
def plain():
    return generate_demo_data(N, seed=SEED, end=END)


@pytest.fixture(scope="module")
def listed(plain):
    """Customers who bought before as_of, a quarter of them held out, as a scored list would hold them."""
    buyers = np.sort(plain.transactions.loc[plain.transactions["timestamp"] < AS_OF, "customer_id"].unique())
    chosen = np.random.default_rng(0).choice(buyers, 600, replace=False)
    return pd.DataFrame({"customer_id": chosen, "control": np.arange(chosen.size) % 4 == 0})


def _simulate(listed, effect, **kwargs):
    return simulate_outreach_effect(listed, n_customers=N, seed=SEED, as_of=AS_OF, effect=effect, end=END,
                                    **{**HORIZONS, **kwargs})


@pytest.fixture(scope="module")
def treated(listed):
    return _simulate(listed, 0.5)


def _rows(frame: pd.DataFrame, keep) -> pd.DataFrame:
    return frame[keep].reset_index(drop=True)


def test_same_seed_same_bytes(tmp_path):
    for folder in ("a", "b"):
        write_demo_data(generate_demo_data(300, seed=2), tmp_path / folder)
    for name in ("transactions.parquet", "events.parquet", "customers.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_later_end_only_adds_rows_after_the_earlier_end(plain):
    default = generate_demo_data(N, seed=SEED)
    for table in ("transactions", "events"):
        longer = getattr(plain, table)
        pd.testing.assert_frame_equal(_rows(longer, longer["timestamp"] < pd.Timestamp("2026-01-01")), getattr(default, table))
        assert longer["timestamp"].max() >= pd.Timestamp("2026-02-01")
    pd.testing.assert_frame_equal(plain.customers, default.customers)


def test_history_before_as_of_is_the_world_without_outreach(plain, treated):
    for table in ("transactions", "events"):
        before, world = getattr(plain, table), getattr(treated.data, table)
        pd.testing.assert_frame_equal(_rows(world, world["timestamp"] < AS_OF), _rows(before, before["timestamp"] < AS_OF))
        assert not world.equals(before)  # and after it, the contacted customers did stay longer
    pd.testing.assert_frame_equal(treated.data.customers, plain.customers)


def test_control_and_unlisted_customers_are_untouched(plain, treated, listed):
    contacted = listed.loc[~listed["control"], "customer_id"]
    for table in ("transactions", "events"):
        before, world = getattr(plain, table), getattr(treated.data, table)
        pd.testing.assert_frame_equal(_rows(world, ~world["customer_id"].isin(contacted)),
                                      _rows(before, ~before["customer_id"].isin(contacted)))


def test_no_effect_is_the_world_without_outreach(plain, listed):
    simulation = _simulate(listed, 0.0)
    for table in ("transactions", "events", "customers"):
        pd.testing.assert_frame_equal(getattr(simulation.data, table), getattr(plain, table))
    assert all(figure["effect"] == 0 for figure in simulation.summary["true_effects"]["listed"].values())


def test_retention_rises_with_the_effect_customer_by_customer(treated, listed):
    strong = _simulate(listed, 0.8)
    stronger, outcomes = strong.outcomes, treated.outcomes
    for name in ("retained", "converted", "revenue"):
        # A longer life only keeps more of the same candidate orders, larger and less often returned.
        assert (outcomes[f"{name}_with"] >= outcomes[f"{name}_without"]).all()
        assert (stronger[f"{name}_with"] >= outcomes[f"{name}_with"]).all()
        pd.testing.assert_series_equal(stronger[f"{name}_without"], outcomes[f"{name}_without"])
    effects, stronger_effects = treated.summary["true_effects"]["contacted"], strong.summary["true_effects"]["contacted"]
    for outcome in ("retention", "revenue_per_customer"):
        assert 0 < effects[outcome]["effect"] < stronger_effects[outcome]["effect"]
    lapsed_before = ~outcomes["alive_at_as_of"]
    assert lapsed_before.any() and (outcomes.loc[lapsed_before, "retained_with"] == outcomes.loc[lapsed_before, "retained_without"]).all()


def test_the_truth_is_what_the_labels_measure_in_the_observed_world(treated, listed):
    config = demo_config("unused")
    data = treated.data
    inputs = inputs_from_frames(data.transactions, events=data.events, customers=data.customers,
                                data=config.data, features=config.features)
    labels = make_labels(inputs, as_of=AS_OF, **HORIZONS).set_index("customer_id")
    conversion = make_labels(inputs, as_of=AS_OF, churn_horizon_days=30).set_index("customer_id")
    outcomes = treated.outcomes.set_index("customer_id")
    observed = np.where(outcomes["control"], "without", "with")
    for name, measured in (("retained", 1 - labels["lapsed"]), ("converted", 1 - conversion["lapsed"]),
                           ("revenue", labels["value"])):
        truth = np.where(observed == "with", outcomes[f"{name}_with"], outcomes[f"{name}_without"]).astype(float)
        np.testing.assert_allclose(measured.reindex(outcomes.index).to_numpy(dtype=float), truth, atol=1e-6)
    summary = treated.summary
    assert summary["windows"]["retention"] == {
        "days": 90, "start": "2025-09-01", "end": "2025-11-30",
        "measure": "any purchase (amount >= 0): no lapse, as the churn label",
    }
    assert summary["counts"] == {"listed": 600, "contacted": 450, "control": 150,
                                 "contacted_alive_at_as_of": int(outcomes.loc[~outcomes["control"], "alive_at_as_of"].sum())}


def test_refusals_are_one_line(listed):
    with pytest.raises(TierwiseError, match="end 2025-06-01: must be a date on or after 2026-01-01"):
        generate_demo_data(10, seed=1, end="2025-06-01")
    with pytest.raises(TierwiseError, match="must be at least 0 and below 1"):
        _simulate(listed, 1.0)
    with pytest.raises(InputDataError, match="not customers of this world"):
        simulate_outreach_effect(listed, n_customers=500, seed=SEED, as_of=AS_OF, effect=0.3, **HORIZONS)
    with pytest.raises(TierwiseError, match="before the outcome windows mature"):
        _simulate(listed, 0.3, value_horizon_days=365)
    with pytest.raises(InputDataError, match="listed twice"):
        _simulate(pd.concat([listed, listed.head(1)]), 0.3)


def _score_folder(folder, listed):
    """The files of a tierwise score --out folder that generate --outreach reads."""
    from tierwise.io import _file_entry

    folder.mkdir()
    files = {}
    for name, part in (("outreach.parquet", listed[~listed["control"]]), ("control.parquet", listed[listed["control"]])):
        part.to_parquet(folder / name)
        files[name] = _file_entry(folder / name)
    manifest = {"as_of": AS_OF.date().isoformat(), **HORIZONS, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_cli_generates_the_world_after_a_scored_list(tmp_path, capsys, monkeypatch, listed, treated):
    run = _score_folder(tmp_path / "run", listed)
    out = tmp_path / "after"
    args = ["generate", "--customers", N, "--seed", SEED, "--out", out, "--outreach", run, "--outreach-effect", 0.5,
            "--end", "2026-03-01"]
    code, stdout, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_parquet(out / "transactions.parquet"), treated.data.transactions)
    assert json.loads((out / "outreach_effect.json").read_text()) == json.loads(json.dumps(treated.summary))
    shown = " ".join(stdout.split())
    assert "Simulated effect of the outreach at 2025-09-01" in shown and "retention" in shown


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--outreach-effect", "1"], "error: --outreach-effect: 1.0 is not in [0, 1)"),
        (["--outreach-effect", "0.3", "--customers", "500"], "customer ids that are not customers of this world"),
        (["--outreach-effect", "0.3", "--end", "2026-13-01"], "error: --end: '2026-13-01' is not a date"),
    ],
)
def test_cli_refusals_are_one_line(tmp_path, capsys, monkeypatch, listed, extra, message):
    run = _score_folder(tmp_path / "run", listed)
    args = ["generate", "--customers", N, "--seed", SEED, "--out", tmp_path / "after", "--outreach", run, *extra]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "after").exists()


def test_cli_refuses_a_list_file_without_its_manifest(tmp_path, capsys, monkeypatch, listed):
    listed.to_csv(tmp_path / "outreach.csv", index=False)
    args = ["generate", "--customers", N, "--out", tmp_path / "after", "--outreach", tmp_path / "outreach.csv",
            "--outreach-effect", "0.3"]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no manifest.json beside" in err and "as_of, churn_horizon_days and value_horizon_days" in err
