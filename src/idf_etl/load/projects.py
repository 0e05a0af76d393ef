"""The projects table from project_pages: which pages make one project, and its merged row.

The load (loader.py) writes project pages a batch at a time and remembers the
projects they touched; at the end of the run this module

1. `regroup`s every project page (grouping.py) without holding the table in
   memory: the rows are read ordered by node, and one node's pages are grouped
   at a time (a node's pages are all that decides their key);
2. `move_history`: a project left without pages (an id-less node gained its id)
   hands its first sighting and its history to the project its pages joined;
3. `Merger.merge`s the touched projects again, a batch of keys at a time, in
   DuckDB (merge.py's query): writing the rows that changed, one history row
   per changed field, and their countries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

import duckdb

from idf_etl.load.grouping import IdConflict, PageKeys, project_keys
from idf_etl.load.merge import disagreement_queries, disputed_pages, merge_query, text_sql
from idf_etl.parse.english_names import english_name
from idf_etl.urls import url_language
from idf_etl.warehouse.rows import Issue, query_dicts, scalar
from idf_etl.warehouse.schema import table

_READ_ROWS = 5_000  # project pages read from DuckDB at a time while regrouping


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


def move_history(con: duckdb.DuckDBPyConnection, keys: str) -> list[Issue]:
    """Projects among `keys` (SQL giving project keys) left without pages whose pages all
    joined one other project: move their history there. The row itself moves too when that
    project has none yet (its first sighting kept; the merge then records what changed),
    else it goes."""
    orphans = query_dicts(
        con,
        f"""SELECT project_key, urls FROM projects WHERE project_key IN ({keys})
           AND project_key NOT IN (SELECT project_key FROM project_pages
                                   WHERE project_key IS NOT NULL)
           ORDER BY first_seen, project_key""",  # two joining one: the earliest row moves
    )
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
        for table_name in ("project_changes", "issues"):
            con.execute(
                f"UPDATE {table_name} SET project_key = ? WHERE project_key = ?", [new_key, key]
            )
        if scalar(con, "SELECT count(*) FROM projects WHERE project_key = ?", [new_key]):
            con.execute("DELETE FROM project_states WHERE project_key = ?", [key])
            con.execute("DELETE FROM projects WHERE project_key = ?", [key])
        else:
            for table_name in ("projects", "project_states"):
                con.execute(
                    f"UPDATE {table_name} SET project_key = ? WHERE project_key = ?",
                    [new_key, key],
                )
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
    return issues


# The pages of the projects being merged (the merge's one parameter: their keys).
_BATCH_PAGES = "(SELECT * FROM project_pages WHERE project_key IN (SELECT unnest(?::VARCHAR[])))"
# History: one row per tracked field whose merged value differs from the stored one. One
# join, the differences as a list unnested: a join a field would hold a table a field.
_DIFFERENCES = ", ".join(
    f"""CASE WHEN o.{c.name} IS DISTINCT FROM m.{c.name} THEN {{
            'position': {i}, 'field': '{c.name}',
            'old_value': {text_sql("o." + c.name, c.type)},
            'new_value': {text_sql("m." + c.name, c.type)}}} END"""
    for i, c in enumerate(table("projects").columns)
    if c.tracked
)
_CHANGES = f"""SELECT project_key, project_id, d.position, d.field, d.old_value, d.new_value
    FROM (SELECT m.project_key, m.project_id, unnest(list_filter([{_DIFFERENCES}],
                 lambda d: d IS NOT NULL)) AS d
          FROM merged m JOIN stored o ON o.project_key = m.project_key)"""
# Merged columns that are not history but still make a row worth writing again.
_REFRESHED = " OR ".join(
    f"o.{c.name} IS DISTINCT FROM m.{c.name}"
    for c in table("projects").columns
    if not c.tracked and c.name not in ("project_key", "first_seen", "last_changed")
)
_PROJECT_COLUMNS = ", ".join(c.name for c in table("projects").columns)
# The merge's temporary tables, one batch's worth each.
_SCRATCH = ("merged", "stored", "changed", "written", "disputed")


@dataclass
class Merger:
    """Merges projects again for one run, inside DuckDB; counts what it wrote."""

    con: duckdb.DuckDBPyConnection
    run_id: int
    now: datetime
    rows_written: int = 0
    projects_new: int = 0
    field_changes: int = 0
    # False for an archive's load: its history is rebuilt from dated captures (history.py).
    record_changes: bool = True

    def merge(self, keys: list[str]) -> list[Issue]:
        """Merge these projects from their pages as now written; write the rows that changed,
        their history and countries; the languages' disagreements."""
        con = self.con
        con.execute(f"CREATE OR REPLACE TEMP TABLE merged AS {merge_query(_BATCH_PAGES)}", [keys])
        # The batch's rows as stored: joined with the whole table instead, DuckDB may hold
        # all of it (every description) in a hash table, beyond the run's memory limit.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE stored AS SELECT * FROM projects "
            "WHERE project_key IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE changed AS {_CHANGES}")
        # A row is written when new, changed, or when its pages, languages or last
        # sighting moved; an unchanged project keeps its row as it is.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE written AS
                SELECT m.project_key, coalesce(o.first_seen, $now) AS first_seen,
                       CASE WHEN o.project_key IS NULL OR c.project_key IS NOT NULL THEN $now
                            ELSE o.last_changed END AS last_changed,
                       o.project_key IS NULL AS new
                FROM merged m
                LEFT JOIN stored o ON o.project_key = m.project_key
                LEFT JOIN (SELECT DISTINCT project_key FROM changed) c
                       ON c.project_key = m.project_key
                WHERE o.project_key IS NULL OR c.project_key IS NOT NULL OR {_REFRESHED}""",
            {"now": self.now},
        )
        # New rows appended in key order (the export then needs no sort), others replaced.
        rows = f"SELECT {_PROJECT_COLUMNS} FROM merged JOIN written USING (project_key) WHERE"
        new = _count(con, f"INSERT INTO projects BY NAME {rows} new ORDER BY project_key")
        replaced = _count(con, f"INSERT OR REPLACE INTO projects BY NAME {rows} NOT new")
        changes = (
            _count(
                con,
                """INSERT INTO project_changes BY NAME
               SELECT ?::INTEGER AS run_id, ?::TIMESTAMPTZ AS changed_at, project_key,
                      project_id, field, old_value, new_value, 'live' AS seen_in
               FROM changed ORDER BY project_key, position""",
                [self.run_id, self.now],
            )
            if self.record_changes
            else 0
        )
        self.projects_new += new
        self.field_changes += changes
        self.rows_written += new + replaced + changes + self._write_states()
        issues = self._disagreements() + self._same_language_pages()
        # Scratch tables live in memory: kept, they would count against the next batch's.
        for name in _SCRATCH:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
        return issues

    def _write_states(self) -> int:
        """The written projects' countries, one row each, in key order."""
        con = self.con
        con.execute(
            "DELETE FROM project_states WHERE project_key IN (SELECT project_key FROM written)"
        )
        codes = [
            c
            for (c,) in con.execute(
                "SELECT DISTINCT unnest(states) FROM merged JOIN written USING (project_key)"
            ).fetchall()
        ]
        return _count(
            con,
            """INSERT INTO project_states BY NAME
               SELECT s.project_key, s.project_id, s.iso2, n.country_name
               FROM (SELECT project_key, project_id, unnest(list_sort(list_distinct(states)))
                            AS iso2 FROM merged JOIN written USING (project_key)) s
               JOIN (SELECT unnest(?::VARCHAR[]) AS iso2, unnest(?::VARCHAR[]) AS country_name) n
                 ON n.iso2 = s.iso2
               ORDER BY s.project_key, s.iso2""",
            [codes, [english_name(c) for c in codes]],
        )

    def _disagreements(self) -> list[Issue]:
        """The merged projects' pages on the site that disagree, an issue a field."""
        if not scalar(self.con, "SELECT count(*) FROM merged WHERE disagree"):
            return []  # most batches: the query below would still read every page
        # Their pages on the site first, on their own: the query reads them once a field.
        pages = disputed_pages(
            "(SELECT * FROM project_pages WHERE NOT gone "
            "AND project_key IN (SELECT project_key FROM merged WHERE disagree))"
        )
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE disputed AS {pages}")
        ids = dict(
            self.con.execute("SELECT project_key, project_id FROM merged WHERE disagree").fetchall()
        )
        found = [
            row for q in disagreement_queries("disputed") for row in self.con.execute(q).fetchall()
        ]
        found.sort(key=lambda row: row[0])  # by project, each one's fields in field order
        return [
            Issue("load", "warning", "languages_disagree", message, url, ids[key], field, key)
            for key, field, url, message in found
        ]

    def _same_language_pages(self) -> list[Issue]:
        """Projects whose id two different pages of one language give (a copy-paste slip,
        or a template printing one id everywhere): they are merged as one project, the
        first page's values kept, so the other page's project is in no row of `projects`
        and this issue is where it shows. Not two pages: two addresses of one page (the same
        node, or the same body), nor two languages' addresses (an untranslated /fr/ page
        shows the English text)."""
        rows = self.con.execute(
            """SELECT project_key, project_id, lang::VARCHAR, url, node_id, content_sha256
               FROM project_pages
               WHERE NOT gone AND project_id IS NOT NULL
                 AND project_key IN (SELECT project_key FROM merged WHERE shared_language)
               ORDER BY project_key, url"""
        ).fetchall()
        slots: dict[tuple[str, str, str | None, str], dict[object, str]] = {}
        for key, project_id, lang, url, node, sha in rows:
            # a page is its node where it names one, else its body
            page = ("node", node) if node is not None else ("body", sha or url)
            slot = slots.setdefault((key, project_id, lang, url_language(url)), {})
            slot.setdefault(page, url)
        issues = []
        for (key, project_id, lang, _), pages in slots.items():
            if len(pages) < 2:
                continue
            urls = sorted(pages.values())
            more = f", and {len(urls) - 3} more" if len(urls) > 3 else ""
            message = (
                f"{len(urls)} different {lang or 'unknown-language'} pages give project id "
                f"{project_id}: {', '.join(urls[:3])}{more}; they are merged as one project "
                "(the first page's values kept), so a page's id is probably wrong"
            )
            issues.append(
                Issue(
                    "load",
                    "warning",
                    "duplicate_project_id",
                    message,
                    urls[0],
                    project_id,
                    "project_id",
                    key,
                )
            )
        return issues


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    """Run an INSERT; the rows it wrote."""
    return int(scalar(con, sql, params, default=0))
