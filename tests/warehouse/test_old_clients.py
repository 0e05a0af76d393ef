"""The published warehouse opens read-only in the DuckDB 1.x clients analysts have.

The pipeline runs DuckDB 2; these tests install real older clients (the
Python package and pip's `duckdb-cli`) into a side environment under
.cache/duckdb-clients/ (made once, reused) and query every table and view.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from idf_etl.warehouse.publish import OLDEST_READER, readable_by_oldest_reader
from idf_etl.warehouse.schema import PENDING_TABLE, TABLES, VIEWS
from tests.pipeline.test_pipeline import run
from tests.warehouse.test_upgrade import v1_warehouse

REPO = Path(__file__).parents[2]
CLIENTS = REPO / ".cache" / "duckdb-clients"
# Every object an analyst sees; the client also lists what the file holds, so nothing is missed.
OBJECTS = sorted(
    [t.name for t in TABLES] + [v.name for v in VIEWS] + ["schema_info", PENDING_TABLE]
)

READ_ALL = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
counts = {n: len(con.execute(f"SELECT * FROM {n}").fetchall()) for n in names}
print(json.dumps({"version": duckdb.__version__, "counts": counts}))
"""


def side_environment(*requirements: str) -> Path:
    """A virtual environment holding `requirements`, made once under .cache/; its bin/ folder."""
    target = CLIENTS / "-".join(r.replace("=", "").replace("*", "x") for r in requirements)
    done = target / "installed"
    if not done.exists():
        shutil.rmtree(target, ignore_errors=True)
        uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
        if Path(uv).exists():
            subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(target)], check=True)
            install = [uv, "pip", "install", "-q", "--python", str(target / "bin" / "python")]
        else:
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
            install = [str(target / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*install, *requirements], check=True, timeout=600)
        done.write_text("\n".join(requirements))
    return target / "bin"


@pytest.fixture(scope="module")
def published(tmp_path_factory, demo_site_module):
    """A warehouse the previous release wrote (DuckDB 2 format), upgraded by one real run."""
    _site, base = demo_site_module
    data = tmp_path_factory.mktemp("old-clients") / "data"
    v1_warehouse(data)
    proc, summary = run(base, data, check=False)
    assert summary["outcome"] == "success", proc.stderr[-2000:]
    assert "storage format v" in proc.stderr  # converted from DuckDB 2's format
    return data / "clean" / "idf.duckdb"


@pytest.fixture(scope="module")
def demo_site_module(tmp_path_factory):
    sys.path.insert(0, str(REPO / "demo"))
    from serve import serve

    root = tmp_path_factory.mktemp("site") / "site"
    shutil.copytree(REPO / "demo" / "site", root)
    server, base = serve(root)
    yield root, base
    server.shutdown()
    server.server_close()


@pytest.mark.slow
# The oldest reader the README names (its last patch release), and pip's current 1.x.
@pytest.mark.parametrize("version", ["1.1.3", "1.5.*"])
def test_python_client_reads_every_table_and_view(published, version):
    bin_dir = side_environment(f"duckdb=={version}", "pytz")
    out = subprocess.run(
        [str(bin_dir / "python"), "-c", READ_ALL, str(published)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["version"].startswith(version.rstrip(".*"))
    assert _minor(result["version"]) >= _minor(OLDEST_READER)
    assert sorted(result["counts"]) == OBJECTS
    with duckdb.connect(str(published), read_only=True) as con:
        for name, count in result["counts"].items():
            assert count == len(con.execute(f"SELECT * FROM {name}").fetchall()), name
    assert result["counts"]["project_changes"] >= 3 and result["counts"]["runs"] == 3


@pytest.mark.slow
def test_the_readme_cli_line_opens_the_warehouse(published):
    """`duckdb -readonly data/clean/idf.duckdb`, with the CLI pip installs."""
    bin_dir = side_environment("duckdb-cli==1.5.*")
    script = "".join(f"SELECT '{n}' AS name, count(*) AS n FROM {n};\n" for n in OBJECTS)
    out = subprocess.run(
        [str(bin_dir / "duckdb"), "-readonly", "-json", str(published)],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Error" not in out.stderr
    for name in OBJECTS:
        assert f'"name":"{name}"' in out.stdout.replace(" ", ""), name


def test_a_new_warehouse_is_written_in_the_old_storage_format(tmp_path):
    from idf_etl.warehouse.publish import Publisher
    from idf_etl.warehouse.schema import create_schema

    publisher = Publisher(tmp_path)
    con = duckdb.connect(str(publisher.prepare()))
    create_schema(con)
    published = publisher.publish(con)
    assert readable_by_oldest_reader(published)
    assert publisher.notes == []


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)
