"""Pages near the raw store's size cap build at the default warehouse_memory, the first time.

DuckDB holds 2,048 rows at once, so the memory a build needs is at least 2,048 times its
widest row: 20 stored pages whose description was 4.4 MB each built only with 128MB, 200
with 2GB, each try parsing the whole store again (#22). A value past the parser's
TEXT_LIMIT (bytes a page's values hold together) is left empty with a problem, so no
page makes a row wider than that.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from idf_etl.config import Settings
from idf_etl.parse.extracted import TEXT_LIMIT
from idf_etl.rawstore import RawStore
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

WIDE = 24  # pages whose description is 4.4 MB: 106 MB of text, built with 128MB before
NARROW = 6  # ordinary pages beside them


def wide_page(i: int, wide: bool) -> bytes:
    sentence = f"Page {i} says this again, in a sentence written for the test. "
    body = sentence * (4_400_000 // len(sentence) if wide else 20)
    fields = [
        field_html("Project ID", f"CE.{i:04d}"),
        field_html("Project Status", "Active"),
        field_html("IDF Region", "Africa"),
        field_html("Benefiting Member States", "Ghana, Kenya"),
    ]
    return drupal_page(fields, title=f"Project {i}", body=body).encode()


@pytest.mark.slow
def test_pages_near_the_size_cap_build_at_the_default_memory_without_building_again(tmp_path):
    data = tmp_path / "data"
    pages = [
        (f"https://developmentfund.iom.int/project/wide-{i:02d}", wide_page(i, wide=i < WIDE))
        for i in range(WIDE + NARROW)
    ]
    assert all(len(body) < Settings().max_bytes for _, body in pages)  # what a fetch keeps
    store_pages(data / "raw", pages)
    proc = idf_etl(
        *("run", "--from-raw", "--json", "--data-dir", str(data), "--set", "report=false"),
        cwd=tmp_path,
        env=clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["outcome"] == "success" and summary["pages_parsed"] == WIDE + NARROW
    # Built at the default warehouse_memory: no "built with", no second build.
    assert summary["notes"] == [], summary["notes"]
    assert "needed more" not in proc.stderr, proc.stderr[-3000:]
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT project_id, description IS NULL, length(description), title, states "
            "FROM project_pages ORDER BY project_id"
        ).fetchall()
        too_long = con.execute(
            "SELECT project_id, field FROM problems WHERE code = 'value_too_long' "
            "ORDER BY project_id"
        ).fetchall()
    # The wide pages are read, their description empty (never a part of it), the rest kept.
    assert [r[0] for r in rows] == [f"CE.{i:04d}" for i in range(WIDE + NARROW)]
    assert all(r[1] for r in rows[:WIDE]), rows[:WIDE]
    assert all(0 < r[2] <= TEXT_LIMIT for r in rows[WIDE:]), rows[WIDE:]
    assert all(r[3] == f"Project {i}" and r[4] == ["GH", "KE"] for i, r in enumerate(rows))
    assert too_long == [(f"CE.{i:04d}", "description") for i in range(WIDE)]


@pytest.mark.slow
def test_rows_at_the_limit_are_built_once_whatever_the_export_needs(tmp_path):
    """2,100 pages whose text is just within TEXT_LIMIT: a Parquet row group of 2,048 such
    rows needs more than 64MB. The export is done again with more on the warehouse already
    built, never the whole build (which parsed the whole store again: 53 s, not 21)."""
    data = tmp_path / "data"
    pages = 2100

    def full_page(i: int) -> bytes:
        sentence = f"Page {i} says this again, in a sentence written for the test. "
        body = (sentence * (TEXT_LIMIT // len(sentence)))[: TEXT_LIMIT - 300]
        fields = [field_html("Project ID", f"CE.{i:04d}"), field_html("IDF Region", "Africa")]
        return drupal_page(fields, title=f"Project {i}", body=body).encode()

    store_pages(
        data / "raw",
        (
            (f"https://developmentfund.iom.int/project/full-{i:04d}", full_page(i))
            for i in range(pages)
        ),
    )
    proc = idf_etl(
        *("run", "--from-raw", "--json", "--data-dir", str(data), "--set", "report=false"),
        cwd=tmp_path,
        env=clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["outcome"] == "success" and summary["pages_parsed"] == pages
    # Parsed and built once; the export, if it needed more, said so.
    assert "building it again" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.count(f"parse: {pages:,} pages to check") == 1, proc.stderr[-3000:]
    assert all(n.startswith("the export needed more than 64MB") for n in summary["notes"])
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]
        parquet = str(data / "clean" / "parquet" / "project_pages.parquet")
        # Every row exported, its description whole.
        count, shortest = con.execute(
            "SELECT count(*), min(length(description)) FROM read_parquet(?)", [parquet]
        ).fetchone()  # type: ignore[misc]
        assert count == pages and shortest > TEXT_LIMIT - 400


def test_an_error_quoting_a_whole_page_is_bounded_in_its_row(tmp_path, monkeypatch):
    # pages.reason holds why a page was not read: a parser bug's exception may quote the
    # page it choked on, 4 MB of it.
    from idf_etl.pipeline import parsing
    from idf_etl.records import MESSAGE_LIMIT

    def choke(*args, **kwargs):
        raise ValueError("cannot handle " + "x" * 4_000_000)

    monkeypatch.setattr(parsing, "parse_stored_page", choke)
    url = "https://developmentfund.iom.int/project/choke"
    with RawStore(tmp_path / "raw") as store:
        store.record_body(
            url,
            status=200,
            body=wide_page(1, wide=False),
            headers={"content-type": "text/html; charset=utf-8"},
            final_url=url,
            canonical_url=None,
            sitemap_lastmod=None,
        )
        (parsed,) = parsing.parse_stored(store, store.pages(), lambda *a: None)
    assert parsed.record is None and parsed.error is not None
    assert len(parsed.error) <= MESSAGE_LIMIT
    assert parsed.error.startswith("cannot parse the stored page: ValueError: cannot handle")
    assert "characters, cut" in parsed.error
