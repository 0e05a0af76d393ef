"""Projects a run's time left unmerged: what the next run merges, or rebuilds the history of, first.

A run that reaches run_timeout in its merge stops between batches (loader.py). The
projects it did not merge, and those whose history it did not rebuild, are written to
`pending_projects` with where their pages were read (the live site or a web archive),
and published with the rest: their pages are already written, so no later run would
parse them again, and without this row their project would keep its old merge for
ever. The next run takes them all before its own, each with the rules of the load that
left it (a live merge records changes; an archive's rebuilds them from its captures).

    pending = take(con)              # {seen_in: Pending}, the rows removed
    leave(con, {LIVE: Pending(merge={"CE.0001"}, history=set())})
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb

from idf_etl.warehouse.schema import PENDING_TABLE

MERGE, HISTORY = "merge", "history"
# A problem is known by its message: worded once, the same from night to night.
LOAD_INCOMPLETE = (
    "run_timeout reached while merging: the projects not merged yet keep their previous row "
    "and the next run merges them first (pages whose gone flag was not refreshed, likewise)"
)


@dataclass
class Pending:
    """Projects still to be merged, and those whose history is still to be rebuilt."""

    merge: set[str] = field(default_factory=set)
    history: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.merge or self.history)


def take(con: duckdb.DuckDBPyConnection) -> dict[str, Pending]:
    """The work earlier runs left, by where its pages were read; removed from the table (a
    run that does not finish it writes back what it left, in the same transaction)."""
    found: dict[str, Pending] = {}
    for key, work, seen_in in con.execute(
        f"SELECT project_key, work, seen_in FROM {PENDING_TABLE}"
    ).fetchall():
        pending = found.setdefault(seen_in, Pending())
        (pending.merge if work == MERGE else pending.history).add(key)
    con.execute(f"DELETE FROM {PENDING_TABLE}")
    return found


def leave(con: duckdb.DuckDBPyConnection, left: Mapping[str, Pending]) -> int:
    """Write the work this run leaves for the next; returns the projects it names."""
    rows = [
        (key, work, seen_in)
        for seen_in, pending in left.items()
        for work, keys in ((MERGE, pending.merge), (HISTORY, pending.history))
        for key in sorted(keys)
    ]
    if rows:
        con.execute(
            f"""INSERT OR IGNORE INTO {PENDING_TABLE}
                SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])""",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
        )
    return len({r[0] for r in rows})


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
