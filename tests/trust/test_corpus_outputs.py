"""Outputs (issue 14, items 7, 8 and 3): the set switches all or nothing, even under ``kill -9``;
a lock; leftovers cleaned; only our own files replaced; read-only database inputs; formula
escaping; the engine's columns never hidden by the user's."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from customersense.errors import EXIT_INPUT, EXIT_OUTPUT
from customersense.reporting import folder

from .conftest import FAST, GOOD_CSV, digest, invoke

SRC = Path(__file__).resolve().parents[2] / "src"


def _csv(customers: int, seed: int) -> str:
    """``customers`` customers with 1-4 purchases each over 60 days (seeded)."""
    rng = random.Random(seed)
    rows = ["customer_id,order_id,timestamp,amount"]
    order = 1000
    for c in range(customers):
        for _ in range(rng.randint(1, 4)):
            order += 1
            rows.append(f"k{c},{order},2021-{rng.randint(1, 2):02d}-{rng.randint(1, 28):02d} 10:00,"
                        f"{rng.randint(100, 9000) / 100:.2f}")
    return "\n".join(rows) + "\n"


def _rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def _consistent(out: Path) -> dict:
    """run.json names exactly the outputs in ``out`` (beside the user's notes.txt) and its
    customer count is customer_segments.csv's row count; returns run.json."""
    record = json.loads((out / "run.json").read_text())
    present = {p.name for p in out.iterdir()} - {"notes.txt"}
    assert present == set(record["outputs"]), (present, record["outputs"])
    assert _rows(out / "customer_segments.csv") == record["customers"]
    return record


def _leftovers(parent: Path, name: str = "out") -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}.customersense-"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---- all or nothing -------------------------------------------------------------------------

def test_a_run_killed_at_any_moment_leaves_the_old_set_or_the_new_one(tmp_path):
    """SIGKILL during the write phase (when the new folder appears, then after seeded random
    delays spread over the write phase's length measured on a first run): OUT is the complete old set (every byte) or the complete new set, never a mix; the
    next run removes what the killed ones left (staging folders, scratch folders)."""
    (tmp_path / "old.csv").write_text(_csv(40, 1))
    (tmp_path / "new.csv").write_text(_csv(300, 2))
    args = ("--quiet", "--no-validate", "--no-clv", "--no-dashboards")  # plots on: a longer write phase
    out, ref = tmp_path / "out", tmp_path / "ref"
    env = {**os.environ, "PYTHONPATH": str(SRC)}

    def start(target: Path) -> tuple[subprocess.Popen, float]:
        """The CLI on new.csv into ``target``, returned once its new folder appears (and when)."""
        proc = subprocess.Popen([sys.executable, "-m", "customersense", "run", str(tmp_path / "new.csv"),
                                 "--out", str(target), *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        staging, deadline = folder.staging_name(target, proc.pid), time.monotonic() + 120
        while not staging.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        return proc, time.monotonic()

    proc, began = start(ref)
    assert proc.wait() == 0
    span = time.monotonic() - began  # how long the write phase lasts here: the kills spread over it
    assert invoke(tmp_path / "old.csv", "--out", out, *args).exit_code == 0
    (out / "notes.txt").write_text("my notes")
    old = digest(out)
    assert _consistent(out)["customers"] == 40 and _consistent(ref)["customers"] == 300
    new_tables = {n: digest(ref)[n] for n in ("customer_segments.csv", "transactions_with_segments.csv",
                                               "segment_profiles.csv", "cleaning_report.json")}
    rng = random.Random(14)
    outcomes, killed = [], []
    for delay in [0.0, *(span * rng.uniform(0.3, 1.1) for _ in range(3))]:
        proc, _ = start(out)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed.append(proc.pid)
        now = digest(out)
        if now == old:
            outcomes.append("old")
            continue
        record = _consistent(out)  # not the old set: then wholly the new one
        assert record["customers"] == 300 and record["input"] == json.loads((ref / "run.json").read_text())["input"]
        assert {n: now[n] for n in new_tables} == new_tables
        assert (out / "notes.txt").read_text() == "my notes"
        outcomes.append("new")
        shutil.rmtree(out)  # back to the old set for the next trial
        assert invoke(tmp_path / "old.csv", "--out", out, *args).exit_code == 0
        (out / "notes.txt").write_text("my notes")
        old = digest(out)
    assert "old" in outcomes  # at least one kill landed inside the write phase
    # the next run cleans what the killed runs left
    assert invoke(tmp_path / "new.csv", "--out", out, *args).exit_code == 0
    assert _consistent(out)["customers"] == 300 and (out / "notes.txt").read_text() == "my notes"
    assert _leftovers(tmp_path) == []
    scratch = [p for p in Path(tempfile.gettempdir()).glob("customersense-*")
               if p.name.split("-")[1] in {str(pid) for pid in killed}]
    assert scratch == []


def test_a_switch_cut_between_its_two_renames_is_finished_by_the_next_run(tmp_path, monkeypatch):
    """Where folders cannot be exchanged in one call: OUT moved away, the new folder not yet in
    place, the run killed: the next run puts the complete new folder in place first."""
    (tmp_path / "a.csv").write_text(GOOD_CSV)
    out = tmp_path / "out"
    assert invoke(tmp_path / "a.csv", "--out", out, *FAST).exit_code == 0
    new = digest(out)
    pid = _dead_pid()
    os.replace(out, tmp_path / f".out.customersense-old-{pid}")
    shutil.copytree(tmp_path / f".out.customersense-old-{pid}", folder.staging_name(out, pid))
    assert folder.recover(out) == [tmp_path / f".out.customersense-old-{pid}"]
    assert digest(out) == new and _leftovers(tmp_path) == []
    # and the fallback itself, when exchange is not available
    monkeypatch.setattr(folder, "exchange", lambda a, b: False)
    (out / "notes.txt").write_text("kept")
    assert invoke(tmp_path / "a.csv", "--out", out, *FAST).exit_code == 0
    assert (out / "notes.txt").read_text() == "kept" and _leftovers(tmp_path) == []
    assert {k: v for k, v in digest(out).items() if k.endswith(".csv")} == {k: v for k, v in new.items()
                                                                              if k.endswith(".csv")}


def test_a_full_disk_is_one_line_and_keeps_the_old_set(fails, monkeypatch, tmp_path):
    import customersense.reporting.writers as writers

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writers, "write_csv_batches", full)
    fails({"good.csv": GOOD_CSV}, ["good.csv"], EXIT_OUTPUT, "No space left on device")
    assert _leftovers(tmp_path) == []


# ---- lock -----------------------------------------------------------------------------------

def test_a_second_run_on_the_same_folder_is_refused_while_the_first_lives(fails, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".out.customersense-lock").write_text(f"{holder.pid}\n")
        fails({"good.csv": GOOD_CSV}, ["good.csv"], EXIT_OUTPUT,
              f"another customersense run (pid {holder.pid}) is writing into")
        assert (tmp_path / ".out.customersense-lock").read_text() == f"{holder.pid}\n"  # not ours to remove
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_dead_run_is_taken_over_and_released(run_ok, tmp_path):
    (tmp_path / ".out.customersense-lock").write_text(f"{_dead_pid()}\n")
    out = run_ok({"good.csv": GOOD_CSV}, ["good.csv"])
    assert _consistent(out)["customers"] == 16
    assert _leftovers(tmp_path) == []  # the lock is gone too


@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    (tmp_path / "validation.json").write_text("mine")
    result = invoke("good.csv", "--out", out, *FAST)
    assert result.exit_code == EXIT_OUTPUT
    assert result.output.strip() == 'error: --out "" names no folder: give the output folder, e.g. --out outputs'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "validation.json"]


def test_the_folder_the_run_is_in_is_refused(tmp_path, monkeypatch):
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    monkeypatch.chdir(tmp_path)
    result = invoke("good.csv", "--out", ".", *FAST)
    assert result.exit_code == EXIT_OUTPUT and "run from outside it (cd ..)" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv"]


# ---- ownership ------------------------------------------------------------------------------

def test_the_users_own_files_survive_and_keep_their_bytes(run_ok, tmp_path):
    out = tmp_path / "out"
    (out / "mine" / "deep").mkdir(parents=True)
    (out / "notes.txt").write_text("notes")
    (out / "mine" / "deep" / "data.bin").write_bytes(b"\x00\x01")
    inode = (out / "notes.txt").stat().st_ino
    run_ok({"good.csv": GOOD_CSV}, ["good.csv"])
    run_ok({"good.csv": GOOD_CSV}, ["good.csv"])
    assert (out / "notes.txt").read_text() == "notes" and (out / "notes.txt").stat().st_ino == inode  # the same file
    assert (out / "mine" / "deep" / "data.bin").read_bytes() == b"\x00\x01"
    _consistent_without(out, {"notes.txt", "mine"})


def _consistent_without(out: Path, mine: set[str]) -> None:
    record = json.loads((out / "run.json").read_text())
    assert {p.name for p in out.iterdir()} - mine == set(record["outputs"])


def test_a_users_file_named_like_an_output_is_refused_not_deleted(fails, tmp_path):
    """validation.json that no manifest lists is the user's: refused before any work."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "validation.json").write_text('{"mine": true}')
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    result = invoke(tmp_path / "good.csv", "--out", out, *FAST)
    assert result.exit_code == EXIT_OUTPUT
    assert result.output.strip() == (f"error: {out / 'validation.json'} was not written by customersense (no run.json "
                                     f"or other manifest in {out} lists it); move or rename it, or choose another --out")
    assert sorted(p.name for p in out.iterdir()) == ["validation.json"]
    assert (out / "validation.json").read_text() == '{"mine": true}'


def test_an_output_of_an_earlier_run_that_this_run_does_not_write_is_removed(tmp_path):
    """Ours by run.json: validation.json of a validated run goes when the next run skips validation."""
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    out = tmp_path / "out"
    assert invoke(tmp_path / "good.csv", "--out", out, "--quiet", "--no-plots", "--no-dashboards",
                  "--no-clv").exit_code == 0
    assert "validation.json" in json.loads((out / "run.json").read_text())["outputs"]
    assert invoke(tmp_path / "good.csv", "--out", out, *FAST).exit_code == 0
    assert not (out / "validation.json").exists()
    _consistent(out)


def test_leftovers_of_earlier_versions_and_dead_runs_are_removed(run_ok, tmp_path):
    out = tmp_path / "out"
    (out / ".customersense-staging-abc123").mkdir(parents=True)
    dead = _dead_pid()
    (tmp_path / f".out.customersense-staging-{dead}" / "x").mkdir(parents=True)
    scratch = Path(tempfile.gettempdir()) / f"customersense-{dead}-leftover"
    scratch.mkdir()
    run_ok({"good.csv": GOOD_CSV}, ["good.csv"])
    assert _leftovers(tmp_path) == [] and not scratch.exists()
    assert not (out / ".customersense-staging-abc123").exists()


# ---- safety: database inputs read-only, base tables only ------------------------------------

def _database(path: Path, view_sql: str | None) -> str:
    """A DuckDB file with a base table ``tx`` (GOOD_CSV's rows) and, if given, a view ``v``."""
    import duckdb

    (path.parent / "good.csv").write_text(GOOD_CSV)
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE tx AS SELECT * FROM read_csv('{path.parent / 'good.csv'}', all_varchar=true)")
    if view_sql:
        con.execute(f"CREATE VIEW v AS {view_sql}")
    con.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


SECRET_VIEW = ("SELECT content AS customer_id, '1' AS order_id, '2021-01-01' AS timestamp, '1' AS amount "
               "FROM read_text('{file}')")


@pytest.mark.parametrize("secret", ["/etc/hostname", "secret.csv"])
def test_a_view_in_a_database_input_is_refused_and_the_file_is_not_changed(fails, tmp_path, secret):
    """A view can read any file of the machine (its content would become a customer id)."""
    if secret == "secret.csv":
        (tmp_path / "secret.csv").write_text("password\nhunter2\n")
        secret = str(tmp_path / "secret.csv")
    elif not Path(secret).exists():
        pytest.skip("no /etc/hostname here")
    db = tmp_path / "shop.duckdb"
    before = _database(db, SECRET_VIEW.format(file=secret))
    result = fails({}, [db, "--table", "v"], EXIT_INPUT, "'v' is a view, a query stored in the file that can "
                   "read other files of this machine; only base tables are read (--allow-views if you trust")
    assert str(db) in result.output
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_without_table_only_base_tables_are_candidates(run_ok, tmp_path):
    db = tmp_path / "shop.duckdb"
    before = _database(db, SECRET_VIEW.format(file=tmp_path / "good.csv"))
    out = run_ok({}, [db])  # the view is not a candidate: the one base table is read
    record = _consistent(out)
    assert record["customers"] == 16 and record["input"]["table"] == "tx"
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # opened read-only
    assert not Path(str(db) + ".wal").exists()


def test_allow_views_reads_a_view_when_asked(run_ok, tmp_path):
    db = tmp_path / "shop.duckdb"
    _database(db, "SELECT * FROM tx WHERE customer_id <> 'c15'")
    out = run_ok({}, [db, "--table", "v", "--allow-views"])
    assert _consistent(out)["customers"] == 15


# ---- safety: formula-like text escaped in CSV and Excel -------------------------------------

FORMULAS = ['=HYPERLINK("http://x")', "@SUM(A1)", "+1", "-x", "=1+2"]


def _formula_csv() -> str:
    def q(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    rows = ["customer_id,order_id,timestamp,amount,note"]
    for i in range(16):
        cid = FORMULAS[i] if i < len(FORMULAS) else f"c{i}"
        rows.append(f"{q(cid)},{100 + i},2021-01-0{1 + i % 8} 09:00,{3 * i + 1},{q(FORMULAS[i % len(FORMULAS)])}")
    return "\n".join(rows) + "\n"


def test_formula_like_text_is_escaped_in_the_csv_outputs(run_ok):
    out = run_ok({"f.csv": _formula_csv()}, ["f.csv"])
    with (out / "customer_segments.csv").open(newline="", encoding="utf-8") as fh:
        customers = {row["customer_id"]: row for row in csv.DictReader(fh)}
    for text in FORMULAS:
        assert "'" + text in customers and text not in customers
    assert customers["c5"]["customer_id"] == "c5"  # other text as it was
    assert customers["'+1"]["frequency"] == "1" and float(customers["'-x"]["monetary"]) == 10.0  # numbers stay numbers
    with (out / "transactions_with_segments.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["note"] for r in rows} == {"'" + t for t in FORMULAS}
    assert [r["customer_id"] for r in rows[:4]] == ["'" + t for t in FORMULAS[:4]]
    import pandas as pd

    parquet = pd.read_parquet(out / "customer_segments.parquet")
    assert set(FORMULAS) <= set(parquet["customer_id"])  # the Parquet keeps the values as they are


def test_escaping_covers_tab_and_carriage_return_and_leaves_other_text():
    import pyarrow as pa

    from customersense.reporting.writers import escape_formulas, escaped_name

    values = pa.array(["\tx", "\rx", "a=b", "", None, "-5", " =x"], pa.large_string())
    assert escape_formulas(values).to_pylist() == ["'\tx", "'\rx", "a=b", "", None, "'-5", " =x"]
    assert escaped_name("=cmd") == "'=cmd" and escaped_name("amount") == "amount"


def test_formula_like_text_is_quote_prefixed_text_in_the_workbook(run_ok):
    import openpyxl

    out = run_ok({"f.csv": _formula_csv()}, ["f.csv", "--no-plots", "--no-validate", "--no-clv", "--quiet"],
                 fast=False)
    book = openpyxl.load_workbook(out / "customersense.xlsx")
    cells = {c.value: c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value in FORMULAS}
    assert set(cells) == set(FORMULAS)
    for text, cell in cells.items():
        assert cell.data_type == "s" and cell.quotePrefix, text  # text, shown as typed after an apostrophe
    numbers = [c for ws in book.worksheets for row in ws.iter_rows() for c in row
               if isinstance(c.value, (int, float)) and c.value < 0]
    assert all(not c.quotePrefix for c in numbers)


# ---- namespace: the engine's columns are never hidden by the user's --------------------------

def _colliding_csv() -> str:
    rows = ["customer_id,order_id,timestamp,amount,Segment,cluster,RFM_Segment,churn_probability,src_Segment,note"]
    for i in range(16):
        rows.append(f"c{i},{100 + i},2021-01-0{1 + i % 8} 09:00,{3 * i + 1},mine{i % 2},u{i % 3},r{i},0.{i},s{i},n{i}")
    rows.append("c1,200,2021-01-08 10:00,20,mine9,u9,r99,0.9,s99,n99")
    return "\n".join(rows) + "\n"


RENAMED = {"Segment": "src_Segment_2", "cluster": "src_cluster", "RFM_Segment": "src_RFM_Segment",
           "churn_probability": "src_churn_probability"}


def test_user_columns_named_like_the_engines_are_renamed_kept_and_reported(tmp_path, monkeypatch):
    """Segment (src_Segment is taken by the user's own column: src_Segment_2), cluster,
    RFM_Segment and churn_probability: the engine's segment columns hold the engine's values,
    every user column is in the transactions outputs under its reported name."""
    import pandas as pd

    (tmp_path / "tx.csv").write_text(_colliding_csv())
    monkeypatch.chdir(tmp_path)
    result = invoke("tx.csv", "--out", "out", "--no-plots", "--no-dashboards", "--no-validate", "--no-clv")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    record = json.loads((out / "run.json").read_text())
    assert record["input"]["parsing"]["renamed_columns"] == RENAMED
    note = ("columns of yours renamed in the outputs, as their names are the engine's (case ignored): "
            "Segment -> src_Segment_2, cluster -> src_cluster, RFM_Segment -> src_RFM_Segment, "
            "churn_probability -> src_churn_probability")
    assert note in record["notes"] and "Segment -> src_Segment_2" in " ".join(result.output.split())
    customers = pd.read_parquet(out / "customer_segments.parquet").set_index("customer_id")
    for name in ("transactions_with_segments.parquet", "transactions_with_segments.csv"):
        tx = pd.read_parquet(out / name) if name.endswith("parquet") else pd.read_csv(out / name, dtype=str)
        names = list(tx.columns)
        assert len({n.casefold() for n in names}) == len(names)  # unique without regard to case
        assert {"src_Segment", "note", *RENAMED.values()} <= set(names)
        assert set(tx["src_Segment_2"]) == {"mine0", "mine1", "mine9"} and set(tx["src_Segment"]) >= {"s0", "s99"}
        # the engine's columns hold the engine's values
        assert (tx["segment"].to_numpy() == customers.loc[tx["customer_id"], "segment"].to_numpy()).all()
        assert (tx["rfm_segment"].to_numpy() == customers.loc[tx["customer_id"], "rfm_segment"].to_numpy()).all()
        assert not set(tx["segment"]) & {"mine0", "mine1", "mine9"}
    user = {"Segment", "cluster", "RFM_Segment", "churn_probability", "src_Segment", "note"}
    from customersense.schema import is_engine_name

    written = set(pd.read_parquet(out / "transactions_with_segments.parquet").columns)
    assert all(is_engine_name(c) for c in written - {RENAMED.get(u, u) for u in user})
    assert all(is_engine_name(c) for c in customers.reset_index().columns)


def test_user_names_rule():
    from customersense.io.standardise import user_names

    assert user_names(["Note", "SEGMENT", "Expected_Purchases_12m", "_cs_x", "src_SEGMENT", "Amount"]) == {
        "Note": "Note", "SEGMENT": "src_SEGMENT_2", "Expected_Purchases_12m": "src_Expected_Purchases_12m",
        "_cs_x": "src__cs_x", "src_SEGMENT": "src_SEGMENT", "Amount": "src_Amount"}


def test_an_out_that_is_a_file_is_refused(tmp_path, monkeypatch):
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    (tmp_path / "out").write_text("a file of mine")
    result = invoke(tmp_path / "good.csv", "--out", tmp_path / "out", *FAST)
    assert result.exit_code == EXIT_OUTPUT and "is a file, not a folder" in result.output
    assert (tmp_path / "out").read_text() == "a file of mine"


def test_the_lock_refuses_another_thread_of_the_same_process(tmp_path):
    import threading

    from customersense.errors import OutputError

    seen = []
    with folder.locked(tmp_path / "out"):
        assert (tmp_path / ".out.customersense-lock").read_text() == f"{os.getpid()}\n"

        def other():
            try:
                with folder.locked(tmp_path / "out"):
                    seen.append("entered")
            except OutputError as exc:
                seen.append(str(exc))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen == [f"another run of this process is writing into {tmp_path / 'out'}; choose another --out"]
    assert not (tmp_path / ".out.customersense-lock").exists()


def test_a_file_the_user_makes_during_the_switch_is_moved_across(tmp_path):
    out, staging = tmp_path / "out", folder.staging_name(tmp_path / "out")
    out.mkdir()
    staging.mkdir()
    (out / "run.json").write_text("old")
    (out / "notes.txt").write_text("notes")
    (staging / "run.json").write_text("new")
    assert folder.carry_foreign(out, staging, {"run.json"}) == ["notes.txt"]
    (out / "late.txt").write_text("saved while the run switched")  # after the carry, before the exchange
    folder.switch(staging, out, {"run.json"})
    assert sorted(p.name for p in out.iterdir()) == ["late.txt", "notes.txt", "run.json"]
    assert (out / "run.json").read_text() == "new" and (out / "late.txt").read_text() == "saved while the run switched"
    assert not staging.exists()


def test_a_folder_crowded_with_the_users_files_is_refused(tmp_path):
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    out = tmp_path / "out"
    (out / "photos").mkdir(parents=True)
    for i in range(folder.MAX_FOREIGN + 1):
        (out / "photos" / f"{i}.jpg").write_bytes(b"")
    before = digest(out)
    result = invoke(tmp_path / "good.csv", "--out", out, *FAST)
    assert result.exit_code == EXIT_OUTPUT
    assert "holds more than 1,000 files that are not customersense outputs" in result.output
    assert digest(out) == before and _leftovers(tmp_path) == []


def test_a_mount_point_as_out_is_refused_before_any_work(fails, monkeypatch, tmp_path):
    import os.path

    from customersense.errors import EXIT_OUTPUT

    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(tmp_path / "out") or real(p))
    fails({"x.csv": GOOD_CSV}, ["x.csv"], EXIT_OUTPUT, "is a mount point")
