"""Load parsed pages into the warehouse: pages, project pages, merged projects, history, issues.

Runs on the *building* copy of the warehouse (see publish.py), in one
transaction or (commit_batches) one per batch; nothing here touches the
published file, which is replaced only by a whole, finished copy. Bulk writes go through
DuckDB's appender, each batch de-duplicated by key first (in one statement
DuckDB keeps the first of two rows with the same key, silently).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from idf_etl.countries import english_name
from idf_etl.records import LANGS, MERGED_FIELDS, STORED_FIELDS, OtherPage, ProjectRecord
from idf_etl.warehouse import table

# Columns of `projects` whose changes are history (bookkeeping columns are not).
TRACKED_FIELDS = tuple(c.name for c in table("projects").columns if c.tracked)
_LANG_ORDER: dict[str | None, int] = {lang: i for i, lang in enumerate(LANGS)}
# Projects merged at a time at the end of a load.
_MERGE_BATCH = 250

Row = dict[str, Any]


@dataclass
class ParsedPage:
    """One stored page after parsing (or failing to), with what the raw store knows of it."""

    url: str
    sha256: str | None
    fetched_at: datetime | None
    checked_at: datetime | None
    gone: bool
    record: ProjectRecord | OtherPage | None = None
    error: str | None = None


@dataclass
class Issue:
    stage: str
    severity: str
    code: str
    message: str
    url: str | None = None
    project_id: str | None = None
    field: str | None = None


@dataclass
class LoadStats:
    pages_parsed: int = 0
    parse_errors: int = 0
    projects_total: int = 0
    projects_new: int = 0
    field_changes: int = 0
    issues: int = 0
    rows_written: int = 0
    touched_projects: list[str] = field(default_factory=list)


def upsert(con: duckdb.DuckDBPyConnection, table_name: str, rows: Iterable[Row]) -> int:
    """Insert or replace rows by the table's key, in bulk; the last row of a key wins."""
    t = table(table_name)
    # The file's column order: a migrated table has its added columns at the end.
    names = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
            [table_name],
        ).fetchall()
    ]
    if t.key:
        unique: dict[tuple[Any, ...], Row] = {}
        for row in rows:
            unique[tuple(row[k] for k in t.key)] = row
        batch: Sequence[Row] = list(unique.values())
    else:
        batch = list(rows)
    if batch:
        with con.appender(table_name, action="upsert" if t.key else "insert") as appender:
            appender.append_rows([tuple(row.get(n) for n in names) for row in batch])
    return len(batch)


def _fetch_dicts(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
) -> list[Row]:
    relation = con.execute(query, params or [])
    names = [d[0] for d in relation.description]
    return [dict(zip(names, values, strict=True)) for values in relation.fetchall()]


class Loader:
    """One run's load into an open (building) warehouse connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: int,
        started_at: datetime,
        parser_version: str,
        *,
        commit_batches: bool = False,
    ) -> None:
        self.con = con
        self.commit_batches = commit_batches
        # Timestamps come back as UTC datetimes; any other zone makes each one a pytz lookup.
        con.execute("SET TimeZone = 'UTC'")
        self.run_id = run_id
        self.now = started_at
        self.parser_version = parser_version
        self.stats = LoadStats()
        self.issues: list[Issue] = []
        self._affected: set[str] = set()  # projects to merge again at the end

    def up_to_date(self, pages: list[tuple[str, str | None]]) -> set[str]:
        """The URLs among (url, content hash) whose page row this parser version made from
        that content: they need no re-parse."""
        rows = self.con.execute(
            """SELECT p.url FROM pages p
               JOIN (SELECT unnest(?::VARCHAR[]) AS url, unnest(?::VARCHAR[]) AS sha) s
                 ON p.url = s.url AND p.content_sha256 = s.sha
               WHERE p.parser_version = ?""",
            [[u for u, _ in pages], [h for _, h in pages], self.parser_version],
        ).fetchall()
        return {url for (url,) in rows}

    def load(
        self, parsed: list[ParsedPage], status: dict[str, tuple[bool, datetime | None]]
    ) -> LoadStats:
        """All of a run's load in one call: `load_pages`, `refresh_status`, `finish`."""
        self.load_pages(parsed)
        self.refresh_status(status)
        return self.finish()

    def load_pages(self, parsed: list[ParsedPage]) -> None:
        """Write one batch of parsed pages; their projects are merged again in `finish`."""
        old_pp = self._project_pages("url", [p.url for p in parsed])
        new_pp: dict[str, Row] = {}
        page_rows: list[Row] = []
        for page in parsed:
            self.stats.pages_parsed += 1
            page_rows.append(self._page_row(page))
            if isinstance(page.record, ProjectRecord):
                new_pp[page.url] = self._project_page_row(page, page.record, old_pp.get(page.url))
            elif page.url in old_pp:
                kind = "an unreadable page" if page.record is None else "not a project page"
                self._issue(
                    "load",
                    "warning",
                    "project_page_lost",
                    page.url,
                    f"this page used to be a project page and now reads as {kind}; "
                    "its previous data is kept",
                    old_pp[page.url]["project_id"],
                )
        self.stats.rows_written += upsert(self.con, "pages", page_rows)
        self._write_project_pages(new_pp, old_pp)
        self._write_issues()
        self._batch_written()

    def refresh_status(self, status: dict[str, tuple[bool, datetime | None]]) -> None:
        """Gone flags and last sightings of stored pages (url -> (gone, checked_at)), one batch
        at a time: they change without a new body. A page parsed in this run has them already;
        one that no longer reads as a project leaves its previous row untouched."""
        urls = list(status)
        gone = [status[u][0] for u in urls]
        self.con.execute(
            """UPDATE pages SET gone = s.gone
               FROM (SELECT unnest(?::VARCHAR[]) AS url, unnest(?::BOOLEAN[]) AS gone) s
               WHERE pages.url = s.url AND pages.gone <> s.gone""",
            [urls, gone],
        )
        parsed_now = {
            url
            for (url,) in self.con.execute(
                "SELECT url FROM pages WHERE parsed_run_id = ? AND url IN (SELECT unnest(?::VARCHAR[]))",
                [self.run_id, urls],
            ).fetchall()
        }
        old_pp = self._project_pages("url", [u for u in urls if u not in parsed_now])
        new_pp: dict[str, Row] = {}
        for url, old in old_pp.items():
            is_gone, checked_at = status[url]
            last_seen = _later(old["last_seen"], checked_at)
            if is_gone != old["gone"] or last_seen != old["last_seen"]:
                new_pp[url] = {**old, "gone": is_gone, "last_seen": last_seen}
        self._write_project_pages(new_pp, old_pp)
        self._batch_written()

    def finish(self) -> LoadStats:
        """Merge again every project the loaded pages touch, write the issues, count."""
        affected = sorted(self._affected)
        for start in range(0, len(affected), _MERGE_BATCH):
            self._merge_projects(affected[start : start + _MERGE_BATCH])
            self._batch_written()
        self._affected.clear()
        self._write_issues()
        (self.stats.projects_total,) = self.con.execute(
            "SELECT count(*) FROM projects"
        ).fetchone() or (0,)
        return self.stats

    def _batch_written(self) -> None:
        # DuckDB keeps a transaction's new rows in memory until it commits: a commit a batch
        # keeps memory flat however many pages a run loads.
        if self.commit_batches:
            self.con.execute("COMMIT")
            self.con.execute("BEGIN TRANSACTION")

    def _project_pages(self, column: str, values: list[str]) -> dict[str, Row]:
        """Project page rows by url, where `column` is one of `values`."""
        if not values:
            return {}
        rows = _fetch_dicts(
            self.con,
            f"SELECT * FROM project_pages WHERE {column} IN (SELECT unnest(?::VARCHAR[]))",
            [values],
        )
        return {r["url"]: r for r in rows}

    def _write_project_pages(self, new_pp: dict[str, Row], old_pp: dict[str, Row]) -> None:
        """Write the rows that changed; remember their projects, old and new, for `finish`."""
        changed = {u: r for u, r in new_pp.items() if _differs(r, old_pp.get(u))}
        self.stats.rows_written += upsert(self.con, "project_pages", changed.values())
        for url, row in changed.items():
            before = old_pp.get(url)
            self._affected.update(
                p for p in (row["project_id"], before and before["project_id"]) if p
            )

    # -- rows --

    def _page_row(self, page: ParsedPage) -> Row:
        record = page.record
        if record is None:
            self.stats.parse_errors += 1
            self._issue(
                "parse",
                "error",
                "unreadable_page",
                page.url,
                f"{page.error}; the page's previous data (if any) is kept",
            )
        else:
            for problem in record.problems:
                severity = "error" if problem.code == "missing_project_id" else "warning"
                project_id = record.project_id if isinstance(record, ProjectRecord) else None
                self._issue(
                    "parse",
                    severity,
                    problem.code,
                    page.url,
                    problem.message,
                    project_id,
                    problem.field,
                )
        return {
            "url": page.url,
            "kind": "error" if record is None else record.kind,
            "reason": page.error if record is None else getattr(record, "reason", None),
            "lang": getattr(record, "lang", None),
            "title": getattr(record, "title", None),
            "content_sha256": page.sha256,
            "fetched_at": page.fetched_at,
            "parser_version": self.parser_version,
            "parsed_run_id": self.run_id,
            "gone": page.gone,
        }

    def _project_page_row(self, page: ParsedPage, rec: ProjectRecord, old: Row | None) -> Row:
        return {
            "url": page.url,
            **{name: _copy(getattr(rec, name)) for name in STORED_FIELDS},
            "content_sha256": page.sha256,
            "fetched_at": page.fetched_at,
            "parser_version": self.parser_version,
            "first_seen": old["first_seen"] if old else self.now,
            "last_seen": _later(
                old["last_seen"] if old else None, page.checked_at or page.fetched_at
            ),
            "gone": page.gone,
        }

    # -- projects --

    def _merge_projects(self, project_ids: list[str]) -> None:
        """Re-merge these projects from their project pages, as now written."""
        if not project_ids:
            return
        pages: dict[str, list[Row]] = {}
        for row in self._project_pages("project_id", project_ids).values():
            pages.setdefault(row["project_id"], []).append(row)
        old = {
            r["project_id"]: r
            for r in _fetch_dicts(
                self.con,
                "SELECT * FROM projects WHERE project_id IN (SELECT unnest(?::VARCHAR[]))",
                [project_ids],
            )
        }
        rows, changes, state_rows = [], [], []
        for project_id in project_ids:
            merged = merge_project(pages.get(project_id, []))
            if merged is None:
                continue
            before = old.get(project_id)
            diffs = (
                []
                if before is None
                else [f for f in TRACKED_FIELDS if _norm(before[f]) != _norm(merged[f])]
            )
            merged["first_seen"] = before["first_seen"] if before else self.now
            merged["last_changed"] = (
                self.now if (before is None or diffs) else before["last_changed"]
            )
            if (
                before is not None
                and not diffs
                and all(_norm(before[k]) == _norm(v) for k, v in merged.items())
            ):
                continue
            if before is None:
                self.stats.projects_new += 1
            rows.append(merged)
            self.stats.touched_projects.append(project_id)
            changes += [
                {
                    "run_id": self.run_id,
                    "changed_at": self.now,
                    "project_id": project_id,
                    "field": f,
                    "old_value": _text(before[f]) if before else None,
                    "new_value": _text(merged[f]),
                }
                for f in diffs
            ]
            if before is None or _norm(before["states"]) != _norm(merged["states"]):
                state_rows.append((project_id, merged["states"]))
        self.stats.rows_written += upsert(self.con, "projects", rows)
        self.stats.rows_written += upsert(self.con, "project_changes", changes)
        self.stats.field_changes += len(changes)
        if state_rows:
            self.con.execute(
                "DELETE FROM project_states WHERE project_id IN (SELECT unnest(?::VARCHAR[]))",
                [[p for p, _ in state_rows]],
            )
            self.stats.rows_written += upsert(
                self.con,
                "project_states",
                (
                    {"project_id": p, "iso2": code, "country_name": english_name(code)}
                    for p, codes in state_rows
                    for code in codes
                ),
            )

    # -- issues --

    def add_issues(self, issues: Iterable[Issue]) -> None:
        self.issues.extend(issues)

    def _issue(
        self,
        stage: str,
        severity: str,
        code: str,
        url: str | None,
        message: str,
        project_id: str | None = None,
        field_name: str | None = None,
    ) -> None:
        self.issues.append(Issue(stage, severity, code, message, url, project_id, field_name))

    def _write_issues(self) -> None:
        rows = [
            {
                "run_id": self.run_id,
                "found_at": self.now,
                "stage": i.stage,
                "severity": i.severity,
                "url": i.url,
                "project_id": i.project_id,
                "code": i.code,
                "field": i.field,
                "message": i.message,
            }
            for i in self.issues
        ]
        self.stats.issues += upsert(self.con, "issues", rows)
        self.issues.clear()


def merge_project(pages: list[Row]) -> Row | None:
    """One project row from its pages: English first, then French, then Spanish; pages still
    on the site before gone ones; each field from the first page that has it."""
    if not pages:
        return None
    ordered = sorted(
        pages, key=lambda p: (bool(p["gone"]), _LANG_ORDER.get(p["lang"], len(LANGS)), p["url"])
    )
    titled = next((p for p in ordered if p["title"]), ordered[0])
    row: Row = {
        "project_id": ordered[0]["project_id"],
        "title": titled["title"],
        "title_lang": titled["lang"],
        "description": titled["description"]
        or next((p["description"] for p in ordered if p["description"]), None),
    }
    for name in MERGED_FIELDS:
        empty: list[str] | None = [] if STORED_FIELDS[name].sql.endswith("[]") else None
        row[name] = next((p[name] for p in ordered if p[name] not in (None, [])), empty)
    row["languages"] = sorted({p["lang"] for p in pages if p["lang"]}, key=_LANG_ORDER.__getitem__)
    row["urls"] = sorted(p["url"] for p in pages)
    seen = [p["last_seen"] for p in pages if p["last_seen"] is not None]
    row["last_seen"] = max(seen) if seen else None
    row["missing_from_site"] = all(p["gone"] for p in pages)
    return row


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _norm(value: Any) -> Any:
    """Compare values as the warehouse stores them (Decimal scale, lists, enums as text)."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def _differs(new: Row, old: Row | None) -> bool:
    return old is None or any(_norm(old.get(k)) != _norm(v) for k, v in new.items())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)
