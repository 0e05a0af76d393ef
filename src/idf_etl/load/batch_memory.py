"""The memory of the merge's batches: each within a lean limit, rolled back and done again
at the whole limit where DuckDB needs more.

The merge and the history's rebuild read whole tables for a batch's rows (semi-joins),
and DuckDB caches what they read up to its limit: one page a project at 30,000 stored
pages cached 49 MB of 64MB, where 3,000 pages cached 10-22 MB, so the run's peak grew
with the store. Within MERGE_SHARE of the limit (40MB of 64MB), the same batches merged
with 26 MB cached (warehouse/lean.py says how the limit steps up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

from idf_etl.warehouse.lean import Lean

MERGE_SHARE = 0.625
T = TypeVar("T")


class LeanBatches:
    """Batches run within MERGE_SHARE of the connection's limit `memory` (None: as DuckDB
    reads it); a batch that needs more is rolled back to its start, the counts of `counts`
    (an object counting into its attributes) put back, and done again at the whole limit,
    which the batches after it keep. With `rollback` False (a load that commits once, at
    its end) a batch cannot be undone alone: the whole limit from the first."""

    def __init__(self, con: duckdb.DuckDBPyConnection, memory: str | None, *, rollback: bool):
        self.con = con
        self.rollback = rollback
        share = MERGE_SHARE if rollback else 1.0
        self.limit = Lean(con, memory, share, step=1 - MERGE_SHARE)
        self._whole()  # lean only while a batch runs

    def _whole(self) -> None:
        # Between batches (the weighing of the next keys, the issues, the commit and its
        # checkpoint) the whole limit: nothing there is done again where DuckDB runs out.
        self.con.execute(f"SET memory_limit = '{self.limit.full}'")

    def run(self, do: Callable[..., T], *args: Any, counts: object = None, what: str = "") -> T:
        """do(*args) as one batch (see the class)."""
        if self.rollback:
            # What came before the batch (the weighing of its keys, `finish`'s work before
            # the first) is committed first: a batch undone is undone alone.
            self.con.execute("COMMIT")
            self.con.execute("BEGIN TRANSACTION")
        saved = dict(vars(counts)) if counts is not None else {}

        def undo() -> None:
            self.con.execute("ROLLBACK")
            self.con.execute("BEGIN TRANSACTION")
            if counts is not None:
                vars(counts).update(saved)

        self.limit.hold()
        done = self.limit.run(do, *args, undo=undo, what=what)
        self._whole()
        return done

    def restore(self) -> None:
        """The connection's own limit again."""
        self.limit.restore()
