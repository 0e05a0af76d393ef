"""A merge the run's time cut short loses nothing: the projects it did not merge (or whose
history it did not rebuild) are left in pending_projects, what the warehouse had stays, the
problems of their pages stay as they were, and the next run, even one that parses nothing,
merges them first: the warehouse then is the one a load in one go writes.

On a real DuckDB file, through the Loader as `idf-etl run` drives it (a commit a batch).
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.load.loader import Loader
from idf_etl.load.parsed import ParsedPage
from idf_etl.load.problems import track_problems
from idf_etl.parse.page import PARSER_VERSION, parse_page
from idf_etl.pipeline.ledger import open_run
from idf_etl.warehouse.schema import PENDING_TABLE, create_schema
from tests.helpers.drupal_pages import drupal_page, field_html

SITE = "https://developmentfund.iom.int"
START = datetime(2026, 12, 6, tzinfo=UTC)


def page(i: int, copy: int, budget: int) -> ParsedPage:
    """Page `copy` of project i: every copy gives the same id, and its own budget."""
    url = f"{SITE}/project/p{i:03d}-{copy}"
    fields = [
        field_html("Project ID", f"CE.{i:04d}"),
        field_html("Project Status", "Active"),
        field_html("Budget Amount (USD)", f"{budget}.00"),
    ]
    record = parse_page(drupal_page(fields, title=f"Project {i}"), url=url)
    return ParsedPage(url, f"{i:032d}{copy:032d}", START, START, False, record)


# A store's projects: each a list of its pages' budgets (two that differ disagree).
projects = st.lists(
    st.lists(st.sampled_from([100_000, 250_000]), min_size=1, max_size=3), min_size=1, max_size=8
)


def load(con, run: int, pages: list[ParsedPage], *, merge_batch: int, late: bool) -> Loader:
    """One run's load: its pages, then `finish`, with its deadline passed already (`late`)."""
    now = START + timedelta(days=run)
    con.execute("BEGIN TRANSACTION")
    run_id = open_run(con, now, "from-raw", "x")
    loader = Loader(con, run_id, now, PARSER_VERSION, commit_batches=True, merge_batch=merge_batch)
    if pages:
        loader.load_pages(pages)
    loader.finish(time.monotonic() - 1 if late else None)
    track_problems(con, run_id, now, network=False, failing_urls=set(), merged=loader.merged)
    con.execute("COMMIT")
    return loader


def snapshot(con) -> dict[str, list]:
    """What a user reads of the projects, the run's dates left out."""
    return {
        "projects": con.execute(
            "SELECT project_key, project_id, budget_usd, urls FROM projects ORDER BY 1"
        ).fetchall(),
        "states": con.execute("SELECT * FROM project_states ORDER BY ALL").fetchall(),
        "versions": con.execute(
            "SELECT project_key, budget_usd FROM project_versions ORDER BY ALL"
        ).fetchall(),
        "open": con.execute(
            "SELECT code, url, field FROM problems WHERE resolved_at IS NULL ORDER BY ALL"
        ).fetchall(),
    }


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> Path:
    """A warehouse file with the schema and nothing else, made once: each example copies it
    rather than creating the schema three times over."""
    path = tmp_path_factory.mktemp("schema") / "empty.duckdb"
    with duckdb.connect(str(path)) as con:
        create_schema(con)
    return path


def warehouse(empty: Path, path: Path) -> duckdb.DuckDBPyConnection:
    shutil.copyfile(empty, path)
    return duckdb.connect(str(path))


@pytest.mark.slow
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=projects, after=projects, merge_batch=st.integers(1, 3))
def test_a_merge_cut_short_loses_nothing_and_the_next_run_merges_the_rest(
    tmp_path_factory, empty, before, after, merge_batch
):
    tmp = tmp_path_factory.mktemp("pending")
    first = [page(i, c, b) for i, budgets in enumerate(before) for c, b in enumerate(budgets)]
    second = [page(i, c, b) for i, budgets in enumerate(after) for c, b in enumerate(budgets)]
    # The reference: each run merges in one go.
    whole = warehouse(empty, tmp / "whole.duckdb")
    load(whole, 1, first, merge_batch=1000, late=False)
    load(whole, 2, second, merge_batch=1000, late=False)
    load(whole, 3, [], merge_batch=1000, late=False)
    # The same runs merged a batch of `merge_batch` pages at a time: the same warehouse
    # (load_batch no longer cuts the merge, so `idf-etl run` no longer crosses these edges).
    batched = warehouse(empty, tmp / "batched.duckdb")
    for run, pages in enumerate((first, second, []), 1):
        load(batched, run, pages, merge_batch=merge_batch, late=False)
    assert snapshot(batched) == snapshot(whole)
    # The same runs, the second one's time up before its merge began.
    cut = warehouse(empty, tmp / "cut.duckdb")
    load(cut, 1, first, merge_batch=1000, late=False)
    had = snapshot(cut)
    loader = load(cut, 2, second, merge_batch=merge_batch, late=True)
    keys = {f"CE.{i:04d}" for i in range(len(after))}
    merged = {k for (k,) in cut.execute(loader.merged).fetchall()}
    left = {k for (k,) in cut.execute(f"SELECT project_key FROM {PENDING_TABLE}").fetchall()}
    # One batch merged (every run moves on), the rest left: every project once.
    assert merged and len(merged) <= merge_batch and merged | left == keys
    assert loader.stats.merge_left == len(left)
    now = snapshot(cut)
    # What the warehouse had is kept: every project row of the projects not merged is as it
    # was, and so are the problems of their pages.
    assert [r for r in now["projects"] if r[0] not in merged] == [
        r for r in had["projects"] if r[0] not in merged
    ]
    unmerged_urls = {p.url for p in second if p.record.project_id not in merged}
    assert {
        p for p in had["open"] if p[1] in unmerged_urls and p[0] == "languages_disagree"
    } <= set(now["open"])
    if left:
        assert cut.execute(
            "SELECT count(*) FROM issues WHERE run_id = 2 AND code = 'load_incomplete'"
        ).fetchone() == (1,)
    # The next run parses nothing, and merges what was left.
    load(cut, 3, [], merge_batch=1000, late=False)
    assert cut.execute(f"SELECT count(*) FROM {PENDING_TABLE}").fetchone() == (0,)
    done, reference = snapshot(cut), snapshot(whole)
    assert done["projects"] == reference["projects"]
    assert done["states"] == reference["states"]
    assert done["versions"] == reference["versions"]
    assert done["open"] == reference["open"]
