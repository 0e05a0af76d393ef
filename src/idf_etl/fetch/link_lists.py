"""Finding project pages: sitemaps, listing pages, URL list files (a page's head links
are read by parse/head.py, for the crawler too).

Pure functions over bodies: the crawler (crawl.py, discovery.py) downloads,
these only read what was downloaded.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import io
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from idf_etl.errors import ConfigError, FetchError
from idf_etl.fetch.encoding import decode_text
from idf_etl.records import bounded
from idf_etl.urls import URL_LIMIT, normalise_url, url_refusal


@dataclass
class Sitemap:
    """What one sitemap file lists: child sitemaps (an index) and page URLs with <lastmod>."""

    sitemaps: list[str] = field(default_factory=list)
    pages: dict[str, str | None] = field(default_factory=dict)


def is_gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"


class _Gunzip:
    """A gzip body read as a stream, refusing output past `limit` bytes (a gzip bomb is small
    on the wire) and naming garbage or a cut-off stream after the magic."""

    def __init__(self, body: bytes, limit: int, name: str = "") -> None:
        self._gz = gzip.GzipFile(fileobj=io.BytesIO(body))
        self.name = f"{name}: " if name else ""
        self.limit = limit
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._gz.read(self.limit + 1 - self.size if size < 0 else size)
        except (OSError, EOFError, zlib.error) as exc:
            raise FetchError(
                f"{self.name}not a readable gzip file ({type(exc).__name__}: {exc})"
            ) from exc
        self.size += len(data)
        if self.size > self.limit:
            raise FetchError(f"{self.name}gzip body expands past the {self.limit:,}-byte limit")
        return data


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress, refusing output past `limit` bytes."""
    return _Gunzip(body, limit).read()


def looks_like_sitemap(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return (head.startswith(b"<?xml") and (b"<urlset" in head or b"<sitemapindex" in head)) or (
        b"<urlset" in head or b"<sitemapindex" in head
    )


_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass
class TooLong:
    """A sitemap's entries left out for a URL longer than URL_LIMIT: how many, the first's start."""

    count: int = 0
    first: str = ""


def sitemap_entries(
    body: bytes, base: str, limit: int, too_long: TooLong | None = None
) -> Iterator[tuple[str, str | None, bool]]:
    """Each entry of a sitemap or sitemap index as (loc, lastmod, is_child_sitemap), read as a
    stream (gzip undone on the way, at most `limit` bytes): memory holds one entry at a time,
    not the whole tree, and the caller can stop between entries (the run's deadline).
    Namespaces ignored; FetchError if it is not XML. An entry whose URL is longer than
    URL_LIMIT is left out, its start added to `too_long`."""
    if body.startswith(_WIDE_BOMS):
        # expat reads neither UTF-32 nor a declared "UTF-16LE": the same text as UTF-8.
        text = re.sub(r"^<\?xml[^>]*\?>", '<?xml version="1.0"?>', decode_text(body))
        body = text.encode("utf-8")
    source = _Gunzip(body, limit, base) if is_gzip(body) else io.BytesIO(body)
    kind = ""
    level = 0
    loc: str | None = None
    lastmod: str | None = None
    root: ET.Element | None = None
    try:
        for event, element in ET.iterparse(source, events=("start", "end")):
            if event == "start":
                level += 1
                if level == 1:
                    root, kind = element, _local(element.tag)
                continue
            if level == 3:  # a field of an entry
                name = _local(element.tag)
                if name == "loc" and element.text:
                    loc = normalise_url(element.text, base)
                    if loc is None and too_long is not None and len(element.text) > URL_LIMIT:
                        too_long.count += 1
                        too_long.first = too_long.first or element.text.strip()[:100]
                elif name == "lastmod" and element.text:
                    lastmod = parse_lastmod(element.text)
            elif level == 2:  # an entry ends
                if loc is not None and kind in ("sitemapindex", "urlset"):
                    yield loc, lastmod, kind == "sitemapindex"
                loc = lastmod = None
                if root is not None:
                    root.clear()  # what was read is let go
            level -= 1
    except (ET.ParseError, ValueError) as exc:  # ValueError: an encoding expat cannot read
        raise FetchError(f"{base}: sitemap is not well-formed XML ({exc})") from exc


def parse_sitemap(body: bytes, base: str, limit: int = 2**62) -> Sitemap:
    """A whole sitemap or sitemap index at once (sitemap_entries, collected)."""
    result = Sitemap()
    for loc, lastmod, child in sitemap_entries(body, base, limit):
        if child:
            result.sitemaps.append(loc)
        else:
            result.pages[loc] = lastmod
    return result


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_lastmod(text: str) -> str | None:
    """W3C datetime ('2024-05-01', '2024-05-01T10:00:00+02:00') -> ISO UTC, else None."""
    text = text.strip()
    return _lastmod(text) if len(text) <= 40 else None  # no W3C datetime is longer


@functools.lru_cache(maxsize=4096)  # one string for the many entries of one date (memory)
def _lastmod(text: str) -> str | None:
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
            shown = bounded(repr(line), 200)
            raise ConfigError(f"{path}:{number}: {shown} is {url_refusal(line)}")
        urls.append(url)
    return urls
