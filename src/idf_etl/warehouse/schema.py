"""Create or upgrade the DuckDB warehouse from its declared shape; render that shape for the docs.

The shape is data: the tables in tables.py, the views in
views.py. `create_schema` builds it (with COMMENT ON for every table
and column), `data_dictionary_markdown` renders it for docs/warehouse.md, and a test
checks that the two agree. The declarations are re-exported here, so
`from idf_etl.warehouse.schema import TABLES, table, create_schema` keeps working.
"""

from __future__ import annotations

import duckdb

from idf_etl.errors import LoadError
from idf_etl.numerals import ascii_int
from idf_etl.warehouse.migrations import SCHEMA_VERSION, pending
from idf_etl.warehouse.tables import (
    ENUMS,
    PROJECT_KEY_COMMENT,
    TABLES,
    Column,
    Table,
    sql_list,
    table,
)
from idf_etl.warehouse.views import VIEWS, View, view_columns

# Projects a run's time left unmerged, for the next run (load/pending.py).
PENDING_TABLE = "pending_projects"

__all__ = [
    "ENUMS",
    "PENDING_TABLE",
    "PROJECT_KEY_COMMENT",
    "TABLES",
    "VIEWS",
    "Column",
    "Table",
    "View",
    "create_schema",
    "data_dictionary_markdown",
    "stored_version",
    "table",
    "view_columns",
]


def create_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Bring the warehouse open on `con` to this release's schema; say what was done.

    A new warehouse is created at SCHEMA_VERSION; an older one is migrated in
    place (migrations.py), never rebuilt, so its history stays. Comments and
    views are rewritten every time: they hold no data.
    """
    version = stored_version(con)
    if version is not None and version > SCHEMA_VERSION:
        raise LoadError(
            f"the warehouse has schema version {version}, newer than this idf-etl knows "
            f"({SCHEMA_VERSION}): upgrade idf-etl; the warehouse was left as it was"
        )
    con.execute("BEGIN TRANSACTION")
    _create_types(con)
    done = []
    migrations = pending(version or SCHEMA_VERSION)
    for m in migrations:
        for statement in m.statements:
            con.execute(statement)
        if m.rewrite is not None:
            m.rewrite(con)
        done.append(f"upgraded the warehouse to schema version {m.version}: {m.why}")
    _create_tables(con)
    for m in migrations:
        for statement in m.after:
            con.execute(statement)
    _check_columns(con)
    _describe(con)
    con.execute(
        "INSERT OR REPLACE INTO schema_info VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
    )
    con.execute("COMMIT")
    return done


def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version of the warehouse on `con`; None when it has no tables yet."""
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "schema_info" not in names:
        return 1 if "runs" in names else None
    # fetchall, not fetchone: see rows.scalar (which this module cannot import).
    rows = con.execute("SELECT value FROM schema_info WHERE key = 'schema_version'").fetchall()
    if not rows:
        return 1
    written = ascii_int(str(rows[0][0]), max_digits=9)
    if written is None:
        # A hand edit or a damaged file: guessing a version would run the wrong migrations.
        raise LoadError(
            f"the warehouse's schema_info holds schema_version {rows[0][0]!r}, not a number; "
            "set it to the version the file has (UPDATE schema_info SET value = '4' ...) or "
            "restore a kept release (idf-etl restore)"
        )
    return written


def _create_types(con: duckdb.DuckDBPyConnection) -> None:
    existing = {
        r[0] for r in con.sql("SELECT type_name FROM duckdb_types() WHERE NOT internal").fetchall()
    }
    for name, values in ENUMS.items():
        if name not in existing:
            con.execute(f"CREATE TYPE {name} AS ENUM ({sql_list(values)})")


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES:
        parts = [f"{c.name} {c.type}" for c in t.columns]
        if t.key:
            parts.append(f"PRIMARY KEY ({', '.join(t.key)})")
        parts += [f"CHECK ({check})" for check in t.checks]
        con.execute(f"CREATE TABLE IF NOT EXISTS {t.name} ({', '.join(parts)})")
    con.execute("CREATE TABLE IF NOT EXISTS schema_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
    # The run's bookkeeping, like schema_info: not data, so not in TABLES (nor exported).
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {PENDING_TABLE} (project_key VARCHAR NOT NULL,
            work VARCHAR NOT NULL, seen_in VARCHAR NOT NULL,
            PRIMARY KEY (project_key, work, seen_in))"""
    )


def _check_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Every declared column is in the file: a missing one means a missing migration."""
    have = set(con.execute("SELECT table_name, column_name FROM duckdb_columns()").fetchall())
    missing = [
        f"{t.name}.{c.name}" for t in TABLES for c in t.columns if (t.name, c.name) not in have
    ]
    if missing:
        raise LoadError(
            f"the warehouse lacks the declared column(s) {', '.join(missing)}: "
            "add a migration for them in idf_etl/warehouse/migrations.py"
        )


def _describe(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES:
        con.execute(f"COMMENT ON TABLE {t.name} IS {_quote(t.comment)}")
        for c in t.columns:
            con.execute(f"COMMENT ON COLUMN {t.name}.{c.name} IS {_quote(c.comment)}")
    # A view over `SELECT *` stops answering once its table gains a column: recreate them all.
    for v in VIEWS:
        con.execute(f"CREATE OR REPLACE VIEW {v.name} AS {v.sql}")
        con.execute(f"COMMENT ON VIEW {v.name} IS {_quote(v.comment)}")
        for c in view_columns(v):
            con.execute(f"COMMENT ON COLUMN {v.name}.{c.name} IS {_quote(c.comment)}")
    con.execute("COMMENT ON TABLE schema_info IS 'Warehouse bookkeeping: schema version.'")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def data_dictionary_markdown() -> str:
    """The data dictionary as Markdown, for docs/warehouse.md."""
    out = []
    for t in TABLES:
        key = f" Key: `{', '.join(t.key)}`." if t.key else ""
        out.append(
            f"### `{t.name}`\n\n{t.comment}{key}\n\n| column | type | meaning |\n|---|---|---|"
        )
        out += [
            f"| `{c.name}` | {c.type.replace(' NOT NULL', '')} | {c.comment} |" for c in t.columns
        ]
        out.append("")
    for v in VIEWS:
        out.append(f"### View `{v.name}`\n\n{v.comment}\n")
        if v.columns:
            out.append("| column | type | meaning |\n|---|---|---|")
            out += [f"| `{c.name}` | {c.type} | {c.comment} |" for c in v.columns]
        else:
            out.append("The columns of `projects`.")
        out.append("")
    return "\n".join(out)
