"""The crawler against a real HTTP server on 127.0.0.1: discovery, politeness, faults, store."""

from __future__ import annotations

import gzip
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from tests.conftest import FAST
from tests.helpers.local_site import LISTING_PAGES, SITEMAP_PAGES, DroppingServer, Site
from tests.helpers.sent import RESOLUTION, gaps, note_requests


def crawl(settings, revalidate=None):
    with RawStore(settings.raw_dir) as store:
        summary = fetch_site(settings, store, revalidate=revalidate)
    return summary


def stored(settings, url):
    with RawStore(settings.raw_dir) as store:
        return store.get(url)


def test_first_crawl_follows_sitemaps_listing_and_robots(server, fast_settings):
    site = Site(server)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml"), site.url("/projects")])
    summary = crawl(settings)

    every_page = [*SITEMAP_PAGES, *LISTING_PAGES]
    assert summary.discovered == len(every_page) + 1  # + the disallowed draft
    assert summary.new == len(every_page)
    assert summary.failed == 0
    with RawStore(settings.raw_dir) as store:
        for path in every_page:
            page = store.get(site.url(path))
            assert page is not None and page.sha256, path
            assert store.get_body(page.sha256) == site.bodies[path]
        assert store.get(site.url("/news/some-release")) is None  # not a project path
    refused = dict(summary.refusals)
    assert "robots.txt" in refused[site.url("/project/private-draft")]
    assert "allowed_hosts" in refused["http://foreign.example/project/elsewhere"]
    # robots.txt disallowed the draft: it was never requested
    assert "/project/private-draft" not in site.paths()
    # the listing stopped at the page that added nothing new
    assert [p for p in site.paths() if p.startswith("/projects")] == [
        "/projects",
        "/projects?page=1",
        "/projects?page=2",
    ]
    # tracking parameters and fragments were dropped: each page requested once
    assert sorted(site.page_requests()) == sorted(every_page)


def test_unchanged_site_costs_only_robots_and_sitemaps(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")])
    crawl(settings)
    server.clear_log()

    second = crawl(settings)

    assert site.paths() == [
        "/robots.txt",
        "/sitemap.xml",
        "/sitemap-projects.xml.gz",
        "/sitemap-other.xml",
    ]
    assert second.skipped == len(SITEMAP_PAGES)
    assert second.fetched == 0
    assert second.requests == 4


def test_revalidation_sends_conditional_requests_and_downloads_no_body(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")])
    crawl(settings)
    # Backdate the last check: the manifest keeps whole seconds, so a refresh within the
    # same second would otherwise be indistinguishable from no refresh at all.
    with sqlite3.connect(settings.raw_dir / "manifest.sqlite") as db:
        db.execute("UPDATE pages SET checked_at = '2000-01-01T00:00:00+00:00'")
    db.close()
    before = stored(settings, site.url("/project/armenia-georgia"))
    server.clear_log()

    summary = crawl(settings, revalidate=True)

    assert summary.not_modified == len(SITEMAP_PAGES)
    assert summary.fetched == 0
    page_calls = [(r, resp) for r, resp in server.log if r.path in SITEMAP_PAGES]
    assert len(page_calls) == len(SITEMAP_PAGES)
    for request, response in page_calls:
        assert request.headers.get("If-None-Match")
        assert request.headers.get("If-Modified-Since")
        assert response.status_code == 304
    after = stored(settings, site.url("/project/armenia-georgia"))
    # a 304 refreshes the entry (the bug peers have: it never does)
    assert before.checked_at.startswith("2000-")
    assert datetime.now(UTC) - datetime.fromisoformat(after.checked_at) < timedelta(minutes=5)
    assert after.sha256 == before.sha256


def test_304_with_new_validators_refreshes_them(server, fast_settings):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    answers = iter(
        [
            ("<html><body><main><h1>x</h1></main></body></html>", 200, {"ETag": '"v1"'}),
            ("", 304, {"ETag": '"v2"'}),
        ]
    )

    def handler(request):
        from werkzeug import Response

        body, status, headers = next(answers)
        return Response(body, status=status, headers=headers, content_type="text/html")

    server.expect_request("/project/one").respond_with_handler(handler)
    settings = fast_settings(start_urls=[server.url_for("/project/one")])
    crawl(settings)
    summary = crawl(settings)
    assert summary.not_modified == 1
    page = stored(settings, server.url_for("/project/one"))
    assert page.etag == '"v2"'
    request = server.log[-1][0]
    assert request.headers["If-None-Match"] == '"v1"'


def test_changed_page_with_new_lastmod_is_the_only_download(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")])
    crawl(settings)
    site.change("/fr/node/187686", b"400000.00", b"450000.00")
    server.clear_log()

    summary = crawl(settings)

    assert site.page_requests() == ["/fr/node/187686"]
    assert (summary.changed, summary.skipped) == (1, len(SITEMAP_PAGES) - 1)
    page = stored(settings, site.url("/fr/node/187686"))
    with RawStore(settings.raw_dir) as store:
        assert b"450000.00" in store.get_body(page.sha256)
    assert page.sitemap_lastmod.startswith("2024-06-01")


def test_same_body_on_200_counts_as_unchanged(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")])
    crawl(settings)
    for path in SITEMAP_PAGES:  # lastmod moves, content does not
        site.lastmod[path] = "2024-07-01"
    summary = crawl(settings)
    assert summary.unchanged + summary.not_modified == len(SITEMAP_PAGES)
    assert summary.changed == 0


def test_crawl_delay_spaces_requests(server, fast_settings, monkeypatch):
    """Measured where the client lets each request go (tests/helpers/sent.py: the server's
    arrival times add delivery jitter, 0.19 s seen for 0.3 s under load, 1 crawl in 40)."""
    sent = note_requests(monkeypatch)
    site = Site(server, crawl_delay=0.3, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")])
    crawl(settings)
    assert sorted(site.page_requests()) == sorted(SITEMAP_PAGES)  # each page reached, once
    pages = [t for t, url in sent if urlsplit(url).path in SITEMAP_PAGES]
    assert len(pages) == len(SITEMAP_PAGES)
    after_robots = [t for t, url in sent if not url.endswith("/robots.txt")]
    # Crawl-delay 0.3 s, whatever our own rate (none here) says: sitemaps and pages alike.
    assert min(gaps(after_robots)) >= 0.3 - RESOLUTION, gaps(after_robots)


def test_url_list_file(server, fast_settings, tmp_path):
    site = Site(server, with_listing=False)
    listing = tmp_path / "urls.txt"
    listing.write_text(
        f"# extra pages\n{site.url('/project/moldova')}\n\n"
        f"{site.url('/project/cambodia')}#frag  # a comment\n"
    )
    settings = fast_settings(url_list=listing, allowed_hosts=["127.0.0.1"])
    summary = crawl(settings)
    assert summary.new == 2


# -- faults: each is recorded, and the rest of the crawl completes --------------------


@pytest.fixture(scope="module", params=["aiohttp", "httpx"])
def faulty(request, tmp_path_factory):
    """One crawl of a site full of faults per HTTP client, shared by the tests that read it."""
    from pytest_httpserver import HTTPServer

    from idf_etl.config import Settings

    tmp_path = tmp_path_factory.mktemp("faulty")
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    site = Site(server, with_listing=False)
    from werkzeug import Response

    calls = {"limited": 0, "flaky": 0}

    def rate_limited(request):

        calls["limited"] += 1
        calls.setdefault("limited_at", []).append(time.monotonic())
        if calls["limited"] == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response(site.bodies["/project/moldova"], content_type="text/html")

    def flaky(request):
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            return Response("busy", status=503)
        return Response(site.bodies["/project/cambodia"], content_type="text/html")

    def slow(request):

        time.sleep(1.5)
        return Response("late", content_type="text/html")

    server.expect_request("/project/rate-limited").respond_with_handler(rate_limited)
    server.expect_request("/project/flaky").respond_with_handler(flaky)
    server.expect_request("/project/slow").respond_with_handler(slow)
    server.expect_request("/project/loop-a").respond_with_data(
        "", status=302, headers={"Location": "/project/loop-b"}
    )
    server.expect_request("/project/loop-b").respond_with_data(
        "", status=301, headers={"Location": "/project/loop-a"}
    )
    server.expect_request("/project/foreign").respond_with_data(
        "", status=302, headers={"Location": "http://foreign.example/project/x"}
    )
    server.expect_request("/project/huge").respond_with_data(
        b"<html>" + b"x" * 300_000, content_type="text/html"
    )
    server.expect_request("/project/pdf").respond_with_data(
        b"%PDF-1.4", content_type="application/pdf"
    )
    server.expect_request("/project/missing").respond_with_data("no", status=404)
    dropping = DroppingServer()
    urls = [
        site.url(p)
        for p in (
            "/project/rate-limited",
            "/project/flaky",
            "/project/slow",
            "/project/loop-a",
            "/project/foreign",
            "/project/huge",
            "/project/pdf",
            "/project/missing",
        )
    ]
    urls.append(dropping.url("/project/dropped"))
    url_list = tmp_path / "faults.txt"
    url_list.write_text("\n".join(urls))
    settings = Settings(
        **{
            **FAST,
            "data_dir": tmp_path / "data",
            "url_list": url_list,
            "start_urls": [site.url("/sitemap.xml")],
            "max_bytes": 100_000,
            "http_client": request.param,
        }
    )
    summary = crawl(settings)
    log = list(server.log)
    yield site, settings, summary, calls, dropping, log
    dropping.stop()
    server.clear()
    server.stop()


def _reason(settings, site_url):
    page = stored(settings, site_url)
    return page.error if page else None


def test_faults_do_not_stop_the_crawl(faulty):
    _, _, summary, _, _, _ = faulty
    assert summary.new == len(SITEMAP_PAGES) + 2  # + rate-limited and flaky, after retrying
    assert summary.gone == 1


def test_429_honours_retry_after(faulty):
    site, settings, _, calls, _, log = faulty
    assert calls["limited"] == 2
    assert len([r for r, _ in log if r.path == "/project/rate-limited"]) == 2
    first, second = calls["limited_at"]
    assert second - first >= 0.9  # Retry-After: 1 beat our 0.05 s backoff
    assert stored(settings, site.url("/project/rate-limited")).sha256


def test_503_then_200_is_retried(faulty):
    site, settings, _, calls, _, _ = faulty
    assert calls["flaky"] == 2
    assert stored(settings, site.url("/project/flaky")).error is None


def test_read_timeout_is_recorded(faulty):
    site, settings, _, _, _, _ = faulty
    assert "timed out" in _reason(settings, site.url("/project/slow"))


def test_dropped_connection_is_recorded(faulty):
    _, settings, _, _, dropping, _ = faulty
    reason = _reason(settings, dropping.url("/project/dropped"))
    assert "connection closed by the server" in reason
    assert dropping.requests >= 2  # robots.txt, then the page (and its retries)


def test_redirect_loop_is_recorded(faulty):
    site, settings, _, _, _, _ = faulty
    assert "redirect loop" in _reason(settings, site.url("/project/loop-a"))


def test_redirect_to_foreign_host_is_refused(faulty):
    site, settings, summary, _, _, _ = faulty
    assert "foreign.example" in _reason(settings, site.url("/project/foreign"))
    assert any("foreign.example" in reason for _, reason in summary.refusals)


def test_oversized_body_is_refused(faulty):
    site, settings, _, _, _, _ = faulty
    assert "exceeds the 100,000-byte limit" in _reason(settings, site.url("/project/huge"))


def test_wrong_content_type_is_refused(faulty):
    site, settings, _, _, _, _ = faulty
    assert "application/pdf" in _reason(settings, site.url("/project/pdf"))


def test_404_marks_gone_and_keeps_what_was_stored(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")])
    crawl(settings)
    before = stored(settings, site.url("/es/node/175631"))
    server.clear()
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/es/node/175631").respond_with_data("gone", status=410)
    settings = fast_settings(start_urls=[site.url("/es/node/175631")])
    summary = crawl(settings)
    assert summary.gone == 1
    after = stored(settings, site.url("/es/node/175631"))
    assert after.gone == 1
    assert after.sha256 == before.sha256
    with RawStore(settings.raw_dir) as store:
        assert store.get_body(after.sha256) == site.bodies["/es/node/175631"]


def test_bodies_are_gzip_and_content_addressed(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")])
    crawl(settings)
    import hashlib

    files = list((settings.raw_dir / "objects").rglob("*.gz"))
    assert len(files) == len(SITEMAP_PAGES)
    for file in files:
        body = gzip.decompress(file.read_bytes())
        assert file.name == hashlib.sha256(body).hexdigest() + ".gz"
    assert not list((settings.raw_dir / "objects").rglob(".tmp-*"))


def test_a_canonical_link_is_kept_and_never_stops_the_url_it_names_being_fetched(
    server, fast_settings
):
    """A page's canonical link is its own claim: kept in the manifest, never obeyed. A page
    naming another project's URL (a template slip) hid that project (issue 22, adversary
    10-11); one request more for an alias both listed and linked is the price."""
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    page = (
        b'<html><head><link rel="canonical" href="/project/real"></head>'
        b"<body><main><h1>x</h1></main></body></html>"
    )
    server.expect_request("/project/alias").respond_with_data(page, content_type="text/html")
    server.expect_request("/project/real").respond_with_data(page, content_type="text/html")
    settings = fast_settings(
        start_urls=[server.url_for("/project/alias"), server.url_for("/project/real")],
        concurrency=1,
    )
    summary = crawl(settings)
    asked = [r.path for r, _ in server.log if r.path != "/robots.txt"]
    assert asked == ["/project/alias", "/project/real"]
    assert stored(settings, server.url_for("/project/alias")).canonical_url == server.url_for(
        "/project/real"
    )
    assert stored(settings, server.url_for("/project/real")).canonical_url is None  # its own
    assert summary.new == 2


def test_max_pages_caps_page_requests(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")], max_pages=2)
    summary = crawl(settings)
    assert summary.new == 2
    assert len(site.page_requests()) == 2


def test_languages_setting_limits_the_crawl(server, fast_settings):
    site = Site(server, with_listing=False)
    settings = fast_settings(start_urls=[site.url("/sitemap.xml")], languages=["fr"])
    crawl(settings)
    assert site.page_requests() == ["/fr/node/187686"]


def test_unreadable_sitemap_is_a_failure_not_an_empty_site(server, fast_settings):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/sitemap.xml").respond_with_data("down", status=500)
    summary = crawl(fast_settings(start_urls=[server.url_for("/sitemap.xml")]))
    assert summary.failed == 1
    assert "sitemap unreadable" in summary.failures[0][1]
    assert summary.discovered == 0
