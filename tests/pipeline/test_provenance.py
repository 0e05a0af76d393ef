"""One data directory, one site: a run that would read another site into it is refused before
anything is fetched or written, and the exports name the site their pages came from."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest

from tests.helpers.cli import idf_etl

REPO = Path(__file__).parents[2]


def runs(data):
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute("SELECT run_id, mode FROM runs ORDER BY run_id").fetchall()


def stored_urls(data):
    with sqlite3.connect(data / "raw" / "manifest.sqlite") as db:
        return sorted(url for (url,) in db.execute("SELECT url FROM pages"))


@pytest.mark.slow
def test_a_run_of_another_site_is_refused_and_the_sources_are_the_pages_site(demo_site, tmp_path):
    _, base = demo_site  # http://127.0.0.1:PORT
    port = base.rsplit(":", 1)[1]
    other = f"http://localhost:{port}/sitemap.xml"  # the same server under another host name
    data = tmp_path / "data"
    first = idf_etl(
        "run", "--start-url", f"{base}/sitemap.xml", "-d", str(data), "--rate", "0", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    urls, before = stored_urls(data), runs(data)

    for command in ("run", "fetch"):
        proc = idf_etl(command, "--start-url", other, "-d", str(data), "--rate", "0", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert (
            f"the data directory {data} holds pages of 127.0.0.1, and this run reads localhost"
            in proc.stderr
        )
        assert "--data-dir" in proc.stderr and "nothing was fetched or written" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert (stored_urls(data), runs(data)) == (urls, before)

    # The raw store gone, the published warehouse still says which site this is.
    shutil.rmtree(data / "raw")
    proc = idf_etl("run", "--start-url", other, "-d", str(data), "--rate", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "holds pages of 127.0.0.1" in proc.stderr
    assert not (data / "raw" / "manifest.sqlite").exists() or stored_urls(data) == []

    # A site that gains a host is the same site: one host shared is enough.
    grown = idf_etl(
        "fetch", "--start-url", f"{base}/sitemap.xml", "--allow-host", f"127.0.0.1:{port}",
        "--allow-host", f"localhost:{port}", "-d", str(data), "--rate", "0", cwd=tmp_path,
    )  # fmt: skip
    assert grown.returncode == 0, grown.stderr

    # A re-parse under the live pipeline file names the pages' site, not iom.int.
    reparse = idf_etl(
        "run", "--from-raw", "-c", str(REPO / "pipelines" / "iom_idf.toml"), "-d", str(data),
        cwd=tmp_path,
    )  # fmt: skip
    assert reparse.returncode == 0, reparse.stderr
    package = json.loads((data / "clean" / "datapackage.json").read_text())
    assert [s["path"] for s in package["sources"]] == [f"{base}/"]


@pytest.mark.slow
def test_the_demo_keeps_to_its_own_data_directory(tmp_path):
    """`demo/run_demo.py` with no --data-dir writes demo/data under the checkout, never data/;
    its closing hints name that directory and the `make duckdb` line."""
    checkout = tmp_path / "checkout"
    (checkout / "demo").mkdir(parents=True)
    for name in ("run_demo.py", "serve.py", "build_site.py"):
        shutil.copy(REPO / "demo" / name, checkout / "demo" / name)
    shutil.copytree(REPO / "demo" / "site", checkout / "demo" / "site")
    import subprocess
    import sys

    from tests.helpers.cli import clean_env

    proc = subprocess.run(
        [sys.executable, "demo/run_demo.py", "--port", "0"],
        cwd=checkout, capture_output=True, text=True, timeout=300, env=clean_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (checkout / "demo" / "data" / "clean" / "idf.duckdb").exists()
    assert not (checkout / "data").exists()
    assert "idf-etl status -d demo/data" in proc.stdout
    assert "make duckdb DATA_DIR=demo/data" in proc.stdout
    assert "uvx" not in proc.stdout
