"""The exports others read: CSV and Parquet of every table and view, a datapackage.json that
`frictionless validate` (the standard validator, run as a user runs it) accepts."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from idf_etl.warehouse.export import _datasets, export_tables
from idf_etl.warehouse.schema import TABLES, VIEWS
from tests.pipeline.test_pipeline import edit, query, run

ARMENIA = "/project/migration-socio-economic-development-armenia-georgia"
NAMES = sorted([t.name for t in TABLES] + [v.name for v in VIEWS])


@pytest.fixture
def exported(demo_site, tmp_path):
    """The clean directory after two real runs, the second recording a budget change."""
    site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    edit(site, ARMENIA, "400000.00", "450000.00")
    run(base, data)
    return data / "clean"


@pytest.mark.slow
def test_frictionless_validate_accepts_the_package(exported):
    frictionless = shutil.which("frictionless", path=str(Path(sys.executable).parent))
    assert frictionless, "frictionless is in the dev group: make install"
    proc = subprocess.run(
        [frictionless, "validate", "--json", "datapackage.json"],
        cwd=exported,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    errors = [e["message"] for task in report["tasks"] for e in task["errors"]]
    assert report["valid"], errors[:5]
    assert proc.returncode == 0
    assert sorted(task["name"] for task in report["tasks"]) == NAMES
    assert all(task["stats"]["rows"] > 0 for task in report["tasks"]), (
        "an empty export proves little"
    )


@pytest.mark.slow
def test_package_names_licence_sources_version_and_every_table_and_view(exported):
    package = json.loads((exported / "datapackage.json").read_text())
    assert package["licenses"][0]["name"] and package["sources"][0]["path"].endswith("sitemap.xml")
    schema_version, run_id, _ = package["version"].split(".")
    assert int(run_id) == 2 and int(schema_version) >= 2
    assert sorted(r["name"] for r in package["resources"]) == NAMES
    for name in NAMES:
        assert (exported / "csv" / f"{name}.csv").stat().st_size > 0
        assert (exported / "parquet" / f"{name}.parquet").stat().st_size > 0
    fields = {
        f["name"]: f
        for r in package["resources"]
        if r["name"] == "projects"
        for f in r["schema"]["fields"]
    }
    assert fields["states"]["type"] == "array" and fields["start_year"]["type"] == "integer"
    assert fields["status"]["constraints"]["enum"] == ["active", "completed"]


@pytest.mark.slow
def test_csv_holds_lists_as_json_arrays_and_missing_values_as_empty_cells(exported):
    with open(exported / "csv" / "projects.csv", newline="") as handle:
        rows = {r["project_id"]: r for r in csv.DictReader(handle)}
    assert json.loads(rows["CD.0085"]["states"]) == ["AM", "GE"]
    assert rows["CD.0085"]["budget_usd"] == "450000.00"
    assert any(r["start_year"] == "" for r in rows.values())
    with open(exported / "csv" / "project_changes.csv", newline="") as handle:
        changes = list(csv.DictReader(handle))
    assert [(c["field"], c["old_value"], c["new_value"]) for c in changes] == [
        ("budget_usd", "400000.00", "450000.00")
    ]
    assert changes[0]["changed_at"].endswith("Z")
    data = exported.parent
    assert (
        query(data, f"SELECT count(*) FROM '{exported / 'parquet' / 'budget_by_country.parquet'}'")[
            0
        ][0]
        == query(data, "SELECT count(*) FROM budget_by_country")[0][0]
    )


def test_export_puts_no_path_into_sql(tmp_path):
    """A data directory whose name holds a quote still exports (paths go as arguments)."""
    from idf_etl.warehouse.schema import create_schema

    con = duckdb.connect()
    create_schema(con)
    clean = tmp_path / "it's data"
    clean.mkdir()
    staging = export_tables(con, clean, ["http://127.0.0.1/sitemap.xml"])
    assert (staging / "csv" / "runs.csv").read_text().startswith("run_id,")


def test_tables_larger_than_a_chunk_are_exported_whole_and_in_key_order(tmp_path):
    """Tables are written sorted a chunk at a time (export.ROW_GROUP rows, so that memory
    stays flat): every row once, in key order across chunk boundaries, a two-column key
    included, with DuckDB held to the run's default memory limit."""
    from idf_etl.config import Settings
    from idf_etl.warehouse.export import ROW_GROUP
    from idf_etl.warehouse.schema import create_schema

    con = duckdb.connect(
        str(tmp_path / "w.duckdb"), config={"memory_limit": Settings().warehouse_memory}
    )
    create_schema(con)
    n = 3 * ROW_GROUP + 5
    # Inserted out of key order, with descriptions as long as the site's longest (~3.5 KB).
    con.execute(
        """INSERT INTO projects (project_key, title, description, first_seen, last_changed,
                                missing_from_site, states, urls)
           SELECT 'K.' || lpad(((i * 7919) % ?)::VARCHAR, 6, '0'), 'Project ' || i,
                  repeat('words of a description ', 150), now(), now(), false, [], []
           FROM range(?) r(i)""",
        [n, n],
    )
    con.execute(
        """INSERT INTO project_states (project_key, iso2)
           SELECT 'K.' || lpad(((i * 7) % 1500)::VARCHAR, 6, '0'), c
           FROM range(1500) r(i), (VALUES ('GE'), ('AM'), ('MD')) v(c)"""
    )  # three a project: a chunk of 2,048 ends inside one, on the key's second column
    export_tables(con, tmp_path / "release")
    parquet = tmp_path / "release" / "parquet"
    keys = [
        k
        for (k,) in con.execute(
            "SELECT project_key FROM read_parquet(?)", [str(parquet / "projects.parquet")]
        ).fetchall()
    ]
    assert keys == sorted(keys) and len(set(keys)) == n
    states = con.execute(
        "SELECT project_key, iso2 FROM read_parquet(?)", [str(parquet / "project_states.parquet")]
    ).fetchall()
    assert states == sorted(states) and len(set(states)) == len(states) == 4500
    with open(tmp_path / "release" / "csv" / "projects.csv", newline="") as handle:
        assert [r["project_key"] for r in csv.DictReader(handle)] == keys
    assert not list(parquet.glob(".*"))  # no parts left behind
    con.close()


def test_export_follows_the_problem_counts_on_the_same_connection(tmp_path):
    """The run counts its open problems and exports on one connection. A count read with a
    bare fetchone() leaves a DuckDB 2.0 result unfinished, and the export's next relation
    then fails ("connection has an unfinished result"): the nightly run died so, once its
    report had failed."""
    from datetime import UTC, datetime

    from idf_etl.load.problems import settle_problem
    from idf_etl.warehouse.schema import create_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schema(con)
    counts = settle_problem(con, 1, datetime.now(UTC), "report_failed", None)
    assert (counts.resolved, counts.still_open) == (0, 0)
    staging = export_tables(con, tmp_path / "release")
    assert (staging / "parquet" / "problems.parquet").exists()
    con.close()


def test_scalar_reads_the_whole_result():
    from idf_etl.warehouse.rows import scalar

    con = duckdb.connect()
    assert scalar(con, "SELECT count(*) FROM range(5)") == 5
    assert scalar(con, "SELECT 1 WHERE false", default="none") == "none"
    assert scalar(con, "SELECT * FROM range(3)") == 0
    assert con.sql("SELECT 42").fetchall() == [(42,)]  # the connection is free again


def test_a_view_as_wide_as_a_table_is_exported_in_key_order_within_little_memory(tmp_path):
    """active_projects is every column of projects: sorted whole (or a top-N at a time), its
    descriptions outgrow a small DuckDB memory limit (out of memory at 32MB here, 8,197
    projects). It is written like a table, a chunk at a time in key order."""
    from idf_etl.warehouse.export import ROW_GROUP
    from idf_etl.warehouse.schema import create_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"), config={"memory_limit": "32MB"})
    create_schema(con)
    n = 4 * ROW_GROUP + 5
    con.execute(
        """INSERT INTO projects (project_key, title, description, first_seen, last_changed,
                                missing_from_site, states, urls, status)
           SELECT 'K.' || lpad(((i * 7919) % ?)::VARCHAR, 6, '0'), 'Project ' || i,
                  repeat('words of a description ', 150), now(), now(), i % 10 = 0, [], [],
                  'active'
           FROM range(?) r(i)""",
        [n, n],
    )
    export_tables(con, tmp_path / "release")
    keys = [
        k
        for (k,) in con.execute(
            "SELECT project_key FROM read_parquet(?)",
            [str(tmp_path / "release" / "parquet" / "active_projects.parquet")],
        ).fetchall()
    ]
    expected = [k for (k,) in con.execute("SELECT project_key FROM active_projects").fetchall()]
    assert keys == sorted(expected) and len(keys) == n - n // 10 - 1
    con.close()


def test_a_view_exported_by_key_has_a_key_that_names_every_row():
    """A view's key orders its export, chunk by chunk: a null or repeated key would drop or
    split rows, so it must be a table's key, in full and not null."""
    from idf_etl.warehouse.schema import view_columns

    keyed = [v for v in VIEWS if v.key]
    assert keyed
    for v in keyed:
        columns = {c.name: c for c in view_columns(v)}
        assert all(columns[k].type.endswith("NOT NULL") for k in v.key), v.name
        assert any(t.key == v.key and f"FROM {t.name} " in v.query + " " for t in TABLES), v.name


def test_a_file_is_in_key_order_only_when_every_row_follows_the_one_before(tmp_path):
    """A table the load wrote in key order is exported as it lies, once its file is checked
    in order; any other is sorted a chunk at a time (the tests above)."""
    from idf_etl.warehouse.export import _in_order

    con = duckdb.connect()

    def in_order(rows: str, key: tuple[str, ...]) -> bool:
        path = tmp_path / "t.parquet"
        con.sql(f"SELECT * FROM (VALUES {rows}) t(k, c)").write_parquet(str(path))
        return _in_order(con, path, key)

    assert in_order("('a', 'x'), ('a', 'y'), ('b', 'a')", ("k", "c"))
    assert not in_order("('a', 'y'), ('a', 'x'), ('b', 'a')", ("k", "c"))  # second column
    assert not in_order("('b', 'a'), ('a', 'x')", ("k", "c"))
    assert not in_order("('a', 'x'), ('a', 'y')", ("k",))  # a repeated key is no order
    assert in_order("('a', 'x')", ("k",))


def _filled(path: Path, projects: int) -> duckdb.DuckDBPyConnection:
    """A warehouse with `projects` projects (long descriptions, out of key order) and their
    countries, under the run's default memory limit."""
    from idf_etl.config import Settings
    from idf_etl.warehouse.schema import create_schema

    con = duckdb.connect(str(path), config={"memory_limit": Settings().warehouse_memory})
    create_schema(con)
    con.execute(
        """INSERT INTO projects (project_key, title, description, first_seen, last_changed,
                                missing_from_site, states, urls, status)
           SELECT 'K.' || lpad(((i * 7919) % ?)::VARCHAR, 6, '0'), 'Project ' || i,
                  repeat('words of a description ', 150), now(), now(), i % 10 = 0,
                  ['AM', 'GE'], ['https://www.iom.int/p' || i], 'active'
           FROM range(?) r(i)""",
        [projects, projects],
    )
    con.execute(
        """INSERT INTO project_states (project_key, iso2)
           SELECT project_key, unnest(states) FROM projects"""
    )
    return con


def _files(release: Path) -> dict[Path, bytes]:
    return {
        p.relative_to(release): p.read_bytes()
        for p in release.rglob("*.*")
        if p.name != "datapackage.json"
    }


def test_exports_written_on_threads_are_the_files_written_one_at_a_time(tmp_path, monkeypatch):
    """`run` writes the datasets on as many threads as it has cores: every file must be
    byte for byte the one a single thread writes, tables of several sorted chunks included,
    and the package must list them in the same order."""
    import threading

    from idf_etl.warehouse import export
    from idf_etl.warehouse.export import ROW_GROUP

    con = _filled(tmp_path / "w.duckdb", 2 * ROW_GROUP + 5)
    con.execute("SET threads = 2")
    one = export_tables(con, tmp_path / "one", threads=1)
    used = set()
    write = export._export

    def recorded(*args):
        used.add(threading.current_thread().name)
        return write(*args)

    monkeypatch.setattr(export, "_export", recorded)
    three = export_tables(con, tmp_path / "three", threads=3)
    assert len(used) >= 2 and all(name.startswith("export") for name in used)
    files = _files(one)
    assert len(files) == 2 * len(NAMES)
    assert files.keys() == _files(three).keys()
    for name, data in _files(three).items():
        assert data == files[name], name
    resources = [
        json.loads((d / "datapackage.json").read_text())["resources"] for d in (one, three)
    ]
    assert resources[0] == resources[1]
    assert [r["name"] for r in resources[0]] == [d[0] for d in _datasets()]
    # DuckDB's own threads are set to one for the export only.
    assert con.execute("SELECT current_setting('threads')").fetchone() == (2,)
    con.close()


def test_a_dataset_that_fails_on_a_thread_fails_the_export_and_leaves_no_thread(
    tmp_path, monkeypatch
):
    """An error on an export thread (a broken view) reaches the run, which then publishes
    nothing; the threads and their connections end with it, the settings are put back."""
    import threading

    from idf_etl.warehouse import export

    con = _filled(tmp_path / "w.duckdb", 10)
    con.execute("SET threads = 2")
    broken = ("broken", "A dataset whose query fails.", "(SELECT * FROM no_such_table)", (), {}, ())
    datasets = _datasets()
    monkeypatch.setattr(export, "_datasets", lambda: [*datasets[:3], broken, *datasets[3:]])
    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        export_tables(con, tmp_path / "release", threads=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("export")]
    assert con.execute("SELECT count(*) FROM projects").fetchone() == (10,)  # still usable
    assert con.execute("SELECT current_setting('threads')").fetchone() == (2,)
    con.close()


def test_exports_that_run_out_of_memory_together_are_written_one_at_a_time(
    tmp_path, monkeypatch, caplog
):
    """The export threads share warehouse_memory: when together they outgrow it, the
    dataset is written again alone, after the others, and the files are the same."""
    import threading

    from idf_etl.warehouse import export

    con = _filled(tmp_path / "w.duckdb", 50)
    one = export_tables(con, tmp_path / "one")
    write = export._export

    def starved(*args):
        if threading.current_thread().name.startswith("export") and args[2] == "projects":
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return write(*args)

    monkeypatch.setattr(export, "_export", starved)
    two = export_tables(con, tmp_path / "two", threads=2)
    assert _files(two) == _files(one)
    assert "projects: Out of Memory Error: could not allocate block; written again alone" in (
        caplog.text
    )
    con.close()


def test_open_issues_are_exported_in_the_views_order_within_little_memory(tmp_path):
    """open_issues grows with the problems a warehouse holds (260,000 in the bench's
    `problems` shape): sorted whole by its ORDER BY, its messages needed more than 64MB. It
    is written a chunk at a time, in the view's own order (oldest first, then severity, URL
    with run-level problems last, code), the same rows as the view, at the default 64MB."""
    from datetime import UTC, datetime, timedelta

    from idf_etl.warehouse.export import ROW_GROUP
    from idf_etl.warehouse.schema import create_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"), config={"memory_limit": "64MB"})
    create_schema(con)
    n = 6 * ROW_GROUP + 5
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Few distinct first_seen, severities and codes, and every tenth without a URL: chunk
    # boundaries fall inside runs of equal leading columns and on NULL URLs.
    con.execute(
        """INSERT INTO problems BY NAME
           SELECT md5(i::VARCHAR) AS problem_id, 'parse' AS stage,
                  ['warning', 'error'][1 + i % 2] AS severity, 'code_' || (i % 3) AS code,
                  CASE WHEN i % 10 = 0 THEN NULL ELSE 'https://x/p' || (i * 7919 % 5000) END
                      AS url,
                  repeat('a message long enough to weigh ', 130) || i AS message,
                  ?::TIMESTAMPTZ + to_days((i % 4)::INTEGER) AS first_seen, 1 AS first_run_id,
                  ?::TIMESTAMPTZ AS last_seen, 1 AS last_run_id, 1 AS runs,
                  CASE WHEN i % 17 = 0 THEN ?::TIMESTAMPTZ END AS resolved_at
           FROM range(?) r(i)""",
        [start, start + timedelta(days=9), start + timedelta(days=9), n],
    )
    export_tables(con, tmp_path / "release")
    exported = con.execute(
        "SELECT problem_id FROM read_parquet(?)",
        [str(tmp_path / "release" / "parquet" / "open_issues.parquet")],
    ).fetchall()
    con.execute("SET memory_limit = '1GB'")  # the view read whole, as an analyst would
    assert exported == con.execute("SELECT problem_id FROM open_issues").fetchall()
    assert len(exported) == n - len(range(0, n, 17))
    with open(tmp_path / "release" / "csv" / "open_issues.csv", newline="") as handle:
        assert [(r["problem_id"],) for r in csv.DictReader(handle)] == exported
    con.close()


def test_every_view_whose_rows_grow_with_the_warehouse_is_exported_in_chunks():
    """The class of the case above: a view without GROUP BY has as many rows as the table
    it reads, so the export must not sort it whole. Each names an order (a key or `sort`)."""
    for view in VIEWS:
        if "GROUP BY" not in view.query.upper():
            assert view.sort or view.key, view.name


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("needs", [0.6, 1.0])
def test_the_export_starts_lean_and_steps_up_only_as_far_as_a_dataset_needs(
    tmp_path, monkeypatch, threads, needs
):
    """DuckDB caches what a statement reads up to its limit, so the export's memory grew
    with the warehouse: it starts at LEAN_SHARE of the limit, and a dataset DuckDB needs more
    for is written again a LEAN_STEP higher until it fits (the whole limit at most); the
    datasets after it start where it fitted. The files are the same, and the connection's
    limit is put back as it was set (not as DuckDB rounds it)."""
    from idf_etl.config import Settings, memory_bytes
    from idf_etl.warehouse import export

    con = _filled(tmp_path / "w.duckdb", 300)
    one = export_tables(con, tmp_path / "one")
    full = Settings().warehouse_memory
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()
    ladder = [export.LEAN_SHARE]
    while ladder[-1] < 1:
        ladder.append(min(1.0, ladder[-1] + export.LEAN_STEP))
    fits = next(share for share in ladder if share >= needs)
    write = export._export
    seen: dict[str, list[float]] = {}

    def needs_more(cursor, staging, name, *rest):
        setting = cursor.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        share = memory_bytes(setting) / memory_bytes(full)
        seen.setdefault(name, []).append(share)
        if name == "projects" and share < needs - 0.01:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return write(cursor, staging, name, *rest)

    monkeypatch.setattr(export, "_export", needs_more)
    again = export_tables(con, tmp_path / "again", threads=threads, memory=full)
    assert _files(again) == _files(one)
    approx = [pytest.approx(share, abs=0.01) for share in ladder]
    assert seen["projects"] == approx[: ladder.index(fits) + 1]  # a step at a time, no further
    names = [dataset[0] for dataset in export._datasets()]
    for name in names:
        if name == "projects":
            continue
        assert len(seen[name]) == 1, name  # written once: it fitted where it started
        if threads == 1:
            started = export.LEAN_SHARE if names.index(name) < names.index("projects") else fits
            assert seen[name] == [pytest.approx(started, abs=0.01)], name
        else:  # beside it, the others start where the limit is by then
            assert seen[name][0] in approx[: ladder.index(fits) + 1], name
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == before
    con.close()


def test_the_export_of_long_texts_fits_a_step_above_half_the_limit(tmp_path, caplog):
    """Not a fake: a warehouse of long descriptions whose Parquet row group does not fit in
    half of a small limit is exported whole, a step higher, without the whole limit, and
    its files are the ones a roomy limit writes."""
    import logging

    from idf_etl.config import memory_bytes
    from idf_etl.warehouse import export

    con = _filled(tmp_path / "w.duckdb", 3000)
    con.execute("SET memory_limit = '1GB'")
    roomy = export_tables(con, tmp_path / "roomy", memory="1GB")
    limit = "24MB"
    con.execute(f"SET memory_limit = '{limit}'")
    with caplog.at_level(logging.DEBUG, logger="idf_etl.export"):
        tight = export_tables(con, tmp_path / "tight", memory=limit)
    assert _files(tight) == _files(roomy)
    steps = [r.getMessage() for r in caplog.records if "; again at " in r.getMessage()]
    assert steps, "half of 24MB held a row group of 2,048 descriptions: the test shows nothing"
    last = int(steps[-1].rsplit("again at ", 1)[1].removesuffix("B"))  # bytes, as set
    assert memory_bytes(limit) * export.LEAN_SHARE < last <= memory_bytes(limit)
    con.close()
