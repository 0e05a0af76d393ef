"""History dated by the page: observations, and the versions and changes rebuilt from them.

An observation is one reading of one project page: a new body the live site
gave (dated by its run's start) or a web archive capture (dated by the
capture). Observations arrive in any order (a backfill reads 2019 after the
site was read in 2026), so history is not appended as it comes: for the
projects a load touched, `rebuild` replays all their observations in time
order. At each moment something was seen, a project is the merge (merge.py,
the same rule as `projects`) of each of its pages' latest observation until
then; equal consecutive states are one version (`project_versions`), and each
field that differs between two versions is a row of `project_changes` dated
when the new value was first seen, saying where (`seen_in`).

The live site always wins for today's values: a capture newer than a page's
latest live observation is kept but left out of the history until the site is
read again, so the current version is always the `projects` row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from idf_etl.load.merge import merge_query, text_sql
from idf_etl.records import STORED_FIELDS
from idf_etl.warehouse.rows import Row, scalar, upsert
from idf_etl.warehouse.schema import table

LIVE = "live"  # seen_in of what the site itself showed

_FIELDS = tuple(STORED_FIELDS)
_FIELD_LIST = ", ".join(_FIELDS)
# The columns of projects whose changes are history, all of them also in project_versions.
_TRACKED = tuple(c for c in table("projects").columns if c.tracked)
_VERSION_COLUMNS = tuple(c.name for c in table("project_versions").columns)
_SEP = "chr(31)"  # joins a project key and a moment's number into one merge key
_SCRATCH = ("h_pages", "h_obs", "h_moments", "h_snap", "h_versions", "h_changes")


@dataclass
class HistoryCounts:
    changes_added: int = 0
    changes_removed: int = 0
    versions: int = 0


def observation_row(page: Row, observed_at: datetime, seen_in: str) -> Row:
    """An observations row from a project_pages-shaped row (its fields, gone flag, body)."""
    return {
        "url": page["url"],
        "observed_at": observed_at,
        "seen_in": seen_in,
        "kind": "gone" if page.get("gone") else "project",
        "content_sha256": page.get("content_sha256"),
        **{name: page.get(name) for name in _FIELDS},
    }


def record_observations(con: duckdb.DuckDBPyConnection, rows: list[Row]) -> int:
    """Write observations (one per page, moment and source: a repeat replaces)."""
    return upsert(con, "observations", rows) if rows else 0


def record_live_status(
    con: duckdb.DuckDBPyConnection, urls: list[str], now: datetime, run_id: int
) -> set[str]:
    """A live observation for each of these project pages whose gone flag moved without a
    new body (a 404, or back after one): the rest of its row as it was. Their projects."""
    observed = con.execute(
        f"""INSERT OR REPLACE INTO observations BY NAME
            SELECT p.url, ?::TIMESTAMPTZ AS observed_at, '{LIVE}' AS seen_in,
                   CASE WHEN p.gone THEN 'gone' ELSE 'project' END AS kind,
                   p.content_sha256, {", ".join("p." + f for f in _FIELDS)}
            FROM project_pages p
            LEFT JOIN (SELECT url, arg_max(kind, observed_at) AS kind FROM observations
                       WHERE seen_in = '{LIVE}' GROUP BY url) o USING (url)
            WHERE p.url IN (SELECT unnest(?::VARCHAR[]))
              AND p.url NOT IN (SELECT url FROM pages WHERE parsed_run_id = ?)
              AND (o.kind IS NULL OR (o.kind = 'gone') <> p.gone)
            RETURNING url""",
        [now, urls, run_id],
    ).fetchall()
    if not observed:
        return set()
    rows = con.execute(
        "SELECT DISTINCT project_key FROM project_pages WHERE url IN (SELECT unnest(?::VARCHAR[]))",
        [[url for (url,) in observed]],
    ).fetchall()
    return {key for (key,) in rows if key}


def rebuild_batch(
    con: duckdb.DuckDBPyConnection, keys: list[str], run_id: int, seen_in: str
) -> HistoryCounts:
    """A batch of the run's rebuilt histories. A live run appends what it saw (the merge);
    an archive's captures may be older than what is known, so their projects' history is
    rebuilt in time order, and their dates settled."""
    done = rebuild(con, keys, run_id, changes=seen_in != LIVE)
    if seen_in != LIVE:
        settle_dates(con, keys)
    return done


def rebuild(
    con: duckdb.DuckDBPyConnection, keys: list[str], run_id: int, *, changes: bool
) -> HistoryCounts:
    """Rebuild project_versions of these projects from their observations; with `changes`,
    their project_changes too (only rows that differ are removed or added, so a rebuild
    that finds nothing new writes nothing new)."""
    counts = HistoryCounts()
    if not keys:
        return counts
    _snapshots(con, keys)
    con.execute(
        "DELETE FROM project_versions WHERE project_key IN (SELECT unnest(?::VARCHAR[]))", [keys]
    )
    counts.versions = int(
        scalar(
            con,
            f"INSERT INTO project_versions BY NAME SELECT {', '.join(_VERSION_COLUMNS)} "
            "FROM h_versions ORDER BY project_key, valid_from",
            default=0,
        )
    )
    if changes:
        _changes(con, run_id, counts)
    for name in _SCRATCH:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")
    return counts


def _snapshots(con: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
    """h_versions: each project's versions from its observations."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE h_pages AS SELECT url, project_key FROM project_pages "
        "WHERE project_key IN (SELECT unnest(?::VARCHAR[]))",
        [keys],
    )
    # Readings of these pages. An archive's capture later than the page's latest live
    # reading waits for the site to be read again (the live site wins for today). A page
    # the site has never shown as a project page (only an archive has it) left the site,
    # as far as we know, by the first run after its last capture: a reading of its own.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE h_obs AS
            WITH seen AS (
                SELECT o.*, p.project_key FROM observations o JOIN h_pages p USING (url)
                WHERE o.kind IN ('project', 'gone')),
            live AS (
                SELECT url, max(observed_at) AS latest, bool_or(kind = 'project') AS listed
                FROM seen WHERE seen_in = '{LIVE}' GROUP BY url),
            unlisted AS (
                SELECT url, project_key, max(observed_at) AS last FROM seen
                WHERE url NOT IN (SELECT url FROM live WHERE listed) GROUP BY ALL),
            left_site AS (
                SELECT u.url, u.project_key, min(r.started_at) AS observed_at,
                       '{LIVE}' AS seen_in, 'gone' AS kind
                FROM unlisted u JOIN runs r ON r.started_at > u.last AND r.mode <> 'from-raw'
                GROUP BY ALL)
            SELECT s.* FROM seen s LEFT JOIN live l USING (url)
            WHERE s.seen_in = '{LIVE}' OR l.latest IS NULL OR s.observed_at <= l.latest
            UNION ALL BY NAME SELECT * FROM left_site"""
    )
    # Each moment a project's pages were read; the live site first when both were.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE h_moments AS
            SELECT project_key, observed_at AS t,
                   CASE WHEN bool_or(seen_in = '{LIVE}') THEN '{LIVE}' ELSE min(seen_in) END
                       AS seen_in,
                   row_number() OVER (PARTITION BY project_key ORDER BY observed_at) AS i
            FROM h_obs GROUP BY project_key, observed_at"""
    )
    # Each page as of each moment: its gone flag from its latest reading, its fields from
    # its latest reading that had them (a 404 capture has none of its own).
    fields = ", ".join(f"f.{name}" for name in _FIELDS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE h_snap AS
            SELECT m.project_key || {_SEP} || m.i::VARCHAR AS project_key, p.url, {fields},
                   (g.kind = 'gone') AS gone, m.t AS last_seen
            FROM h_moments m JOIN h_pages p USING (project_key)
            ASOF JOIN h_obs g ON g.url = p.url AND m.t >= g.observed_at
            ASOF LEFT JOIN (SELECT * FROM h_obs WHERE content_sha256 IS NOT NULL) f
                 ON f.url = p.url AND m.t >= f.observed_at"""
    )
    tracked = ", ".join(f"'{c.name}': s.{c.name}" for c in _TRACKED)
    values = ", ".join(c for c in _VERSION_COLUMNS if c not in _BOOKKEEPING)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE h_versions AS
            WITH states AS (
                SELECT m.project_key, m.t, m.seen_in, s.* EXCLUDE (project_key),
                       {{{tracked}}} AS state
                FROM ({merge_query("h_snap")}) s
                JOIN h_moments m ON s.project_key = m.project_key || {_SEP} || m.i::VARCHAR),
            marked AS (
                SELECT *, state IS DISTINCT FROM lag(state) OVER (
                    PARTITION BY project_key ORDER BY t) AS starts
                FROM states)
            SELECT project_key, t AS valid_from,
                   lead(t) OVER (PARTITION BY project_key ORDER BY t) AS valid_to,
                   seen_in, {values},
                   row_number() OVER (PARTITION BY project_key ORDER BY t) AS n
            FROM marked WHERE starts"""
    )


_BOOKKEEPING = ("project_key", "valid_from", "valid_to", "seen_in")


def _changes(con: duckdb.DuckDBPyConnection, run_id: int, counts: HistoryCounts) -> None:
    differences = ", ".join(
        f"""CASE WHEN o.{c.name} IS DISTINCT FROM v.{c.name} THEN {{
                'position': {i}, 'field': '{c.name}',
                'old_value': {text_sql("o." + c.name, c.type)},
                'new_value': {text_sql("v." + c.name, c.type)}}} END"""
        for i, c in enumerate(_TRACKED)
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE h_changes AS
            SELECT project_key, project_id, valid_from AS changed_at, seen_in,
                   d.position, d.field, d.old_value, d.new_value
            FROM (SELECT v.project_key, v.project_id, v.valid_from, v.seen_in,
                         unnest(list_filter([{differences}], lambda d: d IS NOT NULL)) AS d
                  FROM h_versions v JOIN h_versions o
                    ON o.project_key = v.project_key AND o.n = v.n - 1)"""
    )
    same = """c.project_key = h.project_key AND c.field = h.field AND c.changed_at = h.changed_at
              AND c.old_value IS NOT DISTINCT FROM h.old_value
              AND c.new_value IS NOT DISTINCT FROM h.new_value"""
    # What the live site showed before its first reading kept here (a warehouse older than
    # observations) cannot be rebuilt: it stays as it was.
    counts.changes_removed = int(
        scalar(
            con,
            f"""WITH gone AS (DELETE FROM project_changes c
                WHERE project_key IN (SELECT DISTINCT project_key FROM h_pages)
                  AND NOT EXISTS (SELECT 1 FROM h_changes h WHERE {same})
                  AND NOT (coalesce(seen_in, '{LIVE}') = '{LIVE}' AND changed_at < (
                      SELECT min(observed_at) FROM h_obs o
                      WHERE o.project_key = c.project_key AND o.seen_in = '{LIVE}'))
                RETURNING 1) SELECT count(*) FROM gone""",
            default=0,
        )
    )
    counts.changes_added = int(
        scalar(
            con,
            f"""INSERT INTO project_changes BY NAME
                SELECT ?::INTEGER AS run_id, h.changed_at, h.project_key, h.project_id, h.field,
                       h.old_value, h.new_value, h.seen_in
                FROM h_changes h
                WHERE NOT EXISTS (SELECT 1 FROM project_changes c WHERE {same})
                ORDER BY h.project_key, h.changed_at, h.position""",
            [run_id],
            default=0,
        )
    )


def settle_dates(con: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
    """first_seen of these projects: their earliest reading, live or archived; last_changed:
    their latest change (or first_seen when none)."""
    con.execute(
        """UPDATE projects SET first_seen = least(projects.first_seen, o.first),
               last_changed = coalesce(c.last, least(projects.first_seen, o.first))
           FROM (SELECT p.project_key, min(o.observed_at) AS first
                 FROM observations o JOIN project_pages p USING (url)
                 WHERE p.project_key IN (SELECT unnest(?::VARCHAR[]))
                   AND o.kind IN ('project', 'gone')
                 GROUP BY p.project_key) o
           LEFT JOIN (SELECT project_key, max(changed_at) AS last FROM project_changes
                      GROUP BY project_key) c ON c.project_key = o.project_key
           WHERE projects.project_key = o.project_key""",
        [keys],
    )
