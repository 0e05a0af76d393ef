"""What the exports promise whatever the night's data: one CSV dialect (`idf-etl sql --csv`
writes what csv/ holds) and a Parquet schema whose nullability is the warehouse's declared
one, read back with a real DuckDB client."""

from __future__ import annotations

import re

import duckdb
import pytest

from idf_etl.warehouse.export import ROW_GROUP, _datasets, export_tables
from idf_etl.warehouse.schema import ENUMS, TABLES, VIEWS, create_schema, view_columns
from tests.helpers.cli import idf_etl

# A value for each declared type, and for the columns a CHECK holds to a vocabulary.
_BY_TYPE = {
    "VARCHAR": "'x'",
    "VARCHAR[]": "['x']",
    "BOOLEAN": "true",
    "TIMESTAMPTZ": "TIMESTAMPTZ '2026-12-05 20:47:53+00'",
    "SMALLINT": "2020",
    "INTEGER": "1",
    "BIGINT": "1",
    "DECIMAL(18,2)": "1.50",
    **{name: f"'{values[0]}'" for name, values in ENUMS.items()},
}
# Key columns: a distinct value a row, in descending order (so that the export sorts them).
_KEY_BY_TYPE = {
    "INTEGER": "(100000000 - i)",
    "BIGINT": "(100000000 - i)",
    "TIMESTAMPTZ": "TIMESTAMPTZ '2000-01-01 00:00:00+00' + to_seconds((100000000 - i)::BIGINT)",
}
_CHECKED = {
    "mode": "'network'",
    "outcome": "'success'",
    "kind": "'project'",
    "idf_region": "'Africa'",
    "severity": "'error'",
    "stage": "'fetch'",
}


def _no_nulls(path, rows: int) -> duckdb.DuckDBPyConnection:
    """A warehouse whose every table column holds a value in every row; `rows` rows in
    each table, written in descending key order (so that the export sorts them)."""
    con = duckdb.connect(str(path))
    create_schema(con)
    for t in TABLES:
        values = []
        for c in t.columns:
            kind = c.type.removesuffix(" NOT NULL")
            if c.name in t.key:  # distinct keys, descending
                value = _KEY_BY_TYPE.get(kind, "lpad((100000000 - i)::VARCHAR, 9, '0')")
            else:
                value = _CHECKED.get(c.name, _BY_TYPE[kind])
            values.append(f"{value} AS {c.name}")
        con.execute(
            f"INSERT INTO {t.name} BY NAME SELECT {', '.join(values)} FROM range(?) r(i)", [rows]
        )
    for t in TABLES:
        for c in t.columns:
            nulls = con.execute(f"SELECT count(*) FROM {t.name} WHERE {c.name} IS NULL").fetchone()
            assert nulls == (0,), f"{t.name}.{c.name}"
    return con


def _repetition(parquet) -> dict[str, str]:
    """Top-level column -> REQUIRED or OPTIONAL, as a Parquet reader sees the file."""
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT name, repetition_type, num_children FROM parquet_schema(?)", [str(parquet)]
        ).fetchall()
    out, skip = {}, 0
    for name, repetition, children in rows[1:]:  # the root first
        if skip:
            skip += (children or 0) - 1
            continue
        out[name] = repetition
        skip = children or 0
    return out


@pytest.mark.parametrize("rows", [3, 2 * ROW_GROUP + 5], ids=["one chunk", "sorted in chunks"])
def test_parquet_nullability_is_the_declared_one_on_data_without_nulls(tmp_path, rows):
    con = _no_nulls(tmp_path / "w.duckdb", rows)
    release = export_tables(con, tmp_path / "release")
    con.close()
    checked = 0
    for t in TABLES:
        declared = {
            c.name: "REQUIRED" if c.type.endswith("NOT NULL") else "OPTIONAL" for c in t.columns
        }
        assert _repetition(release / "parquet" / f"{t.name}.parquet") == declared, t.name
        checked += "OPTIONAL" in declared.values()
    assert checked >= 5  # the tables with nullable columns (runs, projects, ...) were seen
    for v in VIEWS:  # a view's nullable columns too, whatever its rows hold
        written = _repetition(release / "parquet" / f"{v.name}.parquet")
        for c in view_columns(v):
            if not c.type.endswith("NOT NULL"):
                assert written[c.name] == "OPTIONAL", (v.name, c.name)


@pytest.mark.slow
def test_sql_csv_of_every_table_and_view_is_its_exported_csv(published, tmp_path):
    data, _, _ = published
    datasets = _datasets()
    assert len(datasets) >= 12
    for name, _, _, _, _, order in datasets:
        query = f"SELECT * FROM {name}" + (f" ORDER BY {', '.join(order)}" if order else "")
        proc = idf_etl("sql", "--csv", "--data-dir", str(data), query, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        exported = (data / "clean" / "csv" / f"{name}.csv").read_text()
        if order:
            assert proc.stdout == exported, name
        else:  # a view's own order may leave ties in any order: the same lines
            head, *rows = proc.stdout.splitlines()
            assert [head, *sorted(rows)] == [
                exported.splitlines()[0],
                *sorted(exported.splitlines()[1:]),
            ], name


def test_sql_csv_writes_the_exports_dialect(published, tmp_path):
    """true, a UTC time with Z, a list as JSON, NULL empty and '' quoted, a formula guarded."""
    data, _, _ = published
    query = """SELECT true AS yes, TIMESTAMPTZ '2026-12-05 20:47:53.728205+00' AS at,
                      ['MD', 'RO'] AS states, NULL AS nothing, '' AS empty, '=1+1' AS formula,
                      400000.00::DECIMAL(18,2) AS budget, 'a,"b"' AS quoted"""
    proc = idf_etl("sql", "--csv", "--data-dir", str(data), query, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "yes,at,states,nothing,empty,formula,budget,quoted",
        'true,2026-12-05T20:47:53Z,"[""MD"",""RO""]",,"",\'=1+1,400000.00,"a,""b"""',
    ]
    # A statement that answers nothing prints nothing; a failing one names the error.
    assert (
        idf_etl(
            "sql", "--csv", "--data-dir", str(data), "SELECT 1 WHERE false", cwd=tmp_path
        ).stdout
        == "1\n"
    )
    bad = idf_etl("sql", "--csv", "--data-dir", str(data), "SELECT * FROM nowhere", cwd=tmp_path)
    assert bad.returncode == 2 and re.search(r"query failed: .*nowhere", bad.stderr)
    # The file the sandbox may write is its own: another is still refused.
    out = tmp_path / "elsewhere.csv"
    copy = idf_etl(
        "sql", "--csv", "--data-dir", str(data), f"COPY (SELECT 1) TO '{out}'", cwd=tmp_path
    )
    assert copy.returncode == 2 and not out.exists()
