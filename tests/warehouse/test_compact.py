"""The warehouse does not grow with the runs, only with its data: a table with a primary
key keeps every row a run replaces (DuckDB reclaims none), so the file is rewritten
without them once they are the greater part (bench/bench_history.py: 545 MB holding 25 MB
after 8 runs of changes)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

from idf_etl.warehouse.compact import DEAD_SHARE, dead_share
from idf_etl.warehouse.publish import Publisher, readable_by_oldest_reader
from idf_etl.warehouse.schema import create_schema
from tests.helpers.cli import idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

PROJECTS = 30
RUNS = 10


def pages(run: int) -> list[tuple[str, bytes]]:
    """Every project's page, its budget and its description changed by `run`."""
    return [
        (
            f"https://developmentfund.iom.int/project/p{i:03d}",
            drupal_page(
                [
                    field_html("Project ID", f"CE.{i:04d}"),
                    field_html("Budget Amount (USD)", f"{100000 + 1000 * run + i}.00"),
                    field_html("Project Status", "Active"),
                ],
                title=f"Project {i}",
                body=f"Run {run} wrote this description of project {i}. " * 40,
            ).encode(),
        )
        for i in range(PROJECTS)
    ]


def published(data: Path) -> Path:
    return (data / "clean" / "idf.duckdb").resolve()


@pytest.mark.slow
def test_runs_of_changes_leave_a_file_whose_rows_are_mostly_live(tmp_path):
    data = tmp_path / "data"
    shares, sizes = [], []
    for run in range(RUNS):
        store_pages(data / "raw", pages(run))
        proc = idf_etl(
            "run", "--from-raw", "--json", "--data-dir", str(data), "--set", "report=false",
            cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads(proc.stdout.splitlines()[-1])["outcome"] == "success"
        with duckdb.connect(str(published(data)), read_only=True) as con:
            shares.append(dead_share(con))
            counts = con.execute(
                "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM project_versions),"
                " (SELECT count(*) FROM project_changes WHERE field = 'budget_usd'),"
                " (SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'),"
                " (SELECT count(*) FROM duckdb_views() WHERE NOT internal)"
            ).fetchone()
        sizes.append(published(data).stat().st_size)
        projects, versions, changes, keys, views = counts
        # Nothing of the history is lost, nor any key or view, whatever was rewritten.
        assert (projects, versions, changes) == (PROJECTS, PROJECTS * (run + 1), PROJECTS * run)
        assert keys >= 8 and views > 0, counts
        assert readable_by_oldest_reader(published(data))
        if run and shares[-1] < shares[-2]:
            assert "rewrote the warehouse without its deleted rows" in proc.stderr
    # Each run replaces every project's rows: without the rewrite, the dead share grows run
    # by run (0.20, 0.29, 0.35, 0.40, 0.44, 0.47, 0.50, 0.52, 0.55 after runs 2-10).
    assert all(share < 0.5 for share in shares), shares
    assert max(sizes) < 3 * min(sizes[1:]), sizes


def test_a_rewrite_that_fails_publishes_the_file_as_built_and_says_so(tmp_path):
    publisher = Publisher(tmp_path / "clean")
    con = duckdb.connect(str(publisher.prepare()))
    create_schema(con)
    con.execute("INSERT INTO runs (run_id, started_at, mode) VALUES (1, now(), 'from-raw')")
    con.execute("DELETE FROM runs")  # all of its rows dead: it would be rewritten
    publisher.publish(con, 1, {"memory_limit": "no such size"})
    assert publisher.compacted is None
    [note] = publisher.notes
    assert note.startswith("the warehouse was not rewritten without its deleted rows (")
    assert note.endswith("published as built, and the next run tries again")
    with duckdb.connect(str(publisher.published), read_only=True) as check:
        assert check.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_rewrite_past_the_runs_time_is_left_to_the_next_run_and_said(tmp_path):
    """A rewrite takes as long as the whole file: past run_timeout (`compact_until`) the run
    publishes the file as built, says so, and the next run rewrites it."""
    clean = tmp_path / "clean"
    publisher = Publisher(clean)
    con = duckdb.connect(str(publisher.prepare()))
    create_schema(con)
    con.execute("INSERT INTO runs (run_id, started_at, mode) VALUES (1, now(), 'from-raw')")
    con.execute("DELETE FROM runs")  # all of its rows dead: it would be rewritten
    config = {"memory_limit": "64MB"}
    publisher.publish(con, 1, config, compact_until=time.monotonic() - 1)
    assert publisher.compacted is None
    [note] = publisher.notes
    assert note.startswith("the warehouse was not rewritten without its deleted rows (")
    assert note.endswith("run_timeout reached; the next run rewrites it")
    with duckdb.connect(str(publisher.published), read_only=True) as check:
        assert check.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    # A run with time left rewrites it.
    again = Publisher(clean)
    con = duckdb.connect(str(again.prepare()))
    con.execute("INSERT INTO runs (run_id, started_at, mode) VALUES (2, now(), 'from-raw')")
    con.execute("DELETE FROM runs")
    assert dead_share(con) >= DEAD_SHARE
    again.publish(con, 2, config, compact_until=time.monotonic() + 3600)
    assert again.compacted is not None and not again.notes
