"""The memory a run's warehouse build may use: warehouse_memory, and more when DuckDB needs it.

`build_within_memory(build, memory)` calls `build(limit)` (run.py's build and publish) and
builds again with more where DuckDB needed it; `batch_bytes(memory)` is the page text one
load or merge batch may hold, and `load_batches` cuts the parsed pages by it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import duckdb

from idf_etl.config import memory_amount, memory_bytes
from idf_etl.errors import LoadError
from idf_etl.load.batches import Weight, batched_by_weight
from idf_etl.load.parsed import ParsedPage
from idf_etl.pipeline.summary import RunResult

log = logging.getLogger(
    "idf_etl.pipeline"
)  # a --log-json contract: fixed, whatever the module is called
WAREHOUSE_THREADS = 1  # DuckDB threads of the building connection (see building_config)


class OutOfMemory(LoadError):
    """DuckDB needed more than warehouse_memory: the build is discarded, nothing published."""

    reason = ""
    memory = ""  # the limit it needed more than (the export's may be above the build's)


# DuckDB mostly says so with OutOfMemoryException, but in other types too, each of which once
# failed a run: a COMMIT that cannot pin a block, as a TransactionException ("Failed to
# commit: failed to pin block of size 256.0 KiB (60.9 MiB/61.0 MiB used)"); a CHECKPOINT
# that cannot allocate, as a FatalException ("Failed to create checkpoint ... failed to
# allocate data of size 16.4 MiB (51.5 MiB/61.0 MiB used)"). Each names the buffer
# manager's limit: "(X/Y used)".
_OUT_OF_MEMORY = (
    "failed to pin block",
    "could not allocate block",
    "failed to allocate data",
    "out of memory",
)


_LIMIT = re.compile(r"\([\d.]+ [KMGTP]?i?B/[\d.]+ [KMGTP]?i?B used\)")


def building_config(memory: str, spill: Path) -> dict[str, str | bool | int | float | list[str]]:
    """The DuckDB configuration of the connection that builds a run's warehouse, its
    memory bounded by `memory` (warehouse_memory), spilling into `spill`."""
    # DuckDB caches the database up to its memory limit (80 % of RAM by default), so a
    # run's memory would grow with the warehouse; bounded, it spills to disk instead.
    # One thread: its statements here are a batch each, where more threads cost more
    # than they give, and the parse workers have the cores (bench/bench_load.py).
    return {
        "memory_limit": memory,
        "threads": WAREHOUSE_THREADS,
        # Spilled to the data directory's disk (never /tmp, often a small tmpfs).
        "temp_directory": str(spill),
        # Committed rows stay in memory until a checkpoint writes them to the file:
        # checkpointed at a quarter of the limit, they never crowd out a batch.
        "checkpoint_threshold": f"{max(1, batch_bytes(memory) // 1000)}KB",
        # Never an index scan: it loads the key index (ART) of the table into memory that
        # stays taken until the next checkpoint, and an index grows with its table (the
        # export's first sorted chunk of 260,000 problems kept 16 MB of 64MB, and the
        # exports beside it ran out). A scan reads a table in bounded memory whatever its
        # size; the indexes are still kept, and checked on every insert.
        "index_scan_max_count": 0,
        "index_scan_percentage": 0,
    }


def needs_memory(exc: duckdb.Error) -> bool:
    """Whether DuckDB failed for want of memory (whatever exception type it used)."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return True
    text = str(exc)
    return bool(_LIMIT.search(text)) or any(words in text.lower() for words in _OUT_OF_MEMORY)


def out_of_memory(memory: str, exc: duckdb.Error) -> OutOfMemory:
    """The error for a build that needed more than `memory`, saying what to do."""
    reason = str(exc).splitlines()[0]
    error = OutOfMemory(
        f"DuckDB needed more than warehouse_memory = {memory} to "
        f"build the warehouse ({reason}). Raise it, e.g. `--set warehouse_memory=512MB` "
        "or in the pipeline file; the published warehouse is unchanged"
    )
    error.reason = f"DuckDB needed more than {memory} ({reason})"
    error.memory = memory
    return error


def build_within_memory(
    build: Callable[[str], RunResult],
    memory: str,
    most: str | None = None,
    needed: str | None = None,
) -> tuple[RunResult, str]:
    """build(memory); where DuckDB needs more (a statement it cannot spill: a hash
    aggregate over long texts takes 16MB at once), built again with twice as much, up to
    `most` (max_warehouse_memory; None: a quarter of the machine's memory). The limit keeps
    a run's memory flat; it is never the reason a nightly run fails while the machine has
    the memory. `needed`: what the last build was made with, where more than `memory`:
    started there, since a build given up restarts from nothing, and under run_timeout
    every night gave up its first build and parsed nothing (adversary, issue 22). Returns
    the result and the limit it was built with."""
    limit = start = start_with(memory, most, needed)
    while True:
        try:
            result = build(limit)
        except OutOfMemory as exc:
            bigger = twice(exc.memory or limit)
            if memory_bytes(bigger) > ceiling(most):
                if (exc.memory or limit) == memory:
                    raise
                raise OutOfMemory(
                    f"{exc.reason}, after warehouse_memory = {memory} was raised as far as "
                    f"{_ceiling_name(most)} allows. Raise max_warehouse_memory, e.g. "
                    f"`--set max_warehouse_memory={twice(bigger)}`, or warehouse_memory; "
                    "the published warehouse is unchanged"
                ) from exc
            log.warning("run: note: %s; building it again with %s", exc.reason, bigger)
            limit = bigger
            continue
        if limit != memory:
            note = f"the warehouse needed more than warehouse_memory = {memory}: built with {limit}"
            if limit == start:
                # Not tried at `memory` this run: started where the last build ended
                # (adversary: 16MB on a store a 64MB build left, said it needed more).
                note += ", where the last build needed it (not tried lower this run)"
            log.warning("run: note: %s", note)
            result.notes.append(note)
        return result, limit


def start_with(memory: str, most: str | None, needed: str | None) -> str:
    """The limit a build starts with: `needed` (stored by an earlier run) where it reads,
    is more than `memory` and within the ceiling, else `memory`."""
    try:
        wanted = memory_bytes(needed) if needed else 0
    except (AttributeError, ValueError, KeyError):  # a stored value edited by hand: not used
        return memory
    return needed if needed and memory_bytes(memory) < wanted <= ceiling(most) else memory


def export_within_memory(
    con: duckdb.DuckDBPyConnection,
    export: Callable[[duckdb.DuckDBPyConnection, str], object],
    reconnect: Callable[[str], duckdb.DuckDBPyConnection],
    memory: str,
    most: str | None,
) -> tuple[duckdb.DuckDBPyConnection, str]:
    """export(con, its memory limit); where DuckDB needs more, done again on a new connection to the same
    built warehouse (`reconnect(limit)`) with twice as much, up to `most`: the exports'
    floor is a Parquet row group of 2,048 of the widest rows, and building again would
    parse the whole store again for it. Returns the connection in use and its limit; on a
    failure it is closed, and the limit it failed at is the OutOfMemory's."""
    limit = memory
    while True:
        try:
            export(con, limit)
            return con, limit
        except duckdb.Error as exc:
            bigger = twice(limit)
            if not needs_memory(exc) or memory_bytes(bigger) > ceiling(most):
                if limit == memory:
                    raise  # on the connection the build gave, which it closes
                con.close()
                if needs_memory(exc):
                    raise out_of_memory(limit, exc) from exc
                raise
            reason = str(exc).splitlines()[0]
            log.warning(
                "run: note: DuckDB needed more than %s to export the warehouse (%s); "
                "exporting it again with %s",
                limit,
                reason,
                bigger,
            )
            con.close()  # the building file is DuckDB's one at a time
            con = reconnect(bigger)
            limit = bigger


def ceiling(most: str | None) -> int:
    """The most warehouse_memory is raised to: max_warehouse_memory, else a quarter of the
    machine's memory."""
    return memory_bytes(most) if most is not None else _machine_memory() // 4


def _ceiling_name(most: str | None) -> str:
    if most is not None:
        return f"max_warehouse_memory = {most}"
    return "max_warehouse_memory (unset: a quarter of this machine's memory)"


def _machine_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # not on this system: assume a small machine
        return 2 * 2**30


def twice(memory: str) -> str:
    """'8MB' -> '16MB', '1.5GB' -> '3GB': twice the limit, in the unit it was given in."""
    number, unit = memory_amount(memory)
    return f"{2 * number:.6f}".rstrip("0").rstrip(".") + unit  # never '1e+06'


def batch_bytes(memory: str) -> int:
    """The page text a batch may hold: a sixteenth of the warehouse's memory limit. A batch's
    rows stay in memory until it commits, which DuckDB cannot spill (1,000 pages of 20 KB
    of description each are 20MB whatever the limit), and the merge of a batch holds
    about four times its text (window, aggregates, the rows it writes)."""
    return max(1, memory_bytes(memory) // 16)


def page_weight(page: ParsedPage) -> Weight:
    """A parsed page in a load batch: a row, and the text of it the batch holds in memory
    (its description and title)."""
    record = page.record
    if record is None:
        return Weight(1, 0)
    description = getattr(record, "description", None) or ""
    return Weight(1, len(description) + len(record.title or ""))


def load_batches(pages: Iterable[ParsedPage], size: int, memory: str) -> Iterator[list[ParsedPage]]:
    """The parsed pages in load batches of at most `size` pages and `batch_bytes(memory)`
    of their text (a page heavier than that alone)."""
    return batched_by_weight(pages, page_weight, Weight(size, batch_bytes(memory)))
