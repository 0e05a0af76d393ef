"""Numbered schema changes that bring an older warehouse up to this release's schema, in place.

The history in `runs` and `project_changes` exists only in the warehouse file,
so a new release never rebuilds it: `warehouse.create_schema` reads the
file's version from `schema_info` and applies every newer migration here, in
order, in one transaction, then rewrites comments and views (they hold no
data). A new warehouse is created at the latest version directly, so each
migration must leave an old file with exactly the columns the declarations in
tables.py / records.py give a new one: tests/test_upgrade.py checks it on
a file the previous release wrote.

Adding a column: declare it (a record field with `Stored`, or a `Column` in
warehouse_tables.TABLES), then append a Migration with the next number and its
`ALTER TABLE ... ADD COLUMN` (nullable: DuckDB cannot add a NOT NULL column).
A new table needs no statement (declared tables are created when missing),
only the migration's number. Never edit a migration that has been released.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idf_etl.records import STORED_FIELDS

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Migration:
    version: int
    why: str
    statements: tuple[str, ...] = ()
    # A change SQL cannot say (run after the statements, in the same transaction).
    rewrite: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    # Run once the declared tables exist (a new table's first rows).
    after: tuple[str, ...] = ()


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the first release's schema (created whole, never migrated to)"),
    Migration(
        2,
        "runs records the schema version each run wrote",
        ("ALTER TABLE runs ADD COLUMN schema_version INTEGER",),
    ),
)
# Version 3 as it was released; `projects` is rebuilt because its key changes (DuckDB
# cannot alter a primary key): every row keeps its values, its key is its project id.
_PROJECTS_V3 = """CREATE TABLE projects (
    project_key VARCHAR NOT NULL, project_id VARCHAR, title VARCHAR, title_lang lang_t,
    description VARCHAR, prima_id VARCHAR, status status_t, project_type VARCHAR,
    budget_usd DECIMAL(18,2), coverage coverage_t, idf_region VARCHAR, start_year SMALLINT,
    end_year SMALLINT, year SMALLINT, states VARCHAR[], project_type_canonical VARCHAR,
    languages VARCHAR[], urls VARCHAR[], first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ, last_changed TIMESTAMPTZ NOT NULL, missing_from_site BOOLEAN NOT NULL,
    PRIMARY KEY (project_key),
    CHECK (idf_region IS NULL OR idf_region IN ('Africa', 'Asia and Oceania', 'Europe',
        'Latin America and the Caribbean', 'Middle East and North Africa', 'Global')))"""
_STATES_V3 = """CREATE TABLE project_states (
    project_key VARCHAR NOT NULL, iso2 VARCHAR NOT NULL, country_name VARCHAR,
    project_id VARCHAR, PRIMARY KEY (project_key, iso2))"""

MIGRATIONS += (
    Migration(
        3,
        "every project page in one project: projects keyed by project_key (the id, else the "
        "Drupal node, else the page), canonical project types, node ids",
        (
            "ALTER TABLE project_pages ADD COLUMN project_type_canonical VARCHAR",
            "ALTER TABLE project_pages ADD COLUMN node_id INTEGER",
            "ALTER TABLE project_pages ADD COLUMN project_key VARCHAR",
            "UPDATE project_pages SET project_key = project_id",
            "ALTER TABLE projects RENAME TO projects_v2",
            _PROJECTS_V3,
            "INSERT INTO projects BY NAME SELECT project_id AS project_key, * FROM projects_v2",
            "DROP TABLE projects_v2",
            "ALTER TABLE project_states RENAME TO project_states_v2",
            _STATES_V3,
            "INSERT INTO project_states BY NAME "
            "SELECT project_id AS project_key, * FROM project_states_v2",
            "DROP TABLE project_states_v2",
            "ALTER TABLE project_changes ALTER COLUMN project_id DROP NOT NULL",
            "ALTER TABLE project_changes ADD COLUMN project_key VARCHAR",
            "UPDATE project_changes SET project_key = project_id",
            "ALTER TABLE issues ADD COLUMN project_key VARCHAR",
            "UPDATE issues SET project_key = project_id",
        ),
    ),
)
# The table is declared in warehouse_tables.TABLES (created when missing); the first run after
# the upgrade seeds it from `issues` (problems.track_problems).
MIGRATIONS += (Migration(4, "problems: each distinct problem once, open until its cause is gone"),)
MIGRATIONS += (
    Migration(
        5,
        "other countries benefiting at time of allocation, a field of its own (#23)",
        (
            "ALTER TABLE project_pages ADD COLUMN other_states VARCHAR[]",
            "ALTER TABLE project_pages ADD COLUMN other_state_names VARCHAR[]",
            "ALTER TABLE projects ADD COLUMN other_states VARCHAR[]",
            # What a merge gives a project with none: no change is recorded for them.
            "UPDATE projects SET other_states = []",
        ),
    ),
)


def renormalise_urls(con: duckdb.DuckDBPyConnection) -> None:
    """Page URLs in this release's form (urls.normalise_url: percent-encoding in one
    spelling), as the raw store's manifest rewrites its own when opened, so a page stored
    before keeps its rows. Two rows that become one URL keep the later download."""
    from idf_etl.urls import normalise_url

    for table in ("pages", "project_pages"):
        urls = [str(url) for (url,) in con.execute(f"SELECT url FROM {table}").fetchall()]
        moves = {url: new for url in urls if (new := normalise_url(url)) not in (None, url)}
        for old, new in moves.items():
            con.execute(
                f"""DELETE FROM {table} WHERE url = $new AND coalesce(fetched_at, '-infinity')
                    <= (SELECT coalesce(fetched_at, '-infinity') FROM {table} WHERE url = $old)""",
                {"new": new, "old": old},
            )
            con.execute(
                f"""INSERT INTO {table} SELECT * REPLACE ($new AS url) FROM {table}
                    WHERE url = $old AND NOT EXISTS (SELECT 1 FROM {table} WHERE url = $new)""",
                {"new": new, "old": old},
            )
            con.execute(f"DELETE FROM {table} WHERE url = ?", [old])
    for key, urls in con.execute("SELECT project_key, urls FROM projects").fetchall():
        new_urls = sorted({normalise_url(u) or u for u in urls or []})
        if new_urls != sorted(urls or []):
            con.execute("UPDATE projects SET urls = ? WHERE project_key = ?", [new_urls, key])


MIGRATIONS += (
    Migration(
        6,
        "page URLs in one form: percent-encoding in one spelling (#23)",
        rewrite=renormalise_urls,
    ),
)
# DuckDB cannot change a CHECK: `runs` is rebuilt with 'backfill' among its modes (its
# columns as versions 4 to 6 declared them; every row kept).
_RUNS_V7 = """CREATE TABLE runs (
    run_id INTEGER NOT NULL, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ,
    mode VARCHAR NOT NULL, outcome VARCHAR, pages_discovered INTEGER, pages_fetched INTEGER,
    pages_unchanged INTEGER, pages_gone INTEGER, fetch_failed INTEGER, fetch_refused INTEGER,
    http_requests INTEGER, bytes_downloaded BIGINT, pages_parsed INTEGER, parse_errors INTEGER,
    projects_total INTEGER, projects_new INTEGER, field_changes INTEGER, issues INTEGER,
    parser_version VARCHAR, config_hash VARCHAR, idf_etl_version VARCHAR,
    schema_version INTEGER, PRIMARY KEY (run_id),
    CHECK (mode IN ('network', 'from-raw', 'backfill')),
    CHECK (outcome IS NULL OR outcome IN ('success', 'failures')))"""
MIGRATIONS += (
    Migration(
        7,
        "history dated by the page (#25): observations, project_versions, "
        "project_changes.seen_in, backfill runs",
        (
            "ALTER TABLE runs RENAME TO runs_v6",
            _RUNS_V7,
            "INSERT INTO runs BY NAME SELECT * FROM runs_v6",
            "DROP TABLE runs_v6",
            "ALTER TABLE project_changes ADD COLUMN IF NOT EXISTS seen_in VARCHAR",
            "UPDATE project_changes SET seen_in = 'live' WHERE seen_in IS NULL",
        ),
        # Each project page as last read stands for its first observation.
        after=(
            "INSERT OR IGNORE INTO observations BY NAME SELECT url, "
            "coalesce(fetched_at, first_seen, now()) AS observed_at, 'live' AS seen_in, "
            "CASE WHEN gone THEN 'gone' ELSE 'project' END AS kind, content_sha256, "
            f"{', '.join(STORED_FIELDS)} FROM project_pages",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def pending(version: int) -> list[Migration]:
    """The migrations a warehouse at `version` still needs, in order."""
    return [m for m in MIGRATIONS if m.version > version]
