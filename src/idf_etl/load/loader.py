"""Load parsed pages into the warehouse: pages, project pages, merged projects, history, issues.

Runs on the *building* copy of the warehouse (see publish.py); nothing here
touches the published file. A run loads in batches so that its memory does
not grow with the raw store:

    loader = Loader(con, run_id, started, PARSER_VERSION, commit_batches=True)
    for batch in parsed_batches: loader.load_pages(batch)     # pages, project pages
    for batch in stored_batches: loader.refresh_page_states(batch)  # gone flags, last sightings
    stats = loader.finish()                                    # group, merge projects

With `commit_batches` each batch is committed: DuckDB holds a transaction's
new rows in memory until it commits, and the building copy is published only
once whole, so the run stays all-or-nothing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

import duckdb

from idf_etl.load import work
from idf_etl.load.batch_memory import LeanBatches
from idf_etl.load.batches import MERGE_PAGES, Weight
from idf_etl.load.history import (
    LIVE,
    observation_row,
    rebuild_batch,
    record_live_status,
    record_observations,
)
from idf_etl.load.page_rows import (
    OBSERVED,
    REFUSED,
    differs,
    project_page_row,
    refused_reason,
)
from idf_etl.load.page_states import refresh_states
from idf_etl.load.parsed import LoadStats, PageStates, ParsedPage
from idf_etl.load.pending import LOAD_INCOMPLETE, Clock, leave, take
from idf_etl.load.projects import Merger, move_history, regroup
from idf_etl.records import ProjectRecord, bounded
from idf_etl.warehouse.rows import Issue, Row, query_dicts, scalar, upsert

log = logging.getLogger("idf_etl.load")  # a --log-json contract: fixed, whatever the module


class Loader:
    """One run's load into an open (building) warehouse connection, a batch at a time."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: int,
        started_at: datetime,
        parser_version: str,
        *,
        commit_batches: bool = False,
        merge_batch: int = MERGE_PAGES,
        seen_in: str = LIVE,
        merge_bytes: int | None = None,
        memory: str | None = None,
    ) -> None:
        self.con = con
        self.memory = memory  # the connection's memory limit as set (None: DuckDB's reading)
        self.commit_batches = commit_batches
        # Where this load's pages were read: the live site (history appended by the merge,
        # dated by the run), or a web archive (history rebuilt from dated captures).
        self.seen_in = seen_in
        self.merge_batch = merge_batch  # pages merged (and committed) at a time, at most
        self.merge_bytes = merge_bytes  # ...and their text, at most (None: no bound)
        # Timestamps come back as UTC datetimes; any other zone makes each one a pytz lookup.
        con.execute("SET TimeZone = 'UTC'")
        self.run_id = run_id
        self.now = started_at
        self.parser_version = parser_version
        self.stats = LoadStats()
        self.issues: list[Issue] = []
        self._keys: dict[str, str] = {}  # url -> project key, for this batch's issues
        # The projects to merge again in `finish`, and those with new observations (their
        # history rebuilt): noted in DuckDB (work.py), in each batch's transaction.
        work.start(con)
        # SQL: the project keys `finish` merged (problems.py's verdicts).
        self.merged = work.MERGED
        # What the run wrote before its first batch (its ledger row) is committed: a batch
        # whose values the warehouse refuses is rolled back to here, never further.
        self._batch_written()

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

    def load(self, parsed: list[ParsedPage], states: PageStates) -> LoadStats:
        """A whole load in one call: `load_pages`, `refresh_page_states`, `finish`."""
        self.load_pages(parsed)
        self.refresh_page_states(states)
        return self.finish()

    def touch(self, observed: Iterable[str], merge: Iterable[str] = ()) -> None:
        """Projects whose observations another source wrote (history rebuilt in `finish`),
        and those whose pages it wrote (merged again too)."""
        self._note(observed, work.HISTORY)
        self._note(merge, work.MERGE)

    def load_pages(self, parsed: list[ParsedPage]) -> None:
        """Write one batch of parsed pages; their projects are merged again in `finish`.

        An error boundary: when the warehouse refuses a value of the batch (a number out of
        its column's range), the batch is undone and written a page at a time, and a page
        whose values it refuses becomes an `unreadable_page` issue naming why, its previous
        data kept: one page never stops the run (or loses its ledger row)."""
        try:
            self._attempt(parsed)
            return
        except REFUSED as exc:
            if len(parsed) == 1 and parsed[0].record is None:
                raise  # not even the page's failure could be written: not a page's values
            log.warning(
                "load: a batch of %d pages was refused (%s); writing it a page at a time",
                len(parsed),
                refused_reason(exc),
            )
        for page in parsed:
            try:
                self._attempt([page])
            except REFUSED as exc:
                self._attempt(
                    [
                        replace(
                            page,
                            record=None,
                            error=(
                                f"the warehouse cannot hold this page's values ({refused_reason(exc)})"
                            ),
                        )
                    ]
                )

    def _attempt(self, parsed: list[ParsedPage]) -> None:
        """Write a batch whole or not at all: on failure the warehouse is as it was (rolled
        back to the last batch's commit, the projects it noted with it) and so is what this
        loader holds."""
        saved = (replace(self.stats), len(self.issues), dict(self._keys))
        if not self.commit_batches:
            self.con.execute("BEGIN TRANSACTION")
        try:
            self._write_pages(parsed)
        except REFUSED:
            self.con.execute("ROLLBACK")
            if self.commit_batches:
                self.con.execute("BEGIN TRANSACTION")
            stats, issues, self._keys = saved
            # In place: the parse stage counts into the same object (parse_left).
            vars(self.stats).update(vars(stats))
            del self.issues[issues:]
            raise
        if not self.commit_batches:
            self.con.execute("COMMIT")
        self._batch_written()

    def _write_pages(self, parsed: list[ParsedPage]) -> None:
        known = {
            url
            for (url,) in self.con.execute(
                "SELECT url FROM pages WHERE url IN (SELECT unnest(?::VARCHAR[]))",
                [[p.url for p in parsed]],
            ).fetchall()
        }
        # A project page is written beside its row in `pages`: a page new there is new here,
        # and is not looked for (that lookup reads the whole wide table).
        old_pp = self._project_pages([p.url for p in parsed if p.url in known])
        new_pp: dict[str, Row] = {}
        page_rows: list[Row] = []
        for page in parsed:
            self.stats.pages_parsed += 1
            old = old_pp.get(page.url)
            if isinstance(page.record, ProjectRecord):
                new_pp[page.url] = row = project_page_row(
                    page, page.record, old, self.now, self.parser_version
                )
                self._keys[page.url] = row["project_key"]
            elif old is not None:
                kind = "an unreadable page" if page.record is None else "not a project page"
                self._keys[page.url] = old["project_key"]
                self._issue(
                    "load",
                    "warning",
                    "project_page_lost",
                    page.url,
                    f"this page used to be a project page and now reads as {kind}; "
                    "its previous data is kept",
                    old["project_id"],
                )
            page_rows.append(self._page_row(page))
        self.stats.rows_written += upsert(self.con, "pages", page_rows, existing=known)
        self._write_project_pages(new_pp, old_pp)
        self._write_issues()

    def refresh_page_states(self, states: PageStates) -> None:
        """Gone flags and last sightings of stored pages, one batch at a time: they change
        without a new body. A page parsed in this run has them already; one that no longer
        reads as a project leaves its previous row untouched."""
        moved = refresh_states(self.con, states, self.run_id)
        self.stats.rows_written += len(moved)
        self._note(moved, work.MERGE)
        self._note(record_live_status(self.con, list(states), self.now, self.run_id), work.HISTORY)
        self._batch_written()

    def finish(self, deadline: float | None = None) -> LoadStats:
        """Group every project page again, merge the projects the loaded pages touch (a
        batch at a time), write the issues, count. Past `deadline` (time.monotonic()) it
        stops between batches, once it has merged one and rebuilt one: what it did not is
        left in `pending_projects` (pending.py), for the next run to take first."""
        moves, conflicts = regroup(self.con)
        # A regrouped page takes its observations to its new project, and leaves the old
        # one: both are merged again and both histories are rebuilt.
        moved = [k for m in moves for k in (m.old_key, m.new_key)]
        self._note(moved, work.MERGE)
        self._note(moved, work.HISTORY)
        if moves:  # this run's issues about a page go with its project
            self.con.execute(
                """UPDATE issues SET project_key = m.key
                   FROM (SELECT unnest(?::VARCHAR[]) AS url, unnest(?::VARCHAR[]) AS key) m
                   WHERE issues.url = m.url AND issues.run_id = ?""",
                [[m.url for m in moves], [m.new_key for m in moves], self.run_id],
            )
        for c in conflicts:
            url = next(iter(c.ids.values()))[0]
            self._issue("load", "warning", "conflicting_project_ids", url, c.message())
            self._keys[url] = scalar(
                self.con, "SELECT project_key FROM project_pages WHERE url = ?", [url]
            )
        # What earlier runs left at their deadline joins this run's work: other sources'
        # first, each by its own load's rules; then this run's.
        take(self.con)
        self.issues += move_history(self.con, work.TO_MERGE)
        most = Weight(self.merge_batch, self.merge_bytes or sys.maxsize)
        # The merge reads a batch's pages whole (descriptions and all): where no row order
        # is kept, DuckDB needs less memory for it (the exports check their order).
        self.con.execute("SET preserve_insertion_order = false")
        mergers: dict[str, Merger] = {}
        merging = work.batches(
            self.con, work.MERGE, last=self.seen_in, most=most, up=Clock(deadline).up
        )
        # The merge reads whole tables for a batch's rows: each batch within a lean limit.
        lean = LeanBatches(self.con, self.memory, rollback=self.commit_batches)
        for seen_in, keys in merging:
            merger = mergers.setdefault(
                seen_in, Merger(self.con, self.run_id, self.now, record_changes=seen_in == LIVE)
            )
            self.issues += lean.run(merger.merge, keys, counts=merger, what="merge")
            self._write_issues()
            work.done(self.con, keys, work.MERGE, seen_in)
            self._batch_written()
        for merger in mergers.values():
            self.stats.rows_written += merger.rows_written
            self.stats.projects_new += merger.projects_new
            self.stats.field_changes += merger.field_changes
        self.con.execute("RESET preserve_insertion_order")  # (a failure ends the run)
        # The history's own batch, whatever the merge's took.
        rebuilding = work.batches(
            self.con, work.HISTORY, last=self.seen_in, most=most, up=Clock(deadline).up
        )
        for seen_in, keys in rebuilding:
            done = lean.run(rebuild_batch, self.con, keys, self.run_id, seen_in, what="history")
            self.stats.field_changes += done.changes_added
            work.done(self.con, keys, work.HISTORY, seen_in)
            self._batch_written()
        lean.restore()
        self.stats.merge_left = leave(self.con)
        if self.stats.merge_left or self.stats.states_left:
            self._issue("load", "error", "load_incomplete", None, LOAD_INCOMPLETE)
        self._write_issues()
        self.stats.projects_total = int(scalar(self.con, "SELECT count(*) FROM projects"))
        return self.stats

    def _note(self, keys: Iterable[str | None], what: str) -> None:
        """Note projects (None: no project) for `finish` to merge or to rebuild the history of."""
        work.note(self.con, keys, what, self.seen_in)

    def commit_batch(self) -> None:
        """A batch written by another source (a backfill's observations) is committed."""
        self._batch_written()

    def _batch_written(self) -> None:
        # DuckDB keeps a transaction's new rows in memory until it commits: a commit a batch
        # keeps memory flat however many pages a run loads.
        if self.commit_batches:
            self.con.execute("COMMIT")
            # Committed rows stay in memory DuckDB cannot give back until a checkpoint
            # writes them to the file: without one, a few batches of long pages fill it.
            self.con.execute("CHECKPOINT")
            self.con.execute("BEGIN TRANSACTION")

    def _project_pages(self, urls: list[str]) -> dict[str, Row]:
        """Project page rows of these URLs, by URL."""
        if not urls:
            return {}
        rows = query_dicts(
            self.con,
            "SELECT * FROM project_pages WHERE url IN (SELECT unnest(?::VARCHAR[]))",
            [urls],
        )
        return {r["url"]: r for r in rows}

    def _write_project_pages(self, new_pp: dict[str, Row], old_pp: dict[str, Row]) -> None:
        """Write the rows that changed; remember the projects of every page read, and the
        one a page left, for `finish`. A page read again has its project merged again even
        when nothing changed: the merge is what reports its languages' disagreements, which
        would otherwise count as resolved once the page is parsed without them (problems.py).
        """
        changed = {u: r for u, r in new_pp.items() if differs(r, old_pp.get(u))}
        self.stats.rows_written += upsert(
            self.con, "project_pages", changed.values(), existing=old_pp
        )
        # A reading whose fields (or gone flag) differ from the page's last is an observation.
        seen = [r for u, r in changed.items() if differs(r, old_pp.get(u), OBSERVED)]
        record_observations(self.con, [observation_row(r, self.now, self.seen_in) for r in seen])
        self._note((r["project_key"] for r in seen), work.HISTORY)
        self._note((row["project_key"] for row in new_pp.values()), work.MERGE)
        self._note((old_pp.get(url, {}).get("project_key") for url in changed), work.MERGE)

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
        if severity == "error":  # data missing: said where `-q` still shows it
            where = url or project_id or "the run"
            log.warning("%s: %s: %s: %s", stage, code, where, message, extra={"url": url})
        self.issues.append(
            Issue(stage, severity, code, bounded(message), url, project_id, field_name)
        )

    def _write_issues(self) -> None:
        rows = [i.row(self.run_id, self.now, self._keys.get(i.url or "")) for i in self.issues]
        for row in rows:  # every message we write is bounded, whoever worded it
            row["message"] = bounded(row["message"])
        self.stats.issues += upsert(self.con, "issues", rows)
        self.issues.clear()
        self._keys.clear()
