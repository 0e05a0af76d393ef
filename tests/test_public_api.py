"""The public surface changes only on purpose: __all__ is exactly what the package exports,
and what a notebook or a scheduler needs is there, `import idf_etl` staying light."""

import inspect
import json
import shutil
import subprocess
import sys
import textwrap
import types
import zipfile
from pathlib import Path

import duckdb
import pytest

import idf_etl
import idf_etl.errors
from tests.helpers.cli import clean_env

REPO = Path(__file__).parent.parent

# The whole public surface, in ruff's (isort-style) order: changing it is a decision.
PUBLIC = [
    "PARSER_VERSION",
    "ConfigError",
    "FetchError",
    "FetchRefused",
    "HostUnavailable",
    "IdfEtlError",
    "LoadError",
    "LockError",
    "OtherPage",
    "OutOfTime",
    "ParseError",
    "Problem",
    "ProjectRecord",
    "ReportError",
    "Settings",
    "StoreError",
    "StuckLockError",
    "__version__",
    "load_settings",
    "open_warehouse",
    "parse_page",
    "run_pipeline",
]


def test_all_is_every_public_name_of_the_package_and_nothing_else():
    assert idf_etl.__all__ == PUBLIC
    for name in idf_etl.__all__:
        assert getattr(idf_etl, name) is not None, name
    # Once each lazy name is loaded, the module holds exactly the public names.
    public = {
        name
        for name, value in vars(idf_etl).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(public | {"__version__"}) == sorted(PUBLIC)
    assert set(PUBLIC) <= set(dir(idf_etl))
    with pytest.raises(AttributeError, match="no attribute 'open_warehose'"):
        idf_etl.open_warehose  # noqa: B018  (a typo is an AttributeError, not a None)


def test_every_error_type_is_exported_and_shares_one_root():
    errors = {
        name
        for name, value in vars(idf_etl.errors).items()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == "idf_etl.errors"
    }
    assert errors and errors <= set(idf_etl.__all__)
    for name in errors:
        assert issubclass(getattr(idf_etl, name), idf_etl.IdfEtlError)


def test_the_scheduler_names_are_the_library_s_own():
    from idf_etl.config import Settings
    from idf_etl.pipeline.run import run_pipeline
    from idf_etl.settings_sources import load_settings
    from idf_etl.warehouse.readers import open_warehouse

    assert idf_etl.Settings is Settings
    assert idf_etl.load_settings is load_settings
    assert idf_etl.run_pipeline is run_pipeline
    assert idf_etl.open_warehouse is open_warehouse


def _fresh(code: str, cwd, env=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env if env is not None else clean_env(),
    )


def test_import_idf_etl_loads_neither_duckdb_nor_http_nor_the_pipeline(tmp_path):
    # A parse worker and `idf-etl parse` import the package: its heavy names wait for use.
    heavy = ("duckdb", "httpx", "aiohttp", "idf_etl.pipeline.run", "idf_etl.config")
    proc = _fresh(
        f"""
        import sys, idf_etl
        before = [m for m in {heavy!r} if m in sys.modules]
        idf_etl.open_warehouse
        print(before, 'duckdb' in sys.modules)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[] True"


def test_a_notebook_opens_the_published_warehouse_read_only(published, tmp_path):
    data, _, _ = published
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        want = con.execute("SELECT count(*) FROM projects").fetchone()[0]
    assert want > 0
    # The README's lines, in a process of their own, from a directory with no pipeline file.
    proc = _fresh(
        f"""
        import json, idf_etl
        con = idf_etl.open_warehouse({str(data)!r})
        rows = con.table("projects").fetchall()
        try:
            con.execute("DELETE FROM projects")
            wrote = True
        except Exception as exc:
            wrote = type(exc).__name__
        print(json.dumps([len(rows), wrote]))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [want, "InvalidInputException"]


def test_open_warehouse_finds_it_the_way_status_does(published, tmp_path):
    data, _, _ = published
    # IDF_ETL_DATA_DIR, then a pipeline file named by config=, then IDF_ETL_CONFIG.
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(f"[fetch]\ndata_dir = {str(data)!r}\n")
    code = """
        import idf_etl, sys
        con = idf_etl.open_warehouse(config=sys.argv[1] if len(sys.argv) > 1 else None)
        print(con.execute("SELECT count(*) FROM runs").fetchone()[0])
        """
    by_env = _fresh(code, tmp_path, clean_env(IDF_ETL_DATA_DIR=str(data)))
    by_config = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(pipeline)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=clean_env(),
    )
    by_config_env = _fresh(code, tmp_path, clean_env(IDF_ETL_CONFIG=str(pipeline)))
    for proc in (by_env, by_config, by_config_env):
        assert proc.returncode == 0, proc.stderr
        assert int(proc.stdout) >= 1


def test_open_warehouse_with_none_published_names_where_it_looked(tmp_path):
    proc = _fresh(
        """
        import idf_etl
        try:
            idf_etl.open_warehouse("nowhere")
        except idf_etl.LoadError as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"no warehouse at {tmp_path / 'nowhere' / 'clean' / 'idf.duckdb'}" in proc.stdout


def test_a_library_warning_is_silent_without_logging_set_up(tmp_path):
    # Python's last-resort handler would print it on stderr; the NullHandler stops that.
    proc = _fresh(
        """
        import logging, idf_etl
        logging.getLogger("idf_etl.pipeline").warning("seen only if the application wants it")
        """,
        tmp_path,
    )
    assert proc.returncode == 0
    assert proc.stderr == ""


def _python_block(text: str, after: str) -> str:
    """The first ```python block after `after` in a page."""
    return text.split(after, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_python_lines_run_as_written(published, tmp_path):
    # As a reader runs them after `make demo`: from a checkout whose demo/data holds it.
    data, _, _ = published
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "data").symlink_to(data)
    block = _python_block((REPO / "README.md").read_text(), "From Python")
    assert 'idf_etl.open_warehouse("demo/data")' in block
    lines = block.strip().splitlines()
    shown = "\n".join([*lines[:-1], f"print(len({lines[-1].split('#')[0].strip()}))"])
    proc = _fresh(shown, tmp_path)
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        assert int(proc.stdout) == con.execute("SELECT count(*) FROM projects").fetchone()[0]


def test_the_scheduler_lines_in_the_docs_run_as_written(demo_site, tmp_path):
    _, base = demo_site
    host = base.split("://", 1)[1]
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "iom_idf.toml").write_text(
        "[fetch]\n"
        f"start_urls = ['{base}/sitemap.xml']\nsitemaps = []\nlistings = []\n"
        f"allowed_hosts = ['{host}']\nrate = 0\ndata_dir = 'data'\nreport = false\n"
    )
    block = _python_block((REPO / "docs" / "operating.md").read_text(), "From a scheduler")
    proc = _fresh(block + "\nprint(result.run_id, result.outcome)\n", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "success"]
    assert proc.stderr == ""  # no logging set up: the library printed nothing
    assert (tmp_path / "data" / "clean" / "idf.duckdb").exists()


@pytest.mark.slow
def test_the_wheel_ships_its_types_licence_and_metadata(tmp_path):
    # What pip installs is the wheel, not this tree: build it as a release would.
    uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    proc = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("idf_etl-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = zf.read(metadata).decode()
    assert "idf_etl/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "idf_etl/report/templates/report.html.j2" in names
    assert "License-Expression: MIT" in meta
    assert "Classifier: Typing :: Typed" in meta
    assert "Project-URL: Source, https://github.com/idf-etl/idf-etl" in meta
    assert f"Version: {idf_etl.__version__}" in meta
    assert not any(n.startswith(("tests/", "bench/", "demo/")) for n in names)


def test_a_read_write_connection_of_this_process_is_not_called_damage(published, tmp_path):
    # A notebook that opened the file read-write first: DuckDB refuses a second, read-only
    # connection in the same process. That is no reason to restore anything.
    data, _, _ = published
    copy = tmp_path / "data"
    (copy / "clean").mkdir(parents=True)
    shutil.copy(data / "clean" / "idf.duckdb", copy / "clean" / "idf.duckdb")
    with (
        duckdb.connect(str(copy / "clean" / "idf.duckdb")),
        pytest.raises(idf_etl.LoadError) as caught,
    ):
        idf_etl.open_warehouse(copy)
    message = str(caught.value)
    assert "already open in this process" in message
    assert "not damaged" in message and "restore" not in message
    con = idf_etl.open_warehouse(copy)  # closed: it opens
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] >= 1
    con.close()


def test_open_warehouse_says_how_to_point_it_in_python_terms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IDF_ETL_DATA_DIR", raising=False)
    monkeypatch.delenv("IDF_ETL_CONFIG", raising=False)
    with pytest.raises(idf_etl.LoadError, match=r"open_warehouse\(data_dir=\.\.\.\)") as caught:
        idf_etl.open_warehouse("~/no-such-data")
    assert "--data-dir" not in str(caught.value)
    assert str(Path.home() / "no-such-data" / "clean" / "idf.duckdb") in str(caught.value)
