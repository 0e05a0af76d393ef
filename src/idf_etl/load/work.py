"""The run's work: projects to merge again and histories to rebuild, kept in DuckDB.

A run notes the projects its load touches in a temporary table of its connection, not
in Python: a key a project stayed there for the whole run (one page a project, 30,000
pages: the sets of keys and their copies took ~6 MB, growing with the store). A note is
written in the batch's transaction, so a batch rolled back takes its notes with it.
`finish` (loader.py) takes the work in weighed batches (batches.py), ticks each one off
once merged, and `pending.leave` writes back what the run's time left undone.

    start(con)                                   # the connection's work table, empty
    note(con, keys, MERGE, LIVE)                 # in the batch's transaction
    for seen_in, keys in batches(con, MERGE, last=LIVE, most=most, up=clock.up):
        ...; done(con, keys, MERGE, seen_in)     # in the batch's transaction
    MERGED                                       # SQL: the keys this run merged
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import duckdb

from idf_etl.load.batches import Weight, batched_by_weight, weighed_keys

MERGE, HISTORY = "merge", "history"  # the work a project is noted for
WORK = "idf_etl_work"  # a temporary table of the connection
# SQL: the project keys this run merged (problems.py's verdicts on the merge's problems).
MERGED = f"SELECT project_key FROM {WORK} WHERE work = '{MERGE}' AND done"
# SQL: every project key noted for a merge, done or not (projects.move_history).
TO_MERGE = f"SELECT project_key FROM {WORK} WHERE work = '{MERGE}'"


def start(con: duckdb.DuckDBPyConnection) -> None:
    """The connection's work table, empty (one loader's at a time)."""
    con.execute(
        f"""CREATE OR REPLACE TEMPORARY TABLE {WORK} (project_key VARCHAR NOT NULL,
            work VARCHAR NOT NULL, seen_in VARCHAR NOT NULL, done BOOLEAN NOT NULL)"""
    )


def note(
    con: duckdb.DuckDBPyConnection, keys: Iterable[str | None], work: str, seen_in: str
) -> None:
    """Note these projects (None: no project) for `work`, their pages read in `seen_in`."""
    given = sorted({key for key in keys if key})
    if given:
        con.execute(
            f"INSERT INTO {WORK} SELECT unnest(?::VARCHAR[]), ?, ?, false",
            [given, work, seen_in],
        )


def sources(con: duckdb.DuckDBPyConnection, work: str, *, last: str) -> list[str]:
    """Where the pages of the projects noted for `work` were read, `last` last: the work
    earlier runs left from other sources is done first, each by its own load's rules."""
    return [
        seen_in
        for (seen_in,) in con.execute(
            f"""SELECT DISTINCT seen_in FROM {WORK} WHERE work = ? AND NOT done
                ORDER BY seen_in = ?, seen_in""",
            [work, last],
        ).fetchall()
    ]


def batches(
    con: duckdb.DuckDBPyConnection,
    work: str,
    *,
    last: str,
    most: Weight,
    up: Callable[[], bool],
) -> Iterator[tuple[str, list[str]]]:
    """(seen_in, keys): the projects noted for `work` and not done yet, a source at a time
    (`sources`) and in key order, in batches of at most `most` (batches.py: the merge and
    the rebuild read a batch's pages whole), weighed for the merge or, for HISTORY, for the
    rebuild of their history; until `up()` says the time is up, asked before each batch.
    The caller ticks a batch off (`done`); what is left is `pending.leave`'s."""
    for seen_in in sources(con, work, last=last):
        keys = f"SELECT project_key FROM {WORK} WHERE work = ? AND seen_in = ? AND NOT done"
        weighed = weighed_keys(con, keys, [work, seen_in], history=work == HISTORY)
        for batch in batched_by_weight(weighed, lambda item: item[1], most):
            if up():
                return
            yield seen_in, [key for key, _ in batch]


def done(con: duckdb.DuckDBPyConnection, keys: list[str], work: str, seen_in: str) -> None:
    """Tick off a batch, in the transaction that wrote its work."""
    con.execute(
        f"""UPDATE {WORK} SET done = true WHERE work = ? AND seen_in = ?
            AND project_key IN (SELECT unnest(?::VARCHAR[]))""",
        [work, seen_in, keys],
    )
