"""The polite HTTP client: how we ask, never what to ask for.

    async with PoliteClient(settings) as client:
        response = await client.get(url, headers={"If-None-Match": etag})

Only http(s) on allowed hosts; robots.txt obeyed; per-host rate and
concurrency (HostPace); retries with backoff and jitter that honour
Retry-After; redirects followed by hand, each hop checked; bodies streamed
under a size cap and a content-type check; every request bounded by a total
deadline (connect + headers + body) and by the run's deadline. Every httpx
error becomes a FetchError here, and only here:

- FetchRefused: we chose not to ask (host not allowed, robots.txt Disallow);
- HostUnavailable: nothing more goes to that host in this run (robots.txt
  unreadable, a Retry-After longer than backoff_max);
- OutOfTime: the run's deadline passed;
- FetchError: this URL failed (after its retries).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx
from protego import Protego

from idf_etl.config import Settings
from idf_etl.errors import FetchError, FetchRefused, HostUnavailable, OutOfTime
from idf_etl.fetch.encoding import ACCEPT_ENCODING, read_capped
from idf_etl.fetch.headers import no_cookies, sendable_headers
from idf_etl.fetch.pacing import (
    HostPace,
    describe_transport_error,
    retry_after_seconds,
    said_wait,
)
from idf_etl.fetch.robots import (
    ROBOTS_MAX_BYTES,
    ROBOTS_TYPES,
    crawl_delay,
    named,
    read_robots,
    unreadable,
)
from idf_etl.urls import host_allowed, normalise_url

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
    truncated: bool = False  # the body's first `limit` bytes only (asked for with cut=True)


def media_type(headers: dict[str, str] | httpx.Headers) -> str:
    return str(headers.get("content-type", "")).split(";")[0].strip().lower()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _no_problem(url: str, message: str) -> None:
    pass


class PoliteClient:
    """GET, politely, within the settings' hosts, limits and deadlines."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_problem: Callable[[str, str], None] = _no_problem,
        deadline: float | None = None,
        robots: bool = True,
        budget: str | None = None,
    ) -> None:
        """`deadline`: time.monotonic() after which nothing more is sent (the run's end);
        `robots`: read and obey each host's robots.txt (a site), or not (an archive's API);
        `budget`: the fetch's time as messages say it (settings.fetch_budget())."""
        self.settings = settings
        self.budget = budget or settings.fetch_budget()
        self.obey_robots = robots
        self.allowed = settings.hosts()
        self.deadline = deadline
        self.requests = 0
        self.bytes = 0
        self.blocked: dict[str, str] = {}  # origin -> why nothing more is asked of it
        self._problem = on_problem
        self._paces: dict[str, HostPace] = {}
        self._robots: dict[str, Protego | None] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> PoliteClient:
        s = self.settings
        hosts = max(1, len(self.allowed))
        limits = httpx.Limits(
            max_connections=s.concurrency * hosts + 4,
            max_keepalive_connections=s.concurrency * hosts,
        )
        self._client = httpx.AsyncClient(
            headers={"User-Agent": s.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout, pool=None),
            limits=limits,
            follow_redirects=False,
            cookies=no_cookies(),
            transport=make_transport(s.http_client, limits),
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    async def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        limit: int | None = None,
        accept: tuple[str, ...] = ACCEPTED_TYPES,
        follow: bool = True,
    ) -> Response:
        """GET with redirects followed by hand (each hop checked against hosts and robots.txt;
        `follow=False`: a redirect is the answer).

        Whatever one URL's answer raises is that URL's FetchError (an error boundary per
        URL): a header, body or redirect nobody expected never stops the crawl.
        """
        headers, dropped = sendable_headers(headers or {})
        if dropped:
            self._problem(
                url,
                f"stored {' and '.join(dropped)} cannot be sent (not visible ASCII): asked without",
            )
        try:
            return await self._get(url, headers, limit, accept, follow)
        except FetchError:
            raise
        except Exception as exc:
            raise FetchError(f"{url}: unexpected answer ({named(exc)})") from exc

    async def _get(
        self,
        url: str,
        headers: dict[str, str],
        limit: int | None,
        accept: tuple[str, ...],
        follow: bool = True,
    ) -> Response:
        visited = [url]
        current = url
        for _ in range(self.settings.max_redirects + 1):
            if not host_allowed(current, self.allowed):
                raise FetchRefused(
                    f"{current}: host not in allowed_hosts"
                    + (f" (redirected from {url})" if current != url else "")
                )
            origin = origin_of(current)
            robots = await self.robots(origin) if self.obey_robots else None
            self._check_blocked(origin)
            if robots is not None and not robots.can_fetch(current, self.settings.user_agent):
                raise FetchRefused(f"{current}: disallowed by robots.txt")
            response = await self._send(current, headers, limit or self.settings.max_bytes, accept)
            if response.status not in _REDIRECTS or not follow:
                return response
            current = _next_hop(response, visited)
        raise FetchError(f"{url}: more than {self.settings.max_redirects} redirects")

    async def robots(self, origin: str) -> Protego | None:
        """The host's robots.txt, fetched once per run. None means 'no rules' (a 4xx).

        RFC 9309: a robots.txt that cannot be read (5xx, no connection, a timeout,
        over the size cap) means the host is off limits. That is not a Disallow:
        the host is marked unavailable, and every request to it says why.
        """
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin in self._robots:
                return self._robots[origin]
            robots = await self._read_robots(origin)
            if robots is not None:
                self._obey_crawl_delay(origin, robots)
            self._robots[origin] = robots
            return robots

    def _obey_crawl_delay(self, origin: str, robots: Protego) -> None:
        """Crawl-delay paces the host; one longer than the run has left pauses it for the run
        (as a long Retry-After does), said once, instead of a wait past the deadline."""
        left = None if self.deadline is None else self.deadline - time.monotonic()
        host = urlsplit(origin).netloc
        delay, why = crawl_delay(robots, self.settings.user_agent, host, left, self.budget)
        if why is not None:
            self._block(origin, why)
        elif delay:
            self._pace(origin).slow_down(delay)

    async def _read_robots(self, origin: str) -> Protego | None:
        url = f"{origin}/robots.txt"
        host = urlsplit(origin).netloc
        visited = [url]
        try:
            for _ in range(self.settings.max_redirects + 1):
                response = await self._send(url, {}, ROBOTS_MAX_BYTES, ROBOTS_TYPES, cut=True)
                if response.status not in _REDIRECTS:
                    break
                url = _next_hop(response, visited)
                if not host_allowed(url, self.allowed):
                    raise FetchError(f"{url}: redirected to a host not in allowed_hosts")
            else:
                raise FetchError(f"{url}: more than {self.settings.max_redirects} redirects")
        except OutOfTime:
            raise
        except Exception as exc:  # FetchError, or whatever else this answer raised
            detail = str(exc) if isinstance(exc, FetchError) else named(exc)
            read = unreadable(host, detail.removeprefix(f"{url}: "))
        else:
            read = read_robots(host, response.status, response.body, response.truncated)
        if read.problem is not None:
            self._problem(origin, read.problem)
        if read.blocked is not None:
            self._block(origin, read.blocked)
        return read.rules

    def _block(self, origin: str, why: str) -> None:
        host = urlsplit(origin).netloc
        if origin not in self.blocked:
            self.blocked[origin] = f"{why}: nothing crawled on {host}"
            self._problem(origin, self.blocked[origin])

    def _check_blocked(self, origin: str) -> None:
        if origin in self.blocked:
            raise HostUnavailable(self.blocked[origin], origin)

    async def _send(
        self,
        url: str,
        headers: dict[str, str],
        limit: int,
        accept: tuple[str, ...],
        *,
        cut: bool = False,
    ) -> Response:
        """One request with retries: transport errors, timeouts, 429 and 5xx, with backoff.

        `cut`: a body past `limit` is its first `limit` bytes (Response.truncated), not a failure."""
        s = self.settings
        origin = origin_of(url)
        pace = self._pace(url)
        reason = detail = ""
        for attempt in range(s.max_retries + 1):
            wait: float | None = None
            said: str | None = None  # Retry-After as sent
            async with pace.slot():
                self._check_blocked(origin)  # another request may have paused the host
                try:
                    response = await self._attempt(url, headers, limit, accept, cut)
                except httpx.DecodingError as exc:
                    # The body is not what its Content-Encoding says: asking again will not
                    # change that, so no retry.
                    raise FetchError(
                        f"{url}: body is not what its Content-Encoding says ({exc})"
                    ) from exc
                except httpx.TransportError as exc:
                    if str(exc).startswith("Invalid URL in location header"):
                        # httpx reads a redirect's Location even when we follow it ourselves:
                        # the answer came whole, its Location is no URL. Asking again will not
                        # change that (it was 'connection closed by the server', tried again).
                        raise FetchError(
                            f"{url}: a redirect without a usable Location ({exc})"
                        ) from exc
                    reason, detail = describe_transport_error(exc)
                except TimeoutError:
                    if self.out_of_time():
                        raise OutOfTime(f"{url}: run_timeout reached while fetching") from None
                    reason = f"no complete answer within request_timeout ({s.request_timeout:g}s)"
                    detail = ""
                else:
                    if response.status not in _RETRY_STATUSES:
                        return response
                    reason, detail = f"HTTP {response.status}", ""
                    said = response.headers.get("retry-after")
                    wait = retry_after_seconds(said)
            if wait is not None and wait > s.backoff_max:
                host = urlsplit(url).netloc
                self._block(
                    origin,
                    f"{host} asked us to wait {said_wait(wait, said)} ({reason} with "
                    "Retry-After), "
                    f"more than backoff_max ({s.backoff_max:g}s)",
                )
                raise HostUnavailable(self.blocked[origin], origin)
            if attempt == s.max_retries:
                break
            delay = wait if wait is not None else self._backoff(attempt)
            if self.deadline is not None and time.monotonic() + delay >= self.deadline:
                raise OutOfTime(
                    f"{url}: {reason}; not tried again: the wait before it ({delay:.1f}s) "
                    "would end past the fetch's time"
                )
            pace.pause(delay)
            self._problem(url, f"{reason}; retry {attempt + 1}/{s.max_retries} in {delay:.1f}s")
            await asyncio.sleep(delay)
        tries = f"{s.max_retries + 1} {'try' if s.max_retries == 0 else 'tries'}"
        raise FetchError(f"{url}: {reason} after {tries}" + (f" ({detail})" if detail else ""))

    async def _attempt(
        self, url: str, headers: dict[str, str], limit: int, accept: tuple[str, ...], cut: bool
    ) -> Response:
        """One GET, connect to last byte, within request_timeout and the run's deadline."""
        assert self._client is not None, "use PoliteClient as an async context manager"
        seconds = self.settings.request_timeout
        if self.deadline is not None:
            seconds = min(seconds, self.deadline - time.monotonic())
            if seconds <= 0:
                raise OutOfTime(f"{url}: run_timeout reached, not requested")
        self.requests += 1
        async with asyncio.timeout(seconds):
            async with self._client.stream("GET", url, headers=headers) as r:
                response = Response(url, r.status_code, dict(r.headers))
                if r.status_code == 200:
                    _check_type(url, r.headers, accept)
                    response.body, response.truncated = await read_capped(url, r, limit, cut)
                    self.bytes += len(response.body)
                return response

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        delay: float = min(s.backoff_max, s.backoff_base * 2.0**attempt)
        return delay * random.uniform(0.5, 1.5)  # jitter: clients that failed together spread out

    def _pace(self, url: str) -> HostPace:
        origin = origin_of(url)
        if origin not in self._paces:
            rate = self.settings.rate
            self._paces[origin] = HostPace(
                self.settings.concurrency, 1 / rate if rate else 0.0, self.deadline
            )
        return self._paces[origin]


def _next_hop(response: Response, visited: list[str]) -> str:
    """Where a redirect points, checked for loops; `visited` grows by it."""
    current = response.url
    location = response.headers.get("location")
    target = normalise_url(location, current) if location else None
    if target is None:
        raise FetchError(f"{current}: HTTP {response.status} without a usable Location")
    if target in visited:
        raise FetchError(f"{visited[0]}: redirect loop ({' -> '.join([*visited, target])})")
    visited.append(target)
    return target


def make_transport(kind: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The connection layer under httpx's API: aiohttp's (fast) or httpx's own, each checked
    for answers that end elsewhere than their framing says (framing.py)."""
    from idf_etl.fetch.framing import FramingChecked

    if kind == "httpx":
        return FramingChecked(httpx.AsyncHTTPTransport(limits=limits))
    from idf_etl.fetch.headers import cookieless_aiohttp

    return FramingChecked(cookieless_aiohttp(limits))


def _check_type(url: str, headers: httpx.Headers, accept: tuple[str, ...]) -> None:
    media = media_type(headers)
    if media and media not in accept:
        raise FetchError(f"{url}: content type {media!r} is not a web page")
