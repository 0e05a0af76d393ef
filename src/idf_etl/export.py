"""Parquet copies of every warehouse table and a Frictionless datapackage.json describing them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from idf_etl.warehouse import ENUMS, TABLES

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


def export_tables(con: duckdb.DuckDBPyConnection, release_dir: Path) -> Path:
    """Write every table as Parquet into release_dir/parquet/, and datapackage.json beside it.

    release_dir is the release being built (see publish.py): nothing an analyst
    sees changes until the whole release, warehouse and exports, is published.
    """
    target_dir = Path(release_dir) / "parquet"
    target_dir.mkdir(parents=True, exist_ok=True)
    for t in TABLES:
        order = f" ORDER BY {', '.join(t.key)}" if t.key else ""
        # The path goes to DuckDB as an argument, never inside SQL text: a data
        # directory such as /srv/o'brien/data must work.
        columns = ", ".join(c.name for c in t.columns)
        con.sql(f"SELECT {columns} FROM {t.name}{order}").write_parquet(
            str(target_dir / f"{t.name}.parquet"), compression="zstd"
        )
    (Path(release_dir) / "datapackage.json").write_text(
        json.dumps(datapackage(), indent=2, ensure_ascii=False) + "\n"
    )
    return target_dir


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
            if base in ENUMS:
                constraints["enum"] = list(ENUMS[base])
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
