"""A night whose project pages stop being project pages in bulk did not do its job (#22
adversary 18): every page answering 200 with a "Site under maintenance" page is `failures`
(exit 1, one `idf-etl:` line, the data kept, `check` warns), for as long as it lasts; one
lost page among many is a warning, and the run a success. `idf-etl run` and `check` as
subprocesses against a real server, the ledger read with DuckDB."""

from __future__ import annotations

import pytest

from tests.cli.test_cli_interrupts import idf
from tests.cli.test_cli_issue22 import HTML, ledger, run, serve_site
from tests.helpers.raw_server import RawServer, http

pytestmark = pytest.mark.slow

MAINTENANCE = http(
    200,
    b"<!DOCTYPE html><html lang='en'><head><title>Site under maintenance</title></head>"
    b"<body><main><h1>Site under maintenance</h1><p>Back soon.</p></main></body></html>",
    HTML,
)


def halts(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "idf-etl:" in line]


def test_a_night_of_maintenance_pages_fails_keeps_the_data_and_check_warns(tmp_path):
    data = tmp_path / "data"
    with RawServer() as srv:
        paths = serve_site(srv, 6, lastmod="2024-01-01")
        assert run(srv, data).returncode == 0
        titles = ledger(data, "SELECT project_id, title FROM projects ORDER BY 1")
        for night, lastmod in enumerate(["2024-06-01", "2024-06-02"], start=2):
            serve_site(srv, 6, lastmod=lastmod)
            for path in paths:
                srv.answer(path, MAINTENANCE)
            proc = run(srv, data)
            assert proc.returncode == 1, proc.stderr[-2000:]
            [line] = halts(proc.stderr)
            assert "6 of 6 project pages no longer read as project pages" in line, line
            assert "maintenance" in line
            assert ledger(data, "SELECT outcome FROM runs WHERE run_id = ?", [night]) == [
                ("failures",)
            ]
            assert ledger(data, "SELECT project_id, title FROM projects ORDER BY 1") == titles
            check = idf("check", "--data-dir", str(data), cwd=tmp_path)
            assert check.returncode == 1 and "WARNING" in check.stdout, check.stdout
            assert f"run {night} (network) ended with failures" in check.stdout
        serve_site(srv, 6, lastmod="2024-07-01")  # the site is back
        proc = run(srv, data)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert halts(proc.stderr) == []
    assert ledger(data, "SELECT outcome FROM runs ORDER BY run_id") == [
        ("success",), ("failures",), ("failures",), ("success",)
    ]  # fmt: skip


def test_one_lost_project_page_among_many_is_a_warning_and_the_run_a_success(tmp_path):
    data = tmp_path / "data"
    with RawServer() as srv:
        paths = serve_site(srv, 25, lastmod="2024-01-01")
        assert run(srv, data).returncode == 0
        serve_site(srv, 25, lastmod="2024-06-01")
        srv.answer(paths[3], MAINTENANCE)
        proc = run(srv, data)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert halts(proc.stderr) == []
    assert ledger(data, "SELECT outcome FROM runs ORDER BY run_id") == [("success",), ("success",)]
    assert ledger(
        data, "SELECT count(*) FROM issues WHERE code = 'project_page_lost' AND run_id = 2"
    ) == [(1,)]
