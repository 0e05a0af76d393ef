"""Load parsed pages into the warehouse: pages, project pages, merged projects, history, issues.

Runs inside one transaction on the *building* copy of the warehouse (see
publish.py); nothing here touches the published file. Bulk writes go through
DuckDB's appender, each batch de-duplicated by key first (in one statement
DuckDB keeps the first of two rows with the same key, silently).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from idf_etl.countries import english_name
from idf_etl.grouping import PageKeys, project_keys
from idf_etl.merge import disagreements, merge_project, norm, text
from idf_etl.records import STORED_FIELDS, OtherPage, ProjectRecord
from idf_etl.warehouse import table

# Columns of `projects` whose changes are history (bookkeeping columns are not).
TRACKED_FIELDS = tuple(c.name for c in table("projects").columns if c.tracked)

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
    project_key: str | None = None


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
        self, con: duckdb.DuckDBPyConnection, run_id: int, started_at: datetime, parser_version: str
    ) -> None:
        self.con = con
        # Timestamps come back as UTC datetimes; any other zone makes each one a pytz lookup.
        con.execute("SET TimeZone = 'UTC'")
        self.run_id = run_id
        self.now = started_at
        self.parser_version = parser_version
        self.stats = LoadStats()
        self.issues: list[Issue] = []
        self.keys: dict[str, str] = {}  # url -> project key, once grouped

    def known_pages(self) -> dict[str, tuple[str | None, str | None]]:
        """url -> (content hash, parser version) already in the warehouse: what needs no re-parse."""
        rows = self.con.execute("SELECT url, content_sha256, parser_version FROM pages").fetchall()
        return {url: (sha, version) for url, sha, version in rows}

    def load(
        self, parsed: list[ParsedPage], status: dict[str, tuple[bool, datetime | None]]
    ) -> LoadStats:
        """Write parsed pages, refresh gone/last-seen from `status` (url -> (gone, checked_at))
        for every stored page, then re-merge the projects they touch."""
        old_pp = {r["url"]: r for r in _fetch_dicts(self.con, "SELECT * FROM project_pages")}
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
        # Gone flags and last sightings change without a new body; a page that no longer
        # reads as a project leaves its previous row untouched.
        unreadable = {p.url for p in parsed if not isinstance(p.record, ProjectRecord)}
        for url, old in old_pp.items():
            if url in new_pp or url in unreadable or url not in status:
                continue
            gone, checked_at = status[url]
            last_seen = _later(old["last_seen"], checked_at)
            if gone != old["gone"] or last_seen != old["last_seen"]:
                new_pp[url] = {**old, "gone": gone, "last_seen": last_seen}
        self.stats.rows_written += upsert(self.con, "pages", page_rows)
        gone_urls = [url for url, (is_gone, _) in status.items() if is_gone]
        self.con.execute(
            "UPDATE pages SET gone = list_contains(?::VARCHAR[], url) "
            "WHERE gone <> list_contains(?::VARCHAR[], url)",
            [gone_urls, gone_urls],
        )
        current = {**old_pp, **new_pp}
        keys = self._group(current)
        for url, row in current.items():
            if row.get("project_key") != keys[url]:
                new_pp[url] = {**row, "project_key": keys[url]}
        changed_pp = {u: r for u, r in new_pp.items() if _differs(r, old_pp.get(u))}
        self.stats.rows_written += upsert(self.con, "project_pages", changed_pp.values())
        affected = {r["project_key"] for r in changed_pp.values()}
        affected |= {old_pp[u]["project_key"] for u in changed_pp if u in old_pp}
        affected.discard(None)
        current = {**old_pp, **changed_pp}
        self._merge_projects(sorted(affected), current)
        self._write_issues()
        (self.stats.projects_total,) = self.con.execute(
            "SELECT count(*) FROM projects"
        ).fetchone() or (0,)
        return self.stats

    def _group(self, current: dict[str, Row]) -> dict[str, str]:
        """url -> project key for every project page (grouping.py); nodes whose pages show
        two project ids are reported."""
        keys, conflicts = project_keys(
            PageKeys(r["url"], r["project_id"], r["node_id"], r["lang"]) for r in current.values()
        )
        for c in conflicts:
            url = next(iter(c.ids.values()))[0]
            self._issue("load", "warning", "conflicting_project_ids", url, c.message())
        self.keys = keys
        return keys

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

    def _merge_projects(self, keys: list[str], current: dict[str, Row]) -> None:
        """Re-merge these projects from `current` (every project page row, as now written).

        A project whose pages all moved to another key (an id-less node gained its id)
        hands its first sighting and its history to that key, and its row goes."""
        if not keys:
            return
        pages: dict[str, list[Row]] = {}
        for row in current.values():
            pages.setdefault(row["project_key"], []).append(row)
        old = {
            r["project_key"]: r
            for r in _fetch_dicts(
                self.con,
                "SELECT * FROM projects WHERE project_key IN (SELECT unnest(?::VARCHAR[]))",
                [keys],
            )
        }
        moved = self._rekey([k for k in keys if k in old and k not in pages], old, current)
        rows, changes, state_rows = [], [], []
        for key in keys:
            merged = merge_project(key, pages.get(key, []))
            if merged is None:
                continue
            for d in disagreements(pages[key]):
                self._issue(
                    "load",
                    "warning",
                    "languages_disagree",
                    next(iter(d.values)),
                    d.message(),
                    merged["project_id"],
                    d.field,
                    key,
                )
            before = old.get(key) or moved.get(key)
            diffs = (
                []
                if before is None
                else [f for f in TRACKED_FIELDS if norm(before[f]) != norm(merged[f])]
            )
            merged["first_seen"] = before["first_seen"] if before else self.now
            merged["last_changed"] = (
                self.now if (before is None or diffs) else before["last_changed"]
            )
            if (
                before is not None
                and key in old
                and not diffs
                and all(norm(before[k]) == norm(v) for k, v in merged.items())
            ):
                continue
            if before is None:
                self.stats.projects_new += 1
            rows.append(merged)
            self.stats.touched_projects.append(key)
            changes += [
                {
                    "run_id": self.run_id,
                    "changed_at": self.now,
                    "project_key": key,
                    "project_id": merged["project_id"],
                    "field": f,
                    "old_value": text(before[f]) if before else None,
                    "new_value": text(merged[f]),
                }
                for f in diffs
            ]
            state_rows.append((key, merged["project_id"], merged["states"]))
        self.stats.rows_written += upsert(self.con, "projects", rows)
        self.stats.rows_written += upsert(self.con, "project_changes", changes)
        self.stats.field_changes += len(changes)
        if state_rows:
            self.con.execute(
                "DELETE FROM project_states WHERE project_key IN (SELECT unnest(?::VARCHAR[]))",
                [[k for k, _, _ in state_rows]],
            )
            self.stats.rows_written += upsert(
                self.con,
                "project_states",
                (
                    {
                        "project_key": k,
                        "project_id": pid,
                        "iso2": code,
                        "country_name": english_name(code),
                    }
                    for k, pid, codes in state_rows
                    for code in codes
                ),
            )

    def _rekey(
        self, gone: list[str], old: dict[str, Row], current: dict[str, Row]
    ) -> dict[str, Row]:
        """Projects left without pages: their pages now belong to another key. Move their
        history there and drop their row; return new key -> the old row (its `before`)."""
        moved: dict[str, Row] = {}
        for key in gone:
            new_keys = {current[u]["project_key"] for u in old[key]["urls"] if u in current}
            if len(new_keys) != 1:
                continue
            new_key = new_keys.pop()
            moved.setdefault(new_key, old[key])
            for table_name in ("project_changes", "issues"):
                self.con.execute(
                    f"UPDATE {table_name} SET project_key = ? WHERE project_key = ?",
                    [new_key, key],
                )
            self.con.execute("DELETE FROM project_states WHERE project_key = ?", [key])
            self.con.execute("DELETE FROM projects WHERE project_key = ?", [key])
            self._issue(
                "load",
                "warning",
                "project_rekeyed",
                None,
                f"the pages of project {key} now belong to {new_key} (a page gained a project "
                "id or a node link); its history moved there",
                project_key=new_key,
            )
        return moved

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
        project_key: str | None = None,
    ) -> None:
        self.issues.append(
            Issue(stage, severity, code, message, url, project_id, field_name, project_key)
        )

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
                "project_key": i.project_key or self.keys.get(i.url or ""),
            }
            for i in self.issues
        ]
        self.stats.issues += upsert(self.con, "issues", rows)
        self.issues.clear()


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _differs(new: Row, old: Row | None) -> bool:
    return old is None or any(norm(old.get(k)) != norm(v) for k, v in new.items())
