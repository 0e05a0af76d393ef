"""Rows in and out of the warehouse: bulk upsert by a table's key, rows as dicts, issue rows.

Shared by the load (load.py, projects.py), the problem lifecycle and the
status commands, so none of them imports another's stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from idf_etl.warehouse import table

Row = dict[str, Any]


@dataclass
class Issue:
    """One row of `issues` before it is written (the run fills in run_id and found_at)."""

    stage: str
    severity: str
    code: str
    message: str
    url: str | None = None
    project_id: str | None = None
    field: str | None = None
    project_key: str | None = None


def upsert(
    con: duckdb.DuckDBPyConnection, table_name: str, rows: Iterable[Row], *, new: bool = False
) -> int:
    """Insert or replace rows by the table's key, in bulk; the last row of a key wins.

    Each batch is de-duplicated by key first: in one statement DuckDB keeps the
    first of two rows with the same key, silently. `new`: the caller knows that no
    key is in the table yet, so the rows are appended without looking for them (an
    appender that upserts costs twice as much: bench/bench_load.py)."""
    t = table(table_name)
    # The file's column order: a migrated table has its added columns at the end.
    names = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
            [table_name],
        ).fetchall()
    ]
    if t.key:
        unique: dict[tuple[Any, ...], Row] = {}
        for row in rows:
            unique[tuple(row[k] for k in t.key)] = row
        batch: Sequence[Row] = list(unique.values())
    else:
        batch = list(rows)
    if batch:
        with con.appender(
            table_name, action="upsert" if t.key and not new else "insert"
        ) as appender:
            appender.append_rows([tuple(row.get(n) for n in names) for row in batch])
    return len(batch)


def scalar(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None, default: Any = None
) -> Any:
    """The first column of the first row, or `default` when there is none.

    The whole result is read: since DuckDB 2.0 a result read only in part (a bare
    `fetchone()`) keeps the connection busy, and the next relation on it (an export's
    `con.sql(...).write_parquet`) fails with "connection has an unfinished result"."""
    rows = con.execute(query, params or []).fetchall()
    return rows[0][0] if rows else default


def query_dicts(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
) -> list[Row]:
    """Rows as {column: value} dicts."""
    relation = con.execute(query, params or [])
    names = [d[0] for d in relation.description or []]
    return [dict(zip(names, values, strict=True)) for values in relation.fetchall()]
