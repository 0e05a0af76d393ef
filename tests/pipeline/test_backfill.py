"""`idf-etl backfill` end to end: pywb (a real Wayback server) over WARC files written here,
the live site beside it, the real CLI in a subprocess, a real DuckDB file."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.local_site import Site
from tests.helpers.wayback import Capture, Wayback

FAST = ("--set", "report=false", "--set", "rate=0")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def moldova(status: str, budget: str, live: bytes) -> bytes:
    return live.replace(b"<div>Completed</div>", f"<div>{status}</div>".encode()).replace(
        b"<div>200,000</div>", f"<div>{budget}</div>".encode()
    )


def archive_captures(site: Site) -> list[Capture]:
    """Moldova: active 150,000 in 2016, completed in 2019, 200,000 (today's) in 2021 and the
    same bytes again in 2022, a 500 in 2020; a project the site no longer shows (2017), then
    its 404 (2020); a listing page and a redirect under /project."""
    live = site.bodies["/project/moldova"]
    gone = (
        site.bodies["/project/southern-africa"]
        .replace(b"PO.0123", b"PO.0999")
        .replace(b"Southern Africa", b"the Lost Region")
    )
    url = site.url
    return [
        Capture(url("/project/moldova"), "20160501120000", 200, moldova("Active", "150,000", live)),
        Capture(
            url("/project/moldova"), "20190301100000", 200, moldova("Completed", "150,000", live)
        ),
        Capture(url("/project/moldova"), "20200101000000", 500, b"<html>down</html>"),
        Capture(url("/project/moldova"), "20210601000000", 200, live),
        Capture(url("/project/moldova"), "20220101000000", 200, live),
        Capture(url("/project/old-closed"), "20170201000000", 200, gone),
        Capture(url("/project/old-closed"), "20200115000000", 404, b"<html>not found</html>"),
        Capture(url("/projects?page=2"), "20180101000000", 200, b"<html>listing</html>"),
        Capture(
            url("/project/renamed"), "20180601000000", 301, b"", location=url("/project/moldova")
        ),
    ]


def run_live(site: Site, data: Path) -> None:
    proc = idf_etl(
        "run", "--start-url", site.url("/sitemap.xml"), "--start-url", site.url("/projects"),
        "--data-dir", str(data), *FAST, cwd=data.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def backfill_args(site: Site, archive: Wayback, data: Path) -> list[str]:
    return [
        "backfill", "--start-url", site.url("/sitemap.xml"), "--cdx", archive.cdx,
        "--replay", archive.replay, "--data-dir", str(data), *FAST,
        "--set", "archive_rate=0", "--json",
    ]  # fmt: skip


def backfill(site: Site, archive: Wayback, data: Path) -> dict:
    proc = idf_etl(*backfill_args(site, archive, data), cwd=data.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def history(data: Path) -> dict[str, list[tuple]]:
    """What a backfill adds, table by table (runs and last sightings left out)."""
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return {
            "changes": con.execute(
                "SELECT project_key, field, old_value, new_value, changed_at, seen_in "
                "FROM project_changes ORDER BY ALL"
            ).fetchall(),
            "versions": con.execute("SELECT * FROM project_versions ORDER BY ALL").fetchall(),
            "observations": con.execute(
                "SELECT url, observed_at, seen_in, kind, status, budget_usd FROM observations "
                "ORDER BY ALL"
            ).fetchall(),
            "projects": con.execute(
                "SELECT * EXCLUDE (last_seen) FROM projects ORDER BY project_key"
            ).fetchall(),
        }


def query(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()


def assert_history(data: Path, source: str) -> None:
    """What the archive's captures say, as the warehouse must answer it."""
    # Changes dated by the capture that first showed them, and where they were seen.
    changes = query(
        data,
        "SELECT field, old_value, new_value, changed_at, seen_in FROM project_changes "
        "WHERE project_key = 'CE.0333' ORDER BY changed_at, field",
    )
    assert changes == [
        ("status", "active", "completed", at("2019-03-01T10:00:00"), source),
        ("budget_usd", "150000.00", "200000.00", at("2021-06-01T00:00:00"), source),
    ]
    # Today's values are the live site's; the project was first seen in 2016.
    (row,) = query(
        data,
        "SELECT status, budget_usd, first_seen, missing_from_site FROM projects "
        "WHERE project_key = 'CE.0333'",
    )
    assert row[:2] == ("completed", 200000) and row[2] == at("2016-05-01T12:00:00")
    assert row[3] is False
    # As of a past date.
    as_of = """SELECT status, budget_usd FROM project_versions WHERE project_key = 'CE.0333'
               AND valid_from <= ?::TIMESTAMPTZ AND (valid_to IS NULL OR valid_to > ?::TIMESTAMPTZ)"""
    for when, expected in [
        ("2018-01-01 00:00:00+00", ("active", 150000)),
        ("2020-06-01 00:00:00+00", ("completed", 150000)),
        ("2026-01-01 00:00:00+00", ("completed", 200000)),
    ]:
        assert query(data, as_of, [when, when]) == [expected], when
    assert query(data, as_of, ["2015-01-01 00:00:00+00"] * 2) == []
    # The project only the archive remembers: kept, flagged, first seen at its capture,
    # gone at its 404 capture.
    (gone,) = query(
        data,
        "SELECT title, missing_from_site, first_seen FROM projects WHERE project_key = 'PO.0999'",
    )
    assert "the Lost Region" in gone[0] and gone[1] is True
    assert gone[2] == at("2017-02-01T00:00:00")
    assert query(
        data,
        "SELECT old_value, new_value, changed_at, seen_in FROM project_changes "
        "WHERE project_key = 'PO.0999' AND field = 'missing_from_site'",
    ) == [("False", "True", at("2020-01-15T00:00:00"), source)]


@pytest.mark.slow
def test_backfill_dates_history_by_capture_and_keeps_the_live_values(server, tmp_path):
    site = Site(server)
    data = tmp_path / "data"
    run_live(site, data)
    with Wayback(tmp_path / "archive", archive_captures(site)) as archive:
        summary = backfill(site, archive, data)
        source = archive.replay

        assert_history(data, source)
        # The ledger: a run of its own; the 2022 capture's body (same digest) was not fetched
        # again, nor were the 500, the redirect and the listing page.
        (run,) = query(
            data,
            "SELECT mode, outcome, pages_discovered, pages_fetched, pages_gone FROM runs "
            "WHERE run_id = 2",
        )
        assert run == ("backfill", "success", 9, 4, 1)
        assert summary["fetch"]["unchanged"] == 1 and summary["fetch"]["skipped"] == 3
        manifest = sqlite3.connect(data / "raw" / "manifest.sqlite")
        outcomes = dict(
            manifest.execute("SELECT timestamp, outcome FROM captures WHERE url LIKE '%moldova'")
        )
        assert outcomes["20220101000000"] == "reused" and outcomes["20200101000000"] == "skipped"

        # A second backfill over the same captures adds nothing and fetches no capture.
        before = history(data)
        again = backfill(site, archive, data)
        assert again["fetch"]["fetched"] == 0 and again["fetch"]["unchanged"] == 9
        assert history(data) == before
        # The nightly run after it changes nothing that it added.
        run_live(site, data)
        assert history(data) == before
        assert query(data, "SELECT mode FROM runs ORDER BY run_id") == [
            ("network",),
            ("backfill",),
            ("backfill",),
            ("network",),
        ]


def captures_done(data: Path) -> int:
    try:
        with sqlite3.connect(data / "raw" / "manifest.sqlite", timeout=1) as manifest:
            (n,) = manifest.execute("SELECT count(*) FROM captures").fetchone()
    except sqlite3.Error:  # not created yet
        return 0
    return int(n)


@pytest.mark.slow
def test_a_backfill_killed_in_the_middle_resumes_and_loses_nothing(server, tmp_path):
    site = Site(server)
    data = tmp_path / "data"
    run_live(site, data)
    published = query(data, "SELECT count(*) FROM runs")
    with Wayback(tmp_path / "archive", archive_captures(site)) as archive:
        # Four requests a second: the captures take about two seconds, killed after the first.
        args = [*backfill_args(site, archive, data), "--set", "archive_rate=4"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "idf_etl", *args],
            cwd=tmp_path, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while captures_done(data) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "the backfill finished before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stderr.close()
        killed_at = captures_done(data)
        assert 2 <= killed_at < 9
        # The published warehouse is the live run's, untouched.
        assert query(data, "SELECT count(*) FROM runs") == published
        summary = backfill(site, archive, data)
        # What was fetched before the kill is not fetched again.
        replays = [line for line in archive.requests() if "id_/" in line]
        assert len(replays) == 4, replays
        assert summary["fetch"]["unchanged"] >= 1
        assert_history(data, archive.replay)
