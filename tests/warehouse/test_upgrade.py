"""A warehouse written by the previous release upgrades in place and keeps every run and change."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest

from idf_etl.errors import LoadError
from idf_etl.warehouse.migrations import MIGRATIONS, SCHEMA_VERSION
from idf_etl.warehouse.schema import TABLES, VIEWS, create_schema, stored_version
from tests.pipeline.test_pipeline import query, run

V1 = Path(__file__).parents[1] / "fixtures" / "warehouse_v1" / "idf.duckdb.gz"


def v1_warehouse(data_dir: Path) -> Path:
    path = data_dir / "clean" / "idf.duckdb"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.decompress(V1.read_bytes()))
    return path


def columns(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str, bool]]:
    return set(
        con.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns()"
        ).fetchall()
    )


def test_migrated_previous_release_has_the_columns_of_a_new_warehouse(tmp_path):
    con = duckdb.connect(str(v1_warehouse(tmp_path)))
    assert stored_version(con) == 1

    done = create_schema(con)

    assert len(done) == SCHEMA_VERSION - 1 and "version 2" in done[0]
    fresh = duckdb.connect()
    create_schema(fresh)
    assert columns(con) == columns(fresh)
    assert stored_version(con) == SCHEMA_VERSION
    for view in VIEWS:
        con.execute(f"SELECT * FROM {view.name}").fetchall()
    assert create_schema(con) == []  # a second time: nothing left to do


def test_each_migration_has_the_next_number():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_declared_column_without_its_migration_is_refused(tmp_path, monkeypatch):
    import idf_etl.warehouse.schema as warehouse

    con = duckdb.connect(str(v1_warehouse(tmp_path)))
    runs = warehouse.table("runs")
    extra = warehouse.Column("donor", "VARCHAR", "a column no migration adds")
    changed = [
        warehouse.Table(t.name, t.comment, (*t.columns, extra), t.key, t.checks) if t is runs else t
        for t in TABLES
    ]
    monkeypatch.setattr(warehouse, "TABLES", tuple(changed))
    with pytest.raises(LoadError, match=r"runs\.donor.*migration"):
        create_schema(con)
    con.close()
    con = duckdb.connect(str(tmp_path / "clean" / "idf.duckdb"))
    assert stored_version(con) == 1  # rolled back: the file is as it was


def test_a_warehouse_newer_than_the_code_is_left_alone(tmp_path):
    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    create_schema(con)
    con.execute("UPDATE schema_info SET value = ? WHERE key = 'schema_version'", [str(99)])
    with pytest.raises(LoadError, match="newer than this idf-etl"):
        create_schema(con)


@pytest.mark.slow
def test_run_on_a_previous_release_warehouse_keeps_every_run_and_change(demo_site, tmp_path):
    _site, base = demo_site
    data = tmp_path / "data"
    v1_warehouse(data)
    runs_before = query(data, "SELECT run_id, started_at, mode, outcome, field_changes FROM runs")
    changes_before = query(data, "SELECT * FROM project_changes ORDER BY ALL")
    issues_before = query(data, "SELECT * FROM issues ORDER BY ALL")
    assert len(runs_before) == 2 and len(changes_before) == 3

    proc, summary = run(base, data, check=False)

    assert summary["outcome"] == "success", proc.stderr[-2000:]
    assert "schema version 2" in proc.stderr
    runs_after = query(data, "SELECT run_id, started_at, mode, outcome, field_changes FROM runs")
    assert runs_after[:2] == runs_before
    assert query(data, "SELECT run_id, schema_version FROM runs ORDER BY run_id") == [
        (1, None),
        (2, None),
        (3, SCHEMA_VERSION),
    ]
    # Version 3 added project_key to both: the rows as they were are all still there.
    changes_after = query(
        data,
        "SELECT run_id, changed_at, project_id, field, old_value, new_value FROM project_changes",
    )
    assert set(changes_before) <= set(changes_after)
    issues_after = query(
        data,
        "SELECT run_id, found_at, stage, severity, url, project_id, code, field, message "
        "FROM issues",
    )
    assert set(issues_before) <= set(issues_after)
    assert query(
        data, "SELECT count(*) FROM project_changes WHERE project_key IS DISTINCT FROM project_id"
    ) == [(0,)]
    assert query(data, "SELECT value FROM schema_info") == [(str(SCHEMA_VERSION),)]
