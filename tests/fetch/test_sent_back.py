"""What we send back of what a server said (#22): a stored ETag or Last-Modified that cannot go
on the wire is dropped (the page asked for unconditionally), never a request that fails before
it is sent, every night, for ever; Set-Cookie values are never kept nor sent back.

Real servers on 127.0.0.1 (RawServer sends the header bytes Hypothesis draws), both HTTP clients.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from idf_etl.fetch.headers import MAX_SENT_VALUE, sendable, sendable_headers
from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from tests.helpers.raw_server import RawServer, http

PAGE = b"<html><head><title>p</title></head><body><main><h1>p</h1></main></body></html>"
# Any byte but CR and LF (which would end the header line): raw, not UTF-8 at all, controls.
HEADER_BYTES = st.binary(min_size=1, max_size=40).map(
    lambda b: b.replace(b"\r", b"x").replace(b"\n", b"x")
)
NASTY = [
    '"caf\u00e9-\u00fc"'.encode(), b'"ab\xffcd"', b"Mon, 15 J\xc3\xa4n 2024 10:00:00 GMT",
    b"Mon, 15 Jan 2024 10:00:00 GMT\xff", b'"a\x00b"', b'"a\x7fb"', b'W/"\xe2\x80\x8bx"',
    b'"\xef\xbb\xbfx"', b'"\xfe\xff\x00x"', b"x" * (MAX_SENT_VALUE + 1), b'"a\tb"', b"\x1b[31m",
]  # fmt: skip


def crawl(settings):
    with RawStore(settings.raw_dir) as store:
        return fetch_site(settings, store)


def sitemap(srv: RawServer, lastmod: str) -> bytes:
    return (
        f"<urlset><url><loc>{srv.url('/project/p')}</loc><lastmod>{lastmod}</lastmod></url>"
        "</urlset>"
    ).encode()


def raw_answer(headers: list[tuple[bytes, bytes]]) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(PAGE) + PAGE


def two_nights(tmp_path_factory, fast_settings, kind: str, headers: list[tuple[bytes, bytes]]):
    with RawServer() as srv:
        srv.answer("/robots.txt", http(404))
        srv.answer(
            "/sitemap.xml", http(200, sitemap(srv, "2024-01-01"), {"Content-Type": "text/xml"})
        )
        srv.answer("/project/p", raw_answer(headers))
        data = tmp_path_factory.mktemp("sent") / "data"
        s = fast_settings(
            start_urls=[srv.url("/sitemap.xml")], data_dir=data, http_client=kind,
            min_discovered_share=0,
        )  # fmt: skip
        crawl(s)
        # Night 2: the sitemap says the page moved; the server is fixed (plain headers).
        srv.answer(
            "/sitemap.xml", http(200, sitemap(srv, "2024-02-01"), {"Content-Type": "text/xml"})
        )
        srv.answer("/project/p", raw_answer([]))
        asked = len(srv.heads)
        summary = crawl(s)
        return summary, [h for h in srv.heads[asked:] if h.startswith(b"GET /project/p ")]


@settings(
    max_examples=30, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    kind=st.sampled_from(["aiohttp", "httpx"]),
    name=st.sampled_from([b"ETag", b"Last-Modified", b"Set-Cookie"]),
    value=st.one_of(HEADER_BYTES, st.sampled_from(NASTY)),
)
@example(kind="aiohttp", name=b"ETag", value=NASTY[0])
@example(kind="httpx", name=b"ETag", value=NASTY[1])
@example(kind="httpx", name=b"Last-Modified", value=NASTY[2])
@example(kind="aiohttp", name=b"Last-Modified", value=NASTY[3])
def test_a_stored_value_that_cannot_be_sent_is_dropped_never_the_page(
    tmp_path_factory, fast_settings, kind, name, value
):
    summary, asked = two_nights(tmp_path_factory, fast_settings, kind, [(name, value)])
    assert not summary.failures, summary.failures
    assert len(asked) == 1, "night 2 never asked for the page"
    assert summary.new + summary.changed + summary.unchanged == 1, summary  # night 1 may fail
    sent = asked[0].lower()
    assert b"cookie:" not in sent, "a Set-Cookie value was sent back"
    for line in sent.split(b"\r\n")[1:]:
        assert all(0x20 <= c < 0x7F or c == 0x09 for c in line), line


def test_a_sendable_validator_is_sent_back(tmp_path_factory, fast_settings):
    for kind in ("aiohttp", "httpx"):
        headers = [(b"ETag", b'W/"v1"'), (b"Last-Modified", b"Mon, 15 Jan 2024 10:00:00 GMT")]
        _, asked = two_nights(tmp_path_factory, fast_settings, kind, headers)
        assert b'if-none-match: w/"v1"' in asked[0].lower()
        assert b"if-modified-since: mon, 15 jan 2024 10:00:00 gmt" in asked[0].lower()


@given(st.text(max_size=2 * MAX_SENT_VALUE))
def test_sendable_is_exactly_what_both_clients_can_put_on_the_wire(value):
    kept, dropped = sendable_headers({"If-None-Match": value})
    assert bool(kept) == sendable(value) != bool(dropped)
    if sendable(value):
        assert value.encode("ascii").isascii() and value == value.strip()
        assert len(value) <= MAX_SENT_VALUE
        assert not any(c in value for c in "\r\n\x00\x7f")
