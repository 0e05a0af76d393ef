"""Freshness is the last successful read of the site: a re-parse of stored pages after a
failed nightly fetch moves neither `check`, `status`, the report's "data as of" nor
datapackage.json's `data_as_of`."""

from __future__ import annotations

import json
import re
import socket

import duckdb
import pytest

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
