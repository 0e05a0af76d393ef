"""Finding project pages: sitemaps, listing pages, URL list files (a page's head links
are read by parse/head.py, for the crawler too).

Pure functions over bodies: the crawler (crawl.py, discovery.py) downloads,
these only read what was downloaded.
"""

from __future__ import annotations

import gzip
import io
import re
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from idf_etl.errors import ConfigError, FetchError
from idf_etl.fetch.encoding import decode_text
from idf_etl.urls import normalise_url


@dataclass
class Sitemap:
    """What one sitemap file lists: child sitemaps (an index) and page URLs with <lastmod>."""

    sitemaps: list[str] = field(default_factory=list)
    pages: dict[str, str | None] = field(default_factory=dict)


def is_gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress, refusing output past `limit` bytes (a gzip bomb is small on the wire)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as gz:
            data = gz.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:  # garbage or a cut-off stream after the magic
        raise FetchError(f"not a readable gzip file ({type(exc).__name__}: {exc})") from exc
    if len(data) > limit:
        raise FetchError(f"gzip body expands past the {limit:,}-byte limit")
    return data


def looks_like_sitemap(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return (head.startswith(b"<?xml") and (b"<urlset" in head or b"<sitemapindex" in head)) or (
        b"<urlset" in head or b"<sitemapindex" in head
    )


def parse_sitemap(body: bytes, base: str) -> Sitemap:
    """Read a sitemap or sitemap index (namespaces ignored); raise FetchError if it is not XML."""
    result = Sitemap()
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise FetchError(f"{base}: sitemap is not well-formed XML ({exc})") from exc
    kind = _local(root.tag)
    for entry in root:
        loc = lastmod = None
        for child in entry:
            name = _local(child.tag)
            if name == "loc" and child.text:
                loc = normalise_url(child.text, base)
            elif name == "lastmod" and child.text:
                lastmod = parse_lastmod(child.text)
        if loc is None:
            continue
        if kind == "sitemapindex":
            result.sitemaps.append(loc)
        elif kind == "urlset":
            result.pages[loc] = lastmod
    return result


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_lastmod(text: str) -> str | None:
    """W3C datetime ('2024-05-01', '2024-05-01T10:00:00+02:00') -> ISO UTC, else None."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        # 9999-12-31T23:59:59-14:00 is a valid date whose UTC is past year 9999.
        return moment.astimezone(UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError):
        return None


def page_links(html: bytes, base: str) -> list[str]:
    """Every link on a page, normalised, in page order, once each."""
    tree = LexborHTMLParser(html)
    seen: dict[str, None] = {}
    for node in tree.css("a[href]"):
        href = node.attributes.get("href") or ""
        if (url := normalise_url(href, base)) is not None:
            seen.setdefault(url, None)
    return list(seen)


def read_url_list(path: Path) -> list[str]:
    """URLs from a file, one a line; blank lines and '#' comments ignored."""
    try:
        lines = decode_text(Path(path).read_bytes(), errors="strict").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read URL list {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read URL list {path}: byte {exc.start} is not UTF-8; save it as UTF-8"
        ) from exc
    urls = []
    for number, line in enumerate(lines, 1):
        line = re.sub(r"\s+#.*$", "", line).strip()
        if not line or line.startswith("#"):
            continue
        if (url := normalise_url(line)) is None:
            raise ConfigError(f"{path}:{number}: {line!r} is not an http(s) URL")
        urls.append(url)
    return urls
