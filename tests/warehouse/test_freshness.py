"""Freshness is the last successful read of the site: a re-parse of stored pages after a
failed nightly fetch moves neither `check`, `status`, the report's "data as of" nor
datapackage.json's `data_as_of`."""

from __future__ import annotations

import functools
import json
import re
import socket
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.warehouse.schema import create_schema
from idf_etl.warehouse.status import (
    CHECK_CRITICAL,
    CHECK_OK,
    CHECK_WARNING,
    CLOCK_SLACK,
    check_freshness,
    status_facts,
)
from tests.helpers.cli import idf_etl


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def finished(data, run_id):
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute("SELECT finished_at FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]


@pytest.mark.slow
def test_a_reparse_after_a_failed_fetch_does_not_pass_for_fresh_data(demo_site, tmp_path):
    _, base = demo_site
    data = tmp_path / "data"
    common = ["--data-dir", str(data), "--rate", "0"]
    assert (
        idf_etl("run", "--start-url", f"{base}/sitemap.xml", *common, cwd=tmp_path).returncode == 0
    )
    read_at = finished(data, 1)

    # Night 2: the site cannot be reached (the fetch fails); then someone re-parses.
    down = f"http://127.0.0.1:{closed_port()}/sitemap.xml"
    night = idf_etl("run", "--start-url", down, *common, "--set", "max_retries=0", cwd=tmp_path)
    assert night.returncode == 1, night.stderr
    reparse = idf_etl("run", "--from-raw", *common, cwd=tmp_path)
    assert reparse.returncode == 0, reparse.stderr

    check = idf_etl("check", "--data-dir", str(data), cwd=tmp_path)
    assert check.returncode == 1, check.stdout  # WARNING for a monitor, not OK
    assert check.stdout.startswith("IDF-ETL WARNING - run 2 (network) ended with failures")
    assert "last successful read of the site (run 1)" in check.stdout

    facts = json.loads(idf_etl("status", "--json", "--data-dir", str(data), cwd=tmp_path).stdout)
    assert facts["last_run"]["run_id"] == 3 and facts["last_run"]["mode"] == "from-raw"
    assert facts["last_success"]["run_id"] == 1
    assert facts["last_network_run"] == {
        "run_id": 2,
        "outcome": "failures",
        "finished_at": facts["last_network_run"]["finished_at"],
    }
    status = idf_etl("status", "--data-dir", str(data), cwd=tmp_path)
    assert "last successful read of the site: run 1, finished" in status.stdout

    # The report the re-parse wrote, and the package it exported, say the same.
    report = (data / "clean" / "report.html").read_text()
    shown = re.search(r'id="fig-as-of">([^<]+)<', report).group(1)
    assert shown == f"{read_at:%Y-%m-%d %H:%M} UTC"
    package = json.loads((data / "clean" / "datapackage.json").read_text())
    assert package["data_as_of"] == read_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert package["version"].split(".")[1] == "3"  # the release is run 3's

    # The next good read moves all of them; check is OK again.
    again = idf_etl("run", "--start-url", f"{base}/sitemap.xml", *common, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    ok = idf_etl("check", "--data-dir", str(data), cwd=tmp_path)
    assert ok.returncode == 0 and "(run 4)" in ok.stdout


# -- a stored time in the future (the clock was ahead when a run finished, or is behind now) --


@functools.cache
def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    create_schema(con)
    return con


def _facts_at(offset: timedelta, now: datetime) -> dict:
    """status_facts over a real DuckDB warehouse whose one successful read finished at
    now + offset."""
    con = _warehouse()
    con.execute("DELETE FROM runs")
    con.execute(
        "INSERT INTO runs (run_id, started_at, finished_at, mode, outcome) "
        "VALUES (1, ?, ?, 'network', 'success')",
        [now + offset - timedelta(minutes=3), now + offset],
    )
    return status_facts(con, now=now)


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.integers(min_value=-3 * 365 * 24 * 60, max_value=3 * 365 * 24 * 60),
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
)
def test_freshness_whatever_the_clock_did(minutes, now):
    """A success finished `minutes` after now: past it (or within CLOCK_SLACK) its age is
    the hours since; later, freshness cannot be told and `check` says WARNING naming the
    clock, never OK with a negative age (a year ahead was a year of OK with no runs)."""
    offset = timedelta(minutes=minutes)
    facts = _facts_at(offset, now)
    verdict = check_freshness(facts, warn_hours=30, critical_hours=54)
    if offset > CLOCK_SLACK:
        assert facts["hours_since_success"] is None
        assert "clock" in facts["clock_problem"] and "run 1" in facts["clock_problem"]
        assert verdict.code == CHECK_WARNING
        assert verdict.line.startswith("IDF-ETL WARNING - the last successful read")
        assert "hours_since_success=U;" in verdict.line
    else:
        hours = max(0.0, -minutes / 60)  # a success just "ahead" within the slack: now
        assert facts["clock_problem"] is None
        assert facts["hours_since_success"] == pytest.approx(hours, abs=1e-3)
        expected = CHECK_CRITICAL if hours > 54 else CHECK_WARNING if hours > 30 else CHECK_OK
        assert verdict.code == expected, verdict.line


def test_a_success_with_no_end_in_the_ledger_is_not_fresh():
    """A runs row edited by hand: outcome success, finished_at NULL."""
    now = datetime(2026, 12, 6, tzinfo=UTC)
    with duckdb.connect() as con:
        create_schema(con)
        con.execute(
            "INSERT INTO runs (run_id, started_at, mode, outcome) "
            "VALUES (7, ?, 'network', 'success')",
            [now],
        )
        facts = status_facts(con, now=now)
    verdict = check_freshness(facts, 30, 54)
    assert verdict.code == CHECK_WARNING and "run 7" in verdict.line
    assert "no finished_at" in verdict.line
