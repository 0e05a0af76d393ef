"""Projects a run's time left unmerged: what the next run merges, or rebuilds the history of, first.

A run that reaches run_timeout in its merge stops between batches (loader.py). The
projects it did not merge, and those whose history it did not rebuild, are written to
`pending_projects` with where their pages were read (the live site or a web archive),
and published with the rest: their pages are already written, so no later run would
parse them again, and without this row their project would keep its old merge for
ever. The next run takes them all before its own, each with the rules of the load that
left it (a live merge records changes; an archive's rebuilds them from its captures).

Both move between `pending_projects` and the run's work table (work.py), in DuckDB:

    take(con)            # pending_projects' rows join the run's work, removed from the table
    left = leave(con)    # the work not done written back; the number of projects it names
"""

from __future__ import annotations

import time

import duckdb

from idf_etl.load.work import WORK
from idf_etl.warehouse.schema import PENDING_TABLE

# A problem is known by its message: worded once, the same from night to night.
LOAD_INCOMPLETE = (
    "run_timeout reached while merging: the projects not merged yet keep their previous row "
    "and the next run merges them first (pages whose gone flag was not refreshed, likewise)"
)


def take(con: duckdb.DuckDBPyConnection) -> None:
    """The work earlier runs left joins this run's; removed from the table (a run that does
    not finish it writes back what it left, in the same transaction)."""
    con.execute(f"INSERT INTO {WORK} SELECT project_key, work, seen_in, false FROM {PENDING_TABLE}")
    con.execute(f"DELETE FROM {PENDING_TABLE}")


def leave(con: duckdb.DuckDBPyConnection) -> int:
    """Write the work this run did not do for the next (and drop it from the run's work,
    which keeps what was done); returns the projects it names."""
    con.execute(
        f"""INSERT OR IGNORE INTO {PENDING_TABLE}
            SELECT DISTINCT project_key, work, seen_in FROM {WORK} WHERE NOT done"""
    )
    left = con.execute(f"SELECT count(DISTINCT project_key) FROM {WORK} WHERE NOT done")
    projects = int((left.fetchone() or (0,))[0])
    con.execute(f"DELETE FROM {WORK} WHERE NOT done")
    return projects


class Clock:
    """A stage's deadline, asked before each batch: up once it has passed and one batch was
    done, so that every run, however short its time, moves the work on (the load writes
    what was parsed in time, the merge merges a batch)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.done = False

    def up(self) -> bool:
        if self.done and self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        self.done = True
        return False
