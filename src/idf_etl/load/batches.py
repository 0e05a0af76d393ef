"""Batches cut by what they weigh in memory: rows, and the text those rows carry.

DuckDB holds a statement's rows in memory while it joins, windows or aggregates them, so a
batch of projects is cut by what its statements will hold, not by how many projects it
has: a project of 13 pages weighs 13 of one page in the merge, and in the history rebuild
each page once more for every moment its project was read (h_snap holds every page as of
every moment). A batch weighs at most `most`; an item heavier than that alone is a batch of
its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple, TypeVar

import duckdb

T = TypeVar("T")
# Pages a merge or history batch holds at most, whatever load_batch is: a batch is a dozen
# statements and a commit, so at load_batch=1 a batch a project took 0.25 s each (1,000
# projects of one page: the merge 245 s, against 0.8 s in batches of 1,000). Memory bounds
# a batch by its text (batch_bytes) too.
MERGE_PAGES = 1000


class Weight(NamedTuple):
    rows: int
    text: int  # characters of description and title the rows carry


def batched_by_weight(
    items: Iterable[T], weigh: Callable[[T], Weight], most: Weight
) -> Iterator[list[T]]:
    """Lists of the items in order, each weighing at most `most` in rows and in text."""
    batch: list[T] = []
    rows = text = 0
    for item in items:
        w = weigh(item)
        if batch and (rows + w.rows > most.rows or text + w.text > most.text):
            yield batch
            batch, rows, text = [], 0, 0
        batch.append(item)
        rows, text = rows + w.rows, text + w.text
    if batch:
        yield batch


# Each project's pages, and the text they hold. Measured inside DuckDB, which streams the
# descriptions through strlen (30,000 pages of 92 MB in 16MB); read into Python instead, a
# fetch holds thousands of them at once.
_PAGES = """SELECT project_key, count(*) AS pages,
                   sum(strlen(coalesce(description, '')) + strlen(coalesce(title, ''))) AS text
            FROM project_pages WHERE project_key IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY project_key"""
# ...and the moments its history has: the rebuild holds each page at each of them.
_MOMENTS = f"""WITH w AS ({_PAGES}),
               m AS (SELECT p.project_key, count(DISTINCT o.observed_at) AS moments
                     FROM observations o JOIN project_pages p USING (url)
                     WHERE p.project_key IN (SELECT unnest(?::VARCHAR[]))
                     GROUP BY p.project_key)
               SELECT w.project_key, w.pages * greatest(m.moments, 1),
                      w.text * greatest(m.moments, 1)
               FROM w LEFT JOIN m USING (project_key)"""


def project_weights(
    con: duckdb.DuckDBPyConnection, keys: list[str], *, history: bool = False
) -> dict[str, Weight]:
    """What each of these projects weighs in the merge (its pages), or with `history` in
    the rebuild of its history (its pages at each moment it was read)."""
    result = con.execute(_MOMENTS, [keys, keys]) if history else con.execute(_PAGES, [keys])
    weights: dict[str, Weight] = {}
    while rows := result.fetchmany(10_000):
        for key, rows_, text in rows:
            weights[key] = Weight(int(rows_), int(text or 0))
    return weights
