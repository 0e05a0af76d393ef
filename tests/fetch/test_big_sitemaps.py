"""A sitemap as large as the limits allow (#22): discovery reads it entry by entry, so its
memory does not grow with the entries, and it stops at the fetch's deadline (a sitemap of
550,000 URLs took 262 s against run_timeout=20, then the run failed for memory)."""

from __future__ import annotations

import gzip
import tracemalloc

import pytest

from idf_etl.fetch.link_lists import sitemap_entries
from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from tests.helpers.raw_server import RawServer, http


def urlset(base: str, count: int) -> bytes:
    entries = "".join(
        f"<url><loc>{base}/project/p{i}</loc><lastmod>2024-01-15</lastmod></url>"
        for i in range(count)
    )
    return f'<?xml version="1.0"?><urlset>{entries}</urlset>'.encode()


def peak_reading(body: bytes) -> int:
    tracemalloc.start()
    try:
        for _ in sitemap_entries(body, "http://x.example/sitemap.xml", 10**9):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("compress", [False, True])
def test_reading_a_sitemap_holds_one_entry_at_a_time(compress):
    small, large = (urlset("http://x.example", n) for n in (1_000, 8_000))
    if compress:
        small, large = gzip.compress(small), gzip.compress(large)
    # Eight times the entries, about the same memory (a tree of them grew with each one).
    assert peak_reading(large) < 1.5 * peak_reading(small) + 256 * 1024


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
def test_discovery_stops_at_the_fetch_deadline_inside_a_big_sitemap(fast_settings, kind):
    with RawServer() as srv:
        listed = 300_000
        body = gzip.compress(urlset(f"http://{srv.host}", listed))
        srv.answer("/robots.txt", http(404))
        srv.answer("/sitemap.xml", http(200, body, {"Content-Type": "application/x-gzip"}))
        settings = fast_settings(
            start_urls=[srv.url("/sitemap.xml")], http_client=kind, run_timeout=3,
            min_discovered_share=0,
        )  # fmt: skip
        with RawStore(settings.raw_dir) as store:
            summary = fetch_site(settings, store)
    # The deadline is checked every 1,000 entries: a busy machine's room, not the sitemap's.
    assert summary.seconds < settings.fetch_seconds + 10, summary.seconds
    assert any("ran out in discovery" in h and "entries read" in h for h in summary.halts), (
        summary.halts,
        summary.failures[:3],
        summary.discovered,
    )
    assert 0 <= summary.discovered < listed
