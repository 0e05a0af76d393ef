"""The DuckDB warehouse's shape: tables, types, comments and views, kept as data.

This module is the data dictionary. `create_schema` builds it (with COMMENT ON
for every table and column), `data_dictionary_markdown` renders it for the
README, and a test checks that the two agree. Renaming a column breaks every
analyst's queries: add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from idf_etl.errors import LoadError
from idf_etl.migrations import SCHEMA_VERSION, pending
from idf_etl.records import COVERAGES, LANGS, REGIONS, STATUSES, STORED_FIELDS


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str
    # A change of this column of `projects` is history (a row in project_changes).
    tracked: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    comment: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()


def _c(name: str, type_: str, comment: str) -> Column:
    return Column(name, type_, comment)


PROJECT_KEY_COMMENT = (
    "the project's key: its project id; else node:HOST/N, the Drupal node its pages share; "
    "else page:URL, its one page"
)


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# The ENUM types the record's Literal vocabularies become.
ENUMS: dict[str, tuple[str, ...]] = {"status_t": STATUSES, "coverage_t": COVERAGES, "lang_t": LANGS}
_REGION_CHECK = f"idf_region IN ({_sql_list(REGIONS)})"
# project_pages holds every stored record field; projects the merged ones, as history.
_PAGE_FIELDS = tuple(Column(n, s.sql, s.comment) for n, s in STORED_FIELDS.items())
_MERGED_FIELDS = tuple(
    Column(n, s.sql, s.comment, tracked=True) for n, s in STORED_FIELDS.items() if s.merged
)

TABLES: tuple[Table, ...] = (
    Table(
        "runs",
        "One row per idf-etl run that published: the run ledger.",
        (
            _c("run_id", "INTEGER NOT NULL", "run number, increasing"),
            _c("started_at", "TIMESTAMPTZ NOT NULL", "when the run started"),
            _c("finished_at", "TIMESTAMPTZ", "when the run published"),
            _c(
                "mode",
                "VARCHAR NOT NULL",
                "network (fetched the site) or from-raw (re-parsed stored pages)",
            ),
            _c(
                "outcome",
                "VARCHAR",
                "success, or failures when more pages failed than the threshold allows",
            ),
            _c(
                "pages_discovered", "INTEGER", "page URLs found in sitemaps, listings and URL lists"
            ),
            _c("pages_fetched", "INTEGER", "pages downloaded because new or changed"),
            _c(
                "pages_unchanged",
                "INTEGER",
                "pages not requested (sitemap lastmod), 304 or same body",
            ),
            _c("pages_gone", "INTEGER", "pages answering 404 or 410"),
            _c("fetch_failed", "INTEGER", "pages that could not be fetched"),
            _c("fetch_refused", "INTEGER", "URLs not requested: robots.txt, foreign hosts"),
            _c("http_requests", "INTEGER", "HTTP requests sent, robots.txt and sitemaps included"),
            _c("bytes_downloaded", "BIGINT", "bytes of response bodies"),
            _c("pages_parsed", "INTEGER", "stored pages parsed in this run (new or changed ones)"),
            _c("parse_errors", "INTEGER", "pages that could not be parsed at all"),
            _c("projects_total", "INTEGER", "projects in the warehouse after the run"),
            _c("projects_new", "INTEGER", "projects seen for the first time"),
            _c("field_changes", "INTEGER", "rows added to project_changes"),
            _c("issues", "INTEGER", "rows added to issues"),
            _c("parser_version", "VARCHAR", "idf-etl parser version used"),
            _c("config_hash", "VARCHAR", "sha256 of the settings, to tell configurations apart"),
            _c("idf_etl_version", "VARCHAR", "idf-etl version"),
            _c(
                "schema_version",
                "INTEGER",
                "warehouse schema version the run wrote (null before 2)",
            ),
        ),
        key=("run_id",),
        checks=(
            "mode IN ('network', 'from-raw')",
            "outcome IS NULL OR outcome IN ('success', 'failures')",
        ),
    ),
    Table(
        "pages",
        "Every stored page and what the parser made of it, projects or not.",
        (
            _c("url", "VARCHAR NOT NULL", "page URL (normalised)"),
            _c(
                "kind",
                "VARCHAR NOT NULL",
                "project, other (news, FAQ, listing...) or error (unreadable)",
            ),
            _c("reason", "VARCHAR", "why the page is other or error"),
            _c("lang", "lang_t", "language of the content"),
            _c("title", "VARCHAR", "page title"),
            _c("content_sha256", "VARCHAR", "sha256 of the body parsed (its file in data/raw)"),
            _c("fetched_at", "TIMESTAMPTZ", "when that body was downloaded"),
            _c("parser_version", "VARCHAR", "parser version that read it"),
            _c("parsed_run_id", "INTEGER", "run that parsed it"),
            _c("gone", "BOOLEAN NOT NULL", "the site answered 404/410 for this URL"),
        ),
        key=("url",),
        checks=("kind IN ('project', 'other', 'error')",),
    ),
    Table(
        "project_pages",
        "One row per project page (a project has one per language).",
        (
            _c("url", "VARCHAR NOT NULL", "page URL (normalised)"),
            *_PAGE_FIELDS,
            _c("project_key", "VARCHAR", "the project the page belongs to (projects.project_key)"),
            _c("content_sha256", "VARCHAR", "sha256 of the body parsed"),
            _c("fetched_at", "TIMESTAMPTZ", "when that body was downloaded"),
            _c("parser_version", "VARCHAR", "parser version that read it"),
            _c("first_seen", "TIMESTAMPTZ", "first run that stored this page"),
            _c(
                "last_seen",
                "TIMESTAMPTZ",
                "last time the site confirmed the page (a download or a 304; pages the sitemap says are unchanged are confirmed by the weekly revalidation)",
            ),
            _c("gone", "BOOLEAN NOT NULL", "the site answered 404/410 for this URL"),
        ),
        key=("url",),
        checks=(f"idf_region IS NULL OR {_REGION_CHECK}",),
    ),
    Table(
        "projects",
        "One row per project, merged across its English, French and Spanish pages: grouped by "
        "project id, else by Drupal node, else one page alone.",
        (
            _c("project_key", "VARCHAR NOT NULL", PROJECT_KEY_COMMENT),
            Column(
                "project_id",
                "VARCHAR",
                "project id (TK.0035, older T97-805); null when no page of the project shows one",
                tracked=True,
            ),
            Column("title", "VARCHAR", "title: the English page's when there is one", tracked=True),
            _c("title_lang", "lang_t", "language of that title"),
            Column(
                "description",
                "VARCHAR",
                "description, from the same page as the title",
                tracked=True,
            ),
            *_MERGED_FIELDS,
            _c("languages", "VARCHAR[]", "languages the project has pages in"),
            _c("urls", "VARCHAR[]", "its page URLs"),
            _c("first_seen", "TIMESTAMPTZ NOT NULL", "when the project first appeared"),
            _c("last_seen", "TIMESTAMPTZ", "latest last_seen of its pages"),
            _c(
                "last_changed",
                "TIMESTAMPTZ NOT NULL",
                "last time a field changed (see project_changes)",
            ),
            Column(
                "missing_from_site",
                "BOOLEAN NOT NULL",
                "every page of the project is gone (404/410); kept, never deleted",
                tracked=True,
            ),
        ),
        key=("project_key",),
        checks=(f"idf_region IS NULL OR {_REGION_CHECK}",),
    ),
    Table(
        "project_states",
        "Benefiting member states of each project, one row per country, for joins.",
        (
            _c("project_key", "VARCHAR NOT NULL", "project key (projects.project_key)"),
            _c("iso2", "VARCHAR NOT NULL", "ISO 3166-1 alpha-2 code (XK for Kosovo)"),
            _c(
                "country_name",
                "VARCHAR",
                "English country name as IOM and the UN write it (Democratic Republic of the Congo)",
            ),
            _c("project_id", "VARCHAR", "project id, when the project has one"),
        ),
        key=("project_key", "iso2"),
    ),
    Table(
        "project_changes",
        "Field-level history: which field of which project changed, when, from what to what.",
        (
            _c("run_id", "INTEGER NOT NULL", "run that saw the change"),
            _c("changed_at", "TIMESTAMPTZ NOT NULL", "when that run started"),
            _c("project_id", "VARCHAR", "project id, when the project has one"),
            _c("field", "VARCHAR NOT NULL", "column of projects that changed"),
            _c("old_value", "VARCHAR", "value before, as text (lists comma-separated)"),
            _c("new_value", "VARCHAR", "value after, as text"),
            _c("project_key", "VARCHAR", "project key (projects.project_key)"),
        ),
    ),
    Table(
        "issues",
        "Everything a person may need to act on: failed fetches, unreadable pages, unknown labels, unmatched countries, unparsable budgets.",
        (
            _c("run_id", "INTEGER NOT NULL", "run that found it"),
            _c("found_at", "TIMESTAMPTZ NOT NULL", "when the run found it"),
            _c("stage", "VARCHAR NOT NULL", "fetch, parse or load"),
            _c("severity", "VARCHAR NOT NULL", "error (data missing) or warning (data incomplete)"),
            _c("url", "VARCHAR", "page concerned"),
            _c("project_id", "VARCHAR", "project concerned, when known"),
            _c(
                "code",
                "VARCHAR NOT NULL",
                "machine-readable kind (fetch_failed, unmatched_country...)",
            ),
            _c("field", "VARCHAR", "field concerned"),
            _c("message", "VARCHAR NOT NULL", "what happened and what to do"),
            _c("project_key", "VARCHAR", "project concerned (projects.project_key), when known"),
        ),
        checks=("severity IN ('error', 'warning')", "stage IN ('fetch', 'parse', 'load')"),
    ),
)


@dataclass(frozen=True)
class View:
    name: str
    comment: str
    query: str
    columns: tuple[Column, ...]  # every column it shows, with its meaning


_YEAR_LABEL = "no allocation year"
VIEWS: tuple[View, ...] = (
    View(
        "budget_by_region_year",
        "Allocated budget per IDF region and allocation year; projects without a year "
        f"are a row of their own ('{_YEAR_LABEL}').",
        f"""SELECT idf_region, year,
                  coalesce(year::VARCHAR, '{_YEAR_LABEL}') AS year_label,
                  count(*) AS projects, count(budget_usd) AS projects_with_budget,
                  sum(budget_usd) AS budget_usd
           FROM projects GROUP BY ALL ORDER BY idf_region, year NULLS LAST""",
        (
            _c("idf_region", "VARCHAR", "IDF region, canonical English name (null: none given)"),
            _c("year", "SMALLINT", "allocation year; null for the projects without one"),
            _c("year_label", "VARCHAR", f"the year as text, or '{_YEAR_LABEL}'"),
            _c("projects", "BIGINT", "projects in the group, with a budget or not"),
            _c("projects_with_budget", "BIGINT", "of those, the ones with a budget"),
            _c("budget_usd", "DECIMAL(38,2)", "their budgets summed, US dollars"),
        ),
    ),
    View(
        "budget_by_country",
        "Per country: projects it benefits from, their whole budgets, and an even share of each.",
        """SELECT s.iso2, s.country_name, count(*) AS projects,
                  sum(p.budget_usd) AS budget_usd_total,
                  sum(p.budget_usd / len(p.states))::DECIMAL(18,2) AS budget_usd_even_share
           FROM project_states s JOIN projects p USING (project_key)
           GROUP BY ALL ORDER BY budget_usd_total DESC NULLS LAST""",
        (
            _c("iso2", "VARCHAR", "ISO 3166-1 alpha-2 code (XK for Kosovo)"),
            _c("country_name", "VARCHAR", "English country name as IOM and the UN write it"),
            _c("projects", "BIGINT", "projects benefiting the country"),
            _c("budget_usd_total", "DECIMAL(38,2)", "their whole budgets summed, US dollars"),
            _c(
                "budget_usd_even_share",
                "DECIMAL(18,2)",
                "each budget split evenly among its countries, this country's shares summed",
            ),
        ),
    ),
    View(
        "active_projects",
        "Projects the site lists as active and still publishes.",
        """SELECT * FROM projects WHERE status = 'active' AND NOT missing_from_site
           ORDER BY start_year DESC NULLS LAST, project_key""",
        (),  # the columns of projects, described there
    ),
)


def table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


def view_columns(v: View) -> tuple[Column, ...]:
    """A view's columns with their meaning (a view over `projects` has that table's)."""
    return v.columns or table("projects").columns


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
    for m in pending(version or SCHEMA_VERSION):
        for statement in m.statements:
            con.execute(statement)
        done.append(f"upgraded the warehouse to schema version {m.version}: {m.why}")
    _create_tables(con)
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
    row = con.execute("SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1


def _create_types(con: duckdb.DuckDBPyConnection) -> None:
    existing = {
        r[0] for r in con.sql("SELECT type_name FROM duckdb_types() WHERE NOT internal").fetchall()
    }
    for name, values in ENUMS.items():
        if name not in existing:
            con.execute(f"CREATE TYPE {name} AS ENUM ({_sql_list(values)})")


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES:
        parts = [f"{c.name} {c.type}" for c in t.columns]
        if t.key:
            parts.append(f"PRIMARY KEY ({', '.join(t.key)})")
        parts += [f"CHECK ({check})" for check in t.checks]
        con.execute(f"CREATE TABLE IF NOT EXISTS {t.name} ({', '.join(parts)})")
    con.execute("CREATE TABLE IF NOT EXISTS schema_info (key VARCHAR PRIMARY KEY, value VARCHAR)")


def _check_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Every declared column is in the file: a missing one means a missing migration."""
    have = set(con.execute("SELECT table_name, column_name FROM duckdb_columns()").fetchall())
    missing = [
        f"{t.name}.{c.name}" for t in TABLES for c in t.columns if (t.name, c.name) not in have
    ]
    if missing:
        raise LoadError(
            f"the warehouse lacks the declared column(s) {', '.join(missing)}: "
            "add a migration for them in idf_etl/migrations.py"
        )


def _describe(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES:
        con.execute(f"COMMENT ON TABLE {t.name} IS {_quote(t.comment)}")
        for c in t.columns:
            con.execute(f"COMMENT ON COLUMN {t.name}.{c.name} IS {_quote(c.comment)}")
    # A view over `SELECT *` stops answering once its table gains a column: recreate them all.
    for v in VIEWS:
        con.execute(f"CREATE OR REPLACE VIEW {v.name} AS {v.query}")
        con.execute(f"COMMENT ON VIEW {v.name} IS {_quote(v.comment)}")
        for c in view_columns(v):
            con.execute(f"COMMENT ON COLUMN {v.name}.{c.name} IS {_quote(c.comment)}")
    con.execute("COMMENT ON TABLE schema_info IS 'Warehouse bookkeeping: schema version.'")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def data_dictionary_markdown() -> str:
    """The data dictionary as Markdown, for the README."""
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
