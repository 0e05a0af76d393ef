"""A warehouse file's write-ahead log is part of the database: every copy takes it along.

Real DuckDB files, real logs: a writer process commits and is killed (SIGKILL) before
its checkpoint, so the committed rows are only in `idf.duckdb.wal`. The CLI runs as a
subprocess. The first release's warehouse (tests/fixtures/warehouses/) stands for the
layout before releases, when idf-etl wrote the published file itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.helpers.cli import idf_etl
from tests.warehouse.test_old_releases import FIRST_RELEASE, unpack

# Written into the warehouse by a writer killed after COMMIT, before any checkpoint.
LOST_RUN = [
    "INSERT INTO runs SELECT * REPLACE (3 AS run_id, 'from-raw' AS mode) FROM runs WHERE run_id = 2",
    "INSERT INTO project_changes SELECT * REPLACE (3 AS run_id, 'title' AS field, "
    "'old' AS old_value, 'only in the log' AS new_value) FROM project_changes LIMIT 1",
]
WRITER = r"""
import sys, duckdb
con = duckdb.connect(sys.argv[1], config={"checkpoint_threshold": "1GB"})
con.execute("PRAGMA disable_checkpoint_on_shutdown")
con.execute("BEGIN")
for statement in sys.argv[2:]:
    con.execute(statement)
con.execute("COMMIT")
print("committed", flush=True)
sys.stdin.read()  # killed here, before any checkpoint
"""


def commit_then_kill(database: Path, statements: list[str]) -> Path:
    """Commit `statements` to `database` and SIGKILL the writer: the rows are in its log."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database), *statements],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "committed\n"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.communicate(timeout=30)
    log = database.resolve().with_name(database.resolve().name + ".wal")
    assert log.stat().st_size > 0
    return log


def without_log(database: Path, sql: str, scratch: Path) -> list:
    """What the file alone (no log beside it) answers."""
    scratch.mkdir(exist_ok=True)
    alone = scratch / "alone.duckdb"
    shutil.copyfile(database.resolve(), alone)
    with duckdb.connect(str(alone), read_only=True) as con:
        return con.execute(sql).fetchall()


def read(data: Path, sql: str) -> list:
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def run_from_raw(data: Path) -> subprocess.CompletedProcess[str]:
    return idf_etl(
        "run", "--from-raw", "--json", "--data-dir", str(data), "--set", "report=false",
        "--set", "parse_workers=1", cwd=data.parent,
    )  # fmt: skip


def strays(data: Path) -> list[Path]:
    return sorted((data / "clean").rglob("*.wal.stray-*"))


RUN_IDS = "SELECT run_id FROM runs ORDER BY run_id"
LOGGED_CHANGE = "SELECT count(*) FROM project_changes WHERE new_value = 'only in the log'"


def test_an_old_layout_warehouse_is_adopted_with_the_rows_only_its_log_holds(tmp_path):
    # 22b's case 21: an earlier idf-etl's run killed between its commit and its checkpoint.
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    published = data / "clean" / "idf.duckdb"
    log = commit_then_kill(published, LOST_RUN)
    assert without_log(published, RUN_IDS, tmp_path / "scratch") == [(1,), (2,)]

    proc = run_from_raw(data)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert published.is_symlink()  # adopted into a release
    assert read(data, RUN_IDS) == [(1,), (2,), (3,), (4,)]  # this run is 4, after the log's 3
    assert read(data, LOGGED_CHANGE) == [(1,)]
    assert "replayed the write-ahead log" in proc.stderr
    assert not log.exists() and strays(data) == []  # its rows are in the release now
    assert not list((data / "clean").rglob("*.wal"))


def test_committed_rows_in_the_logs_of_a_published_release_are_in_the_next_release(tmp_path):
    # An analyst's read-write session killed before its checkpoint: every reader of the
    # published warehouse sees its rows, so the next run's warehouse keeps them.
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    assert run_from_raw(data).returncode == 0
    published = data / "clean" / "idf.duckdb"
    note = "CREATE TABLE analyst_notes AS SELECT 'checked by hand' AS note"
    log = commit_then_kill(published, [note])
    assert log.parent != published.parent  # beside the release's file, not the link
    shown = idf_etl("sql", "SELECT note FROM analyst_notes", "--data-dir", str(data), cwd=tmp_path)
    assert shown.returncode == 0 and "checked by hand" in shown.stdout

    proc = run_from_raw(data)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read(data, "SELECT note FROM analyst_notes") == [("checked by hand",)]
    assert read(data, RUN_IDS) == [(1,), (2,), (3,), (4,)]
    assert strays(data) == []
    # The release the log belongs to keeps it: restored, it reads as it did.
    assert log.exists()


def other_databases_log(tmp_path: Path) -> bytes:
    other = tmp_path / "other" / "other.duckdb"
    other.parent.mkdir()
    return commit_then_kill(other, ["CREATE TABLE t AS SELECT 1 AS i"]).read_bytes()


def good_log_cut(tmp_path: Path, part: float) -> bytes:
    copy = tmp_path / "cut" / "idf.duckdb"
    copy.parent.mkdir()
    unpack_dir = tmp_path / "cut-data"
    unpack(FIRST_RELEASE, unpack_dir)
    shutil.copyfile(unpack_dir / "clean" / "idf.duckdb", copy)
    whole = commit_then_kill(copy, LOST_RUN).read_bytes()
    return whole[: int(len(whole) * part)]


ODD_LOGS = {
    "another database's log": other_databases_log,
    "a log cut in half": lambda tmp: good_log_cut(tmp, 0.5),
    "a log cut after 10 bytes": lambda tmp: good_log_cut(tmp, 0.0) + b"\x00" * 10,
    "bytes that are no log": lambda tmp: os.urandom(4096),
}


@pytest.mark.parametrize("kind", sorted(ODD_LOGS))
def test_a_log_duckdb_cannot_replay_beside_an_old_layout_file_is_set_aside_never_fatal(
    tmp_path, kind
):
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    bad = ODD_LOGS[kind](tmp_path)
    (data / "clean" / "idf.duckdb.wal").write_bytes(bad)

    proc = run_from_raw(data)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read(data, RUN_IDS) == [(1,), (2,), (3,)]  # the file's history, and this run
    [aside] = strays(data)
    assert aside.read_bytes() == bad  # kept, not lost
    assert "set aside the write-ahead log" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_empty_log_is_nothing_to_replay(tmp_path):
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    (data / "clean" / "idf.duckdb.wal").write_bytes(b"")
    proc = run_from_raw(data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read(data, RUN_IDS) == [(1,), (2,), (3,)]
    assert "replayed" not in proc.stderr and "set aside" not in proc.stderr


def test_a_log_with_no_file_beside_it_is_set_aside_and_a_new_warehouse_built(tmp_path):
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    log = commit_then_kill(data / "clean" / "idf.duckdb", LOST_RUN)
    (data / "clean" / "idf.duckdb").unlink()
    kept = log.read_bytes()
    proc = run_from_raw(data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read(data, RUN_IDS) == [(1,)]
    [aside] = strays(data)
    assert aside.read_bytes() == kept


def test_a_log_that_cannot_be_replayed_beside_the_published_release(tmp_path):
    # status, check and sql say what it is (not damage, no restore); fsck sets it aside.
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    assert run_from_raw(data).returncode == 0
    release_file = (data / "clean" / "idf.duckdb").resolve()
    bad = other_databases_log(tmp_path)
    release_file.with_name("idf.duckdb.wal").write_bytes(bad)
    for command in (["status"], ["check"], ["sql", "SELECT 1"]):
        proc = idf_etl(*command, "--data-dir", str(data), cwd=tmp_path)
        said = proc.stdout + proc.stderr  # `check` answers on stdout, for a monitor
        assert proc.returncode != 0, command
        assert "write-ahead log" in said and "cannot be replayed" in said, command
        assert "damaged (" not in said and "restore" not in said, said
        assert "fsck" in said and "Traceback" not in said

    fsck = idf_etl("fsck", "--data-dir", str(data), cwd=tmp_path)

    assert fsck.returncode == 1 and "repaired: set aside the write-ahead log" in fsck.stderr
    [aside] = strays(data)
    assert aside.read_bytes() == bad
    status = idf_etl("status", "--json", "--data-dir", str(data), cwd=tmp_path)
    assert status.returncode in (0, 2), status.stderr  # it opens (fresh or not is status's)
    assert json.loads(status.stdout)
    assert idf_etl("fsck", "--data-dir", str(data), cwd=tmp_path).returncode == 0


def test_a_run_sets_aside_a_log_that_cannot_be_replayed_beside_the_published_release(
    tmp_path,
):
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    assert run_from_raw(data).returncode == 0
    release_file = (data / "clean" / "idf.duckdb").resolve()
    release_file.with_name("idf.duckdb.wal").write_bytes(other_databases_log(tmp_path))
    proc = run_from_raw(data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read(data, RUN_IDS) == [(1,), (2,), (3,), (4,)]
    assert len(strays(data)) == 1 and "set aside the write-ahead log" in proc.stderr


@pytest.mark.parametrize("kind", ["a directory", "a named pipe"])
def test_a_log_that_is_not_a_file_is_set_aside(tmp_path, kind):
    # Copied as a log, either stopped the run (IsADirectoryError, SpecialFileError).
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    log = data / "clean" / "idf.duckdb.wal"
    log.mkdir() if kind == "a directory" else os.mkfifo(log)
    proc = run_from_raw(data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read(data, RUN_IDS) == [(1,), (2,), (3,)]
    assert len(strays(data)) == 1 and "it is not a file" in proc.stderr
