"""Batches cut by weight: every item once and in order, no batch over its bound but an item
heavier than the bound alone, and projects weighed in a real DuckDB warehouse as the merge
and the history rebuild will hold them (pages, text, and moments read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.load.batches import Weight, batched_by_weight, weighed_keys
from idf_etl.warehouse.schema import create_schema

weights = st.builds(Weight, st.integers(0, 50), st.integers(0, 10_000))


@given(
    st.lists(weights, max_size=60), st.builds(Weight, st.integers(1, 60), st.integers(1, 20_000))
)
def test_batches_keep_every_item_in_order_and_within_the_bound(items, most):
    numbered = list(enumerate(items))
    batches = list(batched_by_weight(numbered, lambda item: item[1], most))
    assert [item for batch in batches for item in batch] == numbered
    for i, batch in enumerate(batches):
        assert batch, "no empty batch"
        rows = sum(w.rows for _, w in batch)
        text = sum(w.text for _, w in batch)
        assert len(batch) == 1 or (rows <= most.rows and text <= most.text)
        if i + 1 < len(batches):  # cut only where the next item would not fit
            nxt = batches[i + 1][0][1]
            assert rows + nxt.rows > most.rows or text + nxt.text > most.text


def _warehouse():
    con = duckdb.connect()
    create_schema(con)
    return con


def _page(con, url, key, description, title="T"):
    con.execute(
        "INSERT INTO project_pages BY NAME SELECT ? AS url, ? AS project_key, "
        "? AS description, ? AS title, false AS gone",
        [url, key, description, title],
    )


def _observe(con, url, at, seen_in="live"):
    con.execute(
        "INSERT INTO observations BY NAME SELECT ? AS url, ?::TIMESTAMPTZ AS observed_at, "
        "? AS seen_in, 'project' AS kind, 'sha' AS content_sha256, 'd' AS description",
        [url, at, seen_in],
    )


def test_a_project_weighs_its_pages_and_their_text():
    con = _warehouse()
    for i in range(13):
        _page(con, f"https://x/p{i}", "A", "x" * 1000, title="ab")
    _page(con, "https://x/q", "B", None, title=None)  # a page with no text weighs a row
    given = "SELECT unnest(?::VARCHAR[])"
    # A key without pages (C) weighs a row; a key given twice is weighed once; in key order.
    assert list(weighed_keys(con, given, [["C", "A", "B", "A", None]])) == [
        ("A", Weight(13, 13 * 1002)),
        ("B", Weight(1, 0)),
        ("C", Weight(1, 0)),
    ]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(0, 5))
def test_a_projects_history_weighs_its_pages_at_every_moment_it_was_read(pages_a_project, moments):
    con = _warehouse()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for p, pages in enumerate(pages_a_project):
        for i in range(pages):
            url = f"https://x/{p}/{i}"
            _page(con, url, f"K{p}", "x" * 10, title="")
            # Every page read at each moment, and the first page twice more at the same ones:
            # moments are the distinct times, not the readings.
            for m in range(moments):
                _observe(con, url, start + timedelta(days=m))
                if i == 0:
                    _observe(con, url, start + timedelta(days=m), "https://archive.example/")
    keys = [f"K{p}" for p in range(len(pages_a_project))]
    got = dict(weighed_keys(con, "SELECT unnest(?::VARCHAR[])", [keys], history=True))
    times = max(moments, 1)  # a project never observed is still merged once
    assert got == {
        f"K{p}": Weight(pages * times, pages * 10 * times)
        for p, pages in enumerate(pages_a_project)
    }
