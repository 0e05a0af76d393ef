"""Every value a record carries fits its warehouse column, and one page's values never stop
a run (issue 22, adversary cases 1-2: a 10-digit Drupal node id in the INTEGER `node_id`
stopped the whole load with a DuckDB ConversionException, every night).

Two layers: the record leaves a value its column cannot hold empty, with a problem
(records.misfit, checked here against a real DuckDB column of every type the record's
fields are kept in, so a new field or type cannot forget it); and the loader writes a batch
the warehouse refuses a page at a time, the refused page an `unreadable_page` issue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.load.loader import Loader
from idf_etl.load.parsed import ParsedPage
from idf_etl.parse.page import PARSER_VERSION, parse_page
from idf_etl.pipeline.ledger import open_run
from idf_etl.rawstore import RawStore
from idf_etl.records import STORED_FIELDS, ProjectRecord, misfit
from idf_etl.warehouse.schema import create_schema
from idf_etl.warehouse.tables import TABLES
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html, head_links

URL = "https://developmentfund.iom.int/project/labour-mobility-ghana"
# The record's fields kept in these tables, in these columns (the same type everywhere).
RECORD_TABLES = ("project_pages", "projects", "observations")


def record_columns() -> list[tuple[str, str, str]]:
    """(table, column, type) of every warehouse column that holds a record field."""
    return [
        (t.name, c.name, c.type)
        for t in TABLES
        if t.name in RECORD_TABLES
        for c in t.columns
        if c.name in STORED_FIELDS
    ]


def test_every_record_column_type_has_a_fit_rule():
    # A new field (or a field moved to a new type) needs its rule in records.misfit: this
    # fails (ValueError: no rule) before a run can.
    columns = record_columns()
    assert {name for _, name, _ in columns} == set(STORED_FIELDS)
    for table, name, sql in columns:
        assert sql.split()[0] == STORED_FIELDS[name].sql, (table, name)
        sample = {"INTEGER": 1, "SMALLINT": 1}.get(sql, Decimal(1) if "DECIMAL" in sql else "x")
        misfit([sample] if sql.endswith("[]") else sample, STORED_FIELDS[name].sql)


def _values_for(sql: str) -> st.SearchStrategy:
    base = sql.removesuffix("[]")
    if base in ("INTEGER", "SMALLINT", "BIGINT", "TINYINT"):
        one = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(
            [2**15 - 1, 2**15, -(2**15), -(2**15) - 1, 2**31 - 1, 2**31, -(2**31) - 1, 10**10]
        )
    elif base.startswith("DECIMAL"):
        one = st.decimals(allow_nan=False, allow_infinity=False, places=2) | st.builds(
            lambda e: Decimal(10) ** e - Decimal("0.01"), st.integers(10, 20)
        )
    else:
        one = st.text(max_size=20)  # lone surrogates included
    return st.lists(one, max_size=3) if sql.endswith("[]") else one


BOUNDED = sorted({s.sql for s in STORED_FIELDS.values()} - {"lang_t", "status_t", "coverage_t"})


@pytest.mark.parametrize("sql", BOUNDED)
def test_a_value_fits_by_the_record_exactly_when_duckdb_takes_it(sql):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (v {sql})")

    @settings(max_examples=150, deadline=None)
    @given(_values_for(sql))
    def check(value):
        why = misfit(value, sql)
        try:
            with con.appender("t") as appender:
                appender.append_rows([(value,)])
            took = True
        except (duckdb.Error, ValueError, TypeError, OverflowError):
            took = False
        # What the record lets through, the warehouse takes (the run never stops on it).
        assert why is not None or took, (value, sql)
        if took and why is not None:
            # Only values DuckDB would round (three decimals): the record is stricter.
            assert "DECIMAL" in sql, (value, why)

    check()


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(n for n, s in STORED_FIELDS.items() if s.sql in BOUNDED)),
       data=st.data())  # fmt: skip
def test_a_record_leaves_a_value_its_column_cannot_hold_empty_with_a_problem(name, data):
    sql = STORED_FIELDS[name].sql
    value = data.draw(_values_for(sql))
    why = misfit(value, sql)
    try:
        record = ProjectRecord(source="x", **{name: value})
    except ValueError:
        # pydantic refused the type itself (text for a number): never a record to write
        return
    if why is None:
        return
    assert getattr(record, name) in (None, [])
    (problem,) = [p for p in record.problems if p.field == name]
    assert problem.code == "value_out_of_range" and name in problem.message
    assert len(problem.message) < 300


def node_page(shortlink: str | None) -> str:
    fields = [
        field_html("Project ID", "GH.0001"),
        field_html("Project Status", "Active"),
        field_html("Budget Amount (USD)", "150,000"),
    ]
    return drupal_page(fields, head=head_links(shortlink=shortlink) if shortlink else "")


@pytest.mark.parametrize("node", ["9999999999", "2147483648", "3000000000"])
def test_a_node_id_past_the_column_is_empty_with_a_problem(node):
    fr_node = f"https://developmentfund.iom.int/fr/node/{node}"
    for html, url in ((node_page(f"/node/{node}"), URL), (node_page(None), fr_node)):
        record = parse_page(html, url=url)
        assert record.node_id is None and record.project_id == "GH.0001"
        assert [p.code for p in record.problems if p.field == "node_id"] == ["value_out_of_range"]
    assert parse_page(node_page("/node/2147483647"), url=URL).node_id == 2147483647


def _store(data: Path, pages: dict[str, str]) -> None:
    with RawStore(data / "raw") as raw, mock.patch("os.fsync"):
        for url, body in pages.items():
            raw.record_body(
                url, status=200, body=body.encode(),
                headers={"content-type": "text/html; charset=utf-8"},
                final_url=url, canonical_url=None, sitemap_lastmod=None,
            )  # fmt: skip


def test_a_ten_digit_node_id_no_longer_stops_the_run(tmp_path):
    # Adversary cases 1 and 2 through the real CLI: a shortlink and a /fr/node/N URL.
    data = tmp_path / "data"
    site = "https://developmentfund.iom.int"
    _store(data, {
        f"{site}/project/a": node_page("/node/9999999999"),
        f"{site}/fr/node/3000000000": node_page(None).replace("GH.0001", "GH.0002"),
        f"{site}/project/c": node_page("/node/187686").replace("GH.0001", "GH.0003"),
    })  # fmt: skip
    proc = idf_etl(
        "run", "--from-raw", "--json", "--data-dir", str(data), "--set", "report=false",
        cwd=tmp_path, env=clean_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1])["pages_parsed"] == 3
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        rows = con.execute("SELECT project_id, node_id FROM project_pages ORDER BY 1").fetchall()
        assert rows == [("GH.0001", None), ("GH.0002", None), ("GH.0003", 187686)]
        issues = con.execute(
            "SELECT url, field FROM issues WHERE code = 'value_out_of_range' ORDER BY 1"
        ).fetchall()
        assert issues == [
            (f"{site}/fr/node/3000000000", "node_id"),
            (f"{site}/project/a", "node_id"),
        ]


def _parsed(url: str, record: ProjectRecord | None, error: str | None = None) -> ParsedPage:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    return ParsedPage(url, "0" * 64, now, now, False, record, error)


def test_a_batch_the_warehouse_refuses_is_written_a_page_at_a_time(tmp_path):
    # The loader's own boundary, for whatever value a record lets through that the
    # warehouse refuses (here a record built without its checks).
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schema(con)
    started = datetime(2026, 12, 6, tzinfo=UTC)

    def load(pages: list[ParsedPage]) -> Loader:
        con.execute("BEGIN TRANSACTION")
        run_id = open_run(con, started, "from-raw", "x")
        loader = Loader(con, run_id, started, PARSER_VERSION, commit_batches=True)
        loader.load_pages(pages)
        loader.finish()
        con.execute("COMMIT")
        return loader

    good = {u: parse_page(node_page(None).replace("GH.0001", f"GH.000{i}"), url=u)
            for i, u in enumerate(["https://x.org/project/a", "https://x.org/project/b"], 1)}  # fmt: skip
    load([_parsed(u, r) for u, r in good.items()])
    bad = good["https://x.org/project/a"].model_copy(update={"node_id": 10**10, "title": "New"})
    b2 = good["https://x.org/project/b"].model_copy(update={"title": "B again"})
    loader = load([_parsed("https://x.org/project/a", bad), _parsed("https://x.org/project/b", b2)])
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 2
    titles = dict(con.execute("SELECT url, title FROM project_pages").fetchall())
    # The refused page keeps its previous data; the other page of the batch is written.
    assert titles == {"https://x.org/project/a": good["https://x.org/project/a"].title,
                      "https://x.org/project/b": "B again"}  # fmt: skip
    (message,) = con.execute(
        "SELECT message FROM issues WHERE run_id = 2 AND code = 'unreadable_page'"
    ).fetchone()
    assert "cannot hold this page's values" in message and "ConversionException" in message
    assert loader.stats.parse_errors == 1 and loader.stats.pages_parsed == 2
