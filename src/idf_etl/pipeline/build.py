"""A run's warehouse built in a copy of the published one, its report and exports staged
beside it, then all published at once: a run that dies at any point leaves the published
warehouse as it was.

    result = build_and_publish(run, load)   # load(con, run): the run's load (run.py, backfill.py)

`Run` is what the stages after the fetch share; `Deadlines` (deadlines.py) when each stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

import duckdb

from idf_etl.config import Settings
from idf_etl.errors import ReportError
from idf_etl.fetch.outcomes import FetchSummary, Progress
from idf_etl.interrupts import interruptible
from idf_etl.load.problems import ProblemCounts, settle_problem
from idf_etl.pipeline.deadlines import EXPORT_SECONDS, Deadlines
from idf_etl.pipeline.ledger import count_late_issue
from idf_etl.pipeline.memory import (
    building_config,
    export_within_memory,
    needs_memory,
    out_of_memory,
)
from idf_etl.pipeline.provenance import sources
from idf_etl.pipeline.summary import RunResult, StageClock
from idf_etl.rawstore import RawStore
from idf_etl.report.build import RENDER_SECONDS, REPORT_NAME, write_report
from idf_etl.warehouse.export import export_tables
from idf_etl.warehouse.publish import BUILD_ROW_GROUP, Publisher
from idf_etl.warehouse.rows import Issue, upsert
from idf_etl.workers import default_workers

log = logging.getLogger(
    "idf_etl.pipeline"
)  # a --log-json contract: fixed, whatever the module is called


@dataclass(frozen=True)
class Run:
    """What the stages after the fetch share: one run's settings, store and clock."""

    settings: Settings
    store: RawStore
    summary: FetchSummary | None  # None: a re-parse (--from-raw)
    started: datetime
    clock: StageClock
    progress: Progress  # the parse stage's
    deadlines: Deadlines  # when each stage's time (its share of run_timeout) is up
    backfill: bool = False  # a web archive's captures, not the site


Load = Callable[[duckdb.DuckDBPyConnection, Run], RunResult]


def build_with_memory(run: Run, load: Load, memory: str) -> RunResult:
    """build_and_publish with DuckDB held to `memory` (memory.build_within_memory's build)."""
    settings = run.settings.model_copy(update={"warehouse_memory": memory})
    return build_and_publish(replace(run, settings=settings), load)


def build_and_publish(run: Run, load: Load) -> RunResult:
    """Load into a copy of the published warehouse, stage the report and the exports
    beside it, and publish them; the published warehouse is untouched until then."""
    settings, clock = run.settings, run.clock
    publisher = Publisher(settings.clean_dir, keep=settings.keep_published)
    try:
        building = publisher.prepare()
    except BaseException:
        _discard(publisher)
        raise
    con = _connect(settings.warehouse_memory, publisher, building)
    try:
        with interruptible(con):  # Ctrl-C ends a long statement at once
            result = load(con, run)
        result.notes = publisher.notes + result.notes
        for note in result.notes:
            log.warning("run: note: %s", note)
        report = None
        if settings.report and result.outcome == "success":
            clock.start("report")
            report = stage_report(con, result, run)
        clock.start("export")
        began = time.monotonic()
        # One setting for the cores a run may use: parse_workers=1 keeps it all in one
        # thread, for debugging.
        threads = settings.parse_workers or default_workers()
        con, exported = export_within_memory(
            con,
            lambda c, limit: export_tables(
                c, publisher.building, sources(c, settings), threads, limit
            ),
            partial(_connect, publisher=publisher, building=building),
            settings.warehouse_memory,
            settings.max_warehouse_memory,
        )
        if exported != settings.warehouse_memory:
            note = (
                f"the export needed more than {settings.warehouse_memory}: exported with "
                f"{exported}, the warehouse built once"
            )
            log.warning("run: note: %s", note)
            result.notes.append(note)
        clock.start("publish")
        spill, said = publisher.releases / ".spill", len(publisher.notes)
        result.published = str(
            publisher.publish(
                con,
                result.run_id,
                dict(building_config(exported, spill)),
                compact_until=run.deadlines.end,
            )
        )
        # What the next run keeps for its export and publish (deadlines.py).
        seconds = f"{time.monotonic() - began:.3f}"
        after_publish(
            result,
            f"the raw store's {EXPORT_SECONDS} ({run.store.manifest})",
            lambda: run.store.set_meta(EXPORT_SECONDS, seconds, wait=AFTER_PUBLISH_WAIT),
            "the next run keeps its export the time the one before took",
        )
        for note in publisher.notes[said:]:
            log.warning("run: note: %s", note)
            result.notes.append(note)
        if publisher.compacted is not None:
            share, before, after = publisher.compacted
            log.info(
                "run: rewrote the warehouse without its deleted rows (%.0f%% of those it "
                "stored): %.1f MB -> %.1f MB",
                share * 100,
                before / 1e6,
                after / 1e6,
            )
        if report is not None:
            after_publish(
                result,
                str(settings.clean_dir / REPORT_NAME),
                partial(os.replace, report, settings.clean_dir / REPORT_NAME),
                "report.html was not refreshed; `idf-etl report` draws it again",
            )
        return result
    except duckdb.Error as exc:
        con.close()
        _discard(publisher)
        if needs_memory(exc):
            raise out_of_memory(settings.warehouse_memory, exc) from exc
        raise
    except BaseException:
        con.close()
        _discard(publisher)
        raise


# The seconds a write after the publish waits for a manifest another process holds: the run
# has published, and its time may be up; SQLite's 5 s each made such a run 10 s late.
AFTER_PUBLISH_WAIT = 1.0


def after_publish(result: RunResult, what: str, write: Callable[[], object], then: str) -> None:
    """A write after the publish (the raw store's meta, report.html into place): the run has
    published, so it ends by what it published, and a write that fails (a full or read-only
    disk, a manifest another process holds locked) is a warning and a note saying `then`.
    Before, a traceback and exit 1 for a run whose warehouse was published."""
    try:
        write()
    except (OSError, sqlite3.Error) as exc:
        note = f"published, but {what} could not be written ({exc}): {then}"
        log.warning("run: note: %s", note)
        result.notes.append(note)


def _connect(memory: str, publisher: Publisher, building: Path) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse being built, DuckDB held to `memory`."""
    con = duckdb.connect(config=building_config(memory, publisher.releases / ".spill"))
    con.execute(f"ATTACH ? AS building (ROW_GROUP_SIZE {BUILD_ROW_GROUP})", [str(building)])
    con.execute("USE building")
    return con


def _discard(publisher: Publisher) -> None:
    """A failed run's half-built release goes at once: on a full disk, its space is what
    the next run needs (an interrupted run's is removed by the next one)."""
    shutil.rmtree(publisher.building, ignore_errors=True)


def stage_report(con: duckdb.DuckDBPyConnection, result: RunResult, run: Run) -> Path | None:
    """Build report.html beside the warehouse, to be moved into place once it is published.

    It reads the copy about to be published (the same bytes analysts will open;
    only SELECTs here), after `track_problems`, so its open problems are this
    run's. A failure is logged, noted, one `issues` row and an open
    `report_failed` problem, and never a failed run; the next report that is
    built resolves that problem. Its drawing ends at the report's deadline (what is
    left of run_timeout once the export's time is set aside).
    """
    started = run.started
    staged = run.settings.clean_dir / f".{REPORT_NAME}.staged"
    # Resolved before the report is built, so it does not count itself as failing; undone
    # (rolled back) if it fails after all.
    con.execute("BEGIN TRANSACTION")
    try:
        settled = settle_problem(con, result.run_id, started, "report_failed", None)
        left = run.deadlines.report - time.monotonic()
        if left <= 0:
            raise ReportError(
                f"run_timeout ({run.settings.run_timeout:g}s) reached before it was drawn"
            )
        write_report(con, staged, seconds=min(RENDER_SECONDS, left))
    except ReportError as exc:
        con.execute("ROLLBACK")
        result.notes.append(f"report.html was not refreshed: {exc}")
        log.warning("run: note: %s", result.notes[-1])
        message = f"{exc}; the previous report.html is kept (`idf-etl report` shows the error)"
        # 'load' is the last stage the issues table knows; the code says what failed.
        issue = Issue("load", "warning", "report_failed", message).row(result.run_id, started)
        upsert(con, "issues", [issue])
        count_late_issue(con, result.run_id)
        result.load.issues += 1
        _add_problems(result, settle_problem(con, result.run_id, started, "report_failed", issue))
        return None
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    _add_problems(result, settled)
    return staged


def _add_problems(result: RunResult, late: ProblemCounts) -> None:
    result.problems.opened += late.opened
    result.problems.resolved += late.resolved
    result.problems.still_open = late.still_open
