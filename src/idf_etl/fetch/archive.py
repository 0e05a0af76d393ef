"""A web archive's captures of the project pages, listed (CDX) and fetched (replay) politely.

    summary = fetch_archive(settings, store, years=(2015, 2020), progress=report)

For every allowed host and `archive_paths` prefix the CDX server lists the
captures (`{cdx}?url=HOST/PATH*&output=json`); the Internet Archive answers a
JSON array of arrays with a header row, pywb one JSON object a line, both read
by `read_cdx`. Each capture of a project page address whose body is new to us
(by the archive's digest) is fetched from `{replay}/{timestamp}id_/{url}`
(original bytes) into the raw store, and every capture's outcome goes in the
manifest's `captures` table at once: a backfill killed at any moment goes on
where it stopped, and one over the same captures asks only the CDX server.

Our own PoliteClient, not cdx_toolkit: an archive is a host like any other
(one request a second by default, Retry-After and 429 honoured, the run's
deadline), and cdx_toolkit has its own pacing and retries without a deadline.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from idf_etl.config import Settings
from idf_etl.errors import FetchError, HostUnavailable, OutOfTime
from idf_etl.fetch.client import PoliteClient, Response
from idf_etl.fetch.encoding import decode_text
from idf_etl.fetch.outcomes import FetchSummary, Progress, no_progress
from idf_etl.numerals import ascii_int
from idf_etl.rawstore import RawStore
from idf_etl.urls import host_allowed, normalise_url

# What a CDX server may call its answer.
CDX_TYPES = ("application/json", "text/x-ndjson", "text/plain", "text/html", "text/x-cdxj", "")
# The Internet Archive's field names, and the order of its plain (not JSON) lines.
_PLAIN_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
# Outcomes a later backfill does not revisit; 'failed' is tried again.
DONE = frozenset({"fetched", "reused", "gone", "skipped"})
_MAX_CDX_PAGES = 10_000  # a CDX server that pages for ever is stopped here


@dataclass(frozen=True)
class Capture:
    """One capture as the CDX server lists it."""

    url: str  # the original URL, normalised: the page it is a capture of
    timestamp: str  # 14 digits, UTC
    status: int | None
    digest: str | None
    mime: str
    original: str = ""  # as the archive has it: what replay is asked for
    listed: str = ""  # the timestamp as the CDX server wrote it (replay is asked with it)

    @property
    def captured_at(self) -> datetime:
        return capture_time(self.timestamp)


@dataclass(frozen=True)
class CdxPage:
    rows: list[dict[str, str]]
    resume_key: str | None
    unreadable: int  # lines or rows that were not captures


def capture_time(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def full_timestamp(value: str) -> str | None:
    """A Wayback timestamp as 14 digits: '2019' -> '20190101000000', '20190301' ->
    '20190301000000'; None when it is not 4 to 14 digits of a real UTC time."""
    value = value.strip()
    if not re.fullmatch(r"\d{4,14}", value):
        return None
    padded = value + "0101000000"[len(value) - 4 :] if len(value) < 14 else value
    # A month or day padded from a lone digit ('2019 1' -> 201910...) is still checked here.
    try:
        capture_time(padded)
    except ValueError:
        return None
    return padded


def read_cdx(body: bytes) -> CdxPage:
    """A CDX answer's rows as {field: value}: a JSON array of arrays with a header row (the
    Internet Archive's, with a resume key after an empty row when it pages), one JSON
    object a line (pywb's), or plain space-separated lines."""
    text = decode_text(body).strip()
    if not text:
        return CdxPage([], None, 0)
    if text.startswith("["):
        return _read_array(text)
    rows: list[dict[str, str]] = []
    unreadable = 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                item = None
            if isinstance(item, dict):
                rows.append({_text(k): _text(v) for k, v in item.items()})
            else:
                unreadable += 1
            continue
        parts = line.split(" ")
        if len(parts) == len(_PLAIN_FIELDS):
            rows.append(dict(zip(_PLAIN_FIELDS, parts, strict=True)))
        else:
            unreadable += 1
    return CdxPage(rows, None, unreadable)


def _text(value: object) -> str:
    """A CDX value as text that can be written anywhere: JSON's escapes can spell a lone
    surrogate ("\\ud800"), which no UTF-8 file, database or URL takes (writing one into the
    raw store's manifest stopped the whole backfill); each becomes U+FFFD, as in a browser."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _read_array(text: str) -> CdxPage:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FetchError(f"the CDX server's answer is not JSON ({exc})") from None
    if not isinstance(data, list) or not data:
        return CdxPage([], None, 0)
    header, rest = data[0], data[1:]
    if not isinstance(header, list) or not all(isinstance(h, str) for h in header):
        raise FetchError("the CDX server's JSON answer has no header row of field names")
    resume = None
    if len(rest) >= 2 and rest[-2] == [] and isinstance(rest[-1], list) and len(rest[-1]) == 1:
        resume, rest = _text(rest[-1][0]), rest[:-2]
    rows = [
        dict(zip(map(_text, header), map(_text, r), strict=True))
        for r in rest
        if isinstance(r, list) and len(r) == len(header)
    ]
    return CdxPage(rows, resume, len(rest) - len(rows))


def capture_of(row: dict[str, str]) -> Capture | None:
    """A CDX row as a Capture (both servers' field names); None when it lacks a usable
    URL or timestamp."""
    original = (row.get("original") or row.get("url") or "").strip()
    url = normalise_url(original)
    timestamp = full_timestamp(row.get("timestamp", ""))
    if url is None or timestamp is None:
        return None
    status = row.get("statuscode") or row.get("status") or ""
    digest = row.get("digest") or ""
    mime = (row.get("mimetype") or row.get("mime") or "").split(";")[0].strip().lower()
    return Capture(
        url=url,
        timestamp=timestamp,
        status=ascii_int(status, max_digits=3),
        digest=None if digest in ("", "-") else digest,
        mime=mime,
        original=original,
        listed=row.get("timestamp", "").strip(),
    )


def cdx_queries(settings: Settings) -> list[str]:
    """The CDX `url` values to list: every allowed host under every archive path."""
    return [f"{host}{path}*" for host in settings.hosts() for path in settings.archive_paths]


def skip_reason(capture: Capture, settings: Settings) -> str | None:
    """Why a capture is not fetched (a redirect, an error page, another page), or None.
    404 and 410 are not skipped: they say the page was gone then."""
    path = urlsplit(capture.url).path
    if not host_allowed(capture.url, settings.hosts()) or not any(
        re.search(p, path) for p in settings.page_patterns
    ):
        return "not a project page address"
    if capture.status is None:
        return "no HTTP status (a revisit record or not an HTTP capture)"
    if capture.status in (404, 410):
        return None
    if 300 <= capture.status < 400:
        return f"a redirect (HTTP {capture.status})"
    if capture.status != 200:
        return f"not a page (HTTP {capture.status})"
    if capture.mime not in ("", "unk", "-", *_HTML_TYPES):
        return f"not a web page ({capture.mime})"
    return None


def fetch_archive(
    settings: Settings,
    store: RawStore,
    *,
    years: tuple[int | None, int | None] = (None, None),
    progress: Progress = no_progress,
    deadline: float | None = None,
) -> FetchSummary:
    """List the archive's captures and fetch the new ones into the raw store. `deadline`:
    time.monotonic() when the fetch stops (None: FETCH_SHARE of run_timeout from now)."""
    return asyncio.run(_fetch_archive(settings, store, years, progress, deadline))


def archive_settings(settings: Settings) -> Settings:
    """The client's settings for the archive: its hosts only, at its own pace, one at a time."""
    hosts = sorted({urlsplit(u).netloc for u in (settings.archive_cdx, settings.archive_replay)})
    return settings.model_copy(
        update={"allowed_hosts": hosts, "rate": settings.archive_rate, "concurrency": 1}
    )


async def _fetch_archive(
    settings: Settings,
    store: RawStore,
    years: tuple[int | None, int | None],
    progress: Progress,
    deadline: float | None,
) -> FetchSummary:
    started = time.monotonic()
    summary = FetchSummary()
    deadline = started + settings.fetch_seconds if deadline is None else deadline

    def problem(url: str, message: str) -> None:
        progress("problem", url, message)

    # No robots.txt: the CDX server and replay are the archive's API, whose terms are its
    # pace (429 with Retry-After), which the client keeps; pywb answers /robots.txt with a
    # redirect to itself.
    async with PoliteClient(
        archive_settings(settings),
        on_problem=problem,
        deadline=deadline,
        robots=False,
        budget=settings.fetch_budget(deadline - started),
    ) as client:
        captures: dict[tuple[str, str], Capture] = {}
        for query in cdx_queries(settings):
            try:
                async for capture in _list(client, settings, query, years, summary):
                    captures.setdefault((capture.url, capture.timestamp), capture)
            except (OutOfTime, HostUnavailable) as exc:
                summary.halt(f"the archive's captures could not all be listed: {exc}")
                break
            except FetchError as exc:
                summary.halt(f"the captures of {query} could not be listed: {exc}")
        summary.discovered = len(captures)
        progress("discovered", "", str(len(captures)))
        try:
            await _fetch_all(
                client, settings, store, sorted(captures.values(), key=_order), summary, progress
            )
        finally:
            summary.requests, summary.bytes = client.requests, client.bytes
            summary.seconds = time.monotonic() - started
    return summary


def _order(capture: Capture) -> tuple[str, str]:
    return capture.timestamp, capture.url


async def _list(
    client: PoliteClient,
    settings: Settings,
    query: str,
    years: tuple[int | None, int | None],
    summary: FetchSummary,
) -> AsyncIterator[Capture]:
    """One query's captures, page after page while the server gives a resume key."""
    params: dict[str, str] = {"url": query, "output": "json"}
    if years[0] is not None:
        params["from"] = str(years[0])
    if years[1] is not None:
        params["to"] = str(years[1])
    params.update(showResumeKey="true", limit=str(settings.archive_page_size))
    for _ in range(_MAX_CDX_PAGES):
        url = f"{settings.archive_cdx}?{urlencode(params)}"
        response = await client.get(url, accept=CDX_TYPES, limit=settings.max_sitemap_bytes)
        if response.status == 404:  # pywb: no captures of this prefix
            return
        if response.status != 200:
            raise FetchError(f"the CDX server answered HTTP {response.status}")
        page = read_cdx(response.body)
        if page.unreadable and not page.rows:
            first = response.body[:80].decode("utf-8", "replace").splitlines()[0:1]
            raise FetchError(
                f"the CDX server's answer is not a list of captures (it begins {first!r}); "
                "is --cdx the archive's CDX endpoint?"
            )
        if page.unreadable:
            summary.failures.append(
                (url, f"{page.unreadable} line(s) of the CDX answer were not captures")
            )
        for row in page.rows:
            capture = capture_of(row)
            if capture is None:
                summary.failures.append((url, f"a CDX row without a usable URL or time: {row}"))
            else:
                yield capture
        if not page.resume_key:
            return
        if page.resume_key == params.get("resumeKey"):
            raise FetchError(f"the CDX server gave the same resume key twice ({page.resume_key})")
        params["resumeKey"] = page.resume_key
    raise FetchError(f"more than {_MAX_CDX_PAGES} pages of captures: stopped listing")


async def _fetch_all(
    client: PoliteClient,
    settings: Settings,
    store: RawStore,
    captures: list[Capture],
    summary: FetchSummary,
    progress: Progress,
) -> None:
    """Each capture once: known ones skipped, a known digest reused, the rest fetched. One
    at a time: the archive's pace is the limit, not our concurrency."""
    archive = settings.archive_replay
    known = store.capture_rows(archive)
    bodies = {r["digest"]: r["sha256"] for r in known.values() if r["digest"] and r["sha256"]}
    for done, capture in enumerate(captures):
        row = known.get((capture.url, capture.timestamp))
        if row is not None and row["outcome"] in DONE:
            summary.unchanged += 1
            progress("page", capture.url, "unchanged")
            continue
        record = {
            "url": capture.url,
            "timestamp": capture.timestamp,
            "status": capture.status,
            "digest": capture.digest,
            "content_type": capture.mime,
            "sha256": None,
            "error": None,
        }
        reason = skip_reason(capture, settings)
        if reason is not None:
            outcome = "skipped"
            record["error"] = reason
            summary.skipped += 1
        elif capture.status in (404, 410):
            outcome = "gone"
            summary.gone += 1
        elif capture.digest is not None and capture.digest in bodies:
            outcome = "reused"
            record["sha256"] = bodies[capture.digest]
            summary.unchanged += 1
        else:
            try:
                body, content_type = await _replay(client, archive, capture)
            except (OutOfTime, HostUnavailable) as exc:
                summary.halt(f"the backfill stopped before every capture was fetched: {exc}")
                summary.not_requested += len(captures) - done
                return
            except FetchError as exc:
                outcome = "failed"
                record["error"] = str(exc)
                summary.failures.append((capture.url, f"capture {capture.timestamp}: {exc}"))
            else:
                outcome = "fetched"
                record["sha256"] = sha = store.put_body(body)
                record["content_type"] = content_type
                if capture.digest is not None:
                    bodies[capture.digest] = sha
                summary.new += 1
        store.record_capture(archive, {**record, "outcome": outcome})
        progress("page", capture.url, outcome)


async def _replay(client: PoliteClient, archive: str, capture: Capture) -> tuple[bytes, str]:
    """A capture's original bytes and content type; FetchError when the archive gives
    anything else (another capture after a redirect, an error)."""
    # The URL as the archive has it: the normalised one may not be a key of its index.
    asked = f"{archive}/{capture.listed or capture.timestamp}id_/{capture.original or capture.url}"
    # Not followed: a replay redirects to the nearest capture it has, another one than asked
    # (and the URL inside its path is not one our normalisation may touch).
    response: Response = await client.get(asked, follow=False)
    if 300 <= response.status < 400:
        location = response.headers.get("location", "")
        moved = re.search(r"/(\d{4,14})id_/", location)
        raise FetchError(
            f"{asked}: the archive gave another capture ({moved.group(1) if moved else location})"
        )
    if response.status != 200:
        raise FetchError(f"{asked}: the archive answered HTTP {response.status}")
    return response.body, response.headers.get("content-type", "")
