"""A compression we cannot undo (#22): a page sent `Content-Encoding: br` or `zstd` (we ask for
gzip or deflate; some CDNs send them anyway) fails at fetch with a message naming the coding,
and the copy stored the night before is kept; never stored as it came and reported as "input
looks binary (NUL bytes)". Real server on 127.0.0.1, both clients, drawn codings and bodies."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from tests.helpers.raw_server import RawServer, http

PAGE = b"<html><head><title>p</title></head><body><main><h1>p</h1></main></body></html>"
CODINGS = st.sampled_from(["br", "zstd", "BR", " br ", "Zstd", "compress", "x-compress", "xz"])


@settings(
    max_examples=12, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    kind=st.sampled_from(["aiohttp", "httpx"]),
    coding=CODINGS,
    body=st.one_of(st.binary(max_size=300), st.just(PAGE)),
)
def test_a_coding_we_cannot_undo_fails_the_page_by_name_and_keeps_its_copy(
    tmp_path_factory, fast_settings, kind, coding, body
):
    with RawServer() as srv:
        srv.answer("/robots.txt", http(404))
        srv.answer("/project/p", http(200, PAGE, {"Content-Type": "text/html"}))
        s = fast_settings(
            start_urls=[srv.url("/project/p")], http_client=kind,
            data_dir=tmp_path_factory.mktemp("coding") / "data",
        )  # fmt: skip
        with RawStore(s.raw_dir) as store:
            fetch_site(s, store)
            before = store.get(srv.url("/project/p"))
        headers = {"Content-Type": "text/html", "Content-Encoding": coding}
        srv.answer("/project/p", http(200, body, headers))
        with RawStore(s.raw_dir) as store:
            summary = fetch_site(s, store, revalidate=True)
            after = store.get(srv.url("/project/p"))
    [(url, reason)] = summary.failures
    assert url == srv.url("/project/p")
    assert f"Content-Encoding {coding.strip().lower()!r} is a compression we cannot undo" in reason
    assert before is not None and after is not None
    assert after.sha256 == before.sha256, "the stored copy was replaced"
