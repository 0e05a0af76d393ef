"""The fetch stage: discover project pages and download them, politely, into the raw store.

    summary = asyncio.run(Crawler(settings, store).run())

Politeness lives in `HostGate` (per-host rate and concurrency, robots.txt
Crawl-delay, pauses after 429/503) and `Crawler._send` (retries with backoff
and jitter, Retry-After). Every httpx error becomes a FetchError here, and
only here. A page that fails is recorded with its reason; nothing stored
before is ever removed.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from protego import Protego

from idf_etl.config import Settings
from idf_etl.discover import (
    canonical_link,
    gunzip,
    is_gzip,
    looks_like_sitemap,
    page_links,
    parse_sitemap,
    read_url_list,
)
from idf_etl.errors import FetchError, FetchRefused
from idf_etl.logs import plural
from idf_etl.rawstore import RawStore
from idf_etl.records import LANGS
from idf_etl.urls import host_allowed, normalise_url, page_number, with_page

ACCEPTED_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
SITEMAP_TYPES = (
    "application/xml",
    "text/xml",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
    "text/plain",
    "",
)
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class FetchSummary:
    """What a fetch did; printed at the end and stored in the run ledger."""

    discovered: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_modified: int = 0
    skipped: int = 0
    gone: int = 0
    failed: int = 0
    refused: int = 0
    requests: int = 0
    bytes: int = 0
    seconds: float = 0.0
    revalidation: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)

    @property
    def fetched(self) -> int:
        return self.new + self.changed

    @property
    def checked(self) -> int:
        """Pages whose state this run knows (the base of the failure threshold)."""
        return (
            self.fetched
            + self.unchanged
            + self.not_modified
            + self.skipped
            + self.gone
            + self.failed
        )

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["fetched"] = self.fetched
        return data

    def line(self) -> str:
        return (
            f"discovered {self.discovered}, fetched {self.fetched} ({self.new} new, "
            f"{self.changed} changed), unchanged {self.unchanged + self.not_modified + self.skipped} "
            f"({self.skipped} not requested, {self.not_modified} 304), gone {self.gone}, "
            f"failed {self.failed}, refused {self.refused}; {plural(self.requests, 'request')}, "
            f"{self.bytes / 1e6:.1f} MB, {self.seconds:.1f}s"
        )


Reporter = Callable[[str, str, str], None]
"""reporter(event, url, detail): event is 'discovered', 'page' or 'problem'."""


def _no_report(event: str, url: str, detail: str) -> None:
    pass


class HostGate:
    """One host's share of politeness: so many requests in flight, so far apart."""

    def __init__(self, concurrency: int, interval: float) -> None:
        self.interval = interval
        self._slots = asyncio.Semaphore(concurrency)
        self._lock = asyncio.Lock()
        self._next_start = 0.0

    def slow_down(self, interval: float) -> None:
        self.interval = max(self.interval, interval)

    def pause(self, seconds: float) -> None:
        """Nobody starts a request on this host for `seconds` (after 429/503)."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._lock:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = max(time.monotonic(), self._next_start) + self.interval
            yield


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: '120' or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def charset_of(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None


def media_type(headers: dict[str, str] | httpx.Headers) -> str:
    return str(headers.get("content-type", "")).split(";")[0].strip().lower()


class Crawler:
    """Discover and fetch every project page the settings point at."""

    def __init__(
        self,
        settings: Settings,
        store: RawStore,
        reporter: Reporter = _no_report,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.report = reporter
        self.summary = FetchSummary()
        self.allowed = settings.hosts()
        self.patterns = [re.compile(p) for p in settings.page_patterns]
        self._transport = transport
        self._gates: dict[str, HostGate] = {}
        self._robots: dict[str, Protego | None] = {}
        self._robots_lock = asyncio.Lock()
        self._done: set[str] = set()
        self._page_requests = 0
        self.client: httpx.AsyncClient | None = None

    # -- the run --

    async def run(self, revalidate: bool | None = None) -> FetchSummary:
        started = time.monotonic()
        self.summary.revalidation = self._revalidation_due() if revalidate is None else revalidate
        s = self.settings
        timeout = httpx.Timeout(s.read_timeout, connect=s.connect_timeout, pool=None)
        limits = httpx.Limits(
            max_connections=s.concurrency * max(1, len(self.allowed)) + 4,
            max_keepalive_connections=s.concurrency * max(1, len(self.allowed)),
        )
        transport = self._transport or make_transport(s.http_client, limits)
        async with httpx.AsyncClient(
            headers={"User-Agent": s.user_agent},
            timeout=timeout,
            limits=limits,
            follow_redirects=False,
            transport=transport,
        ) as client:
            self.client = client
            pages = await self.discover()
            self.summary.discovered = len(pages)
            if self.summary.revalidation:
                # Pages we hold but no sitemap lists any more: ask again, so a removed page
                # is seen to be gone (404/410) instead of silently kept as current.
                for page in self.store.pages():
                    if not page.gone and self._is_page(page.url):
                        pages.setdefault(page.url, None)
            self.report("discovered", "", str(len(pages)))
            await self._fetch_all(pages)
        if self.summary.revalidation and not self.summary.failed:
            self.store.set_meta("last_revalidation", datetime.now(UTC).isoformat())
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _revalidation_due(self) -> bool:
        last = self.store.get_meta("last_revalidation")
        if last is None:
            self.store.set_meta("last_revalidation", datetime.now(UTC).isoformat())
            return False  # a first run downloads everything anyway
        age = datetime.now(UTC) - datetime.fromisoformat(last)
        return age >= timedelta(days=self.settings.revalidate_days)

    # -- discovery --

    async def discover(self) -> dict[str, str | None]:
        """Page URL -> sitemap <lastmod> (None when unknown), in discovery order."""
        s = self.settings
        pages: dict[str, str | None] = {}
        sitemaps: list[str] = [u for u in map(normalise_url, s.sitemaps) if u]
        listings: list[str] = [u for u in map(normalise_url, s.listings) if u]
        for raw in s.start_urls:
            url = normalise_url(raw)
            if url is None:
                self._refuse(raw, "not an http(s) URL")
            elif self._is_page(url):
                pages.setdefault(url, None)
            elif re.search(r"sitemap|\.xml(\.gz)?$", urlsplit(url).path, re.IGNORECASE):
                sitemaps.append(url)
            else:
                listings.append(url)
        if s.sitemaps_from_robots:
            for host_url in {self._origin(u) for u in [*sitemaps, *listings, *pages]}:
                robots = await self._robots_for(host_url)
                if robots is not None:
                    sitemaps += [u for u in map(normalise_url, robots.sitemaps) if u]
        await self._read_sitemaps(sitemaps, pages)
        for listing in dict.fromkeys(listings):
            await self._read_listing(listing, pages)
        if s.url_list is not None:
            for url in read_url_list(s.url_list):
                if host_allowed(url, self.allowed):
                    pages.setdefault(url, None)
                else:
                    self._refuse(url, "host not in allowed_hosts")
        return pages

    def _is_page(self, url: str) -> bool:
        if not host_allowed(url, self.allowed):
            return False
        path = urlsplit(url).path
        lang = path.strip("/").split("/", 1)[0]
        lang = lang if lang in LANGS else LANGS[0]
        return lang in self.settings.languages and any(p.search(path) for p in self.patterns)

    async def _read_sitemaps(self, queue: list[str], pages: dict[str, str | None]) -> None:
        seen: set[str] = set()
        while queue:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            try:
                response = await self.request(
                    url, limit=self.settings.max_sitemap_bytes, accept=SITEMAP_TYPES
                )
                if response.status != 200:
                    raise FetchError(f"{url}: HTTP {response.status}")
                body = response.body
                if is_gzip(body):
                    body = gunzip(body, self.settings.max_sitemap_bytes)
                sitemap = parse_sitemap(body, response.url)
            except FetchRefused as exc:
                self._refuse(url, str(exc))
                continue
            except FetchError as exc:
                # A sitemap we cannot read hides every page it lists: a failure, not a note.
                self._fail(url, f"sitemap unreadable: {exc}")
                continue
            queue += [u for u in sitemap.sitemaps if u not in seen]
            for page, lastmod in sitemap.pages.items():
                if self._is_page(page):
                    pages.setdefault(page, lastmod)
                elif not host_allowed(page, self.allowed):
                    self._refuse(page, "listed in a sitemap, but the host is not in allowed_hosts")

    async def _read_listing(self, url: str, pages: dict[str, str | None]) -> None:
        """A listing page and its ?page=N followers, until a page adds nothing new."""
        seen_links: set[str] = set()
        number = page_number(url)
        current = url
        for _ in range(self.settings.max_listing_pages):
            try:
                response = await self.request(current)
            except FetchRefused as exc:
                self._refuse(current, str(exc))
                return
            except FetchError as exc:
                self._fail(current, f"listing unreadable: {exc}")
                return
            if response.status != 200:
                return
            if looks_like_sitemap(response.body):
                await self._read_sitemaps([current], pages)
                return
            links = [u for u in page_links(response.body, response.url) if u not in seen_links]
            seen_links.update(links)
            new_pages = [u for u in links if self._is_page(u)]
            for page in new_pages:
                pages.setdefault(page, None)
            if not new_pages:
                return
            number = 1 if number is None else number + 1
            current = with_page(url, number)

    # -- fetching pages --

    async def _fetch_all(self, pages: dict[str, str | None]) -> None:
        queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        for item in pages.items():
            queue.put_nowait(item)
        workers = self.settings.concurrency * max(1, len(self.allowed))

        async def worker() -> None:
            while True:
                try:
                    url, lastmod = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self.fetch_page(url, lastmod)

        await asyncio.gather(*(worker() for _ in range(min(workers, max(1, len(pages))))))

    async def fetch_page(self, url: str, lastmod: str | None) -> str:
        """Fetch one page into the store; return its outcome word."""
        outcome = await self._fetch_page(url, lastmod)
        self.report("page", url, outcome)
        return outcome

    async def _fetch_page(self, url: str, lastmod: str | None) -> str:
        s, summary = self.settings, self.summary
        if url in self._done:
            return "duplicate"
        self._done.add(url)
        stored = self.store.get(url)
        have_body = stored is not None and stored.sha256 is not None and not stored.gone
        if (
            have_body
            and stored
            and lastmod
            and stored.sitemap_lastmod
            and lastmod <= stored.sitemap_lastmod
            and not summary.revalidation
        ):
            summary.skipped += 1
            return "skipped"
        if s.max_pages is not None and self._page_requests >= s.max_pages:
            return "not-requested (max-pages)"
        self._page_requests += 1
        headers = {}
        if have_body and stored:
            if stored.etag:
                headers["If-None-Match"] = stored.etag
            if stored.last_modified:
                headers["If-Modified-Since"] = stored.last_modified
        try:
            response = await self.request(url, headers=headers)
        except FetchRefused as exc:
            self._refuse(url, str(exc))
            self.store.record_failure(url, f"refused: {exc}")
            return "refused"
        except FetchError as exc:
            return self._page_failed(url, str(exc))
        if response.status == 304 and have_body:
            self.store.record_not_modified(url, headers=response.headers, sitemap_lastmod=lastmod)
            summary.not_modified += 1
            return "not-modified"
        if response.status in (404, 410):
            self.store.record_gone(url, response.status)
            summary.gone += 1
            return "gone"
        if response.status != 200:
            return self._page_failed(url, f"{url}: HTTP {response.status}")
        canonical = canonical_link(response.body, response.url)
        if canonical and canonical != url and host_allowed(canonical, self.allowed):
            self._done.add(canonical)  # one page, fetched once per run
        else:
            canonical = None
        changed = self.store.record_body(
            url,
            status=200,
            body=response.body,
            headers=response.headers,
            final_url=response.url,
            canonical_url=canonical,
            sitemap_lastmod=lastmod,
        )
        if stored is None or stored.sha256 is None:
            summary.new += 1
            return "new"
        if changed:
            summary.changed += 1
            return "changed"
        summary.unchanged += 1
        return "unchanged"

    # -- HTTP --

    async def request(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        limit: int | None = None,
        accept: tuple[str, ...] = ACCEPTED_TYPES,
    ) -> Response:
        """GET with redirects followed by hand (each hop checked against hosts and robots.txt)."""
        visited = [url]
        current = url
        for _ in range(self.settings.max_redirects + 1):
            if not host_allowed(current, self.allowed):
                raise FetchRefused(
                    f"{current}: host not in allowed_hosts"
                    + (f" (redirected from {url})" if current != url else "")
                )
            robots = await self._robots_for(self._origin(current))
            if robots is not None and not robots.can_fetch(current, self.settings.user_agent):
                raise FetchRefused(f"{current}: disallowed by robots.txt")
            response = await self._send(
                current, headers or {}, limit or self.settings.max_bytes, accept
            )
            if response.status not in _REDIRECTS:
                return response
            location = response.headers.get("location")
            target = normalise_url(location, current) if location else None
            if target is None:
                raise FetchError(f"{current}: HTTP {response.status} without a usable Location")
            if target in visited:
                raise FetchError(f"{url}: redirect loop ({' -> '.join([*visited, target])})")
            visited.append(target)
            current = target
        raise FetchError(f"{url}: more than {self.settings.max_redirects} redirects")

    async def _send(
        self, url: str, headers: dict[str, str], limit: int, accept: tuple[str, ...]
    ) -> Response:
        """One request with retries: transport errors, timeouts, 429 and 5xx, with backoff."""
        s = self.settings
        gate = self._gate(url)
        assert self.client is not None
        reason = ""
        for attempt in range(s.max_retries + 1):
            wait: float | None = None
            async with gate.slot():
                try:
                    self.summary.requests += 1
                    async with self.client.stream("GET", url, headers=headers) as r:
                        if r.status_code in _RETRY_STATUSES:
                            reason = f"HTTP {r.status_code}"
                            wait = retry_after_seconds(r.headers.get("retry-after"))
                        else:
                            response = Response(url, r.status_code, dict(r.headers))
                            if r.status_code == 200:
                                _check_type(url, r.headers, accept)
                                response.body = await _read_capped(url, r, limit)
                                self.summary.bytes += len(response.body)
                            return response
                except httpx.TransportError as exc:
                    reason = describe_transport_error(exc)
            if attempt == s.max_retries:
                break
            delay = wait if wait is not None else self._backoff(attempt)
            if wait is not None and wait > s.backoff_max:
                raise FetchError(
                    f"{url}: {reason}, server asks to wait {wait:.0f}s "
                    f"(more than backoff_max {s.backoff_max:.0f}s)"
                )
            gate.pause(delay)
            self._problem(url, f"{reason}; retry {attempt + 1}/{s.max_retries} in {delay:.1f}s")
            await asyncio.sleep(delay)
        raise FetchError(f"{url}: {reason} after {plural(s.max_retries + 1, 'attempt')}")

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        delay: float = min(s.backoff_max, s.backoff_base * 2.0**attempt)
        return delay * random.uniform(0.5, 1.5)  # jitter: clients that failed together spread out

    def _gate(self, url: str) -> HostGate:
        origin = self._origin(url)
        if origin not in self._gates:
            rate = self.settings.rate
            self._gates[origin] = HostGate(self.settings.concurrency, 1 / rate if rate else 0.0)
        return self._gates[origin]

    @staticmethod
    def _origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    async def _robots_for(self, origin: str) -> Protego | None:
        """The host's robots.txt, fetched once per run. None means 'no rules'."""
        async with self._robots_lock:
            if origin in self._robots:
                return self._robots[origin]
            robots: Protego | None
            try:
                response = await self._send(
                    f"{origin}/robots.txt", {}, 512 * 1024, accept=("text/plain", "text/html", "")
                )
            except FetchError as exc:
                # RFC 9309: an unreachable robots.txt means "assume everything is disallowed".
                robots = Protego.parse("User-agent: *\nDisallow: /")
                self._problem(origin, f"robots.txt unreachable, crawling nothing there: {exc}")
            else:
                if response.status == 200:
                    robots = Protego.parse(response.body.decode("utf-8", "replace"))
                elif 400 <= response.status < 500:
                    robots = None  # no robots.txt: no rules
                else:
                    robots = Protego.parse("User-agent: *\nDisallow: /")
            if robots is not None:
                delay = robots.crawl_delay(self.settings.user_agent)
                if delay:
                    self._gate(origin).slow_down(float(delay))
            self._robots[origin] = robots
            return robots

    # -- bookkeeping --

    def _refuse(self, url: str, reason: str) -> None:
        self.summary.refused += 1
        self.summary.refusals.append((url, reason))
        self.report("problem", url, f"refused: {reason}")

    def _fail(self, url: str, reason: str) -> None:
        """A failed discovery request (sitemap, listing): counted and reported."""
        self.summary.failed += 1
        self.summary.failures.append((url, reason))
        self.report("problem", url, reason)

    def _page_failed(self, url: str, reason: str) -> str:
        """A failed page: counted and kept in the manifest (its stored body stays)."""
        self.summary.failed += 1
        self.summary.failures.append((url, reason))
        self.store.record_failure(url, reason)
        return "failed"

    def _problem(self, url: str, message: str) -> None:
        self.report("problem", url, message)


def make_transport(kind: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The connection layer under httpx's API: aiohttp's (fast) or httpx's own."""
    if kind == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits)
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(limits=limits)


def describe_transport_error(exc: httpx.TransportError) -> str:
    """'timed out (...)' or 'connection failed (...)', from the error under the mapped one.

    The aiohttp transport maps a dropped connection to httpx.ConnectTimeout, so
    for its errors the original exception decides which it was.
    """
    cause = exc.__cause__ or exc
    from_aiohttp = type(cause).__module__.startswith("aiohttp")
    timed_out = isinstance(cause, TimeoutError) or (
        isinstance(exc, httpx.TimeoutException) and not from_aiohttp
    )
    what = "timed out" if timed_out else "connection failed"
    detail = str(cause).strip()
    return f"{what} ({type(cause).__name__}{': ' + detail if detail else ''})"


def _check_type(url: str, headers: httpx.Headers, accept: tuple[str, ...]) -> None:
    media = media_type(headers)
    if media and media not in accept:
        raise FetchError(f"{url}: content type {media!r} is not a web page")


async def _read_capped(url: str, response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"{url}: body of {int(declared):,} bytes exceeds the {limit:,}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"{url}: body exceeds the {limit:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_one(url: str, settings: Settings | None = None) -> Response:
    """Fetch one page politely (robots.txt, limits, retries), for `idf-etl parse URL`."""
    settings = settings or Settings(allowed_hosts=[urlsplit(url).netloc])

    async def go() -> Response:
        crawler = Crawler(settings, store=None)  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            headers={"User-Agent": settings.user_agent},
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=False,
            transport=make_transport(settings.http_client, httpx.Limits(max_connections=2)),
        ) as client:
            crawler.client = client
            response = await crawler.request(normalise_url(url) or url)
        if response.status != 200:
            raise FetchError(f"{url}: HTTP {response.status}")
        return response

    return asyncio.run(go())
