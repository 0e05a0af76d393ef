"""Parquet copies of every warehouse table and a Frictionless datapackage.json describing them."""

from __future__ import annotations

import json
import os
import shutil
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


STAGING = ".export-staging"


def export_tables(con: duckdb.DuckDBPyConnection, clean_dir: Path) -> Path:
    """Write every table as Parquet, and datapackage.json, into clean_dir/.export-staging/.

    Nothing an analyst sees changes here: `promote_exports` moves the files into
    place once the warehouse itself is published, so a run that dies before that
    leaves the exports and the warehouse of the same (previous) run side by side.
    """
    staging = Path(clean_dir) / STAGING
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "parquet").mkdir(parents=True)
    for t in TABLES:
        order = f" ORDER BY {', '.join(t.key)}" if t.key else ""
        target = staging / "parquet" / f"{t.name}.parquet"
        con.execute(
            f"COPY (SELECT {', '.join(c.name for c in t.columns)} FROM {t.name}{order}) "
            f"TO '{target}' "
            # A row group is held in memory until written: 2,048 rows (DuckDB's least) keeps
            # the export's memory flat as tables grow; the default, 122,880 rows, does not.
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)"
        )
    (staging / "datapackage.json").write_text(
        json.dumps(datapackage(), indent=2, ensure_ascii=False) + "\n"
    )
    return staging


def promote_exports(clean_dir: Path) -> list[Path]:
    """Rename the staged exports over the published ones, file by file (each rename atomic)."""
    clean_dir = Path(clean_dir)
    staging = clean_dir / STAGING
    (clean_dir / "parquet").mkdir(exist_ok=True)
    moved = []
    for source in sorted(staging.rglob("*")):
        if source.is_file():
            target = clean_dir / source.relative_to(staging)
            os.replace(source, target)
            moved.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    return moved


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
