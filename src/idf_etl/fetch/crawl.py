"""The crawl's decisions: which pages to ask for, which to leave alone, and what it all means.

How to ask (politeness, retries, deadlines, limits) is the PoliteClient's
business (client.py); what the start points list is StartPoints'
(discovery.py). Here:

- incremental: a page whose sitemap <lastmod> has not moved is not requested;
  every revalidate_days every known page is asked again, conditionally;
- translations: a fetched page's hreflang links name its other languages,
  which are fetched too (sitemaps need not list them); the manifest keeps the
  links, so a page that did not change vouches for its translations and none
  of them is requested either;
- honest: a crawl that could not do its job (no start point read, nothing or
  far less than last time discovered, a host off limits, the run's deadline)
  records why in `summary.halts`, and the run must not read as a success.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from idf_etl.config import Settings
from idf_etl.errors import FetchError, FetchRefused, HostUnavailable, OutOfTime
from idf_etl.fetch.client import PoliteClient, Response
from idf_etl.fetch.discovery import Pages, StartPoints
from idf_etl.fetch.outcomes import FetchOutcome, FetchSummary, Progress, no_progress
from idf_etl.logs import plural
from idf_etl.parse.head import page_head, read_head
from idf_etl.rawformat import StoredPage, stored_time
from idf_etl.rawstore import CLOCK_SLACK, RawStore
from idf_etl.urls import host_allowed, url_language


@dataclass(frozen=True)
class Candidate:
    """A page to consider. `vouched`: a page naming it as a translation is unchanged."""

    url: str
    lastmod: str | None = None
    vouched: bool = False


def lastmod_unmoved(stored: StoredPage, lastmod: str | None) -> bool:
    return bool(lastmod and stored.sitemap_lastmod and lastmod <= stored.sitemap_lastmod)


class Crawler:
    """Discover and fetch every project page the settings point at."""

    def __init__(
        self,
        settings: Settings,
        store: RawStore,
        progress: Progress = no_progress,
        deadline: float | None = None,
    ) -> None:
        """`deadline`: time.monotonic() when the fetch stops (a run's, pipeline/deadlines.py);
        None: FETCH_SHARE of run_timeout from the fetch's start."""
        self.settings = settings
        self.deadline = deadline
        self.store = store
        self.progress = progress
        self.summary = FetchSummary()
        self.allowed = settings.hosts()
        self.patterns = [re.compile(p) for p in settings.page_patterns]
        self._done: set[str] = set()
        self._queued: set[str] = set()
        self._queue: asyncio.Queue[Candidate] = asyncio.Queue()
        self._page_requests = 0
        self._timed_out = False

    async def run(self, revalidate: bool | None = None) -> FetchSummary:
        s, summary = self.settings, self.summary
        started = time.monotonic()
        summary.revalidation = self._revalidation_due() if revalidate is None else revalidate
        deadline = started + s.fetch_seconds if self.deadline is None else self.deadline
        client = PoliteClient(
            s,
            on_problem=lambda url, message: self.progress("problem", url, message),
            deadline=deadline,
            budget=s.fetch_budget(deadline - started),
        )
        async with client:
            self.client = client
            discovery = StartPoints(s, client, summary, self.progress, self.is_page)
            pages = await discovery.discover()
            summary.discovered = len(pages)
            self._check_discovery(len(pages), discovery_failed=bool(summary.failures))
            if summary.revalidation:
                # Pages we hold but no sitemap lists any more: ask again, so a removed page
                # is seen to be gone (404/410) instead of silently kept as current.
                for page in self.store.pages():
                    if not page.gone and self.is_page(page.url):
                        pages.setdefault(page.url, None)
            self.progress("discovered", "", str(len(pages)))
            await self._fetch_all(pages)
        summary.requests, summary.bytes = client.requests, client.bytes
        if (client.out_of_time() or self._timed_out) and summary.left:
            # Said as it happened: a retry's wait that would pass the deadline stops the
            # fetch before its time is up, and "time is up" then misled (adversary #12).
            why = "time is up" if client.out_of_time() else "retries would wait past its time"
            summary.halt(
                f"the fetch's {why} ({client.budget}): stopped fetching, "
                f"{plural(len(summary.left), 'page')} left for the next run"
            )
        if summary.revalidation and not summary.failed and not summary.halts:
            self.store.set_meta("last_revalidation", datetime.now(UTC).isoformat())
        summary.seconds = max(0.0, time.monotonic() - started)  # never below 0 (#22)
        return summary

    def is_page(self, url: str) -> bool:
        """On an allowed host, in a configured language, matching page_patterns."""
        if not host_allowed(url, self.allowed):
            return False
        path = urlsplit(url).path
        in_language = url_language(url) in self.settings.languages
        return in_language and any(p.search(path) for p in self.patterns)

    def _revalidation_due(self) -> bool:
        last = self.store.get_meta("last_revalidation")
        if last is None:
            self.store.set_meta("last_revalidation", datetime.now(UTC).isoformat())
            return False  # a first run downloads everything anyway
        stamp = stored_time(last)
        if stamp is None:  # a manifest edited by hand: when it was is unknown, so due
            return True
        age = datetime.now(UTC) - stamp
        # A stamp in the future (written while the clock was ahead) is due: waiting for the
        # clock to catch up would skip revalidation for as long as it was ahead.
        return age >= timedelta(days=self.settings.revalidate_days) or age < -CLOCK_SLACK

    def _check_discovery(self, count: int, *, discovery_failed: bool) -> None:
        """Nothing, or far fewer pages than the last complete discovery: a failed crawl.

        The baseline belongs to these start points (another --start-url starts
        its own) and moves only after a discovery that read every start point.
        """
        s, summary = self.settings, self.summary
        where = json.dumps(
            [s.start_urls, s.sitemaps, s.listings, str(s.url_list), s.languages, s.page_patterns]
        )
        key = "discovered:" + hashlib.sha256(where.encode()).hexdigest()[:16]
        before = int(self.store.get_meta(key) or 0)
        if summary.halts:
            return  # the cause is already named
        if count == 0:
            summary.halt(
                "no project page discovered: the start points list no URL on allowed_hosts "
                "that matches page_patterns"
            )
        elif count < s.min_discovered_share * before:
            summary.halt(
                f"discovered {count} pages, fewer than {s.min_discovered_share:.0%} of the "
                f"{before} found last time: a sitemap or listing may be broken (stored pages "
                "are kept; to accept a smaller site, run once with --set min_discovered_share=0)"
            )
        elif not discovery_failed:
            self.store.set_meta(key, str(count))

    # -- fetching pages --

    async def _fetch_all(self, pages: Pages) -> None:
        for url, lastmod in pages.items():
            self._enqueue(Candidate(url, lastmod))
        count = self.settings.concurrency * max(1, len(self.allowed))
        workers = [asyncio.create_task(self._worker()) for _ in range(count)]
        joined = asyncio.create_task(self._queue.join())
        done, _ = await asyncio.wait([joined, *workers], return_when=asyncio.FIRST_COMPLETED)
        for task in [joined, *workers]:
            task.cancel()
        await asyncio.gather(joined, *workers, return_exceptions=True)
        for task in done:
            if task is not joined and (error := task.exception()) is not None:
                raise error  # a bug or a broken store: not one page's problem

    async def _worker(self) -> None:
        while True:
            candidate = await self._queue.get()
            try:
                self.progress("page", candidate.url, await self._fetch_page(candidate))
            finally:
                self._queue.task_done()

    def _enqueue(self, candidate: Candidate) -> bool:
        if candidate.url in self._queued:
            return False
        self._queued.add(candidate.url)
        self._queue.put_nowait(candidate)
        return True

    def _follow_translations(self, url: str, links: dict[str, str], vouched: bool) -> None:
        if not self.settings.follow_translations:
            return
        for target in links.values():
            fresh = target != url and self.is_page(target)
            if fresh and self._enqueue(Candidate(target, vouched=vouched)):
                self.summary.translations += 1

    async def _fetch_page(self, candidate: Candidate) -> FetchOutcome:
        outcome = await self._decide_and_fetch(candidate)
        self.summary.count(outcome)
        return outcome

    async def _decide_and_fetch(self, candidate: Candidate) -> FetchOutcome:
        url, summary = candidate.url, self.summary
        if url in self._done:
            return FetchOutcome.DUPLICATE
        self._done.add(url)
        stored = self.store.get(url)
        have_body = stored is not None and stored.sha256 is not None and not stored.gone
        if (
            stored is not None
            and have_body
            and not summary.revalidation
            and (candidate.vouched or lastmod_unmoved(stored, candidate.lastmod))
        ):
            self._follow_translations(url, self.store.translations(url), vouched=True)
            return FetchOutcome.SKIPPED
        if self.settings.max_pages is not None and self._page_requests >= self.settings.max_pages:
            return FetchOutcome.NOT_REQUESTED
        if self.client.out_of_time():
            summary.left.append((url, "run_timeout reached before it was requested"))
            return FetchOutcome.NOT_REQUESTED
        self._page_requests += 1
        headers = {}
        if stored is not None and have_body:
            if stored.etag:
                headers["If-None-Match"] = stored.etag
            if stored.last_modified:
                headers["If-Modified-Since"] = stored.last_modified
        try:
            response = await self.client.get(url, headers=headers)
        except (HostUnavailable, OutOfTime) as exc:
            if isinstance(exc, HostUnavailable):
                summary.halt(str(exc), exc.origin)
            else:
                self._timed_out = True  # a wait that would end past the deadline counts too
            summary.left.append((url, str(exc)))
            return FetchOutcome.NOT_REQUESTED
        except FetchRefused as exc:
            summary.refusals.append((url, str(exc)))
            self.progress("problem", url, f"refused: {exc}")
            self.store.record_failure(url, f"refused: {exc}")
            return FetchOutcome.REFUSED
        except FetchError as exc:
            return self._page_failed(url, str(exc))
        if response.status == 304 and have_body:
            self.store.record_not_modified(
                url, headers=response.headers, sitemap_lastmod=candidate.lastmod
            )
            self._follow_translations(url, self.store.translations(url), vouched=True)
            return FetchOutcome.NOT_MODIFIED
        if response.status in (404, 410):
            self.store.record_gone(url, response.status)
            return FetchOutcome.GONE
        if response.status != 200:
            return self._page_failed(url, f"{url}: HTTP {response.status}")
        return self._store(candidate, stored, response)

    def _store(
        self, candidate: Candidate, stored: StoredPage | None, response: Response
    ) -> FetchOutcome:
        url = candidate.url
        try:
            # The head only: a parse of the whole page would cost more than storing it.
            head = read_head(page_head(response.body), response.url)
            canonical, links = head.canonical, head.translations
        except Exception as exc:  # the body is stored as it came; the parse stage judges it
            canonical, links = None, {}
            self.progress("problem", url, f"head links unreadable: {type(exc).__name__}: {exc}")
        # Kept, never obeyed: a page's canonical link is its own claim, and a page that names
        # another project's URL (a template slip) must not stop that URL being fetched.
        if not (canonical and canonical != url and host_allowed(canonical, self.allowed)):
            canonical = None
        changed = self.store.record_body(
            url,
            status=200,
            body=response.body,
            headers=response.headers,
            final_url=response.url,
            canonical_url=canonical,
            sitemap_lastmod=candidate.lastmod,
        )
        self.store.set_translations(url, links)
        self._follow_translations(url, links, vouched=not changed)
        if stored is None or stored.sha256 is None:
            return FetchOutcome.NEW
        return FetchOutcome.CHANGED if changed else FetchOutcome.UNCHANGED

    def _page_failed(self, url: str, reason: str) -> FetchOutcome:
        """A failed page: counted and kept in the manifest (its stored body stays)."""
        self.summary.failures.append((url, reason))
        self.store.record_failure(url, reason)
        return FetchOutcome.FAILED
