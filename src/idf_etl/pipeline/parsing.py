"""The parse stage of a run: the stored pages to parse (every one for --from-raw, else
those whose body or parser version is new), a batch at a time, parsed on every core, each
kept with its record or the reason it has none.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from functools import partial
from itertools import islice
from typing import TypeVar

from idf_etl.errors import IdfEtlError, OutOfTime, StoreError
from idf_etl.fetch.outcomes import Progress
from idf_etl.load.loader import Loader
from idf_etl.load.parsed import LoadStats, ParsedPage
from idf_etl.parse.countries import country_index
from idf_etl.parse.inputs import parse_stored_page
from idf_etl.rawformat import StoredPage, stored_time
from idf_etl.rawstore import RawStore
from idf_etl.records import bounded
from idf_etl.urls import PROJECT_PAGE_PATTERNS
from idf_etl.workers import map_isolated

T = TypeVar("T")
# Pages a run parses even when its parse's time was up before it began, on every path (a
# network run, --from-raw, a backfill): every run moves the work on (it parsed none, night
# after night, where the fetch and prepare took 80 % of run_timeout), and the run's end
# moves by a few seconds at most. Parsed as every page is (a worker, each within its own
# bound, the floor within workers.LEAST_SECONDS), on one worker: 64 pages are about 0.1 s
# of parsing, and starting more processes cost more than that under load.
PARSED_AT_LEAST = 64


def stale_batches(
    store: RawStore, loader: Loader, from_raw: bool, size: int
) -> Iterator[list[StoredPage]]:
    """The stored pages to parse, a batch at a time: all of them for --from-raw, else those
    whose body or parser version differs from what the warehouse holds.

    A re-parse takes first the pages the warehouse has not read, then those it read longest
    ago: re-parses cut short by run_timeout each read the same first pages again, and
    never the rest (adversary s31: 300 of 2,000 pages a run, night after night)."""
    if from_raw:
        for urls in batched(_oldest_first(store, loader), size):
            yield [page for page in map(store.get, urls) if page is not None]
        return
    for batch in batched(store.pages(), size):
        current = set() if from_raw else loader.up_to_date([(p.url, p.sha256) for p in batch])
        yield [p for p in batch if p.url not in current]


def _oldest_first(store: RawStore, loader: Loader) -> list[str]:
    """The stored URLs, those the warehouse never parsed first, then by the run that last
    parsed them (the URLs only: 30,000 are a few MB)."""
    parsed = dict(loader.con.execute("SELECT url, parsed_run_id FROM pages").fetchall())
    return sorted(store.urls(), key=lambda url: (parsed.get(url) or 0, url))


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last may be shorter); itertools.batched is Python 3.12."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def parse_stored(
    store: RawStore,
    pages: Iterable[StoredPage],
    progress: Progress,
    workers: int = 1,
    patterns: tuple[str, ...] = PROJECT_PAGE_PATTERNS,
    deadline: float | None = None,
    stats: LoadStats | None = None,
    isolate: bool = False,
    count: int | None = None,
    least: int = PARSED_AT_LEAST,
) -> Generator[ParsedPage]:
    """Parse stored bodies on `workers` processes, in order; a page that cannot be read is
    kept with its reason.

    Any exception, not only the ones we expect, stays with its page: one page
    must never stop the run (it becomes an `issues` row, its previous data kept).
    A page not parsed by the `deadline` (time.monotonic()) is left out, counted in
    `stats.parse_left`: still stale, the next run parses it. `isolate`: parse in a
    process of its own even on one worker, where a page's time bound and the deadline hold.
    `least`: pages parsed even past the deadline (workers.map_isolated; PARSED_AT_LEAST).
    Closed early (`close()`), it ends its workers at once.
    """
    job = partial(parse_stored_page, store.objects, patterns=patterns)
    for page, returned in map_isolated(
        job,
        pages,
        workers,
        warm=country_index,
        deadline=deadline,
        isolate=isolate,
        count=count,
        least=least,
    ):
        if isinstance(returned.error, OutOfTime):
            if stats is not None:
                stats.parse_left += 1
            continue
        result = ParsedPage(
            url=page.url,
            sha256=page.sha256,
            fetched_at=stored_time(page.fetched_at),
            checked_at=stored_time(page.checked_at),
            gone=bool(page.gone),
        )
        try:
            result.record = returned.unwrap()
        except StoreError as exc:
            # No readable body: set aside for a fresh download, and no hash either, so the
            # page is parsed again once repaired.
            if page.sha256 is not None:
                store.set_aside(page.sha256, str(exc))
            result.sha256 = None
            result.error = f"cannot read the stored page: {exc}"
        except IdfEtlError as exc:
            result.error = f"cannot parse the stored page: {exc}"
        except Exception as exc:  # a parser bug on one page: reported, never fatal
            result.error = f"cannot parse the stored page: {type(exc).__name__}: {exc}"
        if result.error is not None:  # pages.reason: an exception may quote the whole page
            result.error = bounded(result.error)
        progress("page", page.url, "error" if result.record is None else result.record.kind)
        yield result
