"""`idf-etl run` end to end: a real server, the real CLI in a subprocess, a real DuckDB file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from idf_etl.load.parsed import LoadStats
from idf_etl.pipeline.lock import RunLock
from idf_etl.pipeline.summary import RunResult, StageClock

ARMENIA = "/project/migration-socio-economic-development-armenia-georgia"


def idf(*args, data_dir, check=True, timeout=180):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    proc = subprocess.run(
        [sys.executable, "-m", "idf_etl", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=data_dir.parent,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


# The report costs a run about 2 s and none of these tests looks at it (test_report.py does).
NO_REPORT = ("--set", "report=false")


def run(base, data_dir, *extra, check=True):
    proc = idf(
        "run",
        "--start-url",
        f"{base}/sitemap.xml",
        "--rate",
        "0",
        "--json",
        *NO_REPORT,
        *extra,
        data_dir=data_dir,
        check=check,
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    return proc, summary


def query(data_dir, sql, params=None):
    with duckdb.connect(str(data_dir / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def edit(site: Path, path: str, old: str, new: str, lastmod: str = "2024-06-01") -> None:
    file = site / (path.strip("/") + ".html")
    text = file.read_text()
    assert old in text, old
    file.write_text(text.replace(old, new))
    stamps = json.loads((site / "lastmod.json").read_text())
    stamps[path] = lastmod
    (site / "lastmod.json").write_text(json.dumps(stamps))


def snapshot(data_dir):
    tables = ["projects", "project_pages", "project_states", "project_changes", "issues", "pages"]
    return {t: sorted(map(repr, query(data_dir, f"SELECT * FROM {t}"))) for t in tables}


def test_run_end_to_end(published):
    data, stderr, summary = published
    assert summary["outcome"] == "success"
    assert summary["projects_new"] == 14
    assert "published" in stderr
    # Where the time went: each stage that ran, in order; together, the run's own seconds.
    stages = summary["stage_seconds"]
    assert list(stages) == ["fetch", "prepare", "parse", "merge", "export", "publish"]
    assert all(s >= 0 for s in stages.values()) and stages["fetch"] > 0
    # Exactly, on one clock (each figure is rounded to 0.01 s): an untimed moment (taking
    # the lock, opening the store) made them differ by over 20 % on a loaded machine.
    assert abs(sum(stages.values()) - summary["seconds"]) <= 0.005 * (len(stages) + 1)
    assert summary["parse_workers"] >= 1
    assert "seconds by stage: fetch " in stderr and "pages/s on " in stderr

    assert query(data, "SELECT count(*) FROM projects") == [(14,)]
    assert query(data, "SELECT count(*) FROM project_pages") == [(25,)]
    row = query(
        data,
        """SELECT title, title_lang, status, budget_usd::VARCHAR, coverage, idf_region,
                                start_year, end_year, year, prima_id, states, languages,
                                missing_from_site FROM projects WHERE project_id = 'CD.0085'""",
    )
    assert row == [
        (
            "Migration for Socio-Economic Development in Armenia and Georgia",
            "en",
            "active",
            "400000.00",
            "regional",
            "Europe",
            2023,
            2024,
            2022,
            "GE10P0527",
            ["AM", "GE"],
            ["en", "fr", "es"],
            False,
        )
    ]
    assert query(
        data,
        "SELECT iso2, country_name FROM project_states WHERE project_id = 'CD.0085' ORDER BY iso2",
    ) == [("AM", "Armenia"), ("GE", "Georgia")]
    assert query(data, "SELECT typeof(budget_usd) FROM projects LIMIT 1") == [("DECIMAL(18,2)",)]
    # the broken page is an issue with its URL, not a crash
    assert query(data, "SELECT code, severity FROM issues WHERE url LIKE '%broken-upload'") == [
        ("unreadable_page", "error")
    ]
    assert query(data, "SELECT run_id, mode, outcome FROM runs") == [(1, "network", "success")]
    # news pages under /fr/node/ and /es/node/ were fetched, and set aside as "other"
    assert query(data, "SELECT kind, count(*) FROM pages GROUP BY ALL ORDER BY kind") == [
        ("error", 1),
        ("other", 2),
        ("project", 25),
    ]
    assert query(data, "SELECT count(*) FROM project_changes") == [(0,)]
    # exports for people outside DuckDB
    clean = data / "clean"
    package = json.loads((clean / "datapackage.json").read_text())
    assert {r["name"] for r in package["resources"]} >= {"projects", "project_changes", "runs"}
    assert query(data, f"SELECT count(*) FROM '{clean / 'parquet' / 'projects.parquet'}'") == [
        (14,)
    ]
    assert not (clean / "releases" / ".building").exists()
    assert not list(clean.rglob("*.wal"))


@pytest.mark.slow
def test_unchanged_rerun_then_two_changes_are_history(demo_site, tmp_path):
    site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    before = snapshot(data)

    _, second = run(base, data)

    assert snapshot(data) == before  # nothing changed but the run ledger
    assert second["fetch"]["fetched"] == 0
    assert second["pages_parsed"] == 0
    assert query(data, "SELECT count(*) FROM runs") == [(2,)]

    edit(site, ARMENIA, "400000.00", "450000.00")
    edit(site, ARMENIA, "Active", "Completed")
    _, third = run(base, data)

    assert third["field_changes"] == 2
    changes = query(
        data,
        """SELECT run_id, field, old_value, new_value FROM project_changes
                              WHERE project_id = 'CD.0085' ORDER BY field""",
    )
    assert changes == [
        (3, "budget_usd", "400000.00", "450000.00"),
        (3, "status", "active", "completed"),
    ]
    assert query(data, "SELECT count(*) FROM project_changes") == [(2,)]
    assert query(
        data, "SELECT budget_usd::VARCHAR, status FROM projects WHERE project_id = 'CD.0085'"
    ) == [("450000.00", "completed")]


@pytest.mark.slow
def test_page_that_fails_to_parse_keeps_the_previous_row(demo_site, tmp_path):
    site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    before = query(data, "SELECT * FROM projects WHERE project_id = 'T97-805'")
    page = "/es/node/175000"
    (site / "es/node/175000.html").write_bytes(b"")
    stamps = json.loads((site / "lastmod.json").read_text())
    stamps[page] = "2024-07-01"
    (site / "lastmod.json").write_text(json.dumps(stamps))

    _, summary = run(base, data, check=False)

    assert summary["parse_errors"] == 1
    assert query(data, "SELECT * FROM projects WHERE project_id = 'T97-805'") == before
    issues = query(data, "SELECT run_id, stage, code FROM issues WHERE url LIKE ?", [f"%{page}"])
    assert (2, "parse", "unreadable_page") in issues


@pytest.mark.slow
@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "read-write"])
def test_reader_holding_the_file_neither_blocks_nor_sees_a_half_written_run(
    demo_site, tmp_path, read_only
):
    site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    published = data / "clean" / "idf.duckdb"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published), str(read_only)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "400000.00"  # connected, holding the file

    edit(site, ARMENIA, "400000.00", "999000.00")
    _proc, summary = run(base, data)

    reader.stdin.write("again\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "400000.00"  # its snapshot is the old file
    reader.stdin.close()
    assert reader.wait(timeout=30) == 0
    assert summary["field_changes"] == 1
    assert query(data, "SELECT budget_usd::VARCHAR FROM projects WHERE project_id = 'CD.0085'") == [
        ("999000.00",)
    ]


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "True")
q = "SELECT budget_usd::VARCHAR FROM projects WHERE project_id = 'CD.0085'"
print(con.execute(q).fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute(q).fetchone()[0], flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["while-parsing", "after-commit"])
def test_sigkill_during_loading_leaves_the_published_warehouse_intact(demo_site, tmp_path, moment):
    site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    before = snapshot(data)
    exported = data / "clean" / "parquet" / "projects.parquet"
    exports_before = exported.read_bytes()
    # Make the load long enough to hit: a re-parse of many stored pages.
    from idf_etl.rawstore import RawStore

    body = (site / (ARMENIA.strip("/") + ".html")).read_bytes()
    with RawStore(data / "raw") as store:
        for i in range(1500):
            store.record_body(
                f"{base}/project/copy-{i}",
                status=200,
                body=body.replace(b"CD.0085", f"ZZ.{i:04d}".encode()),
                headers={"content-type": "text/html"},
                final_url=f"{base}/project/copy-{i}",
                canonical_url=None,
                sitemap_lastmod=None,
            )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "idf_etl", "run", "--from-raw", *NO_REPORT, "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    building = data / "clean" / "releases" / ".building"
    # while-parsing: the building copy exists; after-commit: the transaction is
    # committed and the exports are being written, the release not published yet.
    marker = building if moment == "while-parsing" else building / "parquet"
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.001)
    if moment == "while-parsing":
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    assert snapshot(data) == before  # opens, with the previous data
    assert exported.read_bytes() == exports_before  # and the exports match it
    _, summary = run(base, data)
    assert summary["outcome"] == "success"
    assert query(data, "SELECT count(*) FROM projects") == [(14 + 1500,)]
    assert not building.exists()


def test_second_run_is_refused_while_one_holds_the_lock(tmp_path):
    data = tmp_path / "data"
    with RunLock(data):
        proc = idf("run", "--from-raw", data_dir=data, check=False)
    assert proc.returncode == 3
    assert "another idf-etl run" in proc.stderr


@pytest.mark.slow
def test_from_raw_reparses_everything_offline(demo_site, tmp_path):
    _site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    proc = idf("run", "--from-raw", "--json", *NO_REPORT, data_dir=data, check=False)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["mode"] == "from-raw"
    assert summary["pages_parsed"] == 28
    assert summary["fetch"] is None
    assert summary["field_changes"] == 0
    assert list(summary["stage_seconds"]) == ["prepare", "parse", "merge", "export", "publish"]


def test_status_and_sql(published):
    data, _, _ = published
    status = idf("status", data_dir=data)
    assert "recent runs" in status.stdout and "unreadable_page" in status.stdout
    out = idf(
        "sql",
        "SELECT project_id, budget_usd FROM projects WHERE project_id = 'CE.0333'",
        "--csv",
        data_dir=data,
    ).stdout
    assert out.splitlines() == ["project_id,budget_usd", "CE.0333,200000.00"]
    rows = idf("sql", "SELECT count(*) AS n FROM active_projects", "--json", data_dir=data).stdout
    assert json.loads(rows) == {"n": 5}
    bad = idf("sql", "DELETE FROM projects", data_dir=data, check=False)
    assert bad.returncode == 2
    assert query(data, "SELECT count(*) FROM projects") == [(14,)]


def test_status_without_a_warehouse_says_what_to_do(tmp_path):
    proc = idf("status", data_dir=tmp_path / "empty", check=False)
    assert proc.returncode == 1
    assert "idf-etl run" in proc.stderr


@pytest.mark.parametrize("view", ["budget_by_region_year", "budget_by_country", "active_projects"])
def test_views_answer(published, view):
    data, _, _ = published
    assert query(data, f"SELECT count(*) FROM {view}")[0][0] > 0


@pytest.mark.slow
def test_stray_wal_beside_the_published_file_is_moved_aside(demo_site, tmp_path):
    _, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    stray = data / "clean" / "idf.duckdb.wal"
    stray.write_bytes(b"left by a reader that crashed while holding the file read-write")

    proc, summary = run(base, data)

    assert summary["outcome"] == "success"
    assert not stray.exists()
    kept = list((data / "clean").glob("idf.duckdb.wal.stray-*"))
    assert len(kept) == 1 and b"crashed" in kept[0].read_bytes()  # moved aside, not lost
    assert "stray write-ahead log" in proc.stderr
    assert query(data, "SELECT count(*) FROM projects") == [(14,)]


@pytest.mark.slow
def test_removed_page_is_found_gone_by_revalidation_and_its_project_kept(demo_site, tmp_path):
    site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    page = "/project/moldova-diaspora-homeland-partnerships"  # CE.0333's only page
    (site / (page.strip("/") + ".html")).unlink()
    stamps = json.loads((site / "lastmod.json").read_text())
    del stamps[page]  # gone from the sitemap too
    (site / "lastmod.json").write_text(json.dumps(stamps))

    _, summary = run(base, data, "--revalidate")

    assert summary["fetch"]["gone"] == 1
    assert query(
        data,
        "SELECT missing_from_site, budget_usd::VARCHAR FROM projects WHERE project_id = 'CE.0333'",
    ) == [(True, "200000.00")]
    assert query(data, "SELECT field, old_value, new_value FROM project_changes") == [
        ("missing_from_site", "False", "True")
    ]
    assert query(data, "SELECT gone FROM pages WHERE url LIKE ?", [f"%{page}"]) == [(True,)]


def test_stage_clock_counts_every_moment_once_and_the_line_rates_the_parse_stage():
    began = time.monotonic()
    clock = StageClock()
    clock.start("fetch")
    time.sleep(0.02)
    clock.start("parse")
    time.sleep(0.01)
    clock.start("fetch")  # a stage run twice adds up
    clock.stop()
    clock.stop()  # stopping twice counts nothing more
    ended = time.monotonic()
    assert list(clock.stages) == ["fetch", "parse"]
    assert clock.stages["fetch"] >= 0.02 and clock.stages["parse"] >= 0.01
    # the run's seconds: every moment from the first start to the stop, once (sleeps end
    # late, never early: these hold on any machine)
    assert 0.03 <= sum(clock.stages.values()) <= clock.elapsed() <= ended - began
    result = RunResult(1, "from-raw", "success", None, LoadStats(pages_parsed=300), "", 0.0)
    result.stages, result.parse_workers = {"prepare": 0.3, "parse": 2.0, "merge": 1.0}, 2
    assert result.stages_line() == (
        "prepare 0.3s, parse 2.0s (150 pages/s on 2 processes), merge 1.0s"
    )
    assert result.as_dict()["stage_seconds"] == {"prepare": 0.3, "parse": 2.0, "merge": 1.0}
