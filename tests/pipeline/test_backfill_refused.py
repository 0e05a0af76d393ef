"""One capture fails only itself (issue 22): a capture whose values the warehouse refuses,
or that cannot be read, is observed as unreadable with an issue at its replay address
saying why; the backfill's other captures, its ledger row and what the warehouse had are
kept, and the next backfill reads it again.

The records leave a value its column cannot hold empty (records.misfit): the warehouse's
refusal is the boundary behind that one, so here the record's guard is switched off to let
such values reach it, through pywb and the real backfill, and, drawn by Hypothesis, through
the backfill's write of a batch into a real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl import records
from idf_etl.load.loader import Loader
from idf_etl.load.parsed import ParsedPage
from idf_etl.parse.page import PARSER_VERSION, parse_page
from idf_etl.pipeline.backfill import capture_address, write_captures
from idf_etl.pipeline.ledger import open_run
from idf_etl.pipeline.run import run_pipeline
from idf_etl.records import STORED_FIELDS, misfit
from idf_etl.warehouse.schema import create_schema
from tests.helpers.local_site import Site
from tests.helpers.wayback import Capture, Wayback

SHORTLINK = b'<head><link rel="shortlink" href="/node/9999999999">'


TODAY = "SELECT project_key, title, status, budget_usd, states FROM projects ORDER BY 1"


def query(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.slow
def test_a_capture_the_warehouse_refuses_fails_only_itself(
    server, tmp_path, fast_settings, monkeypatch
):
    site = Site(server)
    live = site.bodies["/project/moldova"]
    url = site.url("/project/moldova")
    captures = [
        Capture(url, "20160501120000", 200, live.replace(b"200,000", b"150,000")),
        # A ten-digit node id: the record's guard switched off below, the warehouse refuses it.
        Capture(url, "20190301100000", 200, live.replace(b"<head>", SHORTLINK)),
        Capture(url, "20210601000000", 200, live),
        # Not a page at all: unreadable, whatever the guard.
        Capture(site.url("/project/cambodia"), "20180101000000", 200, b"\x00\x01\x02" * 400),
    ]
    with Wayback(tmp_path / "archive", captures) as archive:
        s = fast_settings(
            start_urls=[site.url("/sitemap.xml"), site.url("/projects")],
            allowed_hosts=[site.base.removeprefix("http://")],  # its port: the archive's key
            archive_cdx=archive.cdx,
            archive_replay=archive.replay,
            archive_rate=0,
            archive_paths=["/project"],
            report=False,
            parse_workers=1,  # parsed in this process: where the guard is switched off
        )
        data = s.data_dir
        assert run_pipeline(s).outcome == "success"
        live_projects = query(data, TODAY)
        monkeypatch.setattr(records, "misfit", lambda value, sql: None)
        result = run_pipeline(s, backfill=(None, None))

        refused = f"{archive.replay}/20190301100000id_/{url}"
        unreadable = f"{archive.replay}/20180101000000id_/{site.url('/project/cambodia')}"
        assert query(data, "SELECT mode FROM runs ORDER BY run_id") == [
            ("network",),
            ("backfill",),
        ]
        assert result.load.parse_errors == 2
        kinds = query(
            data,
            "SELECT observed_at, kind FROM observations WHERE seen_in <> 'live' ORDER BY 1",
        )
        assert kinds == [
            (at("2016-05-01T12:00:00"), "project"),
            (at("2018-01-01T00:00:00"), "error"),
            (at("2019-03-01T10:00:00"), "error"),
            (at("2021-06-01T00:00:00"), "project"),
        ]
        issues = dict(query(data, "SELECT url, message FROM issues WHERE code = 'unreadable_page'"))
        assert set(issues) == {refused, unreadable}
        assert "cannot hold this capture's values" in issues[refused]
        assert "ConversionException" in issues[refused]
        assert "binary" in issues[unreadable]
        # The other captures are history; today's values are the live site's, kept.
        assert query(
            data,
            "SELECT budget_usd FROM project_versions WHERE project_key = 'CE.0333' "
            "ORDER BY valid_from",
        ) == [(150000,), (200000,)]
        assert query(data, TODAY) == live_projects
        open_problems = (
            "SELECT url FROM problems WHERE resolved_at IS NULL AND starts_with(url, ?) ORDER BY 1"
        )
        assert query(data, open_problems, [archive.replay]) == sorted([(refused,), (unreadable,)])

        # With the guard back, the next backfill reads the refused capture again: the node id
        # empty with a problem, the capture history, its unreadable_page problem resolved.
        monkeypatch.undo()
        run_pipeline(s, backfill=(None, None))
        assert query(
            data,
            "SELECT kind FROM observations WHERE observed_at = ?",
            [at("2019-03-01T10:00:00")],
        ) == [("project",)]
        # The unreadable capture's bytes are the same: still unreadable, still open.
        assert query(data, open_problems, [archive.replay]) == [(unreadable,)]


# -- the write of one batch, drawn --

# Record fields by the kind of column that keeps them, and values each one refuses.
_INTS = sorted(n for n, s in STORED_FIELDS.items() if s.sql in ("INTEGER", "SMALLINT"))
_DECIMALS = sorted(n for n, s in STORED_FIELDS.items() if s.sql.startswith("DECIMAL"))
_TEXTS = sorted(n for n, s in STORED_FIELDS.items() if s.sql == "VARCHAR")
_LISTS = sorted(n for n, s in STORED_FIELDS.items() if s.sql == "VARCHAR[]")
_SURROGATE = st.builds(
    lambda a, c, b: a + c + b,
    st.text(max_size=5),
    st.sampled_from(["\ud800", "\udfff", "\udc80"]),
    st.text(max_size=5),
)


@st.composite
def refused_values(draw: st.DrawFn) -> tuple[str, object]:
    """(field, a value its warehouse column refuses)."""
    kind = draw(st.sampled_from(["int", "decimal", "text", "list"]))
    if kind == "int":
        name = draw(st.sampled_from(_INTS))
        bound = 2**15 if STORED_FIELDS[name].sql == "SMALLINT" else 2**31
        value: object = draw(
            st.integers(bound, 2**62) | st.integers(-(2**62), -bound - 1) | st.just(bound)
        )
    elif kind == "decimal":
        name = draw(st.sampled_from(_DECIMALS))
        value = Decimal(draw(st.integers(10**16, 10**30))) * draw(st.sampled_from([1, -1]))
    elif kind == "text":
        name, value = draw(st.sampled_from(_TEXTS)), draw(_SURROGATE)
    else:
        name = draw(st.sampled_from(_LISTS))
        value = [*draw(st.lists(st.text(max_size=4), max_size=2)), draw(_SURROGATE)]
    assert misfit(value, STORED_FIELDS[name].sql) is not None, (name, value)
    return name, value


PAGE = (
    b"<html><head><title>T</title></head><body><h1>A project</h1><ul>"
    b"<li>Projects ID: CE.0001</li><li>Project Status: Active</li>"
    b"<li>Budget Amount (USD): 100,000</li></ul></body></html>"
)


def test_drawn_refused_values_fail_only_their_capture(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schema(con)
    started = datetime(2026, 12, 6, tzinfo=UTC)
    con.execute("BEGIN TRANSACTION")
    run_id = open_run(con, started, "backfill", "x")
    archive = "http://127.0.0.1:9/idf"
    loader = Loader(con, run_id, started, PARSER_VERSION, commit_batches=True, seen_in=archive)
    good = parse_page(PAGE, url="https://x.org/project/a")
    assert isinstance(good, records.ProjectRecord)
    moments = iter(range(1, 10**6))

    def capture(url: str, record: records.ProjectRecord) -> ParsedPage:
        when = datetime.fromtimestamp(10**9 + next(moments), UTC)
        return ParsedPage(url, "0" * 64, when, when, False, record)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(refused=refused_values(), where=st.integers(0, 2))
    def check(refused: tuple[str, object], where: int) -> None:
        name, value = refused
        bad = capture("https://x.org/project/bad", good.model_copy(update={name: value}))
        batch = [capture(f"https://x.org/project/good{i}", good) for i in range(2)]
        batch.insert(where, bad)
        before = con.execute("SELECT count(*) FROM observations").fetchone()
        errors = loader.stats.parse_errors
        write_captures(con, loader, batch, archive)
        kinds = {
            when: kind
            for when, kind in con.execute(
                "SELECT observed_at, kind FROM observations WHERE observed_at IN "
                "(SELECT unnest(?::TIMESTAMPTZ[]))",
                [[p.fetched_at for p in batch]],
            ).fetchall()
        }
        # Every capture observed: the refused one as unreadable, the others as read.
        assert kinds == {p.fetched_at: "error" if p is bad else "project" for p in batch}
        assert con.execute("SELECT count(*) FROM observations").fetchone() == (before[0] + 3,)
        assert loader.stats.parse_errors == errors + 1
        (issue,) = [i for i in loader.issues if i.url == capture_address(archive, bad)]
        assert issue.code == "unreadable_page" and "cannot hold this capture's values" in (
            issue.message
        )
        loader.issues.clear()

    check()
    loader.finish()
    con.execute("COMMIT")
    # The run's ledger row was never rolled back with a refused batch.
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
