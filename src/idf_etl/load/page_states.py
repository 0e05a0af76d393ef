"""Stored pages' gone flags and last sightings, refreshed without a new body.

They change every run for pages the run did not parse again (a 404, back after one, or
simply confirmed by the site), so they are moved in DuckDB, a batch of the raw store's
states at a time: read into Python, every stored project page would cross over each run
to move a date.

    keys = refresh_states(con, states, run_id)   # the projects of the project pages moved
"""

from __future__ import annotations

import duckdb

from idf_etl.load.parsed import PageStates


def refresh_states(
    con: duckdb.DuckDBPyConnection, states: PageStates, run_id: int
) -> list[str | None]:
    """Write these pages' gone flags, and their project pages' last sightings; returns the
    project keys of the project pages that moved. A page parsed in run `run_id` has them
    already; one that no longer reads as a project leaves its previous row untouched."""
    urls = list(states)
    con.execute(
        """UPDATE pages SET gone = s.gone
           FROM (SELECT unnest(?::VARCHAR[]) AS url, unnest(?::BOOLEAN[]) AS gone) s
           WHERE pages.url = s.url AND pages.gone <> s.gone""",
        [urls, [states[u][0] for u in urls]],
    )
    # Only the site confirming a page moves last_seen; a 404 does not.
    moved = con.execute(
        """UPDATE project_pages SET gone = s.gone,
               last_seen = CASE WHEN s.gone THEN last_seen
                                ELSE greatest(last_seen, s.checked_at) END
           FROM (SELECT unnest(?::VARCHAR[]) AS url, unnest(?::BOOLEAN[]) AS gone,
                        unnest(?::TIMESTAMPTZ[]) AS checked_at) s
           WHERE project_pages.url = s.url
             AND project_pages.url NOT IN (SELECT url FROM pages WHERE parsed_run_id = ?)
             AND (project_pages.gone <> s.gone OR (NOT s.gone AND
                  s.checked_at > coalesce(last_seen, '-infinity'::TIMESTAMPTZ)))
           RETURNING project_key""",
        [urls, [states[u][0] for u in urls], [states[u][1] for u in urls], run_id],
    ).fetchall()
    return [key for (key,) in moved]
