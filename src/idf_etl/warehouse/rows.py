"""Rows in and out of the warehouse: bulk upsert by a table's key, rows as dicts, issue rows.

Shared by the load (load/loader.py, load/projects.py), the problem lifecycle and the
status commands, so none of them imports another's stage.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb

from idf_etl.warehouse.schema import table

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

    def row(self, run_id: int, found_at: datetime, project_key: str | None = None) -> Row:
        """The `issues` row: what the run adds to what was found (`project_key` when the
        issue does not name its own)."""
        return {
            "run_id": run_id,
            "found_at": found_at,
            "stage": self.stage,
            "severity": self.severity,
            "url": self.url,
            "project_id": self.project_id,
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "project_key": self.project_key or project_key,
        }


def upsert(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    rows: Iterable[Row],
    *,
    existing: Container[Any] | None = None,
) -> int:
    """Insert or replace rows by the table's key, in bulk; the last row of a key wins.

    Each batch is de-duplicated by key first: in one statement DuckDB keeps the
    first of two rows with the same key, silently. `existing`: the keys (a tuple for a
    two-column key) the caller knows are in the table; rows of any other key are
    appended without being looked for (an appender that upserts costs twice as much:
    bench/bench_load.py). None: every key is looked for."""
    t = table(table_name)
    # The file's column order: a migrated table has its added columns at the end.
    names = con.table(table_name).columns
    unique: dict[Any, Row] = {}
    for i, row in enumerate(rows):
        key = tuple(row[k] for k in t.key)
        unique[(key[0] if len(key) == 1 else key) if t.key else i] = row
    looked_for: list[Row] = []
    appended: list[Row] = []
    for key, row in unique.items():
        known = t.key and (existing is None or key in existing)
        (looked_for if known else appended).append(row)
    batches: tuple[tuple[Literal["upsert", "insert"], list[Row]], ...] = (
        ("upsert", looked_for),
        ("insert", appended),
    )
    for action, batch in batches:
        if batch:
            with con.appender(table_name, action=action) as appender:
                appender.append_rows([tuple(map(row.get, names)) for row in batch])
    return len(unique)


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
