"""Every warehouse table and view as CSV and Parquet, and a Frictionless datapackage.json.

datapackage.json describes the CSV files, the form every Tabular Data Package
reader takes (`frictionless validate datapackage.json` passes; a test runs it):
a missing value is an empty cell, a list is a JSON array (`["AM","GE"]`), a
time is ISO 8601 in UTC. The Parquet files beside them hold the same columns
with DuckDB's own types (lists as lists, decimals as decimals).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idf_etl.migrations import SCHEMA_VERSION
from idf_etl.warehouse import TABLES, VIEWS, Column, view_columns

# The facts are IOM's, published on its sites; the package says where they come from.
LICENSE = {
    "name": "other-at",
    "title": "Facts published by IOM on its websites (see sources): reuse with attribution to IOM",
}
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UINTEGER", "UBIGINT"}
_ENUM_LABEL = re.compile(r"'((?:[^']|'')*)'")


def export_tables(
    con: duckdb.DuckDBPyConnection, release_dir: Path, sources: Sequence[str] = ()
) -> Path:
    """Write every table and view as CSV and Parquet, and datapackage.json, into
    release_dir (the release being built, see publish.py); `sources` are the start
    points the data was read from.

    Nothing an analyst sees changes here: the whole release, warehouse and exports,
    is published at once. Paths go to DuckDB as arguments, never inside SQL text
    (a data directory such as /srv/o'brien/data must work).
    """
    staging = Path(release_dir)
    for folder in ("csv", "parquet"):
        (staging / folder).mkdir(parents=True, exist_ok=True)
    resources = []
    for name, comment, query, declared in _datasets():
        columns = con.execute(f"DESCRIBE {query}").fetchall()
        # A row group is held in memory until written: 2,048 rows (DuckDB's least) keeps
        # the export's memory flat as tables grow; the default, 122,880 rows, does not.
        con.sql(query).write_parquet(
            str(staging / "parquet" / f"{name}.parquet"), compression="zstd", row_group_size=2048
        )
        as_text = ", ".join(_csv_expression(c[0], c[1]) for c in columns)
        con.sql(f"SELECT {as_text} FROM ({query})").write_csv(
            str(staging / "csv" / f"{name}.csv"), header=True
        )
        fields = [_field(c[0], c[1], declared.get(c[0])) for c in columns]
        resources.append(_resource(name, comment, fields, _key(name)))
    (run_id,) = con.execute("SELECT coalesce(max(run_id), 0) FROM runs").fetchone() or (0,)
    package = datapackage(resources, sources, int(run_id))
    (staging / "datapackage.json").write_text(
        json.dumps(package, indent=2, ensure_ascii=False) + "\n"
    )
    return staging


def _datasets() -> list[tuple[str, str, str, dict[str, Column]]]:
    """(name, comment, query, declared columns by name) for every table and view."""
    out = []
    for t in TABLES:
        order = f" ORDER BY {', '.join(t.key)}" if t.key else ""
        query = f"SELECT {', '.join(c.name for c in t.columns)} FROM {t.name}{order}"
        out.append((t.name, t.comment, query, {c.name: c for c in t.columns}))
    for v in VIEWS:
        columns = {c.name: c for c in view_columns(v)}
        out.append((v.name, v.comment, f"SELECT * FROM {v.name}", columns))
    return out


def _key(name: str) -> tuple[str, ...]:
    return next((t.key for t in TABLES if t.name == name), ())


def _csv_expression(name: str, duckdb_type: str) -> str:
    if duckdb_type.endswith("[]"):
        return f"to_json({name}) AS {name}"
    if duckdb_type == "TIMESTAMP WITH TIME ZONE":
        return f"strftime({name} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS {name}"
    return name


def _field(name: str, duckdb_type: str, declared: Column | None) -> dict[str, object]:
    """A Table Schema field for a column of this DuckDB type."""
    field: dict[str, object] = {"name": name, "type": _frictionless_type(duckdb_type)}
    if declared is not None:
        field["description"] = declared.comment
    constraints: dict[str, object] = {}
    if declared is not None and declared.type.endswith("NOT NULL"):
        constraints["required"] = True
    if duckdb_type.startswith("ENUM("):
        constraints["enum"] = [m.replace("''", "'") for m in _ENUM_LABEL.findall(duckdb_type)]
    if constraints:
        field["constraints"] = constraints
    return field


def _frictionless_type(duckdb_type: str) -> str:
    if duckdb_type.endswith("[]"):
        return "array"
    if duckdb_type in _INTEGERS:
        return "integer"
    if duckdb_type.startswith("DECIMAL") or duckdb_type in ("DOUBLE", "FLOAT"):
        return "number"
    if duckdb_type == "TIMESTAMP WITH TIME ZONE":
        return "datetime"
    return {"BOOLEAN": "boolean", "DATE": "date"}.get(duckdb_type, "string")


def _resource(
    name: str, comment: str, fields: list[dict[str, object]], key: tuple[str, ...]
) -> dict[str, object]:
    schema: dict[str, object] = {"fields": fields}
    if key:
        schema["primaryKey"] = list(key)
    return {
        "name": name,
        "path": f"csv/{name}.csv",
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "description": f"{comment} Also as parquet/{name}.parquet (same columns).",
        "schema": schema,
    }


def datapackage(
    resources: list[dict[str, object]], sources: Sequence[str], run_id: int
) -> dict[str, object]:
    """The Data Package descriptor; its version is schema version . run number . 0."""
    return {
        "name": "iom-development-fund-projects",
        "title": "IOM Development Fund projects (idf-etl)",
        "description": "Projects of the IOM Development Fund, read from their English, French "
        "and Spanish pages by idf-etl, with their change history. CSV files are described "
        "here; parquet/ holds the same tables and views with their database types.",
        "version": f"{SCHEMA_VERSION}.{run_id}.0",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "profile": "tabular-data-package",
        "licenses": [LICENSE],
        "sources": [{"title": "IOM Development Fund project pages", "path": s} for s in sources],
        "resources": resources,
    }
