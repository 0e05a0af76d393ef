"""Every warehouse table and view as CSV and Parquet, and a Frictionless datapackage.json.

datapackage.json describes the CSV files, the form every Tabular Data Package
reader takes (`frictionless validate datapackage.json` passes; a test runs it):
a missing value is an empty cell, a list is a JSON array (`["AM","GE"]`), a
time is ISO 8601 in UTC. The Parquet files beside them hold the same columns
with DuckDB's own types (lists as lists, decimals as decimals).
"""

from __future__ import annotations

import json
import logging
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

from idf_etl.warehouse.datapackage import INTEGERS, datapackage, field, resource
from idf_etl.warehouse.formulas import CSV_MARK, guarded_sql, runs_as_formula
from idf_etl.warehouse.lean import Lean
from idf_etl.warehouse.rows import scalar
from idf_etl.warehouse.schema import TABLES, VIEWS, Column, view_columns
from idf_etl.warehouse.status import LAST_SITE_READ

log = logging.getLogger(
    "idf_etl.export"
)  # a --log-json contract: fixed, whatever the module is called

# Types whose CSV form is never a formula: numbers, true/false, dates, ids.
_NOT_TEXT = {*INTEGERS, "UTINYINT", "USMALLINT", "UHUGEINT", "FLOAT", "DOUBLE", "BOOLEAN"}
_NOT_TEXT |= {"DATE", "UUID"}
# Rows per Parquet row group and per sorted chunk: a row group is held in memory until
# written, so 2,048 rows (DuckDB's least) keeps the export's memory flat as tables grow.
ROW_GROUP = SORT_CHUNK = 2048
# Not also cut by bytes (row_group_size_bytes): in DuckDB 2.0 it wrote a sorted chunk's rows
# out of their order (tests/warehouse/test_exports.py, open_issues at 32MB).
PARQUET: dict[str, Any] = {"compression": "zstd", "row_group_size": ROW_GROUP}
# The share of the connection's memory limit the export's statements start within, and
# the step it rises by where DuckDB needs more. DuckDB keeps the blocks a statement reads
# cached up to its limit: at 30,000 stored pages one scan of project_pages filled 26 MB of
# 64MB, where at 3,000 the whole file is 15 MB, so the export's peak grew with the store
# (p1: 127 -> 162 MB). Half is too little for long texts: a Parquet row group of 2,048
# descriptions is held whole while written (one page a project: 26 MiB pinned, so 32MB
# failed for every dataset with descriptions, each then written at the whole 64MB with 38 MB
# cached; at 40MB, 6 MB cached). So a dataset that needs more is written again a step
# higher, and the datasets after it start there (the same statements: the same bytes).
LEAN_SHARE = 0.5
LEAN_STEP = 0.125
# A table or view to export: name, comment, what to select from, key, declared columns,
# the order it is written in (never NULL, unique together; empty: its own).
Dataset = tuple[str, str, str, tuple[str, ...], dict[str, Column], tuple[str, ...]]


def export_tables(
    con: duckdb.DuckDBPyConnection,
    release_dir: Path,
    sources: Sequence[str] = (),
    threads: int = 1,
    memory: str | None = None,
) -> Path:
    """Write every table and view as CSV and Parquet, and datapackage.json, into
    release_dir (the release being built, see publish.py); `sources` are the start
    points the data was read from; `threads`: datasets written at once; `memory`: the
    connection's memory limit as set (None: read from DuckDB).

    Nothing an analyst sees changes here: the whole release, warehouse and exports,
    is published at once. Paths go to DuckDB as arguments, never inside SQL text
    (a data directory such as /srv/o'brien/data must work).
    """
    staging = Path(release_dir)
    # Rows committed since the last checkpoint sit in memory DuckDB cannot give back; written
    # to the file first, they leave the memory limit to the export's sorts. (It also fails
    # on uncommitted rows, which the other threads' connections could not see.)
    con.execute("CHECKPOINT")
    for folder in ("csv", "parquet"):
        (staging / folder).mkdir(parents=True, exist_ok=True)
    datasets = _datasets()
    # One DuckDB thread a statement, the datasets spread over the cores instead: a table
    # within one of DuckDB's storage row groups (122,880 rows) gives its threads nothing to
    # split, and joining sorted parts needs them read in order. The exports of a 30,000-page
    # warehouse: 3.2-4.0 s on one thread, 1.8-2.0 s on two (10,000: 0.8-1.1 s, 0.7-0.8 s).
    before = scalar(con, "SELECT current_setting('threads')")
    con.execute("SET threads = 1")
    limit = Lean(con, memory, LEAN_SHARE, LEAN_STEP)
    try:
        written = _export_threaded(con, staging, datasets, threads, limit) if threads > 1 else {}
        # One at a time: every dataset without threads, and those the threads could not
        # write together within the limit, which they share.
        resources = [
            written.get(dataset[0])
            or limit.run(_export, con, staging, *dataset, what=f"export: {dataset[0]}")
            for dataset in datasets
        ]
    finally:
        con.execute(f"SET threads = {int(before)}")
        limit.restore()
    run_id = scalar(con, "SELECT coalesce(max(run_id), 0) FROM runs", default=0)
    read = con.execute(f"SELECT finished_at FROM ({LAST_SITE_READ})").fetchall()
    package = datapackage(resources, sources, int(run_id), read[0][0] if read else None)
    (staging / "datapackage.json").write_text(
        json.dumps(package, indent=2, ensure_ascii=False) + "\n"
    )
    return staging


def _export_threaded(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    datasets: list[Dataset],
    threads: int,
    limit: Lean,
) -> dict[str, dict[str, object]]:
    """_export of each dataset on `threads` threads, a connection each (DuckDB runs a
    statement without the GIL); the resources by name. A dataset for which DuckDB needed
    more memory than the threads left it is left out, for the caller to write alone. On
    the first other failure (or Ctrl-C) the statements still running are interrupted and
    the datasets not started dropped, then that failure is raised."""
    # The datasets with page text one after another, on one thread: two at once can
    # outgrow the run's memory limit (64MB at 30,000 stored pages). The rest beside them.
    wide = [d for d in datasets if "description" in d[4]]
    lanes = [wide, *([d] for d in datasets if d not in wide)]
    # A cursor starts in the connection's first database: it is told the one in use.
    database = scalar(con, "SELECT current_database()")
    cursors = [con.cursor() for _ in range(min(threads, len(lanes)))]
    for cursor in cursors:
        cursor.execute("USE " + _quoted(database))
    free: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
    for cursor in cursors:
        free.put(cursor)

    def export(lane: list[Dataset]) -> list[dict[str, object]]:
        cursor = free.get()  # one is free: a thread holds one at a time
        done = []
        try:
            for dataset in lane:
                try:
                    done.append(
                        limit.run(_export, cursor, staging, *dataset, what=f"export: {dataset[0]}")
                    )
                except duckdb.OutOfMemoryException as exc:
                    # The threads share the memory limit: together they can outgrow
                    # what one at a time fits in. Its files are written again.
                    reason = str(exc).splitlines()[0]
                    log.warning("export: %s: %s; written again alone", dataset[0], reason)
            return done
        finally:
            free.put(cursor)

    pool = ThreadPoolExecutor(len(cursors), thread_name_prefix="export")
    futures = [pool.submit(export, lane) for lane in lanes if lane]
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        return {str(r["name"]): r for future in futures for r in future.result()}
    except BaseException:
        for cursor in cursors:
            cursor.interrupt()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for cursor in cursors:
            cursor.close()


def _export(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    name: str,
    comment: str,
    source: str,
    key: tuple[str, ...],
    declared: dict[str, Column],
    order: tuple[str, ...],
) -> dict[str, object]:
    """One table or view as Parquet and CSV; its datapackage resource."""
    parquet = staging / "parquet" / f"{name}.parquet"
    columns = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    nullable = partial(_declared_nullability, names=[c[0] for c in columns], declared=declared)
    source = nullable(source)
    if order:
        _write_sorted_parquet(con, source, order, parquet, nullable)
    else:
        con.sql(f"SELECT * FROM {source}").write_parquet(str(parquet), **PARQUET)
    # The CSV from the Parquet just written: the same rows in the same order, read as
    # a stream (DuckDB's CSV writer over the table itself buffers far more).
    rows = con.sql("SELECT * FROM read_parquet(?)", params=[str(parquet)])
    write_csv(rows, staging / "csv" / f"{name}.csv")
    fields = [field(c[0], c[1], declared.get(c[0])) for c in columns]
    return resource(name, comment, fields, key)


def _declared_nullability(source: str, names: list[str], declared: dict[str, Column]) -> str:
    """`source` with each column that may hold NULL (declared so, or not declared) said to,
    whatever tonight's rows hold.

    DuckDB writes a Parquet column REQUIRED when its statistics say it holds no NULL:
    a nullable column with no NULL tonight would be REQUIRED tonight and OPTIONAL
    tomorrow, and a reader's schema would change with the data. A CASE on a volatile
    test (never true, never folded away) gives the column NULL-able statistics, the
    values unchanged; NOT NULL columns keep their own, so they are written REQUIRED.
    """
    shown = [
        name
        if name in declared and declared[name].type.endswith("NOT NULL")
        else f"CASE WHEN random() < 0 THEN NULL ELSE {_quoted(name)} END AS {_quoted(name)}"
        for name in names
    ]
    return f"(SELECT {', '.join(shown)} FROM {source})"


def _datasets() -> list[Dataset]:
    """Every table and view, as (name, comment, what to select from, key, declared columns
    by name, order). A table is exported in the order of its key, a view whose rows grow
    with the warehouse in its `sort` order (else its key): its query read without its own
    ORDER BY, which DuckDB would otherwise sort whole first (open_issues: 260,000 problems
    needed more than 64MB)."""
    out: list[Dataset] = []
    for t in TABLES:
        source = f"(SELECT {', '.join(c.name for c in t.columns)} FROM {t.name})"
        out.append((t.name, t.comment, source, t.key, {c.name: c for c in t.columns}, t.key))
    for v in VIEWS:
        columns = {c.name: c for c in view_columns(v)}
        order = v.sort or v.key
        source = f"({v.query})" if order else v.name
        out.append((v.name, v.comment, source, v.key, columns, order))
    return out


def _write_sorted_parquet(
    con: duckdb.DuckDBPyConnection,
    source: str,
    key: tuple[str, ...],
    out: Path,
    nullable: Callable[[str], str] = lambda source: source,
) -> None:
    """`source` ordered by `key` into one Parquet file, SORT_CHUNK rows at a time.

    DuckDB sorts wide rows (descriptions) in memory: one ORDER BY over a whole
    table, or a top-N of its next rows, needs memory that grows with the table
    and runs out under the run's memory limit once project pages pass some
    thousands. So the chunks' last keys are found first, in one sort of the key
    columns alone; then each chunk's rows are read and sorted on their own, and
    the parts are joined by a streaming read. Memory stays flat however large
    the table (the keys are small); time grows with a scan a chunk.

    The chunks are read from that file as first written, never from the warehouse: a
    range of keys read from a table has DuckDB look in its key index (ART), whose parts
    it then keeps in memory, and that index grows with the table (260,000 problems: 16 MB
    of 64MB, with index scans allowed). A view is also computed once, not once a chunk.
    """
    # A table the load wrote in key order (most, as its rows are written key by key) needs
    # no sort: written as it lies, then checked on the file.
    con.sql(f"SELECT * FROM {source}").write_parquet(str(out), **PARQUET)
    if _in_order(con, out, key):
        return
    unsorted = out.with_name(f".{out.stem}.unsorted.parquet")
    os.replace(out, unsorted)
    rows = "read_parquet(?)"
    columns = ", ".join(key)
    # Named, as the key may hold expressions (open_issues' URL with NULLs last).
    aliased = ", ".join(f"{column} AS _k{i}" for i, column in enumerate(key))
    names = ", ".join(f"_k{i}" for i in range(len(key)))
    ends = [
        tuple(row)
        for row in con.execute(
            f"SELECT {names} FROM (SELECT {aliased}, row_number() OVER (ORDER BY {columns}) "
            f"AS n, count(*) OVER () AS total FROM {rows}) "
            f"WHERE n % {SORT_CHUNK} = 0 AND n < total ORDER BY n",  # no empty last chunk
            [str(unsorted)],
        ).fetchall()
    ]
    parts: list[str] = []
    for last, end in zip([(), *ends], [*ends, ()], strict=True):
        lower = _lexical(key, ">", ">") if last else "true"
        upper = f" AND {_lexical(key, '<', '<=')}" if end else ""
        part = out.with_name(f".{out.stem}.{len(parts):06d}.parquet")
        con.sql(
            f"SELECT * FROM {nullable(rows)} WHERE {lower}{upper} ORDER BY {columns}",
            params=[str(unsorted), *_lexical_args(last), *_lexical_args(end)],
        ).write_parquet(str(part), **PARQUET)
        parts.append(str(part))
    unsorted.unlink()
    if len(parts) == 1:  # a table of one chunk (most, on the live site's scale)
        os.replace(parts[0], out)
        return
    # On one DuckDB thread (export_tables): several would each read ahead a part, all
    # held to keep the parts' order. Each part read on its own: a read of several files at
    # once has no statistics, and every column would be written OPTIONAL, NOT NULL ones too.
    # (A part's statistics say which columns hold no NULL in it: `nullable` again.)
    union = " UNION ALL ".join("SELECT * FROM read_parquet(?)" for _ in parts)
    con.sql(f"SELECT * FROM {nullable(f'({union})')}", params=parts).write_parquet(
        str(out), **PARQUET
    )
    for name in parts:
        Path(name).unlink()


def _in_order(con: duckdb.DuckDBPyConnection, parquet: Path, key: tuple[str, ...]) -> bool:
    """Whether the file's rows are in ascending order of `key` (read on the key columns)."""
    row = f"({', '.join(key)})"
    out_of_order = scalar(
        con,
        f"SELECT count(*) FROM (SELECT {row} AS k, lag({row}) OVER (ORDER BY file_row_number) "
        "AS prev FROM read_parquet(?, file_row_number = true)) WHERE prev >= k",
        [str(parquet)],
    )
    return bool(out_of_order == 0)


def _lexical(key: tuple[str, ...], op: str, last_op: str) -> str:
    """`key` compared with as many values, column by column: `(a, b) > (?, ?)` written out,
    since DuckDB 2.0 fails on a row value between two others ("Invalid type for BETWEEN")."""
    *init, tail = key
    expr = f"{tail} {last_op} ?"
    for column in reversed(init):
        expr = f"({column} {op} ? OR ({column} = ? AND {expr}))"
    return expr


def _lexical_args(values: tuple[object, ...] | list[object]) -> list[object]:
    """The parameters of `_lexical` for these key values."""
    return [v for value in values[:-1] for v in (value, value)] + list(values[-1:])


def write_csv(rows: duckdb.DuckDBPyRelation, out: Path) -> None:
    """`rows` as CSV in the one dialect of every CSV idf-etl writes (the exports and
    `idf-etl sql --csv`): a header row; a missing value an empty cell, an empty text `""`;
    `true`/`false`; a time ISO 8601 in UTC (`2026-12-05T20:47:53Z`); a list (or struct) as
    JSON (`["MD","RO"]`); a text a spreadsheet would run as a formula behind an apostrophe.
    Written by DuckDB as a stream, whatever the size."""
    # A header is a cell too: `sql --csv` names columns after data (PIVOT ... ON title).
    shown = [
        f"{_csv_expression(_quoted(name), str(kind))} AS "
        + _quoted(CSV_MARK + name if runs_as_formula(name) else name)
        for name, kind in zip(rows.columns, rows.types, strict=True)
    ]
    rows.project(", ".join(shown)).write_csv(str(out), header=True)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_expression(name: str, duckdb_type: str) -> str:
    """The CSV form of the column `name` (an SQL identifier, quoted) of this DuckDB type:
    an SQL expression, unnamed."""
    if duckdb_type.endswith("]") or duckdb_type.startswith(("STRUCT(", "MAP(")):
        return f"to_json({name})"  # starts with [ or {: never a formula
    if duckdb_type == "TIMESTAMP WITH TIME ZONE":
        return f"strftime({name} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')"
    if duckdb_type in _NOT_TEXT or duckdb_type.startswith(("DECIMAL", "TIMESTAMP", "TIME")):
        return name  # a negative number stays a number
    # Any other type is text in a spreadsheet (VARCHAR, an ENUM, JSON, an INTERVAL such
    # as '-1 day'), guarded; parquet/ stays exact.
    return guarded_sql(f"CAST({name} AS VARCHAR)")
