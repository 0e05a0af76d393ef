"""A warehouse rewritten whole when most of the rows it stores are deleted ones.

    if dead_share(path) >= DEAD_SHARE:
        compact(path, memory="64MB", spill=releases / ".spill")

DuckDB does not reclaim the rows a table with a primary key deletes (its index keeps
them), and a run replaces the rows of every project it merges: every run of changes
added its rows again, the old ones kept. 1,800 projects changed before each of 8 runs
made a 545 MB file that holds 25 MB of data (bench/bench_history.py; 166,734 rows stored
for 59,382 live). The way DuckDB's documentation gives, a copy of every table into a new
file, is made when the dead rows are the greater part: a few nights of changes in a
large warehouse copy nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# Rewrite once the deleted rows are this share of the rows stored, or more.
DEAD_SHARE = 0.5


def dead_share(con: duckdb.DuckDBPyConnection) -> float:
    """The share of the rows `con`'s database stores that are deleted (0 to 1), read from
    the storage's metadata (no table is scanned but for its count)."""
    stored = live = 0
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()
    for (table,) in tables:
        stored += con.execute(
            "SELECT coalesce(sum(count), 0) FROM pragma_storage_info(?) "
            "WHERE column_id = 0 AND segment_type <> 'VALIDITY'",
            [table],
        ).fetchone()[0]  # type: ignore[index]
        live += con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # type: ignore[index]
    return 0.0 if stored <= live else (stored - live) / stored


def compact(path: Path, config: dict[str, object], *, row_group: int, storage_version: str) -> None:
    """Rewrite the closed database at `path` with only its live rows, in place (a new file
    renamed over it: a failure leaves the old one whole). `config`: the connection's, so
    that the copy keeps to the build's memory and spills where it does."""
    fresh = path.with_name(path.name + ".compact")
    fresh.unlink(missing_ok=True)
    try:
        with duckdb.connect(config=config) as con:  # type: ignore[arg-type]
            con.execute("ATTACH ? AS source (READ_ONLY)", [str(path)])
            con.execute(
                f"ATTACH ? AS target (STORAGE_VERSION '{storage_version}', "
                f"ROW_GROUP_SIZE {row_group})",
                [str(fresh)],
            )
            con.execute("COPY FROM DATABASE source TO target")
            con.execute("DETACH target")
        os.replace(fresh, path)
    finally:
        fresh.unlink(missing_ok=True)
