"""The DuckDB warehouse's shape: tables, types, comments and views, kept as data.

This module is the data dictionary. `create_schema` builds it (with COMMENT ON
for every table and column), `data_dictionary_markdown` renders it for the
README, and a test checks that the two agree. Renaming a column breaks every
analyst's queries: add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

SCHEMA_VERSION = 1
REGIONS = (
    "Africa",
    "Asia and Oceania",
    "Europe",
    "Latin America and the Caribbean",
    "Middle East and North Africa",
    "Global",
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str


@dataclass(frozen=True)
class Table:
    name: str
    comment: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()


def _c(name: str, type_: str, comment: str) -> Column:
    return Column(name, type_, comment)


_REGION_CHECK = "idf_region IN (" + ", ".join(f"'{r}'" for r in REGIONS) + ")"
_PROJECT_FIELDS = (
    _c("prima_id", "VARCHAR", "IOM PRIMA id (e.g. ZA99P0533)"),
    _c("status", "status_t", "active or completed"),
    _c("project_type", "VARCHAR", "project type, as written on the page"),
    _c("budget_usd", "DECIMAL(18,2)", "budget in US dollars"),
    _c("coverage", "coverage_t", "national, regional, multi-regional or global"),
    _c("idf_region", "VARCHAR", "IDF region, canonical English name"),
    _c("start_year", "SMALLINT", "year the project started"),
    _c("end_year", "SMALLINT", "year the project ended or ends"),
    _c("year", "SMALLINT", "allocation year"),
    _c("states", "VARCHAR[]", "benefiting member states, ISO 3166-1 alpha-2 (XK for Kosovo)"),
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
            _c(
                "project_id",
                "VARCHAR",
                "project id (TK.0035, older T97-805); null when the page gives none",
            ),
            _c("lang", "lang_t", "language of the content"),
            _c("title", "VARCHAR", "title as written"),
            _c("description", "VARCHAR", "free-text description"),
            *_PROJECT_FIELDS,
            _c("state_names", "VARCHAR[]", "benefiting member states as written"),
            _c("status_label", "VARCHAR", "status as written (Achevé, Finalizado...)"),
            _c("coverage_label", "VARCHAR", "coverage as written"),
            _c("idf_region_label", "VARCHAR", "region as written (Afrique, África...)"),
            _c("budget_label", "VARCHAR", "budget as written (150,000)"),
            _c("template", "VARCHAR", "labelled or unlabelled (developmentfund.iom.int)"),
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
        "One row per project id, merged across its English, French and Spanish pages.",
        (
            _c("project_id", "VARCHAR NOT NULL", "project id (TK.0035, older T97-805)"),
            _c("title", "VARCHAR", "title: the English page's when there is one"),
            _c("title_lang", "lang_t", "language of that title"),
            _c("description", "VARCHAR", "description, from the same page as the title"),
            *_PROJECT_FIELDS,
            _c("languages", "VARCHAR[]", "languages the project has pages in"),
            _c("urls", "VARCHAR[]", "its page URLs"),
            _c("first_seen", "TIMESTAMPTZ NOT NULL", "when the project first appeared"),
            _c("last_seen", "TIMESTAMPTZ", "latest last_seen of its pages"),
            _c(
                "last_changed",
                "TIMESTAMPTZ NOT NULL",
                "last time a field changed (see project_changes)",
            ),
            _c(
                "missing_from_site",
                "BOOLEAN NOT NULL",
                "every page of the project is gone (404/410); kept, never deleted",
            ),
        ),
        key=("project_id",),
        checks=(f"idf_region IS NULL OR {_REGION_CHECK}",),
    ),
    Table(
        "project_states",
        "Benefiting member states of each project, one row per country, for joins.",
        (
            _c("project_id", "VARCHAR NOT NULL", "project id"),
            _c("iso2", "VARCHAR NOT NULL", "ISO 3166-1 alpha-2 code (XK for Kosovo)"),
            _c("country_name", "VARCHAR", "English country name (CLDR)"),
        ),
        key=("project_id", "iso2"),
    ),
    Table(
        "project_changes",
        "Field-level history: which field of which project changed, when, from what to what.",
        (
            _c("run_id", "INTEGER NOT NULL", "run that saw the change"),
            _c("changed_at", "TIMESTAMPTZ NOT NULL", "when that run started"),
            _c("project_id", "VARCHAR NOT NULL", "project id"),
            _c("field", "VARCHAR NOT NULL", "column of projects that changed"),
            _c("old_value", "VARCHAR", "value before, as text (lists comma-separated)"),
            _c("new_value", "VARCHAR", "value after, as text"),
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
        ),
        checks=("severity IN ('error', 'warning')", "stage IN ('fetch', 'parse', 'load')"),
    ),
    Table(
        "problems",
        "Each distinct problem once, open while its cause remains, resolved when it goes away (issues has every sighting).",
        (
            _c(
                "problem_id",
                "VARCHAR NOT NULL",
                "stable id: stage, code, url, field (and message, for parse and load)",
            ),
            _c("stage", "VARCHAR NOT NULL", "fetch, parse or load"),
            _c("severity", "VARCHAR NOT NULL", "error (data missing) or warning (data incomplete)"),
            _c(
                "code",
                "VARCHAR NOT NULL",
                "machine-readable kind (fetch_failed, unmatched_country...)",
            ),
            _c("url", "VARCHAR", "page concerned"),
            _c("project_id", "VARCHAR", "project concerned, when known"),
            _c("field", "VARCHAR", "field concerned"),
            _c("message", "VARCHAR NOT NULL", "what happened and what to do (latest wording)"),
            _c("first_seen", "TIMESTAMPTZ NOT NULL", "when a run first found it (this episode)"),
            _c("first_run_id", "INTEGER NOT NULL", "run that first found it"),
            _c("last_seen", "TIMESTAMPTZ NOT NULL", "last run that found or confirmed it"),
            _c("last_run_id", "INTEGER NOT NULL", "that run"),
            _c("runs", "INTEGER NOT NULL", "how many runs found or confirmed it"),
            _c("resolved_at", "TIMESTAMPTZ", "when a run found its cause gone; null while open"),
            _c("resolved_run_id", "INTEGER", "that run"),
        ),
        key=("problem_id",),
        checks=("severity IN ('error', 'warning')", "stage IN ('fetch', 'parse', 'load')"),
    ),
)

VIEWS: dict[str, tuple[str, str]] = {
    "budget_by_region_year": (
        "Allocated budget per IDF region and allocation year.",
        """SELECT idf_region, year, count(*) AS projects, sum(budget_usd) AS budget_usd
           FROM projects GROUP BY ALL ORDER BY idf_region, year""",
    ),
    "budget_by_country": (
        "Per country: projects it benefits from, their whole budgets, and an even share of each.",
        """SELECT s.iso2, s.country_name, count(*) AS projects,
                  sum(p.budget_usd) AS budget_usd_total,
                  sum(p.budget_usd / len(p.states))::DECIMAL(18,2) AS budget_usd_even_share
           FROM project_states s JOIN projects p USING (project_id)
           GROUP BY ALL ORDER BY budget_usd_total DESC NULLS LAST""",
    ),
    "open_issues": (
        "Problems still open, oldest first: what needs a person now.",
        """SELECT severity, stage, code, url, project_id, field, message, first_seen, last_seen,
                  runs, first_run_id, last_run_id, problem_id
           FROM problems WHERE resolved_at IS NULL
           ORDER BY first_seen, severity, url NULLS LAST, code""",
    ),
    "active_projects": (
        "Projects the site lists as active and still publishes.",
        """SELECT * FROM projects WHERE status = 'active' AND NOT missing_from_site
           ORDER BY start_year DESC NULLS LAST, project_id""",
    ),
}

_TYPES = {
    "status_t": "ENUM ('active', 'completed')",
    "coverage_t": "ENUM ('national', 'regional', 'multi-regional', 'global')",
    "lang_t": "ENUM ('en', 'fr', 'es')",
}


def table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every type, table, comment and view that does not exist yet."""
    existing_types = {
        r[0] for r in con.sql("SELECT type_name FROM duckdb_types() WHERE NOT internal").fetchall()
    }
    for name, definition in _TYPES.items():
        if name not in existing_types:
            con.execute(f"CREATE TYPE {name} AS {definition}")
    for t in TABLES:
        parts = [f"{c.name} {c.type}" for c in t.columns]
        if t.key:
            parts.append(f"PRIMARY KEY ({', '.join(t.key)})")
        parts += [f"CHECK ({check})" for check in t.checks]
        con.execute(f"CREATE TABLE IF NOT EXISTS {t.name} ({', '.join(parts)})")
        con.execute(f"COMMENT ON TABLE {t.name} IS {_quote(t.comment)}")
        for c in t.columns:
            con.execute(f"COMMENT ON COLUMN {t.name}.{c.name} IS {_quote(c.comment)}")
    for name, (comment, query) in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
        con.execute(f"COMMENT ON VIEW {name} IS {_quote(comment)}")
    con.execute("CREATE TABLE IF NOT EXISTS schema_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("COMMENT ON TABLE schema_info IS 'Warehouse bookkeeping: schema version.'")
    con.execute(
        "INSERT OR REPLACE INTO schema_info VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
    )


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
    out.append("### Views\n")
    out += [f"- `{name}`: {comment}" for name, (comment, _) in VIEWS.items()]
    return "\n".join(out) + "\n"
