"""A run that has published ends by what it published: a write after the publish that fails
(the raw store's meta, report.html put into place) is a warning line, never a traceback or
a failed run. Real faults, the CLI as a subprocess: another process holding a write
transaction on the raw store's manifest (SQLite gives up after its busy timeout, as on a
manifest a backup or a sqlite3 shell holds), report.html's place taken by a directory.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from idf_etl.pipeline.deadlines import EXPORT_SECONDS
from idf_etl.rawstore import RawStore
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

pytestmark = pytest.mark.slow

HOLD = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")  # a write transaction: readers go on, writers wait, then fail
print("held", flush=True)
time.sleep(600)
"""


@contextmanager
def manifest_held(raw: Path) -> Iterator[None]:
    """Another process holding a write transaction on the raw store's manifest."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(raw / "manifest.sqlite")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout and proc.stdout.readline() == "held\n"
        yield
    finally:
        proc.kill()
        proc.wait(10)


def page(i: int) -> bytes:
    fields = [field_html("Project ID", f"CE.{i:04d}"), field_html("Project Status", "Active")]
    return drupal_page(fields, title=f"Project {i}").encode()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with a published warehouse of 20 projects and its raw store."""
    data = tmp_path / "data"
    store_pages(data / "raw", ((f"https://www.iom.int/project/p{i}", page(i)) for i in range(20)))
    first = run(data)
    assert first.returncode == 0, first.stderr[-2000:]
    return data


def run(data: Path, *settings: str) -> subprocess.CompletedProcess[str]:
    sets = [a for s in ("report=false", *settings) for a in ("--set", s)]
    return idf_etl(
        "run", "--from-raw", "--json", "--data-dir", str(data), *sets,
        cwd=data.parent, env=clean_env(), timeout=300,
    )  # fmt: skip


def runs(data: Path) -> list[tuple[int, str]]:
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute("SELECT run_id, outcome FROM runs ORDER BY run_id").fetchall()


def meta(data: Path, key: str) -> str | None:
    with sqlite3.connect(data / "raw" / "manifest.sqlite") as con:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def test_a_raw_store_that_cannot_be_written_after_the_publish_fails_nothing(data):
    before = meta(data, EXPORT_SECONDS)
    assert before is not None
    with manifest_held(data / "raw"):
        proc = run(data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert runs(data) == [(1, "success"), (2, "success")]  # published, and said so
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["outcome"] == "success" and summary["published"]
    warned = [x for x in proc.stderr.splitlines() if "WARNING" in x and "could not be written" in x]
    assert len(warned) == 1, proc.stderr[-3000:]
    assert f"published, but the raw store's {EXPORT_SECONDS} ({data / 'raw'}" in warned[0]
    assert "database is locked" in warned[0]
    assert meta(data, EXPORT_SECONDS) == before  # the last good estimate is kept
    again = run(data)  # and the next run, the manifest free, writes it
    assert again.returncode == 0 and meta(data, EXPORT_SECONDS) != before


def test_report_html_that_cannot_be_put_in_place_after_the_publish_fails_nothing(data):
    (data / "clean" / "report.html").mkdir()  # a directory where the file goes
    (data / "clean" / "report.html" / "kept").write_text("x")
    proc = run(data, "report=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert runs(data)[-1] == (2, "success")
    said = [x for x in proc.stderr.splitlines() if "could not be written" in x]
    assert len(said) == 1 and "report.html was not refreshed" in said[0], proc.stderr[-3000:]
    assert (data / "clean" / "report.html" / "kept").read_text() == "x"  # nothing of it lost


def test_a_manifest_held_locked_before_anything_is_published_is_one_line(tmp_path):
    """A network run writes the manifest as it fetches: held by another process, it is one
    `idf-etl:` line naming the manifest and what to do, exit 1 (before: a traceback)."""
    data = tmp_path / "data"
    RawStore(data / "raw").close()
    with manifest_held(data / "raw"):
        proc = idf_etl(
            "fetch", "--start-url", "http://127.0.0.1:9/sitemap.xml", "--data-dir", str(data),
            "--set", "max_retries=0", cwd=tmp_path, timeout=120,
        )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    said = [x for x in proc.stderr.splitlines() if "idf-etl:" in x]
    assert proc.returncode == 1 and len(said) == 1, proc.stderr[-3000:]
    assert "manifest.sqlite" in said[0] and "database is locked" in said[0]
    assert "let it finish or close it" in said[0]
