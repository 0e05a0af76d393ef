"""One failing host never hides another: a host's `crawl_incomplete` is that host's problem,
and a warehouse from before (one host-less problem) is taken over, not closed and reopened."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from pytest_httpserver import HTTPServer

from idf_etl.load.problems import problem_id, track_problems
from idf_etl.warehouse.schema import create_schema
from tests.helpers.cli import idf_etl

FAST = ["--rate", "0", "--set", "backoff_base=0.05", "--set", "max_retries=1"]


@pytest.fixture
def two_hosts():
    """Two sites on 127.0.0.1 (two origins), each with a sitemap of one page."""
    servers = [HTTPServer(host="127.0.0.1", threaded=True) for _ in range(2)]
    for srv in servers:
        srv.start()
    yield servers
    for srv in servers:
        srv.clear()
        if srv.is_running():
            srv.stop()


def serve_robots(srv: HTTPServer, status: int) -> None:
    srv.clear()
    srv.expect_request("/robots.txt").respond_with_data("busy", status=status)
    srv.expect_request("/sitemap.xml").respond_with_data(
        f"<urlset><url><loc>{srv.url_for('/project/p')}</loc></url></urlset>",
        content_type="application/xml",
    )
    srv.expect_request("/project/p").respond_with_data(
        "<html><body><h1>A page</h1></body></html>", content_type="text/html"
    )


def open_crawl_problems(data):
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT url, runs, first_run_id FROM open_issues WHERE code = 'crawl_incomplete' "
            "ORDER BY url"
        ).fetchall()


@pytest.mark.slow
def test_two_hosts_down_are_two_problems_in_status_open_issues_and_the_alert(two_hosts, tmp_path):
    a, b = two_hosts
    data = tmp_path / "data"
    hosts = [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]
    origins = sorted(f"http://{h}" for h in hosts)
    args = ["--data-dir", str(data), *FAST]
    for srv in two_hosts:
        args += ["--start-url", srv.url_for("/sitemap.xml")]

    for srv in two_hosts:
        serve_robots(srv, 200)
    assert idf_etl("run", *args, cwd=tmp_path).returncode == 0

    for srv in two_hosts:
        serve_robots(srv, 503)
    night = idf_etl("run", *args, cwd=tmp_path)
    assert night.returncode == 1, night.stderr
    assert [url for url, *_ in open_crawl_problems(data)] == origins
    status = idf_etl("status", "--data-dir", str(data), cwd=tmp_path)
    for host in hosts:  # each host named in the table the alert mails
        assert status.stdout.count(f"http://{host}") == 1, status.stdout
    as_json = json.loads(idf_etl("status", "--json", "--data-dir", str(data), cwd=tmp_path).stdout)
    assert (
        sorted(p["url"] for p in as_json["oldest_open_problems"] if p["code"] == "crawl_incomplete")
        == origins
    )
    assert "open problems: 2 errors" in status.stdout

    # One host comes back: its problem is resolved, the other stays open (seen twice).
    serve_robots(a, 200)
    third = idf_etl("run", *args, cwd=tmp_path)
    assert third.returncode == 1
    assert open_crawl_problems(data) == [(f"http://127.0.0.1:{b.port}", 2, 2)]


def write_issue(con, run_id, now, url, message):
    con.execute(
        "INSERT INTO issues (run_id, found_at, stage, severity, url, code, message) "
        "VALUES (?, ?, 'fetch', 'error', ?, 'crawl_incomplete', ?)",
        [run_id, now, url, message],
    )


def down(host: str) -> str:
    return f"robots.txt of {host} could not be read (HTTP 503 after 2 tries): nothing crawled on {host}"


@pytest.mark.parametrize("named", ["www.iom.int", "developmentfund.iom.int", "elsewhere.org"])
def test_a_hostless_problem_from_before_is_taken_over_by_its_host(tmp_path, named):
    """Upgrade: the open host-less problem (three runs old) becomes the problem of the host its
    message names, keeping its first sighting; the other host opens its own; none resolved.
    When the named host is not down any more, the old problem is resolved as before."""
    then = datetime(2026, 12, 1, tzinfo=UTC)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schema(con)
    legacy = {"stage": "fetch", "code": "crawl_incomplete", "url": None, "field": None}
    legacy_id = problem_id({**legacy, "message": down(named)})
    con.execute(
        "INSERT INTO problems (problem_id, stage, severity, code, url, message, first_seen, "
        "first_run_id, last_seen, last_run_id, runs) VALUES (?, 'fetch', 'error', "
        "'crawl_incomplete', NULL, ?, ?, 1, ?, 3, 3)",
        [legacy_id, down(named), then, then + timedelta(days=2)],
    )
    now = then + timedelta(days=3)
    for host in ("www.iom.int", "developmentfund.iom.int"):
        write_issue(con, 4, now, f"https://{host}", down(host))
    counts = track_problems(con, 4, now, network=True, failing_urls=set())

    rows = con.execute(
        "SELECT url, first_run_id, runs, resolved_run_id FROM problems ORDER BY url NULLS FIRST"
    ).fetchall()
    if named == "elsewhere.org":
        assert rows == [
            (None, 1, 3, 4),  # its host is not reported: resolved, as any fetch problem
            ("https://developmentfund.iom.int", 4, 1, None),
            ("https://www.iom.int", 4, 1, None),
        ]
        assert (counts.opened, counts.resolved, counts.still_open) == (2, 1, 2)
        return
    expected = {
        f"https://{host}": (1, 4, None) if host == named else (4, 1, None)
        for host in ("www.iom.int", "developmentfund.iom.int")
    }
    assert {url: rest for url, *rest in rows} == {k: list(v) for k, v in expected.items()}
    assert (counts.opened, counts.resolved, counts.still_open) == (1, 0, 2)
