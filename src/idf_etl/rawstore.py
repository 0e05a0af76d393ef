"""The raw store: every fetched body, content-addressed and compressed, and a manifest.

    data/raw/objects/ab/abcdef....gz    one gzip file per distinct body (sha256 of the body)
    data/raw/manifest.sqlite            url -> latest body, status, validators, times;
                                        and web archive captures (captures: backfill.py)

Bodies are written to a temporary file and renamed into place before the
manifest points at them, and the manifest is SQLite (one transaction per
update), so a run killed at any moment leaves a readable store, never a torn
file; parsing later reads only from here.

A body is checked against its sha256 whenever it is read or stored again. A
damaged one (a disk fault, a truncated copy) is moved to data/raw/damaged/ and
its page's validators are forgotten, so the next fetch downloads it again in
full instead of being told "304 Not Modified" or skipping it by <lastmod>.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from idf_etl.errors import StoreError
from idf_etl.rawformat import MANIFEST_NAME, SCHEMA, URL_FORM, StoredPage, object_path, read_body


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# A stored time later than now by more than this is "in the future": the clock was ahead
# when it was written, or is behind now. Machines that share a data directory disagree by
# seconds (NTP), not minutes. Every comparison of a stored time with now uses it: the
# freshness (warehouse/status.py), revalidation (fetch/crawl.py), a lock's holder elsewhere.
CLOCK_SLACK = timedelta(minutes=5)


# sqlite3.connect's default wait for another process's write transaction (timeout=5.0).
BUSY_TIMEOUT_MS = 5000


class RawStore:
    """Bodies on disk plus the manifest. Not shared between processes at once (the run lock sees to that)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.damaged = self.root / "damaged"
        self.manifest = self.root / MANIFEST_NAME
        self.objects.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.manifest, isolation_level=None)
        try:
            (check,) = self._db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.OperationalError as exc:
            # The disk, not the file: full, read-only, no permission, an I/O error. Said as
            # such by the CLI (cli/failures.py); calling it damaged would send users to fsck.
            self._db.close()
            exc.add_note(str(self.manifest))  # SQLite does not say which file
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(
                f"the raw store's manifest {self.manifest} is damaged ({exc}). "
                f"`idf-etl fsck --data-dir {self.root.parent}` moves it aside and rebuilds it "
                "from the published warehouse; the stored bodies are kept"
            ) from exc
        self._db.row_factory = sqlite3.Row
        self._renormalise_urls()

    def close(self) -> None:
        self._db.close()

    def _renormalise_urls(self) -> None:
        """A manifest written by an older release keyed pages by URLs in an older form:
        each is rewritten in this release's form (urls.normalise_url), once, so discovery
        finds its pages again. Two rows that become one URL keep the later download."""
        if self.get_meta("url_form") == URL_FORM:
            return
        from idf_etl.urls import normalise_url

        moves = {}
        for (url,) in self._db.execute("SELECT url FROM pages").fetchall():
            new = normalise_url(url)
            if new is not None and new != url:
                moves[url] = new
        with self._db:
            self._db.execute("BEGIN")
            for old, new in moves.items():
                self._db.execute(
                    """DELETE FROM pages WHERE url = ? AND coalesce(fetched_at, '') <=
                       (SELECT coalesce(fetched_at, '') FROM pages WHERE url = ?)""",
                    (new, old),
                )
                self._db.execute("UPDATE OR IGNORE pages SET url = ? WHERE url = ?", (new, old))
                self._db.execute("DELETE FROM pages WHERE url = ?", (old,))
                self._db.execute(
                    "UPDATE OR REPLACE translations SET url = ? WHERE url = ?", (new, old)
                )
            for url, lang, href in self._db.execute(
                "SELECT url, lang, href FROM translations"
            ).fetchall():
                if (new := normalise_url(href)) is not None and new != href:
                    self._db.execute(
                        "UPDATE translations SET href = ? WHERE url = ? AND lang = ?",
                        (new, url, lang),
                    )
            self.set_meta("url_form", URL_FORM)

    def __enter__(self) -> RawStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bodies --

    def path_for(self, sha256: str) -> Path:
        return object_path(self.objects, sha256)

    def put_body(self, body: bytes) -> str:
        """Store a body once (by its sha256) and return the hash; a damaged copy is replaced."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.path_for(digest)
        if path.exists() and self._intact(digest):
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
        """The stored body, checked against its hash; StoreError (after setting the page up
        for a fresh download) when it is missing or damaged."""
        try:
            return self._read(sha256)
        except StoreError as exc:
            self.set_aside(sha256, str(exc))
            raise

    def _read(self, sha256: str) -> bytes:
        return read_body(self.objects, sha256)

    def _intact(self, sha256: str) -> bool:
        try:
            self._read(sha256)
        except StoreError:
            return False
        return True

    def set_aside(self, sha256: str, reason: str) -> int:
        """Move a damaged body to damaged/ (kept for inspection) and forget the validators of
        the pages that point at it, so the next fetch downloads them in full; the pages' count."""
        path = self.path_for(sha256)
        if path.exists():
            self.damaged.mkdir(exist_ok=True)
            os.replace(path, self.damaged / f"{path.name}.{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        cursor = self._db.execute(
            """UPDATE pages SET etag=NULL, last_modified=NULL, sitemap_lastmod=NULL, error=?
               WHERE sha256=?""",
            (f"stored body unreadable: {reason}; it will be downloaded again", sha256),
        )
        # A web archive's capture of it is fetched again by the next backfill.
        self._db.execute(
            "UPDATE captures SET outcome='failed', sha256=NULL, error=? WHERE sha256=?",
            (f"stored body unreadable: {reason}", sha256),
        )
        return int(cursor.rowcount)

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
        """404/410: flag the page; its stored body stays. checked_at (when the site last
        confirmed the page) does not move: a 404 confirms nothing."""
        self._db.execute(
            """INSERT INTO pages (url, status, gone) VALUES (?,?,1)
               ON CONFLICT (url) DO UPDATE SET status=excluded.status, gone=1, error=NULL""",
            (url, status),
        )

    def record_failure(self, url: str, reason: str) -> None:
        """A failed fetch: the reason is kept, nothing stored before is lost."""
        self._db.execute(
            """INSERT INTO pages (url, error) VALUES (?, ?)
               ON CONFLICT (url) DO UPDATE SET error=excluded.error""",
            (url, reason),
        )

    def failing_urls(self) -> set[str]:
        """URLs whose latest fetch failed (a later success clears the failure)."""
        return {row[0] for row in self._db.execute("SELECT url FROM pages WHERE error IS NOT NULL")}

    def awaiting_download(self, sha256: str) -> bool:
        """Set aside before and not downloaded again yet (no fetch since)."""
        row = self._db.execute(
            "SELECT count(*) FROM pages WHERE sha256=? AND error LIKE 'stored body unreadable%'",
            (sha256,),
        ).fetchone()
        return bool(row[0]) and not self.path_for(sha256).exists()

    def urls_of(self, sha256: str) -> list[str]:
        rows = self._db.execute("SELECT url FROM pages WHERE sha256=? ORDER BY url", (sha256,))
        return [str(url) for (url,) in rows]

    def restore_rows(self, rows: list[tuple[str, str, str | None, bool]]) -> None:
        """Refill an empty manifest from the warehouse: (url, sha256, fetched_at, gone).
        No validators: the next fetch downloads each page once, unconditionally."""
        self._db.execute("BEGIN")
        self._db.executemany(
            """INSERT OR REPLACE INTO pages (url, status, sha256, fetched_at, gone)
               VALUES (?, 200, ?, ?, ?)""",
            [(url, sha, fetched, int(bool(gone))) for url, sha, fetched, gone in rows],
        )
        self._db.execute("COMMIT")

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

    def pages(self, chunk: int = 1000) -> Iterator[StoredPage]:
        """Every manifest row with a stored body, in URL order, read `chunk` rows at a time:
        memory stays flat however large the store, and no cursor is held open between
        chunks, so the caller may write to the store meanwhile."""
        after = ""
        while rows := self._db.execute(
            "SELECT * FROM pages WHERE sha256 IS NOT NULL AND url > ? ORDER BY url LIMIT ?",
            (after, chunk),
        ).fetchall():
            for row in rows:
                yield StoredPage(**dict(row))
            after = rows[-1]["url"]

    def urls(self) -> Iterator[str]:
        """Every URL the manifest knows, stored body or not (which site this store holds)."""
        for (url,) in self._db.execute("SELECT url FROM pages").fetchall():
            yield str(url)

    def count(self) -> int:
        return int(
            self._db.execute("SELECT count(*) FROM pages WHERE sha256 IS NOT NULL").fetchone()[0]
        )

    # -- web archive captures (fetch/archive.py) --

    def capture_rows(self, archive: str) -> dict[tuple[str, str], sqlite3.Row]:
        """(url, timestamp) -> the capture's row, for every capture of `archive` seen so far."""
        rows = self._db.execute("SELECT * FROM captures WHERE archive = ?", (archive,))
        return {(r["url"], r["timestamp"]): r for r in rows}

    def capture_bodies(self) -> set[str]:
        """The hashes of every stored capture body, of any archive."""
        rows = self._db.execute("SELECT DISTINCT sha256 FROM captures WHERE sha256 IS NOT NULL")
        return {str(sha) for (sha,) in rows}

    def record_capture(self, archive: str, row: dict[str, object]) -> None:
        """One capture's outcome, committed at once: a backfill killed after it keeps it."""
        names = ["archive", *row]
        self._db.execute(
            f"INSERT OR REPLACE INTO captures ({', '.join(names)}) "
            f"VALUES ({', '.join('?' * len(names))})",
            (archive, *row.values()),
        )

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str, wait: float | None = None) -> None:
        """`wait`: the seconds to wait for another process's write transaction on the
        manifest (None: SQLite's busy timeout, 5 s)."""
        if wait is not None:
            self._db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        finally:
            if wait is not None:
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
