"""`idf-etl check` as a monitor runs it: the real CLI in a subprocess, one line on stdout and a
Nagios state. What analysts cannot open is CRITICAL with the way out; UNKNOWN is only for
"cannot tell"; the run lock is looked at: a run going is said, a stuck one is a WARNING
naming its pid (pipeline/check.py has the whole mapping)."""

from __future__ import annotations

import duckdb

from tests.helpers.cli import idf_etl
from tests.helpers.lock import age_past, holder, holder_pid


def check(data, *args: str):
    proc = idf_etl("check", "--data-dir", str(data), *args, cwd=data.parent)
    assert len(proc.stdout.splitlines()) == 1, proc.stdout  # a monitor reads one line
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_a_run_in_progress_is_said_and_the_fresh_verdict_kept(data):
    with holder(data, run_timeout=3600) as proc:
        going = check(data)
        pid = holder_pid(data)
    assert pid == proc.pid
    assert going.returncode == 0 and going.stdout.startswith("IDF-ETL OK - last successful read")
    assert f"; run in progress: pid {pid}" in going.stdout
    assert " | hours_since_success=" in going.stdout  # the performance data still last


def test_a_stuck_run_is_a_warning_naming_its_pid(data):
    with holder(data, run_timeout=0.2) as proc:
        age_past(proc, 0.5)  # past twice its run_timeout
        stuck = check(data)
        stale = check(data, "--warn-hours", "0", "--critical-hours", "0")
    assert stuck.returncode == 1 and stuck.stdout.startswith("IDF-ETL WARNING - STUCK: ")
    assert f"pid {proc.pid}" in stuck.stdout and f"kill {proc.pid}" in stuck.stdout
    assert "last successful read of the site" in stuck.stdout
    # A worse verdict stays (CRITICAL), the stuck run said after it.
    assert stale.returncode == 2 and stale.stdout.startswith("IDF-ETL CRITICAL - last successful")
    assert "STUCK: " in stale.stdout and f"kill {proc.pid}" in stale.stdout


def test_a_first_run_in_progress_is_said_beside_no_warehouse(tmp_path):
    data = tmp_path / "data"
    with holder(data, run_timeout=3600) as proc:
        first = check(data)
    assert first.returncode == 3 and first.stdout.startswith("IDF-ETL UNKNOWN - no warehouse at")
    assert f"run in progress: pid {proc.pid}" in first.stdout


def test_a_lock_file_no_run_can_take_is_a_warning(data):
    lock = data / ".idf-etl.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(data / "elsewhere")
    said = check(data)
    assert said.returncode == 1 and said.stdout.startswith("IDF-ETL WARNING - the next run cannot")
    assert "symbolic link" in said.stdout and f"rm {lock}" in said.stdout


def test_a_damaged_published_warehouse_is_critical_with_the_restore(data):
    release = (data / "clean" / "idf.duckdb").resolve()
    release.write_bytes(b"not a database, yet not empty\n" * 400)
    said = check(data)
    assert said.returncode == 2, said.stdout
    assert said.stdout.startswith("IDF-ETL CRITICAL - analysts cannot open the published")
    assert "damaged" in said.stdout and "idf-etl restore" in said.stdout


def test_a_warehouse_whose_facts_cannot_be_read_is_unknown(data):
    release = (data / "clean" / "idf.duckdb").resolve()
    with duckdb.connect(str(release)) as con:
        con.execute("DROP VIEW open_issues")
    said = check(data)
    assert said.returncode == 3, said.stdout
    assert said.stdout.startswith("IDF-ETL UNKNOWN - the warehouse opens but")
    assert "open_issues" in said.stdout


def test_bad_arguments_are_unknown_never_critical(data, tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("x\n")
    for args in (
        ["--config", str(tmp_path / "missing.toml")],
        ["--data-dir", str(afile)],
        ["--warn-hours", "-1"],
        ["--no-such-option"],
        ["--warn-hours", "9", "--critical-hours", "1"],
    ):
        proc = idf_etl("check", *(["--data-dir", str(data)] if args[0] != "--data-dir" else []),
                       *args, cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert proc.stdout.startswith("IDF-ETL UNKNOWN - ") and len(proc.stdout.splitlines()) == 1


def test_the_analysts_link_deleted_is_critical_and_the_next_run_makes_it_again(data):
    # clean/idf.duckdb removed by hand while current/ leads to a release: readers said "no
    # warehouse, run `idf-etl run` first" and check UNKNOWN (adversary case).
    (data / "clean" / "idf.duckdb").unlink()
    said = check(data)
    assert said.returncode == 2, said.stdout
    assert "is missing" in said.stdout and "run `idf-etl run` first" not in said.stdout
    status = idf_etl("status", "--data-dir", str(data), cwd=data.parent)
    assert status.returncode == 1 and "is missing" in status.stderr, status.stderr
    again = idf_etl(
        "run", "--from-raw", "--data-dir", str(data), "--set", "report=false", cwd=data.parent
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert check(data).returncode == 0
