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
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from idf_etl.config import MEMORY_UNITS, Settings, memory_bytes
from idf_etl.errors import ConfigError
from idf_etl.pipeline.memory import twice
from idf_etl.settings_sources import load_settings
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

PAGES_A_PROJECT = 13
STATUS = ("Active", "Completed")  # the project's pages disagree: issues by the hundred


def page(i: int, repeat: int = 95) -> bytes:
    # About 15 KB of description a page (repeat=95), just within the parser's TEXT_LIMIT:
    # 2,600 pages hold 41 MB of it, beyond the memory limit.
    body = (
        f"Page {i} of a project that the site shows on many pages, and this sentence, written "
        "for the test, is repeated to give the page the weight of a long description. "
    ) * repeat
    fields = [
        field_html("Project ID", f"CE.{i // PAGES_A_PROJECT:04d}"),
        field_html("Project Status", STATUS[i % 2]),
        field_html("Budget Amount (USD)", f"{100000 + i}.00"),
        field_html("IDF Region", "Africa"),
        field_html("Benefiting Member States", "Ghana, Kenya"),
    ]
    return drupal_page(fields, title=f"Project {i // PAGES_A_PROJECT}", body=body).encode()


def store(data: Path, pages: int, repeat: int = 95, first: int = 0) -> None:
    store_pages(
        data / "raw",
        (
            (f"https://developmentfund.iom.int/project/p{i:05d}", page(i, repeat))
            for i in range(first, pages)
        ),
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


@pytest.mark.slow
def test_the_memory_a_build_needs_does_not_grow_with_the_store(tmp_path):
    """Flat memory, as a test: 13 pages a project, every project's pages disagreeing, 4 KB
    of description a page (the site's longest), built at the default warehouse_memory
    without building again with more, at 1,300 stored pages and at three times as many.
    (Longer descriptions meet a floor that does not grow with the store: DuckDB holds 2,048
    rows at once, and a Parquet row group of 2,048 rows of 10 KB needs more than 64MB at
    2,600 pages and at 7,800 alike; the build is then made with 128MB at both.)"""
    data = tmp_path / "data"
    for first, pages in ((0, 1300), (1300, 3900)):
        store(data, pages, repeat=24, first=first)
        shutil.rmtree(data / "clean", ignore_errors=True)  # each size built from nothing
        proc = _run(data)
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads(proc.stdout.splitlines()[-1])
        assert summary["outcome"] == "success" and summary["pages_parsed"] == pages
        assert summary["notes"] == [], (pages, summary["notes"])
        assert "needed more" not in proc.stderr, proc.stderr[-3000:]
        with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
            disagree = con.execute(
                "SELECT count(DISTINCT project_key) FROM issues WHERE field = 'status'"
            ).fetchall()
        assert disagree == [(pages // PAGES_A_PROJECT,)]


@pytest.mark.slow
def test_a_checkpoint_holds_one_small_row_group_not_the_table_so_far(tmp_path):
    """One page a project, 2 KB of description each: each batch's CHECKPOINT rewrote the row
    group it appended to, at DuckDB's default 122,880 rows the whole table so far, and asked
    for memory that grew with the store (adversary: 16 MiB at 10,000 pages, a FatalException
    out of 64MB; 48 MiB at 26,000 out of 128MB). The building warehouse's row groups are
    2,048 rows: 6,000 pages build within 32MB without building again."""
    data = tmp_path / "data"

    def page(i: int) -> bytes:
        fields = [field_html("Project ID", f"CE.{i:04d}"), field_html("IDF Region", "Africa")]
        body = f"Project {i} and a sentence written for this test, said again. " * 32
        return drupal_page(fields, title=f"Project {i}", body=body).encode()

    store_pages(
        data / "raw",
        ((f"https://developmentfund.iom.int/project/q{i:05d}", page(i)) for i in range(6000)),
    )
    proc = idf_etl(
        *("run", "--from-raw", "--json", "--data-dir", str(data)),
        *("--set", "report=false", "--set", "warehouse_memory=32MB"),
        cwd=tmp_path,
        env=clean_env(),
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["outcome"] == "success" and summary["pages_parsed"] == 6000
    assert summary["notes"] == [], summary["notes"]
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM projects").fetchall() == [(6000,)]


def _run(data: Path, *settings: str) -> subprocess.CompletedProcess[str]:
    args = ["run", "--from-raw", "--json", "--data-dir", str(data), "--set", "report=false"]
    args += ["--set", "parse_workers=1"]
    for setting in settings:
        args += ["--set", setting]
    return idf_etl(*args, cwd=data.parent, env=clean_env())


def _published(data: Path) -> dict[str, bytes]:
    clean = data / "clean"
    return {
        str(p.relative_to(clean)): p.read_bytes()
        for p in sorted(clean.rglob("*"))
        if p.is_file() and ".spill" not in p.parts
    }


def test_a_build_that_needs_more_than_warehouse_memory_is_built_again_with_twice_as_much(
    tmp_path,
):
    # #22: 30 pages of 15 KB make DuckDB's hash aggregate over their text ask for 2MB at once
    # with 13.5MB in use: beyond 16MB. The run builds again with 32MB and says so.
    data = tmp_path / "data"
    store(data, 30)
    proc = _run(data, "warehouse_memory=16MB")
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes = [line for line in proc.stderr.splitlines() if "run: note:" in line]
    assert any("DuckDB needed more than 16MB" in n and "again with 32MB" in n for n in notes)
    built = "the warehouse needed more than warehouse_memory = 16MB: built with 32MB"
    assert any(n.endswith(built) for n in notes), notes
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["outcome"] == "success" and built in summary["notes"]
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        # One ledger row: the build that ran out of memory was discarded whole.
        assert con.execute("SELECT run_id, outcome FROM runs").fetchall() == [(1, "success")]
        assert con.execute("SELECT count(*) FROM project_pages").fetchone() == (30,)
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("memory", "most", "says"),
    [
        # Not raised at all: twice 16MB is beyond the ceiling.
        ("16MB", "16MB", "DuckDB needed more than warehouse_memory = 16MB to build"),
        # Raised once (8MB -> 16MB), then at the ceiling.
        ("8MB", "16MB", "raised as far as max_warehouse_memory = 16MB allows"),
    ],
)
def test_a_build_that_needs_more_than_the_ceiling_fails_in_one_line_and_publishes_nothing(
    tmp_path, memory, most, says
):
    data = tmp_path / "data"
    store(data, 3)
    assert _run(data).returncode == 0  # a published warehouse, at the default 64MB
    store(data, 30)  # 27 pages more: the next build needs more than 16MB
    before = _published(data)
    proc = _run(data, f"warehouse_memory={memory}", f"max_warehouse_memory={most}")
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if "idf-etl:" in line]
    assert len(errors) == 1 and says in errors[0], proc.stderr[-3000:]
    assert "the published warehouse is unchanged" in errors[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert _published(data) == before
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        assert con.execute("SELECT run_id FROM runs").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM project_pages").fetchone() == (3,)


@pytest.mark.parametrize(
    ("given", "read"),
    [("64MB", "64MB"), ("64 mb", "64MB"), (" 8mib ", "8MiB"), ("1.5GB", "1.5GB"), ("1MB", "1MB")],
)
def test_a_memory_setting_is_read_in_the_form_duckdb_reads(given, read):
    settings = Settings(warehouse_memory=given, max_warehouse_memory=given)
    assert (settings.warehouse_memory, settings.max_warehouse_memory) == (read, read)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        # 0 would be doubled for ever; below 1MB DuckDB cannot create the schema.
        ("0MB", "below 1MB"),
        ("0.5MB", "below 1MB"),
        ("1KB", "below 1MB"),
        ("64", "not an amount of memory like 64MB"),
        ("1e3MB", "not an amount of memory like 64MB"),
        ("64 megabytes", "not an amount of memory like 64MB"),
    ],
)
def test_a_memory_setting_duckdb_could_not_build_in_is_refused_before_the_run(given, says):
    for setting in ("warehouse_memory", "max_warehouse_memory"):
        with pytest.raises(ConfigError, match=says):
            load_settings(None, {setting: given}, environ={})


@given(st.decimals(min_value=1, max_value=10**9, places=3), st.sampled_from(list(MEMORY_UNITS)))
def test_twice_a_limit_is_twice_its_bytes_in_the_unit_it_was_given_in(number, unit):
    memory = f"{number}{unit}"
    doubled = twice(memory)
    assert doubled.endswith(unit) and "e" not in doubled.removesuffix(unit)
    assert memory_bytes(doubled) == pytest.approx(2 * memory_bytes(memory), rel=1e-9, abs=2)


def test_every_word_duckdb_has_for_out_of_memory_is_read_as_such():
    """A COMMIT that cannot pin a block is a TransactionException, not an
    OutOfMemoryException (adversary case 3: a run whose ledger held 200,000 issues died
    with it); either way the build is retried with more memory, not failed."""
    from idf_etl.pipeline.memory import needs_memory

    assert needs_memory(duckdb.OutOfMemoryException("Out of Memory Error: could not allocate"))
    assert needs_memory(
        duckdb.TransactionException(
            "TransactionContext Error: Failed to commit: failed to pin block of size "
            "256.0 KiB (60.9 MiB/61.0 MiB used)"
        )
    )
    assert not needs_memory(duckdb.ConstraintException("Duplicate key"))
    assert not needs_memory(duckdb.IOException("No space left on device"))


@given(
    st.sampled_from(
        [
            duckdb.OutOfMemoryException,
            duckdb.TransactionException,
            duckdb.FatalException,
            duckdb.InternalException,
            duckdb.InvalidInputException,
            duckdb.IOException,
        ]
    ),
    st.sampled_from(
        [
            "Failed to create checkpoint because of error: failed to allocate data of size",
            "Failed to commit: failed to pin block of size",
            "could not allocate block of size",
            "Something DuckDB has not said yet, of size",
        ]
    ),
    st.floats(0.1, 4096).map(lambda f: f"{f:.1f}"),
    st.sampled_from(["KiB", "MiB", "GiB", "B"]),
    st.floats(1, 4096).map(lambda f: f"{f:.1f}"),
)
def test_every_error_naming_the_memory_limit_is_want_of_memory(kind, words, size, unit, used):
    """The class of the cases above: a CHECKPOINT that cannot allocate is a FatalException
    (adversary, 30,000 pages of 2 KB: a traceback, no retry). Whatever the type and words,
    DuckDB's buffer manager names its limit as "(X MiB/Y MiB used)"."""
    from idf_etl.pipeline.memory import needs_memory

    assert needs_memory(kind(f"{words} {size} {unit} ({used} MiB/{used} MiB used)"))


def test_an_export_that_needs_more_is_done_again_on_the_built_warehouse_not_built_again():
    """The export's floor (a Parquet row group of 2,048 of the widest rows) is met on a new
    connection with twice the memory, up to the ceiling; past it, the OutOfMemory names the
    limit it failed at, and the build is not tried again below it."""
    from idf_etl.pipeline.memory import OutOfMemory, build_within_memory, export_within_memory

    opened: list[tuple[str, duckdb.DuckDBPyConnection]] = []

    def reconnect(limit: str) -> duckdb.DuckDBPyConnection:
        opened.append((limit, duckdb.connect(config={"memory_limit": limit})))
        return opened[-1][1]

    def export_needing(most: int):
        def export(con: duckdb.DuckDBPyConnection, limit: str) -> None:
            assert limit == opened[-1][0]  # the limit the connection was opened with
            if len(opened) < most:
                raise duckdb.OutOfMemoryException(
                    f"could not allocate block ({limit}/{limit} used)"
                )

        return export

    first = reconnect("16MB")
    con, limit = export_within_memory(first, export_needing(3), reconnect, "16MB", "64MB")
    assert (
        limit == "64MB"
        and con is opened[-1][1]
        and [m for m, _ in opened]
        == [
            "16MB",
            "32MB",
            "64MB",
        ]
    )
    for _, older in opened[:-1]:  # closed: the building file is DuckDB's one at a time
        with pytest.raises(duckdb.ConnectionException):
            older.execute("SELECT 1")

    opened.clear()
    with pytest.raises(OutOfMemory) as failed:
        export_within_memory(reconnect("16MB"), export_needing(99), reconnect, "16MB", "32MB")
    assert failed.value.memory == "32MB"
    with pytest.raises(duckdb.ConnectionException):
        opened[-1][1].execute("SELECT 1")

    builds: list[str] = []

    def build(memory: str):
        builds.append(memory)
        raise failed.value

    with pytest.raises(OutOfMemory, match="raised as far as max_warehouse_memory = 32MB"):
        build_within_memory(build, "16MB", "32MB")
    assert builds == ["16MB"]  # the export had reached the ceiling: no build again

    def failing(con: duckdb.DuckDBPyConnection, limit: str) -> None:
        raise duckdb.ConstraintException("Duplicate key")

    with pytest.raises(duckdb.ConstraintException):  # not memory: as it is, at once
        export_within_memory(reconnect("16MB"), failing, reconnect, "16MB", "64MB")


@given(needed=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["8MB", "1GB", "2MB"])))
def test_a_build_starts_from_the_memory_the_last_one_needed_whatever_is_stored(needed):
    from idf_etl.pipeline.memory import start_with

    start = start_with("4MB", "512MB", needed)
    assert start in ("4MB", needed)
    if start != "4MB":  # only more than warehouse_memory, and within the ceiling
        assert memory_bytes("4MB") < memory_bytes(start) <= memory_bytes("512MB")
    assert start_with("4MB", "512MB", "8MB") == "8MB"
    assert start_with("4MB", "512MB", "1GB") == "4MB"  # past the ceiling: never


@pytest.mark.slow
def test_the_next_run_starts_with_the_memory_the_last_build_needed(tmp_path):
    """A build given up for memory restarts from nothing: under run_timeout a run that
    began at warehouse_memory every night gave up its first build and parsed nothing."""
    data = tmp_path / "data"
    store(data, 40, repeat=20)
    runs = []
    for _ in range(2):
        runs.append(_run(data, "warehouse_memory=1MB"))
        assert runs[-1].returncode == 0, runs[-1].stderr[-3000:]
    first, second = (r.stderr for r in runs)
    assert "building it again with" in first
    assert "building it again with" not in second
    built = re.search(r"warehouse_memory = 1MB: built with (\S+)", first)[1]
    assert f"warehouse_memory = 1MB: built with {built}" in second
