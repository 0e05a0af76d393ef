"""A web archive's captures listed and fetched against a real HTTP server on 127.0.0.1 that
answers as the Internet Archive does (a JSON array of arrays, header row first, paged by a
resume key) or as pywb does (one JSON object a line)."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug import Request, Response

from idf_etl.errors import FetchError
from idf_etl.fetch.archive import (
    capture_of,
    fetch_archive,
    full_timestamp,
    read_cdx,
)
from idf_etl.rawstore import RawStore
from tests.helpers.sent import RESOLUTION, gaps, note_requests

PAGE = b"<html><body><h1>A project</h1></body></html>"
IA_HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]


def rows(base: str) -> list[list[str]]:
    """Captures in the Internet Archive's field order: two bodies, the same digest twice
    (two URLs), a 404, a redirect, a '-' digest and status (a revisit record)."""
    site = base.replace("http://", "")
    return [
        ["k", "20190301100000", f"http://{site}/project/a", "text/html", "200", "AAA", "10"],
        ["k", "20200301100000", f"http://{site}/project/a", "text/html", "200", "BBB", "10"],
        ["k", "20200401100000", f"http://{site}/project/b", "text/html", "200", "BBB", "10"],
        ["k", "20210301100000", f"http://{site}/project/a", "text/html", "404", "CCC", "10"],
        ["k", "20210401100000", f"http://{site}/project/c", "text/html", "301", "DDD", "10"],
        ["k", "20220101000000", f"http://{site}/project/a", "warc/revisit", "-", "-", "0"],
    ]


class Archive:
    """A CDX server and a replay endpoint on one real server; records what it was asked."""

    def __init__(self, server, style: str, *, page_size: int = 4) -> None:
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.style = style
        self.page_size = page_size
        self.asked: list[tuple[float, str]] = []
        self.replay_answers: list[Response] = []
        server.expect_request("/cdx").respond_with_handler(self.cdx)
        server.expect_request(re.compile(r"^/web/.*")).respond_with_handler(self.replay)

    def cdx(self, request: Request) -> Response:
        self.asked.append((time.monotonic(), request.full_path))
        data = rows(self.base)
        if self.style == "pywb":
            names = ["urlkey", "timestamp", "url", "mime", "status", "digest", "length"]
            body = "\n".join(json.dumps(dict(zip(names, r, strict=True))) for r in data)
            return Response(body, content_type="text/x-ndjson")
        start = int(request.args.get("resumeKey", "0"))
        page = data[start : start + self.page_size]
        answer: list[list[str]] = [IA_HEADER, *page]
        if start + self.page_size < len(data):
            answer += [[], [str(start + self.page_size)]]
        return Response(json.dumps(answer), content_type="application/json")

    def replay(self, request: Request) -> Response:
        self.asked.append((time.monotonic(), request.path))
        if self.replay_answers:
            return self.replay_answers.pop(0)
        return Response(PAGE + request.path.encode(), content_type="text/html; charset=utf-8")

    def replays(self) -> list[str]:
        return [path for _, path in self.asked if path.startswith("/web/")]


def settings_for(fast_settings, archive: Archive, **more):
    return fast_settings(
        archive_cdx=f"{archive.base}/cdx",
        archive_replay=f"{archive.base}/web",
        archive_rate=0,
        archive_paths=["/project"],
        allowed_hosts=[archive.base.removeprefix("http://")],
        **more,
    )


@pytest.mark.parametrize("style", ["internet-archive", "pywb"])
def test_both_cdx_answers_are_read_and_new_bodies_fetched_once(server, fast_settings, style):
    archive = Archive(server, style)
    settings = settings_for(fast_settings, archive)
    with RawStore(settings.raw_dir) as store:
        summary = fetch_archive(settings, store)
        captures = store.capture_rows(settings.archive_replay)
    assert summary.discovered == 6 and not summary.failures and not summary.halts
    outcomes = {(url.rsplit("/", 1)[1], ts): row["outcome"] for (url, ts), row in captures.items()}
    assert outcomes == {
        ("a", "20190301100000"): "fetched",
        ("a", "20200301100000"): "fetched",
        ("b", "20200401100000"): "reused",  # the same digest under another URL: not fetched
        ("a", "20210301100000"): "gone",
        ("c", "20210401100000"): "skipped",
        ("a", "20220101000000"): "skipped",
    }
    assert sorted(archive.replays()) == [
        f"/web/20190301100000id_/{archive.base}/project/a",
        f"/web/20200301100000id_/{archive.base}/project/a",
    ]
    cdx_requests = [p for _, p in archive.asked if p.startswith("/cdx")]
    # The Internet Archive's answer pages: the resume key is followed to the end.
    assert len(cdx_requests) == (2 if style == "internet-archive" else 1)
    assert "output=json" in cdx_requests[0] and "url=127.0.0.1" in cdx_requests[0]


def test_a_second_listing_fetches_nothing_again(server, fast_settings):
    archive = Archive(server, "internet-archive")
    settings = settings_for(fast_settings, archive)
    with RawStore(settings.raw_dir) as store:
        fetch_archive(settings, store)
        again = fetch_archive(settings, store)
    assert again.fetched == 0 and again.unchanged == 6 and len(archive.replays()) == 2


def test_replay_429_with_retry_after_is_waited_for(server, fast_settings):
    archive = Archive(server, "pywb")
    archive.replay_answers.append(Response("slow down", status=429, headers={"Retry-After": "1"}))
    settings = settings_for(fast_settings, archive)
    with RawStore(settings.raw_dir) as store:
        summary = fetch_archive(settings, store)
    assert summary.fetched == 2 and not summary.failures
    times = [t for t, p in archive.asked if p.startswith("/web/")]
    assert times[1] - times[0] >= 0.95  # the retry came after the second it was asked to wait


def test_the_archive_is_paced_by_archive_rate(server, fast_settings, monkeypatch):
    # Measured where the client lets each request go (tests/helpers/sent.py): the server's
    # arrival times add delivery jitter.
    sent = note_requests(monkeypatch)
    archive = Archive(server, "pywb")
    settings = settings_for(fast_settings, archive).model_copy(update={"archive_rate": 4.0})
    with RawStore(settings.raw_dir) as store:
        fetch_archive(settings, store)
    assert len(archive.asked) == 3
    times = [t for t, url in sent if not url.endswith("/robots.txt")]
    assert len(times) == 3
    assert min(gaps(times)) >= 0.25 - RESOLUTION, gaps(times)


def test_an_archive_that_is_down_halts_and_loses_nothing(fast_settings, tmp_path):
    settings = fast_settings(
        archive_cdx="http://127.0.0.1:9/cdx",
        archive_replay="http://127.0.0.1:9/web",
        archive_paths=["/project"],
    )
    with RawStore(settings.raw_dir) as store:
        summary = fetch_archive(settings, store)
        assert store.capture_rows(settings.archive_replay) == {}
    assert summary.halts and "could not be listed" in summary.halts[0]


def test_read_cdx_reads_plain_lines_and_counts_what_it_cannot():
    page = read_cdx(
        b"k 20190301100000 http://h/project/a text/html 200 AAA 10\nnot a capture line\n"
        b'{"timestamp": "2019", "url": "http://h/project/b"}\n{broken json\n'
    )
    assert [r["timestamp"] for r in page.rows] == ["20190301100000", "2019"]
    assert page.unreadable == 2 and page.resume_key is None
    with pytest.raises(FetchError, match="not JSON"):
        read_cdx(b"[[broken")


@pytest.mark.parametrize(
    ("given_", "full"),
    [
        ("2019", "20190101000000"),
        ("201903", "20190301000000"),
        ("20190301", "20190301000000"),
        ("20190301100000", "20190301100000"),
        ("20191301", None),  # no 13th month
        ("2019-03-01", None),
        ("", None),
        ("201903011000001", None),
    ],
)
def test_timestamps_of_4_to_14_digits(given_, full):
    assert full_timestamp(given_) == full


@given(st.dictionaries(st.sampled_from([*IA_HEADER, "url", "status", "mime"]), st.text()))
def test_any_cdx_row_is_a_capture_or_none(row):
    capture = capture_of(row)
    if capture is not None:
        assert len(capture.timestamp) == 14 and capture.url.startswith("http")


@given(st.binary(max_size=300))
def test_any_cdx_body_is_read_or_refused_with_a_fetch_error(body):
    try:
        page = read_cdx(body)
    except FetchError:
        return
    assert all(isinstance(r, dict) for r in page.rows)


def test_a_cdx_server_repeating_its_resume_key_is_stopped(server, fast_settings):
    archive = Archive(server, "internet-archive")
    server.clear()
    row = rows(archive.base)[0]
    answer = json.dumps([IA_HEADER, row, [], ["same-key"]])
    server.expect_request("/cdx").respond_with_data(answer, content_type="application/json")
    settings = settings_for(fast_settings, archive)
    with RawStore(settings.raw_dir) as store:
        summary = fetch_archive(settings, store)
    assert "same resume key twice" in summary.halts[0]
    # The first page, and the one that repeated its key; the capture listed is still fetched.
    assert [r.path for r, _ in server.log].count("/cdx") == 2


# What an archive may answer, drawn: CDX rows of any status, digest, type and time, and
# replay answers of any kind (Retry-After 0: the test does not wait).
CDX_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["/project/a", "/project/b", "/projects?page=1", "/news/x"]),
        st.sampled_from(["20190301100000", "2019", "20200101", "2019-03", "20201301000000"]),
        st.sampled_from(["200", "404", "410", "301", "500", "-"]),
        st.sampled_from(["AAA", "BBB", "-", ""]),
        st.sampled_from(["text/html", "application/pdf", "warc/revisit", "unk"]),
    ),
    max_size=8,
)
REPLAYS = st.lists(st.sampled_from([200, 404, 429, 500, 302, 301]), max_size=10)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(drawn=CDX_ROWS, replays=REPLAYS)
def test_whatever_the_archive_answers_every_capture_is_accounted_for(
    server, fast_settings, tmp_path_factory, drawn, replays
):
    base = server.url_for("").rstrip("/")
    site = base.removeprefix("http://")
    data = [["k", ts, f"http://{site}{path}", mime, status, digest, "1"]
            for path, ts, status, digest, mime in drawn]  # fmt: skip
    answers = list(replays)
    asked: list[str] = []  # the capture each replay request asked for

    def replay(request: Request) -> Response:
        asked.append(request.path)
        status = answers.pop(0) if answers else 200
        headers = {"Retry-After": "0"} if status == 429 else {}
        if status in (301, 302):
            headers["Location"] = f"{base}/web/20000101000000id_/http://{site}/project/a"
        return Response(PAGE, status=status, headers=headers, content_type="text/html")

    server.clear()
    server.expect_request("/cdx").respond_with_data(
        json.dumps([IA_HEADER, *data]), content_type="application/json"
    )
    server.expect_request(re.compile(r"^/web/.*")).respond_with_handler(replay)
    settings = _archive_settings(fast_settings, base, site, tmp_path_factory.mktemp("drawn"))
    with RawStore(settings.raw_dir) as store:
        summary = fetch_archive(settings, store)
        recorded = store.capture_rows(settings.archive_replay)
        # Every listed capture has an outcome, or was left for the next backfill.
        assert len(recorded) + summary.not_requested == summary.discovered
        for row in recorded.values():
            assert (row["sha256"] is not None) == (row["outcome"] in ("fetched", "reused"))
            if row["outcome"] == "fetched":
                assert store.get_body(row["sha256"]) == PAGE
            assert (row["error"] is not None) == (row["outcome"] in ("skipped", "failed"))
        # A second backfill asks replay only for what is not done.
        done_before = len(asked)
        again = fetch_archive(settings, store)
        retried = sum(r["outcome"] == "failed" for r in recorded.values())
        # Captures, not requests: a 429 or a 5xx is asked again, the same capture.
        assert len(set(asked[done_before:])) <= retried + summary.not_requested
        assert again.discovered == summary.discovered


@given(
    st.one_of(st.text(max_size=6), st.sampled_from(["\u00b200", "\u0662\u0660\u0660", "2\u00b9"]))
)
def test_a_cdx_status_that_is_not_ascii_digits_is_no_status_never_an_error(status):
    row = {"timestamp": "20200301000000", "original": "http://example.org/project/a",
           "statuscode": status, "mimetype": "text/html", "digest": "B"}  # fmt: skip
    capture = capture_of(row)
    assert capture is not None
    plain = status.strip(" \t")
    expected = int(plain) if plain.isascii() and plain.isdigit() and len(plain) <= 3 else None
    assert capture.status == expected


# JSON can spell what no UTF-8 text holds: a lone surrogate ("\ud800"). Any CDX value may.
SURROGATE_TEXT = st.builds(
    lambda a, s, b: a + s + b,
    st.text(max_size=6),
    st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]),
    st.text(max_size=6),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    field=st.sampled_from(["original", "digest", "mimetype", "statuscode", "urlkey", "length"]),
    value=SURROGATE_TEXT,
    style=st.sampled_from(["array", "lines"]),
)
def test_a_cdx_value_no_text_can_hold_fails_only_its_capture(
    server, fast_settings, tmp_path_factory, field, value, style
):
    # A lone surrogate in a CDX row's URL stopped the whole backfill (UnicodeEncodeError
    # writing the manifest, adversary case): now each CDX value is text, its capture fetched,
    # failed or skipped alone, and the other captures are fetched.
    base = server.url_for("").rstrip("/")
    site = base.removeprefix("http://")
    good = ["k", "20190301100000", f"http://{site}/project/a", "text/html", "200", "AAA", "10"]
    odd = ["k", "20200301100000", f"http://{site}/project/b", "text/html", "200", "BBB", "10"]
    odd[IA_HEADER.index(field)] = (
        f"http://{site}/project/b{value}" if field == "original" else value
    )
    if style == "array":
        # json.dumps writes a lone surrogate as its escape, as a CDX server's JSON would
        body = json.dumps([IA_HEADER, good, odd])
    else:
        body = "\n".join(json.dumps(dict(zip(IA_HEADER, r, strict=True))) for r in (good, odd))
    assert "\\ud" in body or "\\udc" in body or "\\udb" in body
    server.clear()
    server.expect_request("/cdx").respond_with_data(body, content_type="application/json")
    server.expect_request(re.compile(r"^/web/.*")).respond_with_data(PAGE, content_type="text/html")
    for row in read_cdx(body.encode()).rows:
        for key, text in row.items():
            key.encode("utf-8"), text.encode("utf-8")  # every value can be written
    settings = _archive_settings(fast_settings, base, site, tmp_path_factory.mktemp("surrogates"))
    with RawStore(settings.raw_dir) as store:
        summary = fetch_archive(settings, store)
        recorded = store.capture_rows(settings.archive_replay)
    assert recorded[(f"http://{site}/project/a", "20190301100000")]["outcome"] == "fetched"
    assert summary.discovered == 2 and not summary.halts


def _archive_settings(fast_settings, base: str, site: str, data_dir):
    """Settings of a backfill from the archive served at `base`, of `site`'s /project pages."""
    return fast_settings(
        archive_cdx=f"{base}/cdx",
        archive_replay=f"{base}/web",
        archive_rate=0,
        archive_paths=["/project"],
        allowed_hosts=[site],
        data_dir=data_dir,
    )
