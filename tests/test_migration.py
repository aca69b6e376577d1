"""Tier migration: the previous run, previous_tier and tier_since, the movers, and the report's "Who moved"."""

from __future__ import annotations

import contextlib
import html
import io
import json
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest

from cli_helpers import run_cli, train_into_new_store
from tierwise.config import TierRule, config_from_dict
from tierwise.monitoring import (
    MOVERS_COLUMNS,
    NEW_TO_RUN,
    PreviousRun,
    at_risk_tiers,
    carry_tiers,
    migration_matrix,
    moves_that_matter,
    rule_is_at_risk,
    tier_movers,
)
from tierwise.reporting import build_report

DEMO_AT_RISK = ["VIP at risk", "important, lapsing", "lapsing", "drifting"]


def test_at_risk_defaults_to_rules_that_only_admit_lapsing_drifting_or_high_risk(small_demo_config):
    assert at_risk_tiers(small_demo_config.tiers) == DEMO_AT_RISK
    rule = TierRule.model_validate
    assert rule_is_at_risk(rule({"tier": "hot", "action": "call", "when": {"risk_band": ["high"]}}))
    assert not rule_is_at_risk(rule({"tier": "warm", "action": "mail", "when": {"risk_band": ["high", "medium"]}}))
    assert not rule_is_at_risk(rule({"tier": "mixed", "action": "x", "when": {"activity_class": ["lapsing", "loyal"]}}))
    assert not rule_is_at_risk(rule({"tier": "odds", "action": "x", "when": {"churn_probability": {"min": 0.7}}}))
    assert rule_is_at_risk(rule({"tier": "odds", "action": "x", "at_risk": True, "when": {"churn_probability": {"min": 0.7}}}))
    assert not rule_is_at_risk(rule({"tier": "calm", "action": "x", "at_risk": False, "when": {"risk_band": ["high"]}}))
    raw = json.loads(small_demo_config.model_dump_json())
    raw["tiers"][0]["at_risk"] = "sometimes"
    with pytest.raises(Exception, match="at_risk"):
        config_from_dict(raw)


def _scores(rows: list[tuple], as_of: str = "2025-02-01") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "tier", "churn_probability", "value_at_risk"])
    return frame.assign(as_of=pd.Timestamp(as_of), tier_action="act", predicted_value=100.0,
                        reason_1="No purchase for 94 days", reason_2=None, reason_3=None)


def _previous(rows: list[tuple], as_of: str = "2025-01-01") -> PreviousRun:
    tiers = pd.DataFrame(rows, columns=["customer_id", "tier", "tier_since"])
    tiers["tier_since"] = pd.to_datetime(tiers["tier_since"]).astype("datetime64[us]")
    return PreviousRun(pd.Timestamp(as_of), "folder prev", tiers)


def test_movers_are_exactly_those_who_entered_an_at_risk_tier_from_one_that_was_not():
    scores = carry_tiers(_scores([
        ("a", "VIP at risk", 0.8, 400.0),  # VIP -> VIP at risk: a mover
        ("b", "drifting", 0.5, 50.0),  # loyal -> drifting: a mover
        ("c", "lapsing", 0.9, 90.0),  # drifting -> lapsing: at risk already, not a mover
        ("d", "lapsing", 0.7, 70.0),  # new to the run: not a mover
        ("e", "loyal", 0.1, 5.0),  # lapsing -> loyal: moved out of risk
        ("f", "VIP", 0.2, 40.0),  # stayed
        ("g", "drifting", 0.6, 300.0),  # potential -> drifting, held out as control
    ]), _previous([("a", "VIP", None), ("b", "loyal", "2024-10-01"), ("c", "drifting", "2024-12-01"),
                   ("e", "lapsing", None), ("f", "VIP", "2024-11-01"), ("g", "potential", None), ("z", "VIP", None)]))
    outreach = pd.DataFrame({"customer_id": ["c", "g", "a"], "control": [False, True, False], "list_position": [1, 1, 2]})
    movers = tier_movers(scores, outreach, DEMO_AT_RISK)
    assert list(movers.columns) == MOVERS_COLUMNS
    assert list(movers["customer_id"]) == ["a", "g", "b"]  # most value at risk first
    assert list(movers["previous_tier"]) == ["VIP", "potential", "loyal"]
    assert list(movers["tier"]) == ["VIP at risk", "drifting", "drifting"]
    assert list(movers["on_list"]) == [True, True, False] and list(movers["control"]) == [False, True, False]
    assert movers["list_position"].tolist() == [2, 1, pd.NA]
    assert (movers["tier_since"] == pd.Timestamp("2025-02-01")).all()  # they all just entered their tier
    moves = moves_that_matter(scores, DEMO_AT_RISK)
    assert moves[["previous_tier", "tier", "customers", "value_at_risk"]].values.tolist() == [
        ["VIP", "VIP at risk", 1, 400.0], ["potential", "drifting", 1, 300.0], ["loyal", "drifting", 1, 50.0]]
    # tier_since: carried while the tier stays (f keeps 2024-11-01), this as_of on a change or for a newcomer.
    since = dict(zip(scores["customer_id"], scores["tier_since"]))
    assert since["f"] == pd.Timestamp("2024-11-01") and since["d"] == since["e"] == pd.Timestamp("2025-02-01")
    assert scores.loc[scores["customer_id"] == "d", "previous_tier"].isna().all()
    matrix = migration_matrix(scores, ["VIP at risk", "VIP", "lapsing", "drifting", "loyal", "potential"])
    assert list(matrix.index) == ["VIP", "lapsing", "drifting", "loyal", "potential", NEW_TO_RUN]  # rule order
    assert matrix.loc["VIP", "VIP at risk"] == 1 and matrix.loc[NEW_TO_RUN, "lapsing"] == 1
    assert matrix.to_numpy().sum() == len(scores)


def test_without_a_previous_run_tier_since_is_unknown():
    scores = carry_tiers(_scores([("a", "VIP", 0.1, 1.0)]), None)
    assert scores["previous_tier"].isna().all() and scores["tier_since"].isna().all()
    assert tier_movers(scores, pd.DataFrame(columns=["customer_id", "control", "list_position"]), DEMO_AT_RISK).empty


@pytest.fixture(scope="module")
def trained(small_demo_dir, tmp_path_factory):
    """Train once on the small demo into a temporary MLflow store."""
    folder = tmp_path_factory.mktemp("migration")
    uri, config_path = train_into_new_store(folder, small_demo_dir)
    return folder, uri, config_path


@pytest.fixture
def store(trained, monkeypatch):
    folder, uri, config_path = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(folder)
    return config_path


def _score(store, out, as_of, capsys, monkeypatch, *extra) -> str:
    code, _, err = run_cli(["score", "--config", store, "--out", out, "--as-of", as_of, *extra], capsys, monkeypatch)
    assert code == 0, err
    return " ".join(err.split())


def _edit_manifest(folder, **changes) -> None:
    path = folder / "manifest.json"
    manifest = {**json.loads(path.read_text()), **changes}
    path.write_text(json.dumps({k: v for k, v in manifest.items() if v is not None}))


@pytest.fixture(scope="module")
def runs(trained, tmp_path_factory):
    """The small demo scored at 2025-11-01, 2025-12-01 and 2026-01-01 into sibling folders, with decoys beside them."""
    folder, uri, config_path = trained
    root = tmp_path_factory.mktemp("runs")
    lines = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        from tierwise import cli

        for name, as_of in (("nov", "2025-11-01"), ("dec", "2025-12-01")):
            lines[name] = _run_quiet(cli, patch, ["score", "--config", config_path, "--out", root / name, "--as-of", as_of])
        # Decoys: later than dec, earlier than jan, but of another data set, or without the data set recorded.
        shutil.copytree(root / "dec", root / "other-shop")
        _edit_manifest(root / "other-shop", as_of="2025-12-15", data_name="another shop")
        shutil.copytree(root / "nov", root / "old-tierwise")
        _edit_manifest(root / "old-tierwise", as_of="2025-12-20", data_source_signature=None)
        lines["jan"] = _run_quiet(cli, patch, ["score", "--config", config_path, "--out", root / "jan", "--as-of",
                                               "2026-01-01"])
    return root, lines


def _run_quiet(cli, patch, args) -> str:
    """Run the CLI in a module fixture, where capsys is not available; returns its stderr on one line."""
    patch.setattr("sys.argv", ["tierwise", *map(str, args)])
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()), \
            pytest.raises(SystemExit) as done:
        cli.main()
        raise SystemExit(0)
    assert done.value.code in (0, None), stderr.getvalue()
    return " ".join(stderr.getvalue().split())


def _read(folder, name="scores.parquet") -> pd.DataFrame:
    return pd.read_parquet(folder / name)


def test_each_run_names_its_previous_run_the_latest_earlier_sibling_of_the_same_data_set(runs):
    root, lines = runs
    assert "No previous run: no earlier run of this data set beside" in lines["nov"]
    assert f"Previous run: {root / 'nov'} (as of 2025-11-01)" in lines["dec"]
    assert f"Previous run: {root / 'dec'} (as of 2025-12-01); skipped 2 earlier run(s)" in lines["jan"]
    assert "old-tierwise (it does not record its data set" in lines["jan"]
    assert "other-shop (it scored another data set ('another shop'" in lines["jan"]
    manifest = json.loads((root / "jan" / "manifest.json").read_text())
    assert manifest["previous_run"]["as_of"] == "2025-12-01" and manifest["previous_run"]["source"] == f"folder {root / 'dec'}"
    assert manifest["at_risk_tiers"] == DEMO_AT_RISK and manifest["data_name"] == "demo"
    assert json.loads((root / "nov" / "manifest.json").read_text())["previous_run"] is None
    assert "Movers: none known without a previous run" in lines["nov"]


def test_previous_tier_and_tier_since_carry_over_across_three_runs(runs):
    root, _ = runs
    nov, dec, jan = (_read(root / name).set_index("customer_id") for name in ("nov", "dec", "jan"))
    assert nov["previous_tier"].isna().all() and nov["tier_since"].isna().all()  # no run before: unknown
    for later, earlier, as_of in ((dec, nov, "2025-12-01"), (jan, dec, "2026-01-01")):
        known = later.index.isin(earlier.index)
        pd.testing.assert_series_equal(later.loc[known, "previous_tier"], earlier["tier"].reindex(later.index[known]),
                                       check_names=False)
        assert later.loc[~known, "previous_tier"].isna().all()
        stayed = later["tier"] == later["previous_tier"]
        carried = earlier["tier_since"].reindex(later.index[stayed])
        pd.testing.assert_series_equal(later.loc[stayed, "tier_since"], carried, check_names=False)
        assert (later.loc[~stayed, "tier_since"] == pd.Timestamp(as_of)).all()
    # The three-run chain: a tier entered at 2025-12-01 and kept in January still says 2025-12-01.
    kept = jan[(jan["tier"] == jan["previous_tier"]) & (jan["tier_since"] == pd.Timestamp("2025-12-01"))]
    assert len(kept) > 0 and (dec.loc[kept.index, "tier"] != nov["tier"].reindex(kept.index)).all()
    contacts = _read(root / "jan", "outreach.parquet").set_index("customer_id")
    assert list(contacts.columns[-2:]) == ["previous_tier", "tier_since"]
    pd.testing.assert_series_equal(contacts["tier_since"], jan.loc[contacts.index, "tier_since"])


def test_the_movers_file_lists_who_entered_an_at_risk_tier(runs):
    root, lines = runs
    jan = _read(root / "jan")
    movers = pd.read_csv(root / "jan" / "movers.csv", dtype={"customer_id": str})
    expected = jan[jan["tier"].isin(DEMO_AT_RISK) & jan["previous_tier"].notna() & ~jan["previous_tier"].isin(DEMO_AT_RISK)]
    assert len(movers) > 0 and set(movers["customer_id"]) == set(expected["customer_id"])
    assert list(movers.columns) == MOVERS_COLUMNS
    whole_list = pd.concat([_read(root / "jan", "outreach.parquet"), _read(root / "jan", "control.parquet")])
    assert set(movers.loc[movers["on_list"], "customer_id"]) == set(whole_list["customer_id"]) & set(movers["customer_id"])
    assert set(movers.loc[movers["control"], "customer_id"]) <= set(whole_list.loc[whole_list["control"], "customer_id"])
    assert f"Movers: {len(movers)} customers moved into an at-risk tier since 2025-12-01" in lines["jan"]
    manifest = json.loads((root / "jan" / "manifest.json").read_text())
    assert {"movers.csv", "movers.parquet"} <= set(manifest["files"]) and manifest["movers_row_count"] == len(movers)
    assert (pd.read_csv(root / "nov" / "movers.csv").columns.tolist() == MOVERS_COLUMNS
            and len(pd.read_csv(root / "nov" / "movers.csv")) == 0)


def test_the_report_shows_the_migration_matrix(runs):
    root, _ = runs
    jan = _read(root / "jan")
    page = (root / "jan" / "report.html").read_text(encoding="utf-8")
    assert 'id="migration"' in page and "<h2>Who moved</h2>" in page and NEW_TO_RUN in page
    counts = pd.crosstab(jan["previous_tier"].fillna(NEW_TO_RUN), jan["tier"])
    for (was, now), count in counts.stack().items():
        assert f'data-from="{html.escape(was)}" data-to="{html.escape(now)}">{count or "·"}</td>' in page, (was, now)
    assert 'id="moves-table"' in page
    assert 'id="migration"' not in (root / "nov" / "report.html").read_text(encoding="utf-8")  # no previous run


def test_the_report_of_an_older_run_without_the_new_columns_still_builds(runs):
    root, _ = runs
    scores = _read(root / "jan").drop(columns=["previous_tier", "tier_since"])
    outreach = _read(root / "jan", "outreach.parquet").drop(columns=["previous_tier", "tier_since"])
    manifest = json.loads((root / "jan" / "manifest.json").read_text())
    for key in ("previous_run", "tiers", "at_risk_tiers"):
        manifest.pop(key)
    page = build_report(scores, outreach, manifest)
    assert 'id="tiers"' in page and 'id="migration"' not in page


def test_a_rerun_of_an_as_of_ignores_itself_and_later_runs(runs, store, capsys, monkeypatch):
    root, _ = runs
    before = (root / "dec" / "scores.parquet").read_bytes()
    line = _score(store, root / "dec", "2025-12-01", capsys, monkeypatch)
    assert f"Previous run: {root / 'nov'} (as of 2025-11-01)" in line  # not itself, not jan, not the decoys
    assert (root / "dec" / "scores.parquet").read_bytes() == before


def test_an_explicit_previous_run_must_be_an_earlier_run_of_the_same_data_set(runs, store, tmp_path, capsys, monkeypatch):
    root, _ = runs
    for as_of, previous, message in (
        ("2025-12-01", root / "jan", f"error: --previous: {root / 'jan'} is as of 2026-01-01, not before this run's "
                                     "as_of 2025-12-01"),
        ("2025-12-01", root / "dec", f"error: --previous: {root / 'dec'} is as of 2025-12-01, not before"),
        ("2025-12-01", tmp_path, f"error: --previous: {tmp_path} is not a tierwise run"),
        ("2026-01-01", root / "other-shop", f"error: --previous: {root / 'other-shop'} cannot be compared with this "
                                            "run: it scored another data set"),
    ):
        code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "out", "--as-of", as_of, "--previous",
                                previous], capsys, monkeypatch)
        assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert " ".join(err.split()).startswith(message), err
    assert not (tmp_path / "out" / "manifest.json").exists()
    line = _score(store, tmp_path / "out", "2025-12-01", capsys, monkeypatch, "--previous", root / "nov")
    assert f"Previous run: {root / 'nov'} (as of 2025-11-01), as named by --previous" in line
    pd.testing.assert_series_equal(_read(tmp_path / "out")["tier_since"], _read(root / "dec")["tier_since"])


def test_the_database_holds_each_as_of_tiers_and_serves_as_the_previous_run(runs, store, tmp_path, capsys, monkeypatch):
    root, _ = runs
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    first = _score(store, tmp_path / "a" / "dec", "2025-12-01", capsys, monkeypatch, "--db", url)
    assert "No previous run: no earlier run of this data set beside" in first
    assert "database table tierwise_outreach_tiers holds no as_of before 2025-12-01" in first
    line = _score(store, tmp_path / "b" / "jan", "2026-01-01", capsys, monkeypatch, "--db", url)
    assert "Previous run: database table tierwise_outreach_tiers (as of 2025-12-01)" in line
    dec, jan = _read(tmp_path / "a" / "dec").set_index("customer_id"), _read(tmp_path / "b" / "jan").set_index("customer_id")
    pd.testing.assert_series_equal(jan["previous_tier"], dec["tier"].reindex(jan.index), check_names=False)
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        table = pd.read_sql("SELECT customer_id, as_of, tier, tier_since FROM tierwise_outreach_tiers", connection)
        contacts = pd.read_sql("SELECT customer_id, previous_tier FROM tierwise_outreach WHERE as_of = '2026-01-01'",
                               connection)
    assert table.groupby("as_of").size().to_dict() == {"2025-12-01": len(dec), "2026-01-01": len(jan)}
    stored = table[table["as_of"] == "2026-01-01"].set_index("customer_id")
    assert (stored["tier"] == jan.loc[stored.index, "tier"]).all()
    changed = jan["tier"] != jan["previous_tier"]
    assert (stored.loc[changed[changed].index, "tier_since"] == "2026-01-01").all()
    assert stored.loc[changed[~changed].index, "tier_since"].isna().all()  # kept since before the first run: unknown
    assert len(contacts) == len(pd.read_csv(tmp_path / "b" / "jan" / "outreach.csv"))
    # A rerun of January reads December again, never its own rows.
    again = _score(store, tmp_path / "b" / "jan", "2026-01-01", capsys, monkeypatch, "--db", url)
    assert "Previous run: database table tierwise_outreach_tiers (as of 2025-12-01)" in again


def test_a_tie_between_differing_earlier_runs_is_refused(runs, store, tmp_path, capsys, monkeypatch):
    root, _ = runs
    for name in ("dec", "nov"):
        shutil.copytree(root / name, tmp_path / name)
    _edit_manifest(tmp_path / "nov", as_of="2025-12-01")
    code, _, err = run_cli(["score", "--config", store, "--out", tmp_path / "jan", "--as-of", "2026-01-01"], capsys,
                           monkeypatch)
    assert code == 2 and "are all as of 2025-12-01 with different scores; name the previous run with --previous" in err
    np.testing.assert_equal((tmp_path / "jan" / "manifest.json").exists(), False)
