"""The projects table from project_pages: which pages make one project, and its merged row.

The load (load.py) writes project pages a batch at a time and remembers the
projects they touched; at the end of the run this module

1. `regroup`s every project page (grouping.py) without holding the table in
   memory: the rows are read ordered by node, and one node's pages are grouped
   at a time (a node's pages are all that decides their key);
2. `move_history`: a project left without pages (an id-less node gained its id)
   hands its first sighting and its history to the project its pages joined;
3. `Merger.merge`s the touched projects again (merge.py), a batch of keys at a
   time, writing the rows that changed and one history row per changed field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

import duckdb

from idf_etl.countries import english_name
from idf_etl.grouping import IdConflict, PageKeys, project_keys
from idf_etl.merge import disagreements, merge_project, norm, text
from idf_etl.rows import Issue, Row, query_dicts, upsert
from idf_etl.warehouse import table

# Columns of `projects` whose changes are history (bookkeeping columns are not).
TRACKED_FIELDS = tuple(c.name for c in table("projects").columns if c.tracked)
_READ_ROWS = 5_000  # project pages read from DuckDB at a time while regrouping
# What a merge reads of a page: its bookkeeping columns stay in DuckDB (a third of the
# read's cost is turning values into Python objects).
_MERGE_READS = ", ".join(
    c.name
    for c in table("project_pages").columns
    if c.name not in ("content_sha256", "fetched_at", "parser_version", "first_seen")
)


@dataclass(frozen=True)
class Regrouped:
    url: str
    old_key: str | None
    new_key: str


def regroup(con: duckdb.DuckDBPyConnection) -> tuple[list[Regrouped], list[IdConflict]]:
    """Group every project page again; the pages whose key changes, and the nodes whose
    pages show two project ids. Memory: one read chunk and one node's pages."""
    moves: list[Regrouped] = []
    conflicts: list[IdConflict] = []
    for pages in _node_groups(con):
        keys, found = project_keys(page for page, _ in pages)
        conflicts += found
        moves += [
            Regrouped(page.url, old, keys[page.url]) for page, old in pages if keys[page.url] != old
        ]
    if moves:
        con.execute(
            """UPDATE project_pages SET project_key = m.key
               FROM (SELECT unnest(?::VARCHAR[]) AS url, unnest(?::VARCHAR[]) AS key) m
               WHERE project_pages.url = m.url""",
            [[m.url for m in moves], [m.new_key for m in moves]],
        )
    return moves, conflicts


def _node_groups(con: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[PageKeys, str | None]]]:
    """Project pages with their stored key, one node's pages (of every host) together; a
    page without a node alone."""
    # The same connection (a cursor would not see this transaction's rows): nothing else
    # may run on it until the last chunk is read.
    result = con.execute(
        "SELECT url, project_id, node_id, lang, project_key FROM project_pages "
        "ORDER BY node_id NULLS LAST, url"
    )

    def rows() -> Iterator[tuple[PageKeys, str | None]]:
        while chunk := result.fetchmany(_READ_ROWS):
            for url, project_id, node_id, lang, key in chunk:
                yield PageKeys(url, project_id, node_id, lang), key

    for node_id, group in groupby(rows(), key=lambda r: r[0].node_id):
        if node_id is None:
            yield from ([row] for row in group)
        else:
            yield list(group)


def move_history(
    con: duckdb.DuckDBPyConnection, keys: list[str]
) -> tuple[dict[str, Row], list[Issue]]:
    """Projects among `keys` left without pages whose pages all joined one other project:
    move their history there and drop their row. New key -> the old row (its `before`)."""
    orphans = query_dicts(
        con,
        """SELECT * FROM projects WHERE project_key IN (SELECT unnest(?::VARCHAR[]))
           AND project_key NOT IN (SELECT project_key FROM project_pages
                                   WHERE project_key IS NOT NULL)""",
        [keys],
    )
    moved: dict[str, Row] = {}
    issues = []
    for old in orphans:
        key = old["project_key"]
        new_keys = {
            k
            for (k,) in con.execute(
                "SELECT DISTINCT project_key FROM project_pages "
                "WHERE url IN (SELECT unnest(?::VARCHAR[]))",
                [old["urls"]],
            ).fetchall()
        }
        if len(new_keys) != 1:
            continue
        new_key = new_keys.pop()
        moved.setdefault(new_key, old)
        for table_name in ("project_changes", "issues"):
            con.execute(
                f"UPDATE {table_name} SET project_key = ? WHERE project_key = ?", [new_key, key]
            )
        con.execute("DELETE FROM project_states WHERE project_key = ?", [key])
        con.execute("DELETE FROM projects WHERE project_key = ?", [key])
        issues.append(
            Issue(
                "load",
                "warning",
                "project_rekeyed",
                f"the pages of project {key} now belong to {new_key} (a page gained a project "
                "id or a node link); its history moved there",
                project_key=new_key,
            )
        )
    return moved, issues


@dataclass
class Merger:
    """Merges projects again for one run; counts what it wrote."""

    con: duckdb.DuckDBPyConnection
    run_id: int
    now: datetime
    moved: dict[str, Row] = field(default_factory=dict)  # from move_history
    rows_written: int = 0
    projects_new: int = 0
    field_changes: int = 0

    def merge(self, keys: list[str]) -> list[Issue]:
        """Merge these projects from their pages as now written; the languages' disagreements."""
        pages: dict[str, list[Row]] = {}
        for row in query_dicts(
            self.con,
            f"SELECT {_MERGE_READS} FROM project_pages "
            "WHERE project_key IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        ):
            pages.setdefault(row["project_key"], []).append(row)
        old = {
            r["project_key"]: r
            for r in query_dicts(
                self.con,
                "SELECT * FROM projects WHERE project_key IN (SELECT unnest(?::VARCHAR[]))",
                [keys],
            )
        }
        issues: list[Issue] = []
        rows, changes, state_rows = [], [], []
        for key in keys:
            merged = merge_project(key, pages.get(key, []))
            if merged is None:
                continue
            issues += [
                Issue(
                    "load",
                    "warning",
                    "languages_disagree",
                    d.message(),
                    next(iter(d.values)),
                    merged["project_id"],
                    d.field,
                    key,
                )
                for d in disagreements(pages[key])
            ]
            before = old.get(key) or self.moved.get(key)
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
                self.projects_new += 1
            rows.append(merged)
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
        self.rows_written += upsert(self.con, "projects", rows, existing=old)
        self.rows_written += upsert(self.con, "project_changes", changes)
        self.field_changes += len(changes)
        self._write_states(state_rows)
        return issues

    def _write_states(self, state_rows: list[tuple[str, str | None, list[str]]]) -> None:
        if not state_rows:
            return
        self.con.execute(
            "DELETE FROM project_states WHERE project_key IN (SELECT unnest(?::VARCHAR[]))",
            [[k for k, _, _ in state_rows]],
        )
        self.rows_written += upsert(
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
                for code in sorted(codes)  # in key order: the export then needs no sort
            ),
            existing=(),  # deleted just above
        )
