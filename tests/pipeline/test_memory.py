"""No input the limits allow fails a run for memory: DuckDB spills to the data directory,
batches are cut by the text they hold, and a statement that needs more than the limit at
once has the build start again with more.

Not timed (bench/bench_load.py measures memory and speed): a store of many pages a
project, each with a long description, loads at the default settings with a memory
limit far below what the pages weigh.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from idf_etl.rawstore import RawStore
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html

PAGES_A_PROJECT = 13
STATUS = ("Active", "Completed")  # the project's pages disagree: issues by the hundred


def page(i: int) -> bytes:
    # About 20 KB of description a page: 2,600 pages hold 52 MB of it, beyond the limit.
    body = (
        f"Page {i} of a project that the site shows on many pages, and this sentence, written "
        "for the test, is repeated to give the page the weight of a long description. "
    ) * 120
    fields = [
        field_html("Project ID", f"CE.{i // PAGES_A_PROJECT:04d}"),
        field_html("Project Status", STATUS[i % 2]),
        field_html("Budget Amount (USD)", f"{100000 + i}.00"),
        field_html("IDF Region", "Africa"),
        field_html("Benefiting Member States", "Ghana, Kenya"),
    ]
    return drupal_page(fields, title=f"Project {i // PAGES_A_PROJECT}", body=body).encode()


def store(data: Path, pages: int) -> None:
    with RawStore(data / "raw") as raw, mock.patch("os.fsync"):
        for i in range(pages):
            url = f"https://developmentfund.iom.int/project/p{i:05d}"
            raw.record_body(
                url,
                status=200,
                body=page(i),
                headers={"content-type": "text/html; charset=utf-8"},
                final_url=url,
                canonical_url=None,
                sitemap_lastmod=None,
            )


@pytest.mark.slow
def test_many_pages_a_project_load_within_a_small_memory_limit_by_spilling(tmp_path):
    data = tmp_path / "data"
    store(data, 2600)
    proc = idf_etl(
        "run",
        "--from-raw",
        "--json",
        "--data-dir",
        str(data),
        "--set",
        "report=false",
        "--set",
        "warehouse_memory=16MB",
        cwd=tmp_path,
        env=clean_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DuckDB needed more" not in proc.stdout  # whatever it took, the run says success
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["outcome"] == "success" and summary["pages_parsed"] == 2600
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM projects").fetchone() == (200,)
        assert con.execute("SELECT count(*) FROM project_pages").fetchone() == (2600,)
        # Every project's pages disagree on its status: each is reported.
        disagree = con.execute(
            "SELECT count(DISTINCT project_key) FROM issues WHERE field = 'status'"
        ).fetchone()
        assert disagree == (200,)
    assert not (data / "clean" / "releases" / ".spill").exists() or not os.listdir(
        data / "clean" / "releases" / ".spill"
    )
