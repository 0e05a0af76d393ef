"""Pages put straight into a raw store, as a fetch stores them: 200, HTML, no redirect."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from unittest import mock

from idf_etl.rawstore import RawStore


def store_pages(raw: Path, pages: Iterable[tuple[str, bytes]]) -> None:
    """(url, body) pairs into the raw store at `raw`. No fsync: a test's store need not
    outlive a power cut, and thousands of pages are written in seconds."""
    with RawStore(raw) as store, mock.patch("os.fsync"):
        for url, body in pages:
            store.record_body(
                url,
                status=200,
                body=body,
                headers={"content-type": "text/html; charset=utf-8"},
                final_url=url,
                canonical_url=None,
                sitemap_lastmod=None,
            )
