"""`idf-etl report`: the warehouse as one self-contained HTML page of charts and tables.

    info = write_report(con, Path("data/clean/report.html"))

`con` is a DuckDB connection the report only reads from: the CLI opens the
published warehouse read-only; `idf-etl run` passes the copy it is about to
publish (see pipeline/run.py), so the report and the warehouse beside it always
hold the same data. Every query is in queries.py, the charts in charts.py, the
page in templates/. No stage of the pipeline depends on this package.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from idf_etl.errors import ReportError
from idf_etl.report.queries import QUERIES
from idf_etl.workers import kill_pool, worker_setup

REPORT_NAME = "report.html"
# The page takes 1-3 s to draw (3,000 projects: bench/bench_report.py); past this, its chart
# engine is stuck, and the run goes on without a new report.
RENDER_SECONDS = 300.0
T = TypeVar("T")

__all__ = ["REPORT_NAME", "ReportInfo", "write_report"]


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    size: int
    seconds: float


def write_report(
    con: duckdb.DuckDBPyConnection, out: Path, *, seconds: float = RENDER_SECONDS
) -> ReportInfo:
    """Query the warehouse, render the page (in a child process, given `seconds`), and put
    it at `out` in one rename.

    Raises ReportError, whatever the cause (a query, a chart, the disk, the time): the
    report is an extra, and its callers decide how much a failure matters.
    """
    started = time.perf_counter()
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    try:
        # Altair and vl-convert take seconds to import: only where a report is made.
        from idf_etl.report.page import render

        con.execute("SET TimeZone = 'UTC'")
        data = {name: _rows(con, sql) for name, sql in QUERIES.items()}
        html = in_child(render, data, datetime.now(UTC), seconds=seconds)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(html, encoding="utf-8")
        os.replace(partial, out)
    except Exception as exc:  # the report's contract: every failure is a ReportError
        partial.unlink(missing_ok=True)
        raise ReportError(f"cannot build the report {out}: {exc}") from exc
    return ReportInfo(out, len(html.encode()), time.perf_counter() - started)


def in_child(fn: Callable[..., T], *args: object, seconds: float) -> T:
    """fn(*args) in a child process, killed after `seconds` (a ReportError then).

    The charts are drawn by vl-convert's JavaScript engine, which keeps the
    interpreter's lock while it works: a thread could not be timed out, and a
    stuck engine would hold the nightly run (and its lock) for good. The child
    is killed on every way out but its answer (Ctrl-C included), and dies with
    this process.
    """
    context = multiprocessing.get_context("spawn")  # nothing of the run's DuckDB inherited
    pool = ProcessPoolExecutor(
        1, mp_context=context, initializer=worker_setup, initargs=(os.getpid(),)
    )
    future = None
    try:
        future = pool.submit(fn, *args)
        return future.result(timeout=seconds)
    except FutureTimeout:
        raise ReportError(f"the page was not drawn within {seconds:.0f}s") from None
    finally:
        if future is not None and future.done():
            pool.shutdown(wait=True)
        else:
            kill_pool(pool)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    relation = con.execute(sql)
    names = [d[0] for d in relation.description or []]
    return [dict(zip(names, values, strict=True)) for values in relation.fetchall()]
