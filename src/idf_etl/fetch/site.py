"""The fetch stage's public entries, for the CLI and the pipeline alike.

    summary = fetch_site(settings, store)      # discover and download into the raw store
    response = fetch_url("https://...")        # one page, politely (`idf-etl parse URL`)

The work is split by concern: client.py asks (robots.txt, pace, retries,
deadlines, limits), discovery.py reads sitemaps and listings, crawl.py
decides what to ask for and what the answers mean (outcomes.py names them).
"""

from __future__ import annotations

import asyncio

from idf_etl.config import Settings
from idf_etl.errors import FetchError
from idf_etl.fetch.client import PoliteClient, Response
from idf_etl.fetch.crawl import Crawler
from idf_etl.fetch.outcomes import FetchSummary, Progress, no_progress
from idf_etl.rawstore import RawStore
from idf_etl.urls import netloc, normalise_url, url_refusal


def fetch_site(
    settings: Settings,
    store: RawStore,
    progress: Progress = no_progress,
    revalidate: bool | None = None,
    deadline: float | None = None,
) -> FetchSummary:
    """Discover the pages the settings point at and fetch the new and changed ones.

    `revalidate`: ask for every known page again (conditionally); None: when
    the last such pass is older than revalidate_days. `deadline`: time.monotonic() when
    the fetch stops (a run's: pipeline/deadlines.py); None: FETCH_SHARE of run_timeout.
    """
    return asyncio.run(Crawler(settings, store, progress, deadline).run(revalidate))


def fetch_url(url: str, settings: Settings | None = None) -> Response:
    """Fetch one page politely (robots.txt, limits, retries, deadlines)."""
    if settings is None:
        host = netloc(url)  # the URL's host as the settings read one, or no URL to fetch
        if not host:
            raise FetchError(f"{url}: {url_refusal(url)}")
        settings = Settings(allowed_hosts=[host])

    async def go() -> Response:
        async with PoliteClient(settings) as client:
            return await client.get(normalise_url(url) or url)

    response = asyncio.run(go())
    if response.status != 200:
        raise FetchError(f"{url}: HTTP {response.status}")
    return response
