"""Reading the start points into the pages to check: sitemaps, listings, URL lists.

What is requested here goes through the PoliteClient; what the bodies say is
read by the pure functions of link_lists.py. Discovery is bounded (max_sitemaps,
max_sitemap_urls, max_listing_pages), and a crawl whose start points could not
be read says so instead of reporting an empty site.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from idf_etl.config import Settings
from idf_etl.errors import FetchError, FetchRefused, HostUnavailable, OutOfTime
from idf_etl.fetch.client import ACCEPTED_TYPES, SITEMAP_TYPES, PoliteClient, Response, origin_of
from idf_etl.fetch.link_lists import TooLong, looks_like_sitemap, page_links, sitemap_entries
from idf_etl.fetch.link_lists import read_url_list as read_url_file
from idf_etl.fetch.outcomes import FetchSummary, Progress
from idf_etl.records import bounded
from idf_etl.urls import URL_LIMIT, host_allowed, normalise_url, page_number, url_refusal, with_page

Pages = dict[str, str | None]
"""Page URL -> sitemap <lastmod> (None when unknown), in discovery order."""


class StartPoints:
    """One crawl's discovery: what the configured start points list."""

    def __init__(
        self,
        settings: Settings,
        client: PoliteClient,
        summary: FetchSummary,
        progress: Progress,
        is_page: Callable[[str], bool],
    ) -> None:
        self.settings = settings
        self.client = client
        self.summary = summary
        self.progress = progress
        self.is_page = is_page
        self.tried = 0  # sitemaps and listings asked for
        self.read = 0  # ... and read
        self.sitemap_urls = 0

    async def discover(self) -> Pages:
        s = self.settings
        pages: Pages = {}
        sitemaps: list[str] = [u for u in map(normalise_url, s.sitemaps) if u]
        listings: list[str] = [u for u in map(normalise_url, s.listings) if u]
        for raw in s.start_urls:
            url = normalise_url(raw)
            if url is None:
                self.refuse(bounded(raw, URL_LIMIT), url_refusal(raw))
            elif self.is_page(url):
                pages.setdefault(url, None)
            elif re.search(r"sitemap|\.xml(\.gz)?$", urlsplit(url).path, re.IGNORECASE):
                sitemaps.append(url)
            else:
                listings.append(url)
        try:
            if s.sitemaps_from_robots:
                for origin in dict.fromkeys(origin_of(u) for u in [*sitemaps, *listings, *pages]):
                    if host_allowed(origin, self.client.allowed):
                        robots = await self.client.robots(origin)
                        if robots is not None and origin not in self.client.blocked:
                            sitemaps += [u for u in map(normalise_url, robots.sitemaps) if u]
            await self._read_sitemaps(sitemaps, pages)
            for listing in dict.fromkeys(listings):
                await self._read_listing(listing, pages)
        except OutOfTime as exc:
            self.summary.halt(
                f"the fetch's time ({self.client.budget}) ran out in discovery: {exc}"
            )
        if s.url_list is not None:
            for url in read_url_file(s.url_list):
                if host_allowed(url, self.client.allowed):
                    pages.setdefault(url, None)
                else:
                    self.refuse(url, "host not in allowed_hosts")
        if self.tried and not self.read and not self.summary.halts:
            first = self.summary.failures[0][1] if self.summary.failures else "see the problems"
            self.summary.halt(f"no start point could be read ({self.tried} tried): {first}")
        return pages

    async def _read_sitemaps(self, queue: list[str], pages: Pages) -> None:
        seen: set[str] = set()
        limit = self.settings.max_sitemaps
        while queue:
            url = queue.pop(0)
            if url in seen:
                continue
            if len(seen) >= limit:
                left = len(set(queue) - seen) + 1
                self.summary.halt(
                    f"max_sitemaps ({limit}) reached: {left} more sitemap files named "
                    f"and not read (first: {url})"
                )
                return
            seen.add(url)
            response = await self._get(url, "sitemap", limit=self.settings.max_sitemap_bytes)
            if response is None:
                continue
            try:
                full = self._read_sitemap(url, response.body, queue, pages)
            except OutOfTime:
                raise
            except FetchError as exc:
                self._failed(url, "sitemap", exc)
                continue
            except Exception as exc:  # one sitemap's bytes fail that sitemap, never the crawl
                self._failed(url, "sitemap", FetchError(f"{url}: {type(exc).__name__}: {exc}"))
                continue
            self.read += 1
            if full:
                self.summary.halt(
                    f"max_sitemap_urls ({self.settings.max_sitemap_urls:,}) reached in {url}: "
                    f"{len(set(queue) - seen)} sitemap files not read"
                )
                return

    def _read_sitemap(self, url: str, body: bytes, queue: list[str], pages: Pages) -> bool:
        """One sitemap's entries into `queue` (child sitemaps) and `pages`, entry by entry,
        the fetch's deadline checked as it goes (a sitemap of 500,000 URLs takes minutes to
        read on a slow machine); True when max_sitemap_urls is reached (the rest unread)."""
        too_long = TooLong()
        for count, (loc, lastmod, child) in enumerate(
            sitemap_entries(body, url, self.settings.max_sitemap_bytes, too_long), 1
        ):
            if count % 1000 == 0 and self.client.out_of_time():
                raise OutOfTime(f"{url}: {count:,} entries read, the rest not")
            self.sitemap_urls += 1
            if child:
                queue.append(loc)
            elif self.is_page(loc):
                pages.setdefault(loc, lastmod)
            elif not host_allowed(loc, self.client.allowed):
                self.refuse(loc, "listed in a sitemap, but the host is not in allowed_hosts")
            if self.sitemap_urls > self.settings.max_sitemap_urls:
                self._refuse_long(url, too_long)
                return True
        self._refuse_long(url, too_long)
        return False

    def _refuse_long(self, sitemap: str, too_long: TooLong) -> None:
        """One refusal for a sitemap's URLs too long to be a page's (URL_LIMIT), by its own
        URL: theirs would make the issue's row as wide."""
        if too_long.count:
            self.refuse(
                sitemap,
                f"{too_long.count:,} of its entries are longer than the {URL_LIMIT:,} "
                f"characters a URL may have, not read (the first begins {too_long.first!r})",
            )

    async def _read_listing(self, url: str, pages: Pages) -> None:
        """A listing page and its ?page=N followers, until a page adds nothing new."""
        seen_links: set[str] = set()
        number = page_number(url)
        current = url
        for _ in range(self.settings.max_listing_pages):
            response = await self._get(current, "listing", first=current == url)
            if response is None:
                return
            body = response.body
            if current == url:
                self.read += 1
            if looks_like_sitemap(body):
                self.tried -= 1  # counted again as a sitemap
                self.read -= 1
                await self._read_sitemaps([current], pages)
                return
            try:
                found = page_links(body, current)
            except Exception as exc:  # one listing page's bytes fail that page only
                self._failed(
                    current, "listing", FetchError(f"{current}: {type(exc).__name__}: {exc}")
                )
                return
            links = [u for u in found if u not in seen_links]
            seen_links.update(links)
            new_pages = [u for u in links if self.is_page(u)]
            for page in new_pages:
                pages.setdefault(page, None)
            if not new_pages:
                return
            number = 1 if number is None else number + 1
            current = with_page(url, number)

    async def _get(
        self, url: str, what: str, *, limit: int | None = None, first: bool = True
    ) -> Response | None:
        """A sitemap or listing page; None (recorded) when it cannot be had.

        A listing's follower page (?page=N) that is not there is its end, not a failure.
        """
        self.tried += first
        accept = SITEMAP_TYPES if what == "sitemap" else ACCEPTED_TYPES
        try:
            response = await self.client.get(url, limit=limit, accept=accept)
        except HostUnavailable as exc:
            self.summary.halt(str(exc), exc.origin)  # the host's cause, once for all its URLs
            return None
        except OutOfTime:
            raise
        except FetchRefused as exc:
            self.refuse(url, str(exc))
            return None
        except FetchError as exc:
            self._failed(url, what, exc)
            return None
        if response.status != 200:
            if first:
                self._failed(url, what, FetchError(f"{url}: HTTP {response.status}"))
            return None
        return response

    def _failed(self, url: str, what: str, exc: FetchError) -> None:
        # A sitemap we cannot read hides every page it lists: a failure, not a note.
        reason = f"{what} unreadable: {exc}"
        self.summary.failures.append((url, reason))
        self.progress("problem", url, reason)

    def refuse(self, url: str, reason: str) -> None:
        self.summary.refusals.append((url, reason))
        self.progress("problem", url, f"refused: {reason}")
