"""Parquet copies of every warehouse table and a Frictionless datapackage.json describing them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from idf_etl.warehouse import TABLES

_FRICTIONLESS_TYPES = {
    "VARCHAR": "string",
    "INTEGER": "integer",
    "SMALLINT": "integer",
    "BIGINT": "integer",
    "BOOLEAN": "boolean",
    "TIMESTAMPTZ": "datetime",
    "DECIMAL(18,2)": "number",
    "status_t": "string",
    "coverage_t": "string",
    "lang_t": "string",
    "VARCHAR[]": "array",
}
_ENUMS = {
    "status_t": ["active", "completed"],
    "coverage_t": ["national", "regional", "multi-regional", "global"],
    "lang_t": ["en", "fr", "es"],
}


def export_tables(con: duckdb.DuckDBPyConnection, clean_dir: Path) -> list[Path]:
    """Write clean_dir/parquet/<table>.parquet and clean_dir/datapackage.json.

    Each file is written beside its target and renamed over it, so a reader
    never opens half a file.
    """
    out_dir = Path(clean_dir) / "parquet"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for t in TABLES:
        target = out_dir / f"{t.name}.parquet"
        tmp = out_dir / f".{t.name}.parquet.tmp"
        order = f" ORDER BY {', '.join(t.key)}" if t.key else ""
        con.execute(
            f"COPY (SELECT * FROM {t.name}{order}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)"
        )
        os.replace(tmp, target)
        written.append(target)
    package = Path(clean_dir) / "datapackage.json"
    tmp_package = package.with_name(".datapackage.json.tmp")
    tmp_package.write_text(json.dumps(datapackage(), indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp_package, package)
    return [*written, package]


def datapackage() -> dict[str, object]:
    """A Frictionless Data Package descriptor for the Parquet exports."""
    resources = []
    for t in TABLES:
        fields = []
        for c in t.columns:
            base = c.type.replace(" NOT NULL", "")
            entry: dict[str, object] = {
                "name": c.name,
                "type": _FRICTIONLESS_TYPES[base],
                "description": c.comment,
            }
            constraints: dict[str, object] = {}
            if "NOT NULL" in c.type:
                constraints["required"] = True
            if base in _ENUMS:
                constraints["enum"] = _ENUMS[base]
            if constraints:
                entry["constraints"] = constraints
            fields.append(entry)
        schema: dict[str, object] = {"fields": fields}
        if t.key:
            schema["primaryKey"] = list(t.key)
        resources.append(
            {
                "name": t.name,
                "path": f"parquet/{t.name}.parquet",
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                "description": t.comment,
                "schema": schema,
            }
        )
    return {
        "name": "iom-development-fund-projects",
        "title": "IOM Development Fund projects (idf-etl)",
        "description": "Projects of the IOM Development Fund, scraped from its English, French "
        "and Spanish pages by idf-etl, with their change history.",
        "profile": "data-package",
        "resources": resources,
    }
