"""Every earlier release's warehouse upgrades with today's code and keeps every run and change.

The fixtures under tests/fixtures/warehouses/<commit>/ were written by each
release's own code on its own demo site (tests/fixtures/make_old_warehouses.py):
the first release among them. Each is upgraded twice over, by `run --from-raw`
on the raw store it kept and by a normal run against today's demo site.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import duckdb
import pytest

from idf_etl.warehouse.migrations import SCHEMA_VERSION
from tests.pipeline.test_pipeline import idf, query, run

FIXTURES = Path(__file__).parents[1] / "fixtures" / "warehouses"
RELEASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "manifest.json").exists())
FIRST_RELEASE = "f2f3f92"
# What a row of history is, in every release (later ones added columns beside these).
RUNS = "SELECT run_id, started_at, finished_at, mode, outcome, field_changes FROM runs"
CHANGES = "SELECT run_id, changed_at, project_id, field, old_value, new_value FROM project_changes"
ISSUES = (
    "SELECT run_id, found_at, stage, severity, url, project_id, code, field, message FROM issues"
)


def unpack(commit: str, data: Path) -> dict:
    """The release's warehouse and raw store as it left them, in `data`."""
    here = FIXTURES / commit
    (data / "clean").mkdir(parents=True)
    (data / "clean" / "idf.duckdb").write_bytes(
        gzip.decompress((here / "idf.duckdb.gz").read_bytes())
    )
    raw = gzip.decompress((here / "raw.tar.gz").read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        archive.extractall(data, filter="data")
    manifest: dict = json.loads((here / "manifest.json").read_text())
    return manifest


def history(data: Path) -> tuple[list, set, set]:
    return (
        query(data, RUNS + " ORDER BY run_id"),
        set(query(data, CHANGES)),
        set(query(data, ISSUES)),
    )


def test_the_first_release_is_among_the_fixtures():
    assert FIRST_RELEASE in RELEASES and len(RELEASES) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("commit", RELEASES)
def test_an_earlier_release_upgrades_by_from_raw_and_by_a_normal_run(commit, demo_site, tmp_path):
    _site, base = demo_site
    data = tmp_path / "data"
    manifest = unpack(commit, data)
    runs, changes, issues = history(data)
    assert len(runs) == manifest["rows"]["runs"] == 2 and len(changes) == 3

    from_raw = idf(
        "run", "--from-raw", "--json", "--set", "report=false", data_dir=data, check=False
    )
    assert from_raw.returncode in (0, 1) and "Traceback" not in from_raw.stderr, from_raw.stderr[
        -3000:
    ]
    assert json.loads(from_raw.stdout.splitlines()[-1])["outcome"] == "success"
    proc, summary = run(base, data, check=False)
    assert "Traceback" not in proc.stderr and summary["outcome"] == "success", proc.stderr[-3000:]

    runs_after, changes_after, issues_after = history(data)
    assert runs_after[:2] == runs
    assert [r[3] for r in runs_after[2:]] == ["from-raw", "network"]
    assert changes <= changes_after and issues <= issues_after
    assert query(data, "SELECT value FROM schema_info WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    # What analysts read works on the upgraded file.
    for command in (("status",), ("check",), ("sql", "SELECT count(*) FROM projects")):
        done = idf(*command, data_dir=data, check=False)
        assert "Traceback" not in done.stderr and done.returncode in (0, 1, 2), done.stderr[-2000:]


def _nullable_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        """SELECT c.table_name, c.column_name FROM duckdb_columns() c
           JOIN duckdb_tables() t USING (table_name)
           WHERE c.is_nullable AND c.table_name <> 'schema_info' ORDER BY ALL"""
    ).fetchall()


@pytest.mark.slow
def test_every_column_an_older_release_may_have_left_null_is_read_as_null(demo_site, tmp_path):
    """The class of the first release's `'<' not supported between 'NoneType' and 'str'`:
    code that assumes a column is filled that older releases (or the migrations) left NULL.
    Every nullable column of the first release's warehouse is emptied at once; the upgrade,
    a re-parse and a normal run still finish, and the history's rows are all still there."""
    _site, base = demo_site
    data = tmp_path / "data"
    unpack(FIRST_RELEASE, data)
    with duckdb.connect(str(data / "clean" / "idf.duckdb")) as con:
        columns = _nullable_columns(con)
        assert len(columns) > 50
        for table, column in columns:
            con.execute(f'UPDATE "{table}" SET "{column}" = NULL')
        runs = con.execute("SELECT run_id FROM runs ORDER BY ALL").fetchall()
        changes = con.execute("SELECT count(*) FROM project_changes").fetchall()

    for args in (("run", "--from-raw", "--set", "report=false"),):
        done = idf(*args, data_dir=data, check=False)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-3000:]
    proc, summary = run(base, data, check=False)
    assert "Traceback" not in proc.stderr and summary["outcome"] == "success", proc.stderr[-3000:]
    assert query(data, "SELECT run_id FROM runs WHERE run_id <= 2 ORDER BY ALL") == runs
    assert query(data, "SELECT count(*) FROM project_changes WHERE run_id <= 2") == changes
    for command in (("status",), ("check",)):
        done = idf(*command, data_dir=data, check=False)
        assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_a_schema_version_left_empty_is_a_clear_error(tmp_path):
    data = tmp_path / "data"
    unpack("ebc5079", data)
    with duckdb.connect(str(data / "clean" / "idf.duckdb")) as con:
        con.execute("UPDATE schema_info SET value = NULL")
    done = idf("run", "--from-raw", "--set", "report=false", data_dir=data, check=False)
    assert "Traceback" not in done.stderr
    assert done.returncode == 1 and "schema_info" in done.stderr, done.stderr[-2000:]
