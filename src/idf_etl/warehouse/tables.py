"""The warehouse's tables, kept as data: every column with its type and meaning.

This is the data dictionary's core: schema.py creates these tables (with
COMMENT ON for every table and column) and renders them for docs/warehouse.md. A new
column is a `Column` here plus a migration (migrations.py). Renaming a column
breaks every analyst's queries: add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass

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


SEEN_IN_COMMENT = (
    "where it was seen: live (the site itself) or the web archive's replay URL "
    "(https://web.archive.org/web)"
)


def sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# The ENUM types the record's Literal vocabularies become.
ENUMS: dict[str, tuple[str, ...]] = {"status_t": STATUSES, "coverage_t": COVERAGES, "lang_t": LANGS}
_REGION_CHECK = f"idf_region IN ({sql_list(REGIONS)})"
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
                "network (fetched the site), from-raw (re-parsed stored pages) or backfill "
                "(read a web archive's captures)",
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
            "mode IN ('network', 'from-raw', 'backfill')",
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
            _c("run_id", "INTEGER NOT NULL", "run that recorded the change"),
            _c(
                "changed_at",
                "TIMESTAMPTZ NOT NULL",
                "when the new value was first seen: the run's start for the live site, the "
                "capture's time for a web archive",
            ),
            _c("project_id", "VARCHAR", "project id, when the project has one"),
            _c("field", "VARCHAR NOT NULL", "column of projects that changed"),
            _c("old_value", "VARCHAR", "value before, as text (lists comma-separated)"),
            _c("new_value", "VARCHAR", "value after, as text"),
            _c("project_key", "VARCHAR", "project key (projects.project_key)"),
            _c("seen_in", "VARCHAR", SEEN_IN_COMMENT),
        ),
    ),
    Table(
        "project_versions",
        "Each project as it was: one row per period in which its fields stayed the same, from "
        "the live site and web archives. As of a date: valid_from <= ts AND (valid_to IS NULL "
        "OR valid_to > ts).",
        (
            _c("project_key", "VARCHAR NOT NULL", PROJECT_KEY_COMMENT),
            _c("project_id", "VARCHAR", "project id, when the project had one then"),
            _c("valid_from", "TIMESTAMPTZ NOT NULL", "when these values were first seen"),
            _c(
                "valid_to",
                "TIMESTAMPTZ",
                "when other values were first seen; null for the current version",
            ),
            _c("seen_in", "VARCHAR", SEEN_IN_COMMENT),
            _c("title", "VARCHAR", "title (the English page's when there was one)"),
            _c("description", "VARCHAR", "description, from the same page as the title"),
            *(Column(c.name, c.type, c.comment) for c in _MERGED_FIELDS),
            _c(
                "missing_from_site",
                "BOOLEAN",
                "every page of the project was gone then (404/410, or no longer on the site)",
            ),
        ),
        key=("project_key", "valid_from"),
        checks=(f"idf_region IS NULL OR {_REGION_CHECK}",),
    ),
    Table(
        "observations",
        "Every reading of a project page: each new body the live site gave and each web "
        "archive capture, with its fields; what project_versions and project_changes are "
        "rebuilt from.",
        (
            _c("url", "VARCHAR NOT NULL", "page URL (normalised)"),
            _c(
                "observed_at",
                "TIMESTAMPTZ NOT NULL",
                "when: the run's start (live site) or the capture's time (archive)",
            ),
            _c("seen_in", "VARCHAR NOT NULL", SEEN_IN_COMMENT),
            _c(
                "kind",
                "VARCHAR NOT NULL",
                "project (fields read), gone (404/410 or no longer on the site), other (not a "
                "project page) or error (unreadable)",
            ),
            _c("content_sha256", "VARCHAR", "sha256 of the body read (its file in data/raw)"),
            *_PAGE_FIELDS,
        ),
        key=("url", "observed_at", "seen_in"),
        checks=("kind IN ('project', 'gone', 'other', 'error')",),
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


def table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)
