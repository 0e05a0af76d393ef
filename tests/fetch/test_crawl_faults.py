"""Crawl faults against real servers on 127.0.0.1, on both HTTP clients: every failure is
named for what it is, bounded in time, and never reported as success."""

from __future__ import annotations

import itertools
import math
import socket
import ssl
import threading
import time

import httpx
import pytest
from werkzeug import Response

from idf_etl.errors import FetchError
from idf_etl.fetch.outcomes import FetchOutcome
from idf_etl.fetch.pacing import describe_transport_error
from idf_etl.fetch.site import fetch_site, fetch_url
from idf_etl.rawstore import RawStore
from tests.helpers.pace import Pace

PAGE = b"<html><head><title>p</title></head><body><main><h1>p</h1></main></body></html>"


@pytest.fixture(params=["aiohttp", "httpx"])
def client_kind(request):
    return request.param


def crawl(settings, revalidate=None):
    with RawStore(settings.raw_dir) as store:
        return fetch_site(settings, store, revalidate=revalidate)


def serve_pages(server, paths, handler=None):
    for path in paths:
        if handler is None:
            server.expect_request(path).respond_with_data(PAGE, content_type="text/html")
        else:
            server.expect_request(path).respond_with_handler(handler)


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- robots.txt that cannot be read is not a Disallow --------------------------------------


def _robots_503(server):
    server.expect_request("/robots.txt").respond_with_data("busy", status=503)


def _robots_slow(server):
    def slow(request):
        time.sleep(1.5)
        return Response("User-agent: *\n", content_type="text/plain")

    server.expect_request("/robots.txt").respond_with_handler(slow)


@pytest.mark.parametrize(
    "make_robots, cause",
    [
        (_robots_503, "(HTTP 503 after 3 tries)"),
        (_robots_slow, "timed out after 3 tries"),
    ],
)
def test_unreadable_robots_txt_names_the_cause_and_crawls_nothing(
    server, fast_settings, client_kind, make_robots, cause
):
    make_robots(server)
    serve_pages(server, ["/project/a"])
    settings = fast_settings(start_urls=[server.url_for("/project/a")], http_client=client_kind)
    summary = crawl(settings)
    host = f"127.0.0.1:{server.port}"
    assert len(summary.halts) == 1
    assert summary.halts[0].startswith(f"robots.txt of {host} could not be read (")
    assert cause in summary.halts[0]
    assert summary.halts[0].endswith(f": nothing crawled on {host}")
    assert not any("disallowed" in reason for _, reason in summary.refusals)
    assert [r.path for r, _ in server.log if r.path != "/robots.txt"] == []
    assert summary.left == [(server.url_for("/project/a"), summary.halts[0])]


def test_robots_txt_404_means_no_rules(server, fast_settings, client_kind):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    serve_pages(server, ["/project/a"])
    summary = crawl(
        fast_settings(start_urls=[server.url_for("/project/a")], http_client=client_kind)
    )
    assert (summary.new, summary.halts) == (1, [])


def test_robots_txt_redirect_is_followed_on_the_same_host(server, fast_settings, client_kind):
    server.expect_request("/robots.txt").respond_with_data(
        "", status=301, headers={"Location": "/real-robots.txt"}
    )
    server.expect_request("/real-robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /project/secret\n", content_type="text/plain"
    )
    serve_pages(server, ["/project/a", "/project/secret"])
    summary = crawl(
        fast_settings(
            start_urls=[server.url_for("/project/a"), server.url_for("/project/secret")],
            http_client=client_kind,
        )
    )
    assert summary.new == 1
    assert summary.halts == []
    assert "disallowed by robots.txt" in dict(summary.refusals)[server.url_for("/project/secret")]


# -- connection failures are named as such --------------------------------------------------


def test_connection_refused_is_named(fast_settings, client_kind):
    port = closed_port()
    settings = fast_settings(
        start_urls=[f"http://127.0.0.1:{port}/sitemap.xml"],
        allowed_hosts=[f"127.0.0.1:{port}"],
        http_client=client_kind,
    )
    summary = crawl(settings)
    assert summary.halts, "a crawl that reached nothing is not a success"
    assert "connection refused" in summary.halts[0]
    assert f"robots.txt of 127.0.0.1:{port} could not be read" in summary.halts[0]


def test_tls_error_is_named(server, client_kind):
    from idf_etl.config import Settings

    server.expect_request("/robots.txt").respond_with_data("", status=404)
    url = server.url_for("/project/a").replace("http://", "https://")
    settings = Settings(
        allowed_hosts=[f"127.0.0.1:{server.port}"], http_client=client_kind, max_retries=0
    )
    with pytest.raises(FetchError, match="TLS error"):
        fetch_url(url, settings)


def test_dns_failure_is_named():
    # A real lookup would leave 127.0.0.1; the error chains the two clients produce are built here.
    gaierror = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    try:
        try:
            raise gaierror
        except OSError as exc:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from exc
    except httpx.ConnectError as exc:
        assert describe_transport_error(exc)[0] == "DNS lookup failed"
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey

    key = ConnectionKey("no.such.host", 80, False, True, None, None, None)
    dns = aiohttp.ClientConnectorDNSError(key, gaierror)
    wrapped = httpx.ConnectError("lookup")
    wrapped.__cause__ = dns
    assert describe_transport_error(wrapped)[0] == "DNS lookup failed"
    cert = ssl.SSLCertVerificationError("certificate verify failed")
    wrapped.__cause__ = cert
    assert describe_transport_error(wrapped)[0] == "TLS error"


# -- every wait has a bound -----------------------------------------------------------------


def test_trickling_server_fails_the_page_at_the_request_deadline(
    server, fast_settings, client_kind
):
    server.expect_request("/robots.txt").respond_with_data("", status=404)

    def trickle(request):
        def body():
            yield b"<html><body>"
            for _ in range(3000):  # one byte every 0.2 s: each read succeeds, the page never ends
                time.sleep(0.2)
                yield b"x"

        return Response(body(), content_type="text/html")

    server.expect_request("/project/trickle").respond_with_handler(trickle)
    serve_pages(server, ["/project/fine"])
    settings = fast_settings(
        start_urls=[server.url_for("/project/trickle"), server.url_for("/project/fine")],
        request_timeout=1.0,
        max_retries=1,
        http_client=client_kind,
    )
    pace = Pace()  # the bound at the machine's slowness (tests/helpers/pace.py)
    started = time.monotonic()
    summary = crawl(settings)
    took = time.monotonic() - started
    assert pace.allows(took, 8), (took, str(pace))  # two tries of 1 s, not 600 s of trickle
    assert summary.new == 1
    reason = dict(summary.failures)[server.url_for("/project/trickle")]
    assert "no complete answer within request_timeout (1s) after 2 tries" in reason


def test_retry_after_past_backoff_max_pauses_the_host_for_the_run(
    server, fast_settings, client_kind
):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/project/a").respond_with_data(
        "later", status=429, headers={"Retry-After": "3600"}
    )
    serve_pages(server, [f"/project/p{i}" for i in range(5)])
    urls = [server.url_for("/project/a")] + [server.url_for(f"/project/p{i}") for i in range(5)]
    settings = fast_settings(start_urls=urls, concurrency=1, http_client=client_kind)
    pace = Pace()
    started = time.monotonic()
    summary = crawl(settings)
    took = time.monotonic() - started
    assert pace.allows(took, 5), (took, str(pace))  # nobody waited the hour
    host = f"127.0.0.1:{server.port}"
    assert summary.halts == [
        f"{host} asked us to wait 3600s (HTTP 429 with Retry-After), more than backoff_max "
        f"(5s): nothing crawled on {host}"
    ]
    # one request to the page, then none: not one a second as before
    assert [r.path for r, _ in server.log] == ["/robots.txt", "/project/a"]
    assert summary.not_requested == 6
    assert {url for url, _ in summary.left} == set(urls)


def test_run_timeout_stops_fetching_and_records_what_is_left(server, fast_settings, client_kind):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    # The first three requests are answered; the others hold until the test ends, so the
    # deadline comes while one is asked. What is fetched by then is the site's doing, not a
    # busy machine's speed (with pages of 0.3 s and run_timeout=1.5, "at least two fetched"
    # depended on it).
    answered, released, counter = 3, threading.Event(), itertools.count()

    def page(request):
        if next(counter) >= answered:
            released.wait(600)
        return Response(PAGE, content_type="text/html")

    paths = [f"/project/p{i:02d}" for i in range(30)]
    serve_pages(server, paths, page)
    # run_timeout 4 s at the machine's slowness (tests/helpers/pace.py), in whole multiples
    # of 4 (a whole fetch share): the three pages and the start fit in its 75 % at any load.
    pace = Pace()
    run_timeout = 4 * math.ceil(pace.seconds(4) / 4)
    settings = fast_settings(
        start_urls=[server.url_for(p) for p in paths],
        concurrency=1,
        run_timeout=run_timeout,
        read_timeout=run_timeout,  # a held page is cut by the fetch's time, not its own
        request_timeout=run_timeout,
        http_client=client_kind,
    )
    started = time.monotonic()
    try:
        summary = crawl(settings)
    finally:
        released.set()
    took = time.monotonic() - started
    assert pace.allows(took - run_timeout, 5), (took, str(pace))  # not held the 600 s
    assert summary.new == answered
    assert summary.new + len(summary.left) + summary.failed == 30
    assert summary.not_requested == len(summary.left)
    assert summary.halts == [
        f"the fetch's time is up ({run_timeout * 3 // 4}s: 75% of run_timeout {run_timeout}s): "
        "stopped fetching, "
        f"{len(summary.left)} pages left for the next run"
    ]


def test_a_retry_that_would_wait_past_the_deadline_is_not_waited_for_and_said_so(
    server, fast_settings, client_kind
):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    # An hour's wait in a fetch of 30 minutes: the bound (20 s at the machine's slowness,
    # tests/helpers/pace.py) tells "not waited" apart at any load.
    server.expect_request("/project/a").respond_with_data(
        "busy", status=503, headers={"Retry-After": "3600"}
    )
    settings = fast_settings(
        start_urls=[server.url_for("/project/a")], run_timeout=2400, backoff_max=7200,
        http_client=client_kind,
    )  # fmt: skip
    pace = Pace()
    started = time.monotonic()
    summary = crawl(settings)
    took = time.monotonic() - started
    assert pace.allows(took, 20), (took, str(pace))  # the hour was not waited
    [(url, reason)] = summary.left
    assert reason == (
        f"{url}: HTTP 503; not tried again: the wait before it (3600.0s) would end past the "
        "fetch's time"
    )
    assert summary.halts == [
        "the fetch's retries would wait past its time (1800s: 75% of run_timeout 2400s): stopped "
        "fetching, 1 page left for the next run"
    ]


def test_endless_sitemap_index_stops_at_max_sitemaps(server, fast_settings, client_kind):
    server.expect_request("/robots.txt").respond_with_data("", status=404)

    def index(request):  # every index names one more
        nxt = server.url_for(f"/sitemap.xml?n={int(request.args.get('n', '0')) + 1}")
        return Response(
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{nxt}</loc></sitemap></sitemapindex>",
            content_type="application/xml",
        )

    server.expect_request("/sitemap.xml").respond_with_handler(index)
    settings = fast_settings(
        start_urls=[server.url_for("/sitemap.xml")], max_sitemaps=5, http_client=client_kind
    )
    summary = crawl(settings)
    sitemap_requests = [r for r, _ in server.log if r.path == "/sitemap.xml"]
    assert len(sitemap_requests) == 5
    assert summary.halts and summary.halts[0].startswith("max_sitemaps (5) reached")


def test_max_sitemap_urls_is_a_recorded_limit(server, fast_settings):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    entries = "".join(
        f"<url><loc>{server.url_for(f'/project/p{i}')}</loc></url>" for i in range(50)
    )
    server.expect_request("/sitemap.xml").respond_with_data(
        f"<urlset>{entries}</urlset>", content_type="application/xml"
    )
    serve_pages(server, [f"/project/p{i}" for i in range(50)])
    summary = crawl(fast_settings(start_urls=[server.url_for("/sitemap.xml")], max_sitemap_urls=10))
    assert summary.halts[0].startswith("max_sitemap_urls (10) reached in ")


def test_no_readable_start_point_is_a_failed_crawl(server, fast_settings, client_kind):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/sitemap.xml").respond_with_data("down", status=500)
    server.expect_request("/projects").respond_with_data("gone", status=404)
    summary = crawl(
        fast_settings(
            start_urls=[server.url_for("/sitemap.xml"), server.url_for("/projects")],
            http_client=client_kind,
        )
    )
    assert summary.discovered == 0
    assert summary.halts == [
        f"no start point could be read (2 tried): sitemap unreadable: "
        f"{server.url_for('/sitemap.xml')}: HTTP 500 after 3 tries"
    ]


def test_nothing_discovered_is_a_failed_crawl(server, fast_settings):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/sitemap.xml").respond_with_data(
        "<urlset></urlset>", content_type="application/xml"
    )
    summary = crawl(fast_settings(start_urls=[server.url_for("/sitemap.xml")]))
    assert summary.halts == [
        "no project page discovered: the start points list no URL on allowed_hosts that "
        "matches page_patterns"
    ]


def test_far_fewer_pages_than_last_time_is_a_failed_crawl(server, fast_settings):
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    listed = {"n": 10}

    def sitemap(request):
        entries = "".join(
            f"<url><loc>{server.url_for(f'/project/p{i}')}</loc></url>" for i in range(listed["n"])
        )
        return Response(f"<urlset>{entries}</urlset>", content_type="application/xml")

    server.expect_request("/sitemap.xml").respond_with_handler(sitemap)
    serve_pages(server, [f"/project/p{i}" for i in range(10)])
    settings = fast_settings(start_urls=[server.url_for("/sitemap.xml")])
    assert crawl(settings).halts == []
    listed["n"] = 4
    summary = crawl(settings)
    assert summary.halts == [
        "discovered 4 pages, fewer than 50% of the 10 found last time: a sitemap or listing "
        "may be broken (stored pages are kept; to accept a smaller site, run once with "
        "--set min_discovered_share=0)"
    ]
    assert crawl(settings).halts == summary.halts  # still alarming: the baseline did not move
    listed["n"] = 6
    assert crawl(settings).halts == []  # above half: fine, and the new baseline
    listed["n"] = 2
    accepted = fast_settings(start_urls=[server.url_for("/sitemap.xml")], min_discovered_share=0)
    assert crawl(accepted).halts == []


def test_outcomes_are_one_enum():
    assert {o.value for o in FetchOutcome} >= {"new", "changed", "skipped", "failed", "gone"}
