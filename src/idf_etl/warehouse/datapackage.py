"""The Frictionless Data Package descriptor (datapackage.json) of a release's exports:
a Table Schema field for each column, a resource for each CSV file.

`frictionless validate datapackage.json` passes on every release (a test runs it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from idf_etl.warehouse.migrations import SCHEMA_VERSION
from idf_etl.warehouse.schema import Column

# The facts are IOM's, published on its sites; the package says where they come from.
LICENSE = {
    "name": "other-at",
    "title": "Facts published by IOM on its websites (see sources): reuse with attribution to IOM",
}
INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UINTEGER", "UBIGINT"}
_ENUM_LABEL = re.compile(r"'((?:[^']|'')*)'")


def field(name: str, duckdb_type: str, declared: Column | None) -> dict[str, object]:
    """A Table Schema field for a column of this DuckDB type."""
    out: dict[str, object] = {"name": name, "type": _frictionless_type(duckdb_type)}
    if declared is not None:
        out["description"] = declared.comment
    constraints: dict[str, object] = {}
    if declared is not None and declared.type.endswith("NOT NULL"):
        constraints["required"] = True
    if duckdb_type.startswith("ENUM("):
        constraints["enum"] = [m.replace("''", "'") for m in _ENUM_LABEL.findall(duckdb_type)]
    if constraints:
        out["constraints"] = constraints
    return out


def _frictionless_type(duckdb_type: str) -> str:
    if duckdb_type.endswith("[]"):
        return "array"
    if duckdb_type in INTEGERS:
        return "integer"
    if duckdb_type.startswith("DECIMAL") or duckdb_type in ("DOUBLE", "FLOAT"):
        return "number"
    if duckdb_type == "TIMESTAMP WITH TIME ZONE":
        return "datetime"
    return {"BOOLEAN": "boolean", "DATE": "date"}.get(duckdb_type, "string")


def resource(
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


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def datapackage(
    resources: list[dict[str, object]],
    sources: Sequence[str],
    run_id: int,
    data_as_of: datetime | None = None,
) -> dict[str, object]:
    """The Data Package descriptor; its version is schema version . run number . 0, its
    `data_as_of` the last successful read of the site (absent before the first)."""
    as_of = {} if data_as_of is None else {"data_as_of": _utc(data_as_of)}
    return {
        "name": "iom-development-fund-projects",
        "title": "IOM Development Fund projects (idf-etl)",
        "description": "Projects of the IOM Development Fund, read from their English, French "
        "and Spanish pages by idf-etl, with their change history. CSV files are described "
        "here; parquet/ holds the same tables and views with their database types.",
        "version": f"{SCHEMA_VERSION}.{run_id}.0",
        "created": _utc(datetime.now(UTC)),
        **as_of,
        "profile": "tabular-data-package",
        "licenses": [LICENSE],
        "sources": [{"title": "IOM Development Fund project pages", "path": s} for s in sources],
        "resources": resources,
    }
