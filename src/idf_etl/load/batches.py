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
# fetch holds thousands of them at once. `{keys}`: SQL giving the project keys.
_PAGES = """SELECT project_key, count(*) AS pages,
                   sum(strlen(coalesce(description, '')) + strlen(coalesce(title, ''))) AS text
            FROM project_pages WHERE project_key IN ({keys})
            GROUP BY project_key"""
# ...and the moments its history has: the rebuild holds each page at each of them.
_MOMENTS = f"""WITH w AS ({_PAGES}),
               m AS (SELECT p.project_key, count(DISTINCT o.observed_at) AS moments
                     FROM observations o JOIN project_pages p USING (url)
                     WHERE p.project_key IN ({{keys}})
                     GROUP BY p.project_key)
               SELECT w.project_key, w.pages * greatest(m.moments, 1) AS pages,
                      w.text * greatest(m.moments, 1) AS text
               FROM w LEFT JOIN m USING (project_key)"""
_WEIGHED = "idf_etl_weighed"  # a temporary table of the connection (weighed_keys)
_READ = 10_000  # keys read into Python at a time


def weighed_keys(
    con: duckdb.DuckDBPyConnection,
    keys: str,
    params: list[object] | None = None,
    *,
    history: bool = False,
) -> Iterator[tuple[str, Weight]]:
    """The distinct project keys the SQL `keys` (with `params`) gives, in key order, each
    with what it weighs in the merge (its pages and their text), or with `history` in the
    rebuild of its history (its pages at each moment it was read); a key without pages
    weighs one row. Weighed once into a temporary table of the connection and read from it
    a few thousand at a time: a run's keys are never all in Python at once (30,000 keys
    and their weights held 8 MB, and grew with the store). Between two reads the
    connection is free for the caller's statements."""
    weights = (_MOMENTS if history else _PAGES).format(keys="SELECT key FROM k")
    con.execute(
        f"""CREATE OR REPLACE TEMPORARY TABLE {_WEIGHED} AS
            WITH k AS (SELECT DISTINCT key FROM ({keys}) g(key) WHERE key IS NOT NULL)
            SELECT k.key, coalesce(w.pages, 1) AS pages, coalesce(w.text, 0) AS text
            FROM k LEFT JOIN ({weights}) w ON w.project_key = k.key""",
        params or [],
    )
    last: str | None = None
    while rows := con.execute(
        f"SELECT key, pages, text FROM {_WEIGHED} WHERE ? IS NULL OR key > ? "
        f"ORDER BY key LIMIT {_READ}",
        [last, last],
    ).fetchall():
        for key, pages, text in rows:
            yield key, Weight(int(pages), int(text or 0))
        last = rows[-1][0]
    con.execute(f"DROP TABLE {_WEIGHED}")  # read out (else the next call replaces it)
