"""The raw store: every fetched body, content-addressed and compressed, and a manifest.

    data/raw/objects/ab/abcdef....gz    one gzip file per distinct body (sha256 of the body)
    data/raw/manifest.sqlite            url -> latest body, status, validators, times

Bodies are written to a temporary file and renamed into place before the
manifest points at them, and the manifest is SQLite (one transaction per
update), so a run killed at any moment leaves a readable store, never a torn
file; parsing later reads only from here.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from idf_etl.polite import charset_of

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
    checked_at     TEXT,             -- last time the server was asked (200 or 304)
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
"""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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

    @property
    def charset(self) -> str | None:
        return charset_of(self.content_type or "")


def object_path(objects: Path, sha256: str) -> Path:
    return objects / sha256[:2] / f"{sha256}.gz"


def read_body(objects: Path, sha256: str) -> bytes:
    """A stored body by its hash; needs no manifest, so a parse worker process can call it."""
    with gzip.open(object_path(objects, sha256), "rb") as gz:
        return gz.read()


class RawStore:
    """Bodies on disk plus the manifest. Not shared between processes at once (the run lock sees to that)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.root / "manifest.sqlite", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RawStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bodies --

    def path_for(self, sha256: str) -> Path:
        return object_path(self.objects, sha256)

    def put_body(self, body: bytes) -> str:
        """Store a body once (by its sha256) and return the hash."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.path_for(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".gz")
        try:
            with (
                os.fdopen(fd, "wb") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz,
            ):
                gz.write(body)
                gz.flush()
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get_body(self, sha256: str) -> bytes:
        return read_body(self.objects, sha256)

    # -- manifest --

    def get(self, url: str) -> StoredPage | None:
        row = self._db.execute("SELECT * FROM pages WHERE url = ?", (url,)).fetchone()
        return StoredPage(**dict(row)) if row else None

    def record_body(
        self,
        url: str,
        *,
        status: int,
        body: bytes,
        headers: dict[str, str],
        final_url: str,
        canonical_url: str | None,
        sitemap_lastmod: str | None,
    ) -> bool:
        """Store a 200 response; True when the body differs from the one stored before."""
        digest = self.put_body(body)
        now = utcnow()
        before = self.get(url)
        changed = before is None or before.sha256 != digest
        self._db.execute(
            """INSERT INTO pages (url, status, sha256, content_type, etag, last_modified,
                   sitemap_lastmod, final_url, canonical_url, headers, fetched_at, checked_at,
                   changed_at, gone, error)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0,NULL)
               ON CONFLICT (url) DO UPDATE SET status=excluded.status, sha256=excluded.sha256,
                   content_type=excluded.content_type, etag=excluded.etag,
                   last_modified=excluded.last_modified,
                   sitemap_lastmod=COALESCE(excluded.sitemap_lastmod, pages.sitemap_lastmod),
                   final_url=excluded.final_url, canonical_url=excluded.canonical_url,
                   headers=excluded.headers, fetched_at=excluded.fetched_at,
                   checked_at=excluded.checked_at,
                   changed_at=CASE WHEN pages.sha256 IS excluded.sha256 THEN pages.changed_at
                                   ELSE excluded.changed_at END,
                   gone=0, error=NULL""",
            (
                url,
                status,
                digest,
                headers.get("content-type"),
                headers.get("etag"),
                headers.get("last-modified"),
                sitemap_lastmod,
                final_url,
                canonical_url,
                json.dumps(headers),
                now,
                now,
                now,
            ),
        )
        return changed

    def record_not_modified(
        self, url: str, *, headers: dict[str, str], sitemap_lastmod: str | None
    ) -> None:
        """A 304: the stored body is current; refresh validators and times."""
        self._db.execute(
            """UPDATE pages SET status=200, checked_at=?, gone=0, error=NULL,
                   etag=COALESCE(?, etag), last_modified=COALESCE(?, last_modified),
                   sitemap_lastmod=COALESCE(?, sitemap_lastmod)
               WHERE url=?""",
            (utcnow(), headers.get("etag"), headers.get("last-modified"), sitemap_lastmod, url),
        )

    def record_gone(self, url: str, status: int) -> None:
        """404/410: flag the page; its stored body stays."""
        self._db.execute(
            """INSERT INTO pages (url, status, checked_at, gone) VALUES (?,?,?,1)
               ON CONFLICT (url) DO UPDATE SET status=excluded.status,
                   checked_at=excluded.checked_at, gone=1, error=NULL""",
            (url, status, utcnow()),
        )

    def record_failure(self, url: str, reason: str) -> None:
        """A failed fetch: the reason is kept, nothing stored before is lost."""
        self._db.execute(
            """INSERT INTO pages (url, error) VALUES (?, ?)
               ON CONFLICT (url) DO UPDATE SET error=excluded.error""",
            (url, reason),
        )

    def set_translations(self, url: str, links: dict[str, str]) -> None:
        """The hreflang links (language -> URL) of the body just stored for `url`."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM translations WHERE url = ?", (url,))
            self._db.executemany(
                "INSERT INTO translations (url, lang, href) VALUES (?, ?, ?)",
                [(url, lang, href) for lang, href in links.items()],
            )

    def translations(self, url: str) -> dict[str, str]:
        rows = self._db.execute("SELECT lang, href FROM translations WHERE url = ?", (url,))
        return {str(lang): str(href) for lang, href in rows}

    def pages(self) -> Iterator[StoredPage]:
        """Every manifest row with a stored body, in URL order."""
        for row in self._db.execute("SELECT * FROM pages WHERE sha256 IS NOT NULL ORDER BY url"):
            yield StoredPage(**dict(row))

    def count(self) -> int:
        return int(
            self._db.execute("SELECT count(*) FROM pages WHERE sha256 IS NOT NULL").fetchone()[0]
        )

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
