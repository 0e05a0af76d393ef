"""A backfill against an archive that misbehaves: a real HTTP server on 127.0.0.1 whose CDX
and replay answers each test draws, beside the live site; a real DuckDB file."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from idf_etl.pipeline.lock import RunLock
from idf_etl.pipeline.parsing import PARSED_AT_LEAST
from idf_etl.pipeline.run import run_pipeline
from idf_etl.rawstore import RawStore
from tests.helpers.cli import idf_etl
from tests.helpers.local_site import Site

HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]


class FakeArchive:
    """An Internet-Archive-style CDX server and replay endpoint; `captures` are
    (url, timestamp, status, digest, body or Response, mime)."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", threaded=True)
        self.server.start()
        self.base = self.server.url_for("").rstrip("/")
        self.captures: list[tuple[str, str, str, str, object, str]] = []
        self.cdx_answer: Response | None = None
        self.replay_answers: dict[str, list[Response]] = {}
        self.replays: list[str] = []
        self.server.expect_request("/cdx").respond_with_handler(self._cdx)
        self.server.expect_request(re.compile(r"^/web/.*")).respond_with_handler(self._replay)

    def add(self, url, timestamp, body, *, status="200", digest=None, mime="text/html"):
        digest = digest or f"D{abs(hash(body)) % 10**12}"
        self.captures.append((url, timestamp, status, digest, body, mime))

    def _cdx(self, request: Request) -> Response:
        if self.cdx_answer is not None:
            return self.cdx_answer
        rows = [[ "k", ts, url, mime, status, digest, "1"]
                for url, ts, status, digest, _, mime in self.captures]  # fmt: skip
        return Response(json.dumps([HEADER, *rows]), content_type="application/json")

    def _replay(self, request: Request) -> Response:
        self.replays.append(request.full_path.rstrip("?"))
        ts, url = re.match(r"^/web/(\d+)id_/(.*)$", request.full_path.rstrip("?")).groups()
        if self.replay_answers.get(ts):
            return self.replay_answers[ts].pop(0)
        for c_url, c_ts, _, _, body, _ in self.captures:
            if c_ts == ts and c_url == url:
                return Response(body, content_type="text/html; charset=utf-8")
        return Response("no such capture", status=404)

    def stop(self) -> None:
        self.server.clear()
        self.server.stop()


@pytest.fixture
def archive():
    fake = FakeArchive()
    yield fake
    fake.stop()


@pytest.fixture
def site(server):
    return Site(server)


@pytest.fixture
def settings(fast_settings, site, archive):
    def make(**more):
        return fast_settings(
            start_urls=[site.url("/sitemap.xml"), site.url("/projects")],
            archive_cdx=f"{archive.base}/cdx",
            archive_replay=f"{archive.base}/web",
            archive_rate=0,
            archive_paths=["/project"],
            report=False,
            **more,
        )

    return make


def query(settings, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(settings.clean_dir / "idf.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()


def moldova(site: Site, budget: str) -> bytes:
    return site.bodies["/project/moldova"].replace(b"200,000", budget.encode())


def test_a_capture_newer_than_the_live_reading_does_not_change_todays_values(
    site, archive, settings
):
    s = settings()
    run_pipeline(s)
    archive.add(site.url("/project/moldova"), "20160101000000", moldova(site, "150,000"))
    archive.add(site.url("/project/moldova"), "20990101000000", moldova(site, "999,999"))
    result = run_pipeline(s, backfill=(None, None))
    assert result.outcome == "success"
    assert query(s, "SELECT budget_usd FROM projects WHERE project_key = 'CE.0333'") == [(200000,)]
    versions = query(
        s,
        "SELECT budget_usd, valid_to IS NULL FROM project_versions "
        "WHERE project_key = 'CE.0333' ORDER BY valid_from",
    )
    assert versions == [(150000, False), (200000, True)]
    # The change to today's value was first seen by the live run; the 2099 capture is kept.
    assert query(
        s, "SELECT new_value, seen_in FROM project_changes WHERE project_key = 'CE.0333'"
    ) == [("200000.00", "live")]
    assert query(s, "SELECT count(*) FROM observations WHERE year(observed_at) = 2099") == [(1,)]


def test_identical_captures_under_two_urls_are_fetched_once_and_both_observed(
    site, archive, settings
):
    s = settings()
    run_pipeline(s)
    body = moldova(site, "150,000")
    archive.add(site.url("/project/moldova"), "20170101000000", body, digest="SAME")
    archive.add(site.url("/project/moldova-diaspora"), "20170201000000", body, digest="SAME")
    run_pipeline(s, backfill=(None, None))
    assert len(archive.replays) == 1
    (row,) = query(
        s,
        "SELECT budget_usd, missing_from_site, len(urls) FROM projects WHERE project_key = 'CE.0333'",
    )
    assert row == (200000, False, 2)  # the live page wins; the old address joins the project
    assert query(s, "SELECT count(*) FROM observations WHERE seen_in <> 'live'") == [(2,)]


def test_captures_without_a_digest_are_each_fetched_and_stored_once(site, archive, settings):
    s = settings()
    body = moldova(site, "150,000")
    archive.add(site.url("/project/moldova"), "20170101000000", body, digest="-")
    archive.add(site.url("/project/moldova"), "20180101000000", body, digest="-")
    run_pipeline(s, backfill=(None, None))
    assert len(archive.replays) == 2  # nothing says they are the same bytes until fetched
    with RawStore(s.raw_dir) as store:
        shas = {r["sha256"] for r in store.capture_rows(s.archive_replay).values()}
    assert len(shas) == 1 and len(list(s.raw_dir.glob("objects/*/*.gz"))) == 1


def test_a_replay_that_gives_another_capture_fails_that_capture_alone(site, archive, settings):
    s = settings(failure_threshold=1)
    run_pipeline(s)
    archive.add(site.url("/project/moldova"), "20170101000000", moldova(site, "150,000"))
    archive.add(site.url("/project/moldova"), "20180101000000", moldova(site, "175,000"))
    moved = f"{archive.base}/web/20170101000000id_/{site.url('/project/moldova')}"
    archive.replay_answers["20180101000000"] = [Response(status=302, headers={"Location": moved})]
    result = run_pipeline(s, backfill=(None, None))
    assert result.fetch is not None and len(result.fetch.failures) == 1
    assert "another capture (20170101000000)" in result.fetch.failures[0][1]
    # The other capture is loaded; the failed one is asked again by the next backfill.
    assert query(s, "SELECT count(*) FROM observations WHERE seen_in <> 'live'") == [(1,)]
    run_pipeline(s, backfill=(None, None))
    assert archive.replays[-1].startswith("/web/20180101000000id_/")
    assert query(s, "SELECT count(*) FROM observations WHERE seen_in <> 'live'") == [(2,)]


def test_a_cdx_answer_that_is_not_captures_halts_and_keeps_the_warehouse(site, archive, settings):
    s = settings()
    run_pipeline(s)
    before = query(s, "SELECT * EXCLUDE (last_seen) FROM projects ORDER BY ALL")
    archive.cdx_answer = Response("<html><body>Welcome to our archive</body></html>")
    result = run_pipeline(s, backfill=(None, None))
    assert result.outcome == "failures"
    assert "not a list of captures" in result.fetch.halts[0] and "--cdx" in result.fetch.halts[0]
    assert query(s, "SELECT * EXCLUDE (last_seen) FROM projects ORDER BY ALL") == before


def test_a_retry_after_beyond_backoff_max_stops_and_the_next_backfill_goes_on(
    site, archive, settings
):
    s = settings()
    archive.add(site.url("/project/moldova"), "20170101000000", moldova(site, "150,000"))
    archive.add(site.url("/project/moldova"), "20180101000000", moldova(site, "175,000"))
    archive.replay_answers["20170101000000"] = [
        Response("busy", status=429, headers={"Retry-After": "3600"})
    ]
    first = run_pipeline(s, backfill=(None, None))
    assert first.outcome == "failures" and "asked us to wait 3600s" in first.fetch.halts[0]
    assert first.fetch.not_requested == 2
    with RawStore(s.raw_dir) as store:
        assert store.capture_rows(s.archive_replay) == {}
    second = run_pipeline(s, backfill=(None, None))
    assert second.outcome == "success" and second.fetch.fetched == 2


def test_a_project_address_that_is_not_a_project_page_is_observed_as_such(site, archive, settings):
    s = settings()
    faq = (Path(__file__).parents[1] / "fixtures" / "pages" / "faq_en.html").read_bytes()
    archive.add(site.url("/project/faq"), "20170101000000", faq)
    archive.add(site.url("/project/report.pdf"), "20170101000000", b"%PDF", mime="application/pdf")
    archive.add("http://elsewhere.example/project/x", "20170101000000", b"<html></html>")
    result = run_pipeline(s, backfill=(None, None))
    assert result.outcome == "success" and result.fetch.skipped == 2
    assert query(s, "SELECT kind FROM observations") == [("other",)]
    assert query(s, "SELECT count(*) FROM projects") == [(0,)]


def test_an_oversized_capture_fails_alone(site, archive, settings):
    s = settings(max_bytes=2048, failure_threshold=1)
    archive.add(site.url("/project/big"), "20170101000000", b"<html>" + b"x" * 5000 + b"</html>")
    archive.add(site.url("/project/moldova"), "20170101000000", moldova(site, "150,000"))
    result = run_pipeline(s, backfill=(None, None))
    assert [url for url, _ in result.fetch.failures] == [site.url("/project/big")]
    assert "2,048-byte limit" in result.fetch.failures[0][1]
    assert query(s, "SELECT budget_usd FROM projects") == [(150000,)]


def test_a_backfill_before_any_live_run_builds_a_first_warehouse(site, archive, settings):
    s = settings()
    archive.add(site.url("/project/moldova"), "20170101000000", moldova(site, "150,000"))
    assert run_pipeline(s, backfill=(None, None)).outcome == "success"
    # Not seen on the site yet: missing from it, until the first run reads it there.
    assert query(s, "SELECT missing_from_site, first_seen::DATE::VARCHAR FROM projects") == [
        (True, "2017-01-01")
    ]
    run_pipeline(s)
    assert query(
        s, "SELECT missing_from_site, budget_usd FROM projects WHERE project_key = 'CE.0333'"
    ) == [(False, 200000)]


def test_cdx_rows_with_unreadable_times_are_reported_and_the_rest_read(site, archive, settings):
    s = settings(failure_threshold=1)
    archive.add(site.url("/project/moldova"), "2019-03", moldova(site, "150,000"))
    archive.add(site.url("/project/moldova"), "2017", moldova(site, "175,000"))
    result = run_pipeline(s, backfill=(None, None))
    assert len(result.fetch.failures) == 1 and "2019-03" in result.fetch.failures[0][1]
    assert query(s, "SELECT observed_at::VARCHAR FROM observations") == [
        ("2017-01-01 00:00:00+00",)
    ]


def test_cli_refuses_bad_years_and_urls_and_a_held_lock(site, archive, tmp_path):
    data = tmp_path / "data"
    base = ["backfill", "--data-dir", str(data), "--start-url", site.url("/sitemap.xml")]
    cases = [
        (["--from", "2022", "--to", "2019"], 2, "--from 2022 is after --to 2019"),
        (["--from", "1800"], 2, "--from"),
        (["--cdx", "ftp://archive.example/cdx"], 2, "--cdx"),
        (["--replay", "not a url"], 2, "--replay"),
    ]
    for args, code, message in cases:
        proc = idf_etl(*base, *args, cwd=tmp_path)
        assert proc.returncode == code, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
    with RunLock(data):
        proc = idf_etl(*base, "--cdx", f"{archive.base}/cdx", cwd=tmp_path)
    assert proc.returncode == 3 and "another idf-etl run" in proc.stderr


def test_a_damaged_capture_body_is_set_aside_by_fsck_and_fetched_again(
    site, archive, settings, tmp_path
):
    s = settings()
    archive.add(site.url("/project/moldova"), "20170101000000", moldova(site, "150,000"))
    run_pipeline(s, backfill=(None, None))
    (body,) = s.raw_dir.glob("objects/*/*.gz")
    body.write_bytes(b"not gzip")
    proc = idf_etl("fsck", "--data-dir", str(s.data_dir), cwd=tmp_path)
    assert "fetched again by the next backfill" in proc.stdout + proc.stderr
    again = run_pipeline(s, backfill=(None, None))
    assert again.fetch.fetched == 1 and len(archive.replays) == 2
    assert query(s, "SELECT budget_usd FROM projects") == [(150000,)]


@pytest.mark.parametrize("written", ["garbage", "", "2019", "20191332000000", "9" * 40])
def test_a_capture_whose_stored_time_was_damaged_is_left_out_and_said(
    site, archive, settings, caplog, written
):
    """The manifest is a file a person can edit: a capture's time in it that no longer reads
    stopped every backfill with a ValueError from strptime."""
    s = settings()
    archive.add(site.url("/project/moldova"), "20190301000000", moldova(site, "150,000"))
    archive.add(site.url("/project/moldova"), "20170101000000", moldova(site, "175,000"))
    run_pipeline(s, backfill=(None, None))
    with sqlite3.connect(s.raw_dir / "manifest.sqlite") as db:
        db.execute("UPDATE captures SET timestamp = ? WHERE timestamp LIKE '2019%'", [written])
    shutil.rmtree(s.clean_dir)  # the warehouse built again from the store: all re-observed
    caplog.set_level("WARNING", logger="idf_etl.load")
    archive.captures.clear()  # the archive lists nothing new
    result = run_pipeline(s, backfill=(None, None))
    assert result.outcome == "success", result.as_dict()
    observed = query(s, "SELECT observed_at::VARCHAR FROM observations WHERE seen_in <> 'live'")
    if written == "2019":  # a year alone is a Wayback time too: January the 1st
        assert sorted(observed) == [("2017-01-01 00:00:00+00",), ("2019-01-01 00:00:00+00",)]
        return
    assert observed == [("2017-01-01 00:00:00+00",)]
    assert "1 capture of" in caplog.text and "does not read" in caplog.text


@pytest.mark.parametrize("workers", [1, 2])
def test_a_backfill_whose_time_is_up_before_its_parse_still_reads_the_floor(
    site, archive, settings, workers
):
    """As a run's parse (PARSED_AT_LEAST): a backfill whose time was up before its parse
    began observed no capture, every time, and a tight run_timeout never moved it on."""
    s = settings(parse_workers=workers)
    run_pipeline(s)
    for i in range(100):
        archive.add(site.url("/project/moldova"), f"2016{i // 28 + 1:02d}{i % 28 + 1:02d}000000",
                    moldova(site, f"{150_000 + i:,}"))  # fmt: skip
    run_pipeline(s, backfill=(None, None))  # every capture stored, and observed
    shutil.rmtree(s.clean_dir)  # a new warehouse: the stored captures are to observe again
    tight = s.model_copy(update={"run_timeout": 0.001})
    result = run_pipeline(tight, backfill=(None, None))
    observed = query(s, "SELECT count(*) FROM observations WHERE seen_in <> 'live'")[0][0]
    assert observed == min(PARSED_AT_LEAST, s.load_batch, 100)
    assert result.load.parse_left == 100 - observed and result.outcome != "success"
