"""The outreach list, the CRM export contract and the database table."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from tierwise.config import ExportConfig, OutreachConfig
from tierwise.errors import ExitCode, TierwiseError
from tierwise.inference import (
    EXPORT_COLUMNS,
    EXPORT_SCHEMA_VERSION,
    build_outreach_list,
    control_draw,
    export_terms,
    outreach_summary,
)
from tierwise.io import lock_folder, replace_outreach_rows, write_csv, write_export

AS_OF = pd.Timestamp("2025-01-01")


def scores(rows: list[tuple]) -> pd.DataFrame:
    """Hand-made scores: (customer_id, churn_probability, predicted_value, tier)."""
    frame = pd.DataFrame(rows, columns=["customer_id", "churn_probability", "predicted_value", "tier"])
    n = len(frame)
    frame["retained_value"] = frame["predicted_value"]  # the same here: only value at risk matters to the list
    frame["value_at_risk"] = frame["churn_probability"] * frame["retained_value"]
    frame["outreach_rank"] = pd.array(range(1, n + 1), dtype="Int64")
    frame = frame.assign(
        as_of=AS_OF, tier_action="call", risk_band="high", value_grade="VIP", lifecycle="active",
        reason_1="No purchase for 94 days; usually buys every 21 days", reason_2=None, reason_3=None,
        avg_days_between_orders=21.0, expected_next_order_date=pd.Timestamp("2024-10-20"), model_version="v1",
        previous_tier=None, tier_since=pd.NaT,
    )
    frame["tier_since"] = frame["tier_since"].astype("datetime64[us]")
    frame["expected_next_order_date"] = frame["expected_next_order_date"].astype("datetime64[us]")
    frame["as_of"] = frame["as_of"].astype("datetime64[us]")
    return frame


def test_budget_stops_where_saving_no_longer_covers_the_cost():
    table = scores([
        ("a", 0.9, 1000.0, "VIP"),  # saving 0.9 * 1000 * 0.1 = 90
        ("b", 0.5, 100.0, "VIP"),  # saving 5.0: exactly the cost, kept
        ("c", 0.8, 40.0, "loyal"),  # saving 3.2 < 5: not worth a contact
        ("d", 0.2, 2000.0, "loyal"),  # saving 40
        ("e", 0.99, 10.0, "loyal"),  # saving 0.99
    ])
    config = OutreachConfig(rank_by="value_at_risk", cost_per_contact=5.0, save_rate=0.1, control_share=0.0)
    outreach = build_outreach_list(table, config)
    assert list(outreach["customer_id"]) == ["a", "d", "b"]
    assert list(outreach["list_position"]) == [1, 2, 3]
    assert outreach["expected_saving"].tolist() == pytest.approx([90.0, 40.0, 5.0])
    summary = outreach_summary(outreach, config)
    assert summary["contact_cost"] == 15.0 and summary["expected_net"] == pytest.approx(120.0)

    capped = build_outreach_list(table, config.model_copy(update={"max_total_cost": 10.0}))
    assert list(capped["customer_id"]) == ["a", "d"]
    by_risk = build_outreach_list(
        table, OutreachConfig(rank_by="churn_probability", control_share=0.0, tier_quotas={"loyal": 1}, top_k=2)
    )
    assert list(by_risk["customer_id"]) == ["e", "a"]  # most likely to lapse first; one loyal only
    assert list(by_risk.columns) == EXPORT_COLUMNS


def test_control_group_is_reproducible_per_customer_and_as_of():
    ids = pd.Series([f"c{i}" for i in range(20_000)])
    first = control_draw(ids, AS_OF, "tierwise")
    np.testing.assert_array_equal(first, control_draw(ids, AS_OF, "tierwise"))
    assert abs((first < 0.1).mean() - 0.1) < 0.01
    # A customer's draw does not depend on who else is on the list.
    np.testing.assert_array_equal(control_draw(ids[5000:], AS_OF, "tierwise"), first[5000:])
    other_day = control_draw(ids, AS_OF + pd.Timedelta(days=7), "tierwise")
    assert ((first < 0.1) != (other_day < 0.1)).mean() > 0.1
    table = scores([(f"c{i}", 0.5, 10.0, "VIP") for i in range(500)])
    outreach = build_outreach_list(table, OutreachConfig(control_share=0.2))
    assert 70 < outreach["control"].sum() < 130


def _export(tmp_path, table, scored_at="2025-01-01T06:00:00+00:00", **outreach_options):
    config = OutreachConfig(**outreach_options)
    outreach = build_outreach_list(table, config)
    return outreach, write_export(
        outreach, tmp_path, scores=table, schema_version=EXPORT_SCHEMA_VERSION, model_version="v1", as_of=AS_OF,
        scored_at=scored_at, horizons={"churn_horizon_days": 90, "value_horizon_days": 285},
        terms=export_terms(config, ExportConfig()),
    )


def manifest_agrees_with_folder(folder) -> bool:
    """False when there is no manifest; fails when there is one that does not describe every file."""
    if not (folder / "manifest.json").exists():
        return False
    listed = json.loads((folder / "manifest.json").read_text())["files"]
    present = {p.name for p in folder.iterdir() if not p.name.startswith(".") and p.name != "manifest.json"}
    assert set(listed) == present
    for name, entry in listed.items():
        content = (folder / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}, name
    return True


def test_export_is_byte_identical_on_rerun_and_manifest_matches(tmp_path):
    table = scores([(f"c{i}", 1 - i / 100, 10.0 + i, "VIP") for i in range(50)])
    _, first = _export(tmp_path / "a", table, rank_by="churn_probability")
    _, second = _export(tmp_path / "b", table, scored_at="2025-01-02T06:00:00+00:00", rank_by="churn_probability")
    for name in ("outreach.csv", "outreach.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first["files"] == second["files"] and first["scored_at"] != second["scored_at"]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["row_count"] + manifest["control_row_count"] == 50
    assert manifest["columns"] == EXPORT_COLUMNS and manifest["as_of"] == "2025-01-01"
    assert set(manifest["files"]) == {"scores.parquet", "outreach.csv", "outreach.parquet", "control.csv", "control.parquet"}
    assert manifest_agrees_with_folder(tmp_path / "a")
    csv = (tmp_path / "a" / "outreach.csv").read_text(encoding="utf-8").splitlines()
    assert csv[0] == ",".join(EXPORT_COLUMNS)
    assert csv[1].startswith("c0,2025-01-01,1,")  # ISO dates, documented order


def test_failure_while_writing_keeps_the_previous_export(tmp_path, monkeypatch):
    table = scores([(f"c{i}", 0.5, 10.0, "VIP") for i in range(20)])
    _export(tmp_path, table)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken_write(table, where, **kwargs):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr("tierwise.io.pq.write_table", broken_write)
    with pytest.raises(OSError, match="disk full"):
        _export(tmp_path, scores([(f"x{i}", 0.5, 10.0, "VIP") for i in range(5)]))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no partial or temporary file


def test_a_killed_writer_leaves_the_previous_export_intact(tmp_path):
    table = scores([(f"c{i}", 0.5, 10.0, "VIP") for i in range(20)])
    _export(tmp_path, table)
    before = (tmp_path / "outreach.csv").read_bytes()
    script = textwrap.dedent(f"""
        import time, pandas as pd
        from tierwise.io import write_csv
        real = pd.DataFrame.to_csv
        def slow(self, path, **kwargs):
            with open(path, "w") as handle:
                handle.write("customer_id,as_of\\nhalf")
                handle.flush()
            time.sleep(60)
        pd.DataFrame.to_csv = slow
        write_csv(pd.DataFrame({{"a": [1]}}), {str(tmp_path / "outreach.csv")!r})
    """)
    writer = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while not list(tmp_path.glob(".outreach.csv.*.tmp")) and time.time() < deadline:
        time.sleep(0.1)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert (tmp_path / "outreach.csv").read_bytes() == before
    assert list(tmp_path.glob(".outreach.csv.*.tmp"))  # the killed writer's leftover
    _export(tmp_path, table)  # the next run removes it
    assert not list(tmp_path.glob(".*.tmp"))


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs in the writer."""


@pytest.mark.parametrize("renames_before_kill", [0, 1, 2, 3])
def test_a_run_killed_between_files_leaves_no_manifest_that_disagrees(tmp_path, monkeypatch, renames_before_kill):
    _export(tmp_path, scores([(f"c{i}", 0.5, 10.0, "VIP") for i in range(20)]))
    real_replace, renamed = os.replace, []

    def killed_after_some_renames(source, target):
        if len(renamed) == renames_before_kill:
            raise Killed
        renamed.append(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", killed_after_some_renames)
    with pytest.raises(Killed):
        _export(tmp_path, scores([(f"x{i}", 0.7, 30.0, "VIP") for i in range(8)]), top_k=5)
    monkeypatch.undo()
    manifest_agrees_with_folder(tmp_path)  # no manifest, or one that describes every file there
    _export(tmp_path, scores([(f"x{i}", 0.7, 30.0, "VIP") for i in range(8)]), top_k=5)
    assert manifest_agrees_with_folder(tmp_path)


def test_a_write_keeps_the_temporary_file_of_a_live_writer(tmp_path):
    target = tmp_path / "outreach.csv"
    script = textwrap.dedent(f"""
        import sys
        from tierwise.io import atomic_path
        with atomic_path({str(target)!r}) as temporary:
            temporary.write_text("from the slow run")
            print("staged", flush=True)
            sys.stdin.readline()
    """)
    slow = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert slow.stdout.readline().strip() == "staged"
    write_csv(pd.DataFrame({"a": [1]}), target)  # a second writer of the same file meanwhile
    _, stderr = slow.communicate("go\n", timeout=60)
    assert slow.returncode == 0, stderr
    assert target.read_text() == "from the slow run"


def test_a_second_run_into_a_locked_folder_is_refused_at_once(tmp_path):
    with lock_folder(tmp_path / "out"):
        with pytest.raises(TierwiseError, match=rf"another tierwise run is writing here \(pid {os.getpid()}, started "):
            with lock_folder(tmp_path / "out"):
                pass
    with lock_folder(tmp_path / "out"):  # released when the first run ends
        pass


def _table_rows(database, as_of: str, table: str = "tierwise_outreach") -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            f"SELECT customer_id, list_position FROM {table} WHERE as_of = ? ORDER BY list_position", (as_of,)
        ).fetchall()


def later_rows(database) -> int:
    return sum(len(_table_rows(database, "2025-01-08", table)) for table in ("tierwise_outreach", "tierwise_outreach_control"))


def test_redelivery_replaces_the_rows_of_its_as_of_and_keeps_other_dates(tmp_path):
    url, database = f"sqlite:///{tmp_path / 'crm.db'}", tmp_path / "crm.db"
    table = scores([(f"c{i}", 0.5, 10.0 + i, "VIP") for i in range(30)])
    full = build_outreach_list(table, OutreachConfig(rank_by="churn_probability"))
    assert replace_outreach_rows(full, url, "tierwise_outreach", as_of=AS_OF) == 30
    later = full.assign(as_of=full["as_of"] + pd.Timedelta(days=7)).head(10)
    replace_outreach_rows(later, url, "tierwise_outreach", as_of=AS_OF + pd.Timedelta(days=7))
    # The same as_of again, shorter and in another order: c29 is now first, c0 no longer on the list.
    shorter = build_outreach_list(table, OutreachConfig(rank_by="value_at_risk", top_k=5))
    assert replace_outreach_rows(shorter, url, "tierwise_outreach", as_of=AS_OF) == 5
    contacts, control = shorter[~shorter["control"]], shorter[shorter["control"]]
    assert list(control["customer_id"]) == ["c29", "c25"]  # drawn as control: in their own table, like control.csv
    expected = list(zip(contacts["customer_id"], contacts["list_position"].astype(int)))
    assert _table_rows(database, "2025-01-01") == expected
    assert _table_rows(database, "2025-01-01", "tierwise_outreach_control") == [("c29", 1), ("c25", 2)]
    assert later_rows(database) == 10

    duplicated = pd.concat([full, full])  # the insert fails on the 31st row, after the old rows were deleted
    with pytest.raises(TierwiseError, match="tierwise_outreach: database error"):
        replace_outreach_rows(duplicated, url, "tierwise_outreach", as_of=AS_OF)
    assert _table_rows(database, "2025-01-01") == expected  # one transaction: the previous list stands

    replace_outreach_rows(shorter.head(0), url, "tierwise_outreach", as_of=AS_OF)  # e.g. nobody worth a contact
    assert _table_rows(database, "2025-01-01") == [] and later_rows(database) == 10


def test_a_table_with_another_schema_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        connection.execute("CREATE TABLE tierwise_outreach (customer_id TEXT, score REAL)")
    outreach = build_outreach_list(scores([("a", 0.5, 10.0, "VIP")]), OutreachConfig())
    with pytest.raises(TierwiseError, match="tierwise_outreach: the table's columns differ from the export schema"):
        replace_outreach_rows(outreach, f"sqlite:///{tmp_path / 'crm.db'}", "tierwise_outreach", as_of=AS_OF)


def test_control_customers_go_to_their_own_file_and_the_manifest_states_the_terms(tmp_path):
    """outreach.* holds only customers to contact; control.* the held-out ones; both in the manifest."""
    table = scores([(f"c{i}", 1 - i / 200, 10.0 + i, "VIP") for i in range(200)])
    outreach, manifest = _export(tmp_path, table, control_share=0.2, save_rate=0.15, cost_per_contact=0.01)
    contacts = pd.read_csv(tmp_path / "outreach.csv")
    control = pd.read_csv(tmp_path / "control.csv")
    assert 20 < len(control) < 60 and len(contacts) + len(control) == len(outreach)
    assert not contacts["control"].any() and control["control"].all()
    assert list(contacts["list_position"]) == list(range(1, len(contacts) + 1))  # "the first 50" are 50 contacts
    assert list(pd.read_parquet(tmp_path / "control.parquet")["customer_id"]) == list(control["customer_id"])
    assert manifest_agrees_with_folder(tmp_path)
    assert manifest["row_count"] == len(contacts) and manifest["control_row_count"] == len(control)
    assert manifest["save_rate"] == 0.15 and manifest["cost_per_contact"] == 0.01
    assert manifest["currency"] == "unspecified" and manifest["churn_horizon_days"] == 90
    # 2024-10-20 expected, list dated 2025-01-01: 73 days overdue, said beside the date.
    assert (contacts["next_order_overdue_days"] == 73).all()


def test_a_refused_run_leaves_no_empty_folder_behind(tmp_path, small_demo_config, capsys, monkeypatch):
    from cli_helpers import run_cli

    config = tmp_path / "demo.json"
    config.write_text(small_demo_config.model_dump_json(), encoding="utf-8")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'no-store' / 'mlflow.db'}")
    code, _, err = run_cli(["score", "--config", config, "--out", tmp_path / "new" / "run"], capsys, monkeypatch)
    assert code == ExitCode.NO_MODEL and "no MLflow store" in err  # refused after the folder was locked
    assert not (tmp_path / "new" / "run").exists()
    (tmp_path / "kept").mkdir()
    with lock_folder(tmp_path / "kept"):  # a folder that was there before stays, with its lock file
        pass
    assert (tmp_path / "kept").is_dir()


def test_a_frame_with_attrs_writes_the_same_bytes_and_no_warning(tmp_path):
    # tierwise.score hands out its scores with a run's context in attrs; written as they were, every score run
    # printed four "Could not serialize pd.DataFrame.attrs" warnings, and JSON-able attrs went into the files.
    from tierwise.io import write_parquet

    frame = pd.DataFrame({"customer_id": ["a", "b"], "value": [1.0, 2.0]})
    write_parquet(frame, tmp_path / "plain.parquet")
    for attrs in ({"tierwise": {"config": object()}}, {"run": "abc"}):
        frame.attrs = attrs
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            write_parquet(frame, tmp_path / "with_attrs.parquet")
        assert (tmp_path / "with_attrs.parquet").read_bytes() == (tmp_path / "plain.parquet").read_bytes()
        assert frame.attrs == attrs  # the caller's frame keeps them
