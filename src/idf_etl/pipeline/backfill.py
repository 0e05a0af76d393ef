"""`idf-etl backfill`'s load: the archive's captures in the raw store to dated observations.

    result = run_pipeline(settings, backfill=(2015, 2020))   # its load is load_captures

A backfill is a run of its own (mode 'backfill') under the same lock, built in
a copy and published at the end like any run. Its captures were fetched into
the raw store (fetch/archive.py); here each one not yet observed is parsed (on
the parse workers) and written as an observation dated by its capture. A page
the live site does not show gets its project_pages row from its latest capture
(flagged gone: missing from the site), so a project only the archive remembers
is a row of `projects`. Then the touched projects' history is rebuilt in time
order (load/history.py): what the site shows today is never overwritten.

One capture fails only itself (`write_captures`, the live load's boundary): one the
parser cannot read, or whose values the warehouse refuses, is observed as unreadable
(read again by the next backfill) and is an `unreadable_page` issue at its replay
address, saying why; the other captures and what the warehouse had are kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace

import duckdb

from idf_etl.fetch.archive import capture_time, full_timestamp
from idf_etl.load.history import LIVE, observation_row, record_observations
from idf_etl.load.loader import Loader
from idf_etl.load.page_rows import REFUSED, refused_reason
from idf_etl.load.parsed import ParsedPage
from idf_etl.load.problems import track_problems
from idf_etl.logs import plural
from idf_etl.parse.page import PARSER_VERSION
from idf_etl.pipeline.build import Run
from idf_etl.pipeline.ledger import close_run, config_hash, open_run
from idf_etl.pipeline.memory import load_batches
from idf_etl.pipeline.outcome import parse_incomplete, run_outcome
from idf_etl.pipeline.parsing import PARSED_AT_LEAST, parse_stored
from idf_etl.pipeline.run import _isolate, run_loader
from idf_etl.pipeline.summary import RunResult
from idf_etl.rawformat import StoredPage
from idf_etl.rawstore import RawStore
from idf_etl.records import STORED_FIELDS, ProjectRecord
from idf_etl.warehouse.rows import Issue, Row
from idf_etl.warehouse.schema import create_schema
from idf_etl.workers import pool_size

log = logging.getLogger("idf_etl.load")  # a --log-json contract: the load's, as loader.py's
# Captures whose outcome gives an observation (a body, or the page gone then).
_OBSERVED = ("fetched", "reused", "gone")
_FIELDS = ", ".join(STORED_FIELDS)


def pending_captures(
    con: duckdb.DuckDBPyConnection, store: RawStore, archive: str
) -> list[StoredPage]:
    """The archive's captures with something to observe that the warehouse has not, as
    stored pages (a 404 capture has no body), oldest first."""
    seen = {
        (url, when)
        for url, when in con.execute(
            # An unreadable one is read again: its body may have been fetched again since.
            "SELECT url, observed_at FROM observations WHERE seen_in = ? AND kind <> 'error'",
            [archive],
        ).fetchall()
    }
    pages: list[StoredPage] = []
    unreadable: list[str] = []
    for (url, timestamp), row in sorted(
        store.capture_rows(archive).items(), key=lambda item: item[0][1]
    ):
        # The manifest's time, as any stored value, may have been edited or damaged: a
        # capture whose time does not read is left out, said once (it stopped the backfill).
        stamp = full_timestamp(timestamp) if isinstance(timestamp, str) else None
        if stamp is None:
            unreadable.append(url)
            continue
        when = capture_time(stamp)
        if row["outcome"] not in _OBSERVED or (url, when) in seen:
            continue
        pages.append(
            StoredPage(
                url=url,
                status=row["status"],
                sha256=row["sha256"],
                content_type=row["content_type"],
                etag=None,
                last_modified=None,
                sitemap_lastmod=None,
                final_url=url,
                canonical_url=None,
                headers=None,
                fetched_at=when.isoformat(),
                checked_at=when.isoformat(),
                changed_at=None,
                gone=int(row["outcome"] == "gone"),
                error=None,
            )
        )
    if unreadable:
        log.warning(
            "backfill: %s of %s in the raw store's manifest have a time that does not read "
            "(not YYYYMMDDhhmmss), first %s: left out; `idf-etl backfill` lists them again",
            plural(len(unreadable), "capture"),
            archive,
            unreadable[0],
        )
    return pages


def unreadable_captures(con: duckdb.DuckDBPyConnection, archive: str) -> set[str]:
    """The replay addresses of this archive's captures observed as unreadable: the backfill
    reads them again (pending_captures), and their problems are settled by what it finds."""
    return {
        f"{archive}/{when:%Y%m%d%H%M%S}id_/{url}"
        for url, when in con.execute(
            "SELECT url, observed_at FROM observations WHERE seen_in = ? AND kind = 'error'",
            [archive],
        ).fetchall()
    }


def observations_of(parsed: Iterable[ParsedPage], archive: str) -> Iterator[Row]:
    """One observations row a capture: its fields when it read as a project page."""
    for page in parsed:
        when = page.fetched_at
        assert when is not None  # every capture has its time
        record = page.record
        if isinstance(record, ProjectRecord):
            fields = {name: _copy(getattr(record, name)) for name in STORED_FIELDS}
            row = {"url": page.url, "content_sha256": page.sha256, "gone": False, **fields}
            yield observation_row(row, when, archive)
        else:
            kind = "gone" if page.gone else "error" if record is None else "other"
            yield {"url": page.url, "observed_at": when, "seen_in": archive, "kind": kind}


def load_observations(
    con: duckdb.DuckDBPyConnection,
    loader: Loader,
    rows: list[Row],
    parser_version: str,
) -> None:
    """Write a batch of capture observations; the pages only an archive shows get their
    project_pages row from their latest capture; their projects' history is rebuilt."""
    record_observations(con, rows)
    urls = sorted({row["url"] for row in rows})
    written = con.execute(
        f"""INSERT OR REPLACE INTO project_pages BY NAME
            SELECT l.url, {", ".join("l." + f for f in STORED_FIELDS)}, p.project_key,
                   l.content_sha256, l.observed_at AS fetched_at, ? AS parser_version,
                   least(p.first_seen, a.first_seen) AS first_seen, a.last_seen, true AS gone
            FROM (SELECT * FROM observations
                  WHERE url IN (SELECT unnest(?::VARCHAR[])) AND kind = 'project'
                  QUALIFY row_number() OVER (PARTITION BY url ORDER BY observed_at DESC) = 1) l
            JOIN (SELECT url, min(observed_at) AS first_seen,
                         max(observed_at) FILTER (WHERE kind = 'project') AS last_seen
                  FROM observations WHERE kind IN ('project', 'gone') GROUP BY url) a USING (url)
            LEFT JOIN project_pages p USING (url)
            WHERE l.url NOT IN (SELECT url FROM observations
                                WHERE seen_in = '{LIVE}' AND kind = 'project')
            RETURNING url""",
        [parser_version, urls],
    ).fetchall()
    # And their `pages` rows (a project page has one: the live load looks for it there),
    # unless the site's own crawl wrote one.
    only_archived = [url for (url,) in written]
    con.execute(
        "DELETE FROM pages WHERE url IN (SELECT unnest(?::VARCHAR[])) "
        "AND parsed_run_id IN (SELECT run_id FROM runs WHERE mode = 'backfill')",
        [only_archived],
    )
    con.execute(
        """INSERT OR IGNORE INTO pages BY NAME
           SELECT url, 'project' AS kind, lang, title, content_sha256, fetched_at,
                  parser_version, ?::INTEGER AS parsed_run_id, true AS gone
           FROM project_pages WHERE url IN (SELECT unnest(?::VARCHAR[]))""",
        [loader.run_id, only_archived],
    )
    keys = [
        key
        for (key,) in con.execute(
            "SELECT DISTINCT project_key FROM project_pages "
            "WHERE url IN (SELECT unnest(?::VARCHAR[])) AND project_key IS NOT NULL",
            [urls],
        ).fetchall()
    ]
    # Every touched project merged again: its pages only an archive shows may have moved.
    loader.touch(keys, merge=keys)


def write_captures(
    con: duckdb.DuckDBPyConnection, loader: Loader, pages: list[ParsedPage], archive: str
) -> None:
    """Write a batch of parsed captures and commit it: an error boundary, as the live load's
    (loader.load_pages). When the warehouse refuses a value of the batch (a number out of
    its column's range), the batch is undone and written a capture at a time; a capture it
    refuses is observed as unreadable instead. Every unreadable capture is an issue."""
    try:
        _attempt(con, loader, pages, archive)
    except REFUSED as exc:
        log.warning(
            "load: a batch of %d captures was refused (%s); writing it a capture at a time",
            len(pages),
            refused_reason(exc),
        )
        pages = [_one_at_a_time(con, loader, page, archive) for page in pages]
    loader.add_issues(capture_issues(pages, archive))


def _one_at_a_time(
    con: duckdb.DuckDBPyConnection, loader: Loader, page: ParsedPage, archive: str
) -> ParsedPage:
    """The capture as written: itself, or, refused, an unreadable capture naming why."""
    try:
        _attempt(con, loader, [page], archive)
        return page
    except REFUSED as exc:
        if page.record is None:
            raise  # not even its failure could be written: not a capture's values
        why = f"the warehouse cannot hold this capture's values ({refused_reason(exc)})"
        refused = replace(page, record=None, error=why)
    loader.stats.parse_errors += 1  # as the live load counts a page it refuses
    _attempt(con, loader, [refused], archive)
    return refused


def _attempt(
    con: duckdb.DuckDBPyConnection, loader: Loader, pages: list[ParsedPage], archive: str
) -> None:
    """Write captures whole or not at all: refused, the warehouse is rolled back to the last
    batch's commit (the loader's touched projects are only noted once the writes are done)."""
    try:
        load_observations(con, loader, list(observations_of(pages, archive)), PARSER_VERSION)
    except REFUSED:
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
        raise
    loader.commit_batch()


def capture_address(archive: str, page: ParsedPage) -> str:
    """Where the archive replays this capture: what a person opens to see it."""
    assert page.fetched_at is not None  # every capture has its time
    return f"{archive}/{page.fetched_at:%Y%m%d%H%M%S}id_/{page.url}"


def capture_issues(pages: Iterable[ParsedPage], archive: str) -> Iterator[Issue]:
    """An issue for each capture that could not be read or held, at its replay address: a
    problem of its own, resolved when a backfill reads it (load_captures)."""
    for page in pages:
        if page.record is None and not page.gone:
            yield Issue(
                "parse",
                "error",
                "unreadable_page",
                f"{page.error}; the page's other captures and its data are kept",
                capture_address(archive, page),
            )


def _copy(value: object) -> object:
    return list(value) if isinstance(value, list | tuple) else value


def load_captures(con: duckdb.DuckDBPyConnection, run: Run) -> RunResult:
    """A backfill's load, in one transaction committed a batch at a time: its ledger row,
    the captures not yet observed parsed and observed, the touched projects merged and
    their history rebuilt, the problems settled."""
    settings, store, summary, started = run.settings, run.store, run.summary, run.started
    upgraded = create_schema(con)
    con.execute("BEGIN TRANSACTION")
    run_id = open_run(con, started, "backfill", config_hash(settings))
    archive = settings.archive_replay
    size = settings.load_batch
    loader = run_loader(con, run, run_id, seen_in=archive)
    todo = pending_captures(con, store, archive)
    run.progress("discovered", "", str(len(todo)))
    workers = pool_size(settings.parse_workers, len(todo))
    run.clock.start("parse")
    # A 404 capture has no body: its "parse" fails at once and it is observed as gone.
    parsed = parse_stored(
        store,
        todo,
        run.progress,
        workers,
        deadline=run.deadlines.parse,
        stats=loader.stats,
        isolate=_isolate(run),
        count=len(todo),
        # As a run's: a backfill whose time was up before its parse began parsed nothing.
        least=min(size, PARSED_AT_LEAST),
    )
    unreadable = unreadable_captures(con, archive)
    read_again: set[str] = set()
    handed = 0
    for pages in load_batches(parsed, size, settings.warehouse_memory):
        handed += len(pages)
        loader.stats.pages_parsed += sum(not p.gone for p in pages)
        loader.stats.parse_errors += sum(p.record is None and not p.gone for p in pages)
        write_captures(con, loader, pages, archive)
        read_again.update(
            address for page in pages if (address := capture_address(archive, page)) in unreadable
        )
        if time.monotonic() >= run.deadlines.parse:  # the batch in hand written, as run.py's
            parsed.close()  # ends the parse workers; the rest are the next backfill's
            loader.stats.parse_left = max(0, len(todo) - handed)
            break
    if loader.stats.parse_left:  # still pending: the next backfill parses them
        loader.add_issues([parse_incomplete(settings)])
    run.clock.start("merge")
    stats = loader.finish(run.deadlines.merge)
    # Fetch problems are the live site's to settle: a backfill does not look at it. An
    # unreadable capture's problem is resolved once a backfill reads it again without one.
    reparsed = {
        url
        for (url,) in con.execute(
            "SELECT url FROM pages WHERE parsed_run_id = ?", [run_id]
        ).fetchall()
    }
    problems = track_problems(
        con,
        run_id,
        started,
        network=False,
        failing_urls=set(),
        reparsed=reparsed | read_again,
        merged=loader.merged,
        commit=loader.commit_batch,
    )
    outcome = run_outcome(summary, stats, settings.failure_threshold)
    close_run(con, run_id, outcome, summary, stats, run.clock.now())
    con.execute("COMMIT")
    return RunResult(
        run_id,
        "backfill",
        outcome,
        summary,
        stats,
        "",
        0.0,
        upgraded,
        problems,
        parse_workers=workers,
    )
