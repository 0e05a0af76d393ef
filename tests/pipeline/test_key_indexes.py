"""A key index (DuckDB's ART) grows with its table, and what DuckDB holds of one stays taken
until the next checkpoint: the building connection never has one loaded for a read, and
the problem lifecycle commits (and checkpoints) a chunk at a time, so a run's memory does
not grow with the problems it tracks (issue 22: 260,000 problems held 16 MB of 64MB, and
the exports beside them ran out of memory).

On a real DuckDB file, the connection made as `idf-etl run` makes it (building_config);
what DuckDB holds of an index is read from duckdb_memory() (its ART_INDEX tag).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from idf_etl.load.problems import track_problems
from idf_etl.pipeline.memory import building_config
from idf_etl.warehouse.export import export_tables
from idf_etl.warehouse.schema import create_schema

NOW = datetime(2026, 12, 6, tzinfo=UTC)
PROBLEMS = 30_000  # an index of this many keys holds about 2 MB


def index_bytes(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute(
        "SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'ART_INDEX'"
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def building(path: Path, memory: str = "64MB") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config=building_config(memory, path.parent / ".spill"))
    con.execute("ATTACH ? AS building", [str(path)])
    con.execute("USE building")
    con.execute("SET TimeZone = 'UTC'")
    return con


def write_issues(con: duckdb.DuckDBPyConnection, run_id: int, urls: int) -> None:
    """`urls` pages with one unmatched country each, found by run `run_id`."""
    con.execute(
        "INSERT INTO runs (run_id, started_at, mode) VALUES (?, ?, 'from-raw')", [run_id, NOW]
    )
    con.execute(
        """INSERT INTO issues (run_id, found_at, stage, severity, url, code, field, message)
           SELECT ?, ?, 'parse', 'warning', 'https://www.iom.int/project/p' || i,
                  'unmatched_country', 'states', 'Atlantis ' || i || ' is not a country'
           FROM range(?) t(i)""",
        [run_id, NOW, urls],
    )


def test_the_export_reads_every_table_without_loading_its_key_index(tmp_path):
    path = tmp_path / "w.duckdb"
    con = building(path)
    create_schema(con)
    con.execute("BEGIN TRANSACTION")
    write_issues(con, 1, PROBLEMS)
    track_problems(con, 1, NOW, network=False, failing_urls=set())
    con.execute("COMMIT")
    con.close()
    # A new connection: only what the export reads is in memory.
    con = building(path)
    assert index_bytes(con) == 0
    export_tables(con, tmp_path / "release", threads=1)
    # Its sorted chunks of problems (in problem_id order, the key) read by a scan each:
    # an index scan would have loaded the key index of the whole table.
    assert index_bytes(con) == 0
    assert (tmp_path / "release" / "parquet" / "problems.parquet").exists()
    con.close()


@pytest.mark.parametrize("runs", [1, 3])
def test_tracked_problems_leave_no_key_index_in_memory(tmp_path, runs):
    """Every chunk committed and checkpointed: the new keys join the table's index on disk,
    none is held in memory afterwards; the verdicts are those of one transaction."""
    con = building(tmp_path / "w.duckdb")
    create_schema(con)

    def commit() -> None:
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        con.execute("BEGIN TRANSACTION")

    con.execute("BEGIN TRANSACTION")
    for run_id in range(1, runs + 1):
        # Each run finds the first pages' problems again and some new ones; a page the run
        # parsed without its problem has it resolved.
        write_issues(con, run_id, PROBLEMS - 5_000 * (run_id - 1))
        counts = track_problems(
            con,
            run_id,
            NOW,
            network=False,
            failing_urls=set(),
            reparsed={f"https://www.iom.int/project/p{i}" for i in range(PROBLEMS)},
            commit=commit,
        )
        assert index_bytes(con) < 256 * 1024, f"run {run_id}: {index_bytes(con):,} bytes"
        assert counts.opened == (PROBLEMS if run_id == 1 else 0)
        assert counts.resolved == (0 if run_id == 1 else 5_000)
        assert counts.still_open == PROBLEMS - 5_000 * (run_id - 1)
    con.execute("COMMIT")
    assert con.execute(
        "SELECT count(*), count(DISTINCT problem_id), max(runs) FROM problems"
    ).fetchone() == (PROBLEMS, PROBLEMS, runs)
    con.close()
