"""Problems as a lifecycle: open while their cause remains, resolved when it goes away.

`issues` is the per-run log (what each run found). `problems` holds one row per
distinct problem: when it was first and last seen, in how many runs, and when
it was resolved. After each run's issues are written, `track_problems` decides
for every open problem whether this run saw it again, confirmed it without
looking (a page not re-parsed still has the same bytes, so the same problems:
parsing is a pure function of them), or checked its cause and found it gone.

- parse and load problems of a page: resolved when the page was re-parsed and
  the problem was not reported again; confirmed when the page was not re-parsed.
  Those the merge reports (MERGE_CODES) are looked for again when the page's project
  is merged: a page re-parsed whose project's merge the run's time left for the next
  run keeps them open, and the run that merges it settles them.
- run-level parse and load problems (no URL): resolved by the next run that does not
  report them again.
- fetch problems: resolved in a network run that did not report them again and
  whose raw store no longer records a failure for the URL; otherwise left as
  they are (a run from the raw store does not look at the site).

A host's `crawl_incomplete` carries the host (scheme://host) as its URL, so two hosts
down are two problems. Before, it had none: an open one from then is taken over by
the first sighting on the host its message names (its first sighting and count kept),
never resolved and opened again (`_take_over_hostless`).

A resolved problem that comes back is reopened as a new episode (first seen
again now); the `issues` table keeps every earlier sighting.

Problems a stage finds after `track_problems` ran (the report, which is built from
the tracked warehouse so that it shows the problems still open) are LATE_CODES:
`track_problems` leaves them alone and that stage settles them with `settle_problem`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import duckdb

from idf_etl.warehouse.rows import query_dicts, scalar, upsert

_IDENTITY = ("stage", "code", "url", "field")
_COPIED = ("stage", "severity", "code", "url", "project_id", "field", "message")

_CHUNK = 2000  # issues or problems read at a time
_LOOKED = "idf_etl_looked"  # a column of the open problems read (_looked)
_REPARSED = "idf_etl_reparsed"  # a temporary table of given URLs (_looked)

# Codes found after track_problems ran: only the stage that finds them can say they are gone.
LATE_CODES = frozenset({"report_failed"})
# Codes the merge of a project reports about its pages (projects.py): settled by a merge.
MERGE_CODES = frozenset({"languages_disagree", "duplicate_project_id"})


def problem_id(row: dict[str, Any]) -> str:
    """Stable identity: stage, code, URL and field, and, for parse and load problems, the
    message (two unmatched countries on one page are two problems; a fetch failure whose
    reason changes from a timeout to a 503 is still the same one, and so is a report
    failure whatever its cause)."""
    parts = [str(row.get(k) or "") for k in _IDENTITY]
    if row["stage"] != "fetch" and row["code"] not in LATE_CODES:
        parts.append(row["message"])
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


def halt_when_project_pages_lost(
    con: duckdb.DuckDBPyConnection, lost_pages: list[str], threshold: float
) -> None:
    """A run whose project pages stop being project pages in bulk (a "Site under maintenance"
    page answering 200 for each, a redesign the parser does not know) did not do its job:
    when more than `threshold` of the known project pages read as something else now, a line
    for the run's halts is appended to `lost_pages`.

    Counted from the open `project_page_lost` problems after this run's tracking, not from
    this run's issues: a page still in maintenance the next night has the same bytes and is
    not parsed again, but it is no more a project page than the night before.
    """
    lost, known = con.execute(
        """SELECT count(*) FILTER (WHERE url IN (
                      SELECT url FROM problems
                      WHERE code = 'project_page_lost' AND resolved_at IS NULL)),
                  count(*)
           FROM project_pages WHERE NOT gone"""
    ).fetchone() or (0, 0)
    if lost and lost > threshold * max(1, known):
        lost_pages.append(
            f"{lost:,} of {known:,} project pages no longer read as project pages (site in "
            f"maintenance? a new page layout?), more than failure_threshold ({threshold:.0%}) "
            "allows; their previous data is kept"
        )


@dataclass
class ProblemCounts:
    opened: int = 0
    still_open: int = 0
    resolved: int = 0


def track_problems(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    now: datetime,
    *,
    network: bool,
    failing_urls: set[str],
    reparsed: set[str] | None = None,
    merged: str | None = None,
    commit: Callable[[], None] = lambda: None,
) -> ProblemCounts:
    """Update `problems` from this run's rows in `issues`. `reparsed`: the URLs this run
    parsed (by default those `pages` says it parsed). `merged`: SQL giving the project keys
    this run merged (None: those of the pages it parsed). `commit`: called before and after
    each chunk of problems is written: a run commits and checkpoints there, so that what
    DuckDB holds of the problems' key index (which grows with them) is written out a chunk
    at a time, not kept to the end."""
    counts = ProblemCounts()
    # The run's issues committed before they are read by rowid: a row not yet committed has
    # a provisional one, which the first commit below would change under the reading.
    commit()
    if _count(con, "problems") == 0 and _count(con, "issues") > 0:
        _seed_from_history(con, run_id)
    looked = _looked(con, run_id, reparsed, merged)
    # A chunk at a time, so that memory does not grow with the problems a run finds.
    after = -1
    while chunk := query_dicts(
        con,
        "SELECT rowid AS row_number, * FROM issues WHERE run_id = ? AND rowid > ? "
        "ORDER BY rowid LIMIT ?",
        [run_id, after, _CHUNK],
    ):
        after = chunk[-1]["row_number"]
        seen: dict[str, dict[str, Any]] = {}
        for issue in chunk:
            seen.setdefault(problem_id(issue), issue)
        known = _problems(con, list(seen))
        changed = []
        for key, issue in seen.items():
            row = known.get(key) or _take_over_hostless(con, issue, run_id)
            if row is not None and row["resolved_at"] is None and row["last_run_id"] == run_id:
                continue  # already counted from an earlier chunk of this run's issues
            counts.opened += row is None or row["resolved_at"] is not None
            changed.append(_sighting(issue, key, row, run_id, now))
        upsert(con, "problems", changed)
        commit()
    # Open problems this run did not report: each one's verdict. Those just seen carry this
    # run's id and drop out of the query; the others are read in problem_id order.
    last_id = ""
    while chunk := query_dicts(
        con,
        f"""SELECT c.*, {looked} AS {_LOOKED} FROM (
                SELECT * FROM problems WHERE resolved_at IS NULL AND problem_id > ?
                AND last_run_id IS DISTINCT FROM ? ORDER BY problem_id LIMIT ?) c
            ORDER BY problem_id""",
        [last_id, run_id, _CHUNK],
    ):
        last_id = chunk[-1]["problem_id"]
        changed = []
        for row in chunk:
            looked_again = row.pop(_LOOKED)
            if row["code"] in LATE_CODES:
                continue
            verdict = _verdict(row, looked_again, network, failing_urls)
            if verdict == "resolved":
                counts.resolved += 1
                changed.append({**row, "resolved_at": now, "resolved_run_id": run_id})
            elif verdict == "confirmed":
                changed.append(
                    {**row, "last_seen": now, "last_run_id": run_id, "runs": row["runs"] + 1}
                )
        upsert(con, "problems", changed)
        commit()
    con.execute(f"DROP TABLE IF EXISTS {_REPARSED}")
    counts.still_open = _still_open(con)
    return counts


def settle_problem(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    now: datetime,
    code: str,
    issue: dict[str, Any] | None,
) -> ProblemCounts:
    """This run's verdict on the LATE_CODES problem `code`: `issue` (this run's `issues` row
    for it) when the stage found it again, None when the stage ran clean (then its open
    problems of `code` are resolved). Returns what changed, and the problems still open."""
    assert code in LATE_CODES, code
    counts = ProblemCounts()
    if issue is not None:
        key = problem_id(issue)
        row = next(
            iter(query_dicts(con, "SELECT * FROM problems WHERE problem_id = ?", [key])), None
        )
        counts.opened += row is None or row["resolved_at"] is not None
        upsert(con, "problems", [_sighting(issue, key, row, run_id, now)])
    else:
        counts.resolved = scalar(
            con,
            """UPDATE problems SET resolved_at = ?, resolved_run_id = ?
               WHERE code = ? AND resolved_at IS NULL""",
            [now, run_id, code],
            default=0,
        )
    counts.still_open = _still_open(con)
    return counts


def _sighting(
    issue: dict[str, Any], key: str, row: dict[str, Any] | None, run_id: int, now: datetime
) -> dict[str, Any]:
    """The problem row after this run found `issue`: a new episode unless `row` is open."""
    fresh = row is None or row["resolved_at"] is not None
    return {
        **{k: issue.get(k) for k in _COPIED},
        "problem_id": key,
        "first_seen": now if fresh else row["first_seen"],  # type: ignore[index]
        "first_run_id": run_id if fresh else row["first_run_id"],  # type: ignore[index]
        "last_seen": now,
        "last_run_id": run_id,
        "runs": 1 if fresh else row["runs"] + 1,  # type: ignore[index]
        "resolved_at": None,
        "resolved_run_id": None,
    }


def _take_over_hostless(
    con: duckdb.DuckDBPyConnection, issue: dict[str, Any], run_id: int
) -> dict[str, Any] | None:
    """The open host-less `crawl_incomplete` problem of a warehouse from before hosts were
    its identity, when `issue` is a host's and the old problem's message names that host:
    that problem's row (now this one's; the old row is deleted). Else None."""
    if issue["code"] != "crawl_incomplete" or not issue.get("url"):
        return None
    host = urlsplit(issue["url"]).netloc
    for row in query_dicts(
        con,
        """SELECT * FROM problems WHERE code = 'crawl_incomplete' AND url IS NULL
           AND resolved_at IS NULL AND last_run_id < ?""",
        [run_id],
    ):
        if host and host in (row["message"] or ""):
            con.execute("DELETE FROM problems WHERE problem_id = ?", [row["problem_id"]])
            return row
    return None


def _looked(
    con: duckdb.DuckDBPyConnection, run_id: int, reparsed: set[str] | None, merged: str | None
) -> str:
    """A SQL condition on a problem row `c`: this run looked at its cause again (its page
    re-parsed; for the merge's problems, its page's project merged). In DuckDB, not Python:
    a run's parsed pages and merged projects are as many as its store's (30,000 pages, a
    few MB, growing with it). Given URLs go to a temporary table of the connection."""
    if reparsed is None:
        pages = f"SELECT url FROM pages WHERE parsed_run_id = {int(run_id)}"
    else:
        con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {_REPARSED} (url VARCHAR)")
        urls = sorted(reparsed)
        for i in range(0, len(urls), 10_000):
            con.execute(
                f"INSERT INTO {_REPARSED} SELECT unnest(?::VARCHAR[])", [urls[i : i + 10_000]]
            )
        pages = f"SELECT url FROM {_REPARSED}"
    if merged is None:
        return f"c.url IN ({pages})"
    codes = ", ".join(map(repr, sorted(MERGE_CODES)))
    return f"""CASE WHEN c.code IN ({codes})
                    THEN c.url IN (SELECT url FROM project_pages WHERE project_key IN ({merged}))
                    ELSE c.url IN ({pages}) END"""


def _problems(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = query_dicts(
        con, "SELECT * FROM problems WHERE problem_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
    )
    return {r["problem_id"]: r for r in rows}


def _still_open(con: duckdb.DuckDBPyConnection) -> int:
    return int(scalar(con, "SELECT count(*) FROM problems WHERE resolved_at IS NULL"))


def _verdict(row: dict[str, Any], looked: bool | None, network: bool, failing: set[str]) -> str:
    """`looked`: this run looked at the problem's cause again (`_looked`)."""
    if row["stage"] == "fetch":
        if network and row["url"] not in failing:
            return "resolved"
        return "unchanged"
    # A run-level problem (no page) is looked for again by every run.
    if row["url"] is None or looked:
        return "resolved"
    return "confirmed"


def _seed_from_history(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """A warehouse from before problems were tracked: the problems still current are each
    page's parse and load issues from the run that last parsed it, and the fetch issues of
    the last network run."""
    rows = query_dicts(
        con,
        """SELECT i.* FROM issues i JOIN pages p ON p.url = i.url AND p.parsed_run_id = i.run_id
           WHERE i.stage <> 'fetch' AND i.run_id < ?
           UNION ALL
           SELECT * FROM issues WHERE stage = 'fetch' AND run_id = (
               SELECT max(run_id) FROM runs WHERE mode = 'network' AND run_id < ?)""",
        [run_id, run_id],
    )
    seeded: dict[str, dict[str, Any]] = {}
    for issue in sorted(rows, key=lambda r: r["run_id"]):
        seeded.setdefault(
            problem_id(issue),
            {
                **{k: issue[k] for k in _COPIED},
                "problem_id": problem_id(issue),
                "first_seen": issue["found_at"],
                "first_run_id": issue["run_id"],
                "last_seen": issue["found_at"],
                "last_run_id": issue["run_id"],
                "runs": 1,
                "resolved_at": None,
                "resolved_run_id": None,
            },
        )
    upsert(con, "problems", seeded.values())


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(scalar(con, f"SELECT count(*) FROM {table}"))
