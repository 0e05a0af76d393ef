"""The runs ledger: one `runs` row per run, opened when its load starts and closed with
what it did, inside the run's transaction (a run that dies leaves no row).

    run_id = open_run(con, started, "network", config_hash(settings))
    ...
    close_run(con, run_id, "success", summary, stats)
    count_late_issue(con, run_id)        # an issue found after the close (the report)
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import duckdb

from idf_etl.config import Settings
from idf_etl.fetch.outcomes import FetchSummary
from idf_etl.load.parsed import LoadStats
from idf_etl.parse.page import PARSER_VERSION
from idf_etl.version import package_version
from idf_etl.warehouse.migrations import SCHEMA_VERSION
from idf_etl.warehouse.rows import scalar


def open_run(con: duckdb.DuckDBPyConnection, started: datetime, mode: str, config: str) -> int:
    """A new row for this run (the next run_id); `config` is the settings' hash."""
    run_id = int(scalar(con, "SELECT coalesce(max(run_id), 0) FROM runs", default=0)) + 1
    con.execute(
        "INSERT INTO runs (run_id, started_at, mode, parser_version, config_hash, "
        "idf_etl_version, schema_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [run_id, started, mode, PARSER_VERSION, config, package_version(), SCHEMA_VERSION],
    )
    return run_id


def close_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    outcome: str,
    summary: FetchSummary | None,
    stats: LoadStats,
    finished: datetime,
) -> None:
    """The run's end, outcome and counts (the fetch's are NULL for a re-parse). `finished`
    is its start plus the monotonic seconds since (StageClock.now()), never the wall clock
    read again: a clock stepped back mid-run would end the run before it began."""
    fetched = (
        (
            summary.discovered,
            summary.fetched,
            summary.unchanged + summary.not_modified + summary.skipped,
            summary.gone,
            summary.failed,
            summary.refused,
            summary.requests,
            summary.bytes,
        )
        if summary
        else (None,) * 8
    )
    con.execute(
        """UPDATE runs SET finished_at = ?, outcome = ?, pages_discovered = ?, pages_fetched = ?,
               pages_unchanged = ?, pages_gone = ?, fetch_failed = ?, fetch_refused = ?,
               http_requests = ?, bytes_downloaded = ?, pages_parsed = ?, parse_errors = ?,
               projects_total = ?, projects_new = ?, field_changes = ?, issues = ?
           WHERE run_id = ?""",
        [
            finished,
            outcome,
            *fetched,
            stats.pages_parsed,
            stats.parse_errors,
            stats.projects_total,
            stats.projects_new,
            stats.field_changes,
            stats.issues,
            run_id,
        ],
    )


def count_late_issue(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """One more `issues` row for a run already closed (a report that failed to build)."""
    con.execute("UPDATE runs SET issues = issues + 1 WHERE run_id = ?", [run_id])


def config_hash(settings: Settings) -> str:
    """The settings a run ran with, as a short hash: two runs with one hash had one config."""
    return hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:16]
