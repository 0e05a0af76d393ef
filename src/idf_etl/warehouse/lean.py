"""A stage's memory limit kept lean: a share of the connection's limit at first, a step
higher each time DuckDB needs more, up to the whole of it.

DuckDB keeps the blocks a statement reads cached up to its memory limit. A stage that
reads tables growing with the warehouse (the export, the merge) had its peak memory grow
with them until the cache reached the limit, though what its statements need at once is
bounded by a batch or a row group. Run within a share of the limit, the cache is held to
it; a statement that needs more is done again higher.

    limit = Lean(con, "64MB", share=0.5, step=0.125)
    limit.run(write, dataset)        # at 32MB; where DuckDB needs more, again at 40MB ...
    limit.restore()                  # the connection's own limit again
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import duckdb

from idf_etl.config import memory_bytes
from idf_etl.warehouse.rows import scalar

log = logging.getLogger("idf_etl.export")  # a --log-json contract: the export's, where it began

T = TypeVar("T")


class Lean:
    """A connection's memory limit for one stage: `share` of `full` at first, `step` of it
    higher each time a call needs more (that call done again), up to the whole. Shared by a
    stage's threads: the limit is the database's, and it only rises."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, full: str | None, share: float, step: float
    ) -> None:
        self.con = con
        # The limit as the caller set it: read back from DuckDB it is rounded (16MB comes
        # back as 15.2 MiB), and set again from that it would be less than it was.
        self.full = full or str(scalar(con, "SELECT current_setting('memory_limit')"))
        try:
            self._bytes: int | None = memory_bytes(self.full)
        except (AttributeError, KeyError):  # a limit written in a way we do not read
            self._bytes = None
        self.share = share if self._bytes is not None else 1.0
        self.step = step
        self._lock = threading.Lock()
        self._apply()  # DuckDB also drops what it cached beyond it

    @property
    def limit(self) -> str:
        if self._bytes is None or self.share >= 1:
            return self.full
        return f"{int(self._bytes * self.share)}B"

    def run(
        self,
        do: Callable[..., T],
        *args: object,
        undo: Callable[[], None] | None = None,
        what: str = "",
    ) -> T:
        """do(*args); where DuckDB needed more than the limit it ran at, `undo()` (what it
        left half done) and again a step higher, until it has run at the whole limit.
        `what`: the work's name, for the log."""
        while True:
            share = self.share
            try:
                return do(*args)
            except duckdb.OutOfMemoryException as exc:
                if share >= 1:
                    raise
                if undo is not None:
                    undo()  # first: DuckDB takes no statement in an aborted transaction
                self._step_up(share)
                reason = str(exc).splitlines()[0]
                log.debug("%s: %s; again at %s", what, reason, self.limit)

    def hold(self) -> None:
        """The limit where it stands set again (a caller may have set another meanwhile)."""
        with self._lock:
            self._apply()

    def restore(self) -> None:
        """The connection's own limit again."""
        with self._lock:
            self.share = 1.0
            self._apply()

    def _step_up(self, share: float) -> None:
        """A step up from `share`, unless another thread has raised it since."""
        with self._lock:
            if self.share == share:
                self.share = min(1.0, share + self.step)
                self._apply()

    def _apply(self) -> None:
        if self._bytes is not None:
            self.con.execute(f"SET memory_limit = '{self.limit}'")
