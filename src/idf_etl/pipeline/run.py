"""`idf-etl run`: fetch, parse, load and publish, as one locked, all-or-nothing run.

    result = run_pipeline(settings)                 # the nightly job
    result = run_pipeline(settings, from_raw=True)  # re-parse data/raw after a parser upgrade
    result = run_pipeline(settings, backfill=(2015, None))  # a web archive's captures

The warehouse is built in a copy and published only at the end (build.py), so a run
that dies at any point leaves the published warehouse as it was. Each stage stops at its
share of run_timeout (deadlines.py): the parse and load here, the merge, then the report,
leaving the export and the publish the time they took last.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import duckdb

from idf_etl.config import Settings
from idf_etl.errors import ConfigError
from idf_etl.fetch.outcomes import Progress, no_progress
from idf_etl.load.history import LIVE
from idf_etl.load.loader import Loader
from idf_etl.load.problems import halt_when_project_pages_lost, track_problems
from idf_etl.parse.inputs import parse_stored_page
from idf_etl.parse.page import PARSER_VERSION
from idf_etl.pipeline.build import (
    AFTER_PUBLISH_WAIT,
    Load,
    Run,
    after_publish,
    build_with_memory,
)
from idf_etl.pipeline.deadlines import EXPORT_SECONDS, Deadlines, export_seconds, fetch_deadline
from idf_etl.pipeline.holder import tail_seconds
from idf_etl.pipeline.ledger import close_run, config_hash, open_run
from idf_etl.pipeline.lock import RunLock
from idf_etl.pipeline.memory import batch_bytes, build_within_memory, load_batches
from idf_etl.pipeline.outcome import fetch_issues, parse_incomplete, run_outcome
from idf_etl.pipeline.parsing import PARSED_AT_LEAST, batched, parse_stored, stale_batches
from idf_etl.pipeline.provenance import check_same_site
from idf_etl.pipeline.summary import RunResult, StageClock
from idf_etl.rawformat import MANIFEST_NAME, stored_time
from idf_etl.rawstore import RawStore
from idf_etl.warehouse.publish import refuse_broken_pointer
from idf_etl.warehouse.schema import create_schema
from idf_etl.workers import pool_size, start_fork_server

log = logging.getLogger(
    "idf_etl.pipeline"
)  # a --log-json contract: fixed, whatever the module is called
# Stored pages checked against the warehouse (stale or not) or refreshed (gone flags) at a
# time: a url, a hash and a flag each, whatever load_batch is (at load_batch=1, a statement
# a page: 12,000 stored pages took minutes before a page was parsed).
STATE_BATCH = 1000
# The raw store's record of the limit the last build was made with (build_within_memory).
MEMORY_NEEDED = "warehouse_memory_needed"


def run_pipeline(
    settings: Settings,
    *,
    from_raw: bool = False,
    revalidate: bool | None = None,
    backfill: tuple[int | None, int | None] | None = None,
    fetch_progress: Progress = no_progress,
    parse_progress: Progress = no_progress,
) -> RunResult:
    """One whole run under the data directory's lock. `backfill`: (from year, to year) of
    a web archive's captures to read instead of the site (pipeline/backfill.py)."""
    clock = StageClock()  # durations from the monotonic clock; the wall clock read once
    started = clock.began_at
    began = time.monotonic()  # no wait of the run goes past began + run_timeout
    # From here: taking the lock and opening the store are the first stage's, so the
    # stages add up to the run (under load they were over 20 % of a short run, in none).
    clock.start("prepare" if from_raw else "fetch")
    if from_raw and not settings.data_dir.exists():  # mistyped: the lock would make it
        nothing_to_read_again(settings)
    lock = RunLock(settings.data_dir, settings.run_timeout)
    with lock, _raw_store(settings, from_raw) as store:
        summary = None
        refuse_broken_pointer(settings.clean_dir)  # before anything is fetched or written
        # The last export and publish's seconds: what the stages before them leave them
        # (deadlines.py), and how long past run_timeout a waiting run should wait before it
        # calls this one stuck (holder.py's tail).
        export = export_seconds(store.get_meta(EXPORT_SECONDS))
        lock.expect_tail(tail_seconds(export, settings.run_timeout))
        if not from_raw:  # the site's pages, or a web archive's captures of them
            check_same_site(settings, store)  # before anything is fetched or written
        if backfill is not None:
            from idf_etl.fetch.archive import fetch_archive

            clock.start("fetch")
            summary = fetch_archive(
                settings,
                store,
                years=backfill,
                progress=fetch_progress,
                deadline=_fetch_cut(settings, began, export),
            )
            log.info("backfill: %s", summary.line())
        elif not from_raw:
            # Imported here: a re-parse needs no HTTP client (0.07 s of its start).
            from idf_etl.fetch.site import fetch_site

            clock.start("fetch")
            summary = fetch_site(
                settings,
                store,
                fetch_progress,
                revalidate,
                _fetch_cut(settings, began, export),
            )
            # Said now, before any parse line, so a log reads in stage order.
            log.info("fetch: %s", summary.line())
        # The published warehouse copied and upgraded, the pages to parse counted.
        clock.start("prepare")
        if from_raw and pool_size(settings.parse_workers, store.count()) > 1:
            # A re-parse knows its pages now: the workers' fork server starts meanwhile.
            start_fork_server(parse_stored_page)
        # Each stage's share of the time, the export's as long as the last run's took.
        deadlines = Deadlines.of(
            settings.run_timeout,
            began,
            export,
            now=time.monotonic(),  # shares of what the fetch left
        )
        run = Run(
            settings,
            store,
            summary,
            started,
            clock,
            parse_progress,
            deadlines,
            backfill is not None,
        )
        build = partial(build_with_memory, run, _load_of(run))
        result, built_with = build_within_memory(
            build,
            settings.warehouse_memory,
            settings.max_warehouse_memory,
            store.get_meta(MEMORY_NEEDED),
        )
        if built_with != store.get_meta(MEMORY_NEEDED):  # a write less, and a wait less
            after_publish(
                result,
                f"the raw store's {MEMORY_NEEDED} ({store.manifest})",
                lambda: store.set_meta(MEMORY_NEEDED, built_with, wait=AFTER_PUBLISH_WAIT),
                f"the next run starts at {settings.warehouse_memory} again",
            )
    clock.stop()
    result.seconds = clock.elapsed()
    result.stages = clock.stages
    return result


def _fetch_cut(settings: Settings, began: float, export: float | None) -> float | None:
    """The fetch's deadline where the last export and publish cut its share short
    (deadlines.fetch_deadline), else None: its share from its own start, as messages say."""
    stop = fetch_deadline(settings.run_timeout, began, export)
    return stop if stop < began + settings.fetch_seconds else None


def _raw_store(settings: Settings, from_raw: bool) -> RawStore:
    """The run's raw store, opened under the lock (another run may be making it); a re-parse
    needs one to be there already."""
    if from_raw:
        nothing_to_read_again(settings)
    return RawStore(settings.raw_dir)


def nothing_to_read_again(settings: Settings) -> None:
    """ConfigError when `run --from-raw` has no raw store to read: a mistyped --data-dir
    published an empty warehouse and said "success" (adversary), and made the directory."""
    manifest = settings.raw_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise ConfigError(
            f"no raw store at {settings.raw_dir.absolute()} (no {MANIFEST_NAME}): `run "
            "--from-raw` reads again the pages earlier runs fetched into DATA_DIR/raw; point "
            "--data-dir at that directory, or run `idf-etl run` to fetch"
        )


def _load_of(run: Run) -> Load:
    """The run's load: a web archive's captures (backfill.py), else the stale stored pages."""
    if run.backfill:
        from idf_etl.pipeline.backfill import load_captures

        return load_captures
    return _load


def _load(con: duckdb.DuckDBPyConnection, run: Run) -> RunResult:
    """The run's load, in one transaction committed a batch at a time: its ledger row,
    the stale pages parsed and loaded, the projects merged, the problems settled."""
    settings, store, summary, started = run.settings, run.store, run.summary, run.started
    from_raw = summary is None
    upgraded = create_schema(con)
    con.execute("BEGIN TRANSACTION")
    mode = "from-raw" if from_raw else "network"
    run_id = open_run(con, started, mode, config_hash(settings))
    # A commit a batch: the building copy is published only once whole, so the run stays
    # all-or-nothing while its memory stays flat however large the raw store.
    loader = run_loader(con, run, run_id)
    workers = _parse_and_load(run, loader)
    if loader.stats.parse_left:
        loader.add_issues([parse_incomplete(settings)])
    run.clock.start("merge")
    if not from_raw:  # a re-parse of everything wrote each page's status with its row
        _refresh_page_states(run, loader)
    stats = loader.finish(run.deadlines.merge)
    problems = track_problems(
        con,
        run_id,
        started,
        network=not from_raw,
        failing_urls=store.failing_urls(),
        merged=loader.merged,
        commit=loader.commit_batch,
    )
    halt_when_project_pages_lost(con, stats.halts, settings.failure_threshold)
    outcome = run_outcome(summary, stats, settings.failure_threshold)
    close_run(con, run_id, outcome, summary, stats, run.clock.now())
    con.execute("COMMIT")
    return RunResult(
        run_id, mode, outcome, summary, stats, "", 0.0, upgraded, problems, parse_workers=workers
    )


def run_loader(
    con: duckdb.DuckDBPyConnection, run: Run, run_id: int, seen_in: str = LIVE
) -> Loader:
    """The run's loader: committing a batch at a time, its merge batches cut by what they
    weigh (never by load_batch: a batch of one project is a dozen statements and a commit),
    the fetch's issues (if any) already given to it."""
    settings = run.settings
    loader = Loader(
        con,
        run_id,
        run.started,
        PARSER_VERSION,
        commit_batches=True,
        merge_bytes=batch_bytes(settings.warehouse_memory),
        seen_in=seen_in,
        memory=settings.warehouse_memory,
    )
    if run.summary is not None:
        loader.add_issues(fetch_issues(run.summary))
    return loader


def _refresh_page_states(run: Run, loader: Loader) -> None:
    """Every stored page's gone flag and last sighting, a batch at a time until the run's
    time is up; the pages left are counted (the next network run refreshes them all)."""
    done = 0
    for stored in batched(run.store.pages(), STATE_BATCH):
        if time.monotonic() >= run.deadlines.merge:
            loader.stats.states_left = max(0, run.store.count() - done)
            return
        loader.refresh_page_states(
            {p.url: (bool(p.gone), stored_time(p.checked_at)) for p in stored}
        )
        done += len(stored)


def _parse_and_load(run: Run, loader: Loader) -> int:
    """Parse the stale stored pages on every core and load them a batch at a time, each
    batch written as soon as it is parsed, until the run's time is up (the pages not
    loaded by then are left, as those the parse did not reach). Returns the parse
    processes used."""
    store, from_raw, size = run.store, run.summary is None, run.settings.load_batch
    # Counted first for the progress line; a re-parse of everything needs no check.
    todo = (
        store.count()
        if from_raw
        else sum(len(batch) for batch in stale_batches(store, loader, from_raw, STATE_BATCH))
    )
    run.progress("discovered", "", str(todo))
    workers = pool_size(run.settings.parse_workers, todo)
    if time.monotonic() >= run.deadlines.parse:
        workers = 1  # the floor's pages only, on one worker (workers.map_isolated)
    run.clock.start("parse")
    pages = (
        page for batch in stale_batches(store, loader, from_raw, STATE_BATCH) for page in batch
    )
    patterns = tuple(run.settings.page_patterns)
    parsed_pages = parse_stored(
        store,
        pages,
        run.progress,
        workers,
        patterns,
        run.deadlines.parse,
        loader.stats,
        isolate=_isolate(run),
        count=todo,
        # A run whose time was up before its parse began still parses a few pages (it
        # parsed none, night after night, where the fetch and prepare took 80 % of it).
        least=min(size, PARSED_AT_LEAST),
    )
    loaded = 0
    for parsed in load_batches(parsed_pages, size, run.settings.warehouse_memory):
        # The batch in hand is written (parsed, it would be lost), then the time looked at:
        # a load slower than the parse (load_batch=1) stops one batch past it at most.
        loader.load_pages(parsed)
        loaded += len(parsed)
        if time.monotonic() >= run.deadlines.parse:
            parsed_pages.close()  # ends the parse workers: nothing more is sent to them
            loader.stats.parse_left = max(0, todo - loaded)
            break
    return workers


def _isolate(run: Run) -> bool:
    """Parse in worker processes even for a few pages: a page whose parse never ends
    (a quadratic reader on a 4 MB page) is then stopped by its bound and the parse's deadline.
    Only parse_workers=1 (for debugging) parses in the run's own process."""
    return run.settings.parse_workers != 1
