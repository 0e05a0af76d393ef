"""The raw store's files as they are on disk: the manifest's tables, one page's row of
them (`StoredPage`), the form its URLs are written in, and a body's gzip file found and
read back by its sha256 (checked against it).

Read without opening the store (`rawstore.RawStore`): a parse worker reads a stored page's
body from here.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from idf_etl.errors import StoreError

# The most a page may be (the bound of the max_bytes setting): a stored body is read back no
# further, whatever is on disk, so a damaged or planted object cannot take a parse worker's
# memory (a gzip of 1 GB of zeros is 4.6 MB).
MAX_BYTES_CEILING = 64 * 1024 * 1024

MANIFEST_NAME = "manifest.sqlite"  # under DATA_DIR/raw, beside objects/

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url            TEXT PRIMARY KEY,
    status         INTEGER,          -- last HTTP status seen (200, 304 counts as 200)
    sha256         TEXT,             -- body of the last 200; kept when later fetches fail
    content_type   TEXT,
    etag           TEXT,
    last_modified  TEXT,
    sitemap_lastmod TEXT,            -- <lastmod> the sitemap gave when we last fetched
    final_url      TEXT,             -- after redirects
    canonical_url  TEXT,             -- <link rel=canonical>, when it names another URL
    headers        TEXT,             -- response headers as JSON
    fetched_at     TEXT,             -- last time a body was downloaded
    checked_at     TEXT,             -- last time the server confirmed the page (200 or 304)
    changed_at     TEXT,             -- last time the body changed
    gone           INTEGER NOT NULL DEFAULT 0,   -- 404/410 seen; the body is kept
    error          TEXT              -- reason of the last failure, NULL after a success
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
-- hreflang links of each page's last body: an unchanged page vouches for these
CREATE TABLE IF NOT EXISTS translations (
    url   TEXT NOT NULL,
    lang  TEXT NOT NULL,
    href  TEXT NOT NULL,
    PRIMARY KEY (url, lang)
);
-- web archive captures listed by `idf-etl backfill`: kept apart from `pages` (the live
-- site's latest), so a nightly run never mistakes a capture for the site
CREATE TABLE IF NOT EXISTS captures (
    archive      TEXT NOT NULL,      -- the archive's replay URL
    url          TEXT NOT NULL,      -- the original URL (normalised)
    timestamp    TEXT NOT NULL,      -- the capture's time, YYYYMMDDhhmmss UTC
    status       INTEGER,            -- HTTP status the archive captured (NULL: not a number)
    digest       TEXT,               -- the archive's digest of the body ('-' or NULL: none)
    content_type TEXT,
    sha256       TEXT,               -- our stored body; NULL until fetched (or never needed)
    outcome      TEXT NOT NULL,      -- fetched, reused (same digest), gone, skipped, failed
    error        TEXT,               -- why skipped or failed
    PRIMARY KEY (archive, url, timestamp)
);
"""


# The form the manifest's URLs are written in (urls.normalise_url's): 2 since percent-
# encoding has one spelling (#23). A manifest in an older form is rewritten when opened.
URL_FORM = "2"


@dataclass(frozen=True)
class StoredPage:
    """One manifest row."""

    url: str
    status: int | None
    sha256: str | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    sitemap_lastmod: str | None
    final_url: str | None
    canonical_url: str | None
    headers: str | None
    fetched_at: str | None
    checked_at: str | None
    changed_at: str | None
    gone: int
    error: str | None


def object_path(objects: Path, sha256: str) -> Path:
    return objects / sha256[:2] / f"{sha256}.gz"


def read_body(objects: Path, sha256: str) -> bytes:
    """A stored body by its hash, checked against it (StoreError when missing or damaged);
    needs no manifest, so a parse worker process can call it."""
    try:
        with gzip.open(object_path(objects, sha256), "rb") as gz:
            body = gz.read(MAX_BYTES_CEILING + 1)
    except FileNotFoundError as exc:
        raise StoreError(f"stored body {sha256[:12]}… is missing") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise StoreError(f"stored body {sha256[:12]}… is damaged ({exc})") from exc
    if len(body) > MAX_BYTES_CEILING:  # no fetch keeps a page this large: not one we stored
        raise StoreError(
            f"stored body {sha256[:12]}… is damaged (it unpacks to more than "
            f"{MAX_BYTES_CEILING:,} bytes, the most a page may be)"
        )
    if hashlib.sha256(body).hexdigest() != sha256:
        raise StoreError(f"stored body {sha256[:12]}… is damaged (its sha256 does not match)")
    return body


def stored_time(value: object) -> datetime | None:
    """A time the manifest (or a lock file) holds, in UTC; None when it holds none or none
    that reads: a file edited or damaged by hand leaves that time unknown, its page still
    read (a year 99999 or 'garbage' once stopped every run with a traceback)."""
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        when = datetime.fromisoformat(value)
        # A time without a zone is UTC, as idf-etl writes them.
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time; past year 9999 in UTC
        return None
