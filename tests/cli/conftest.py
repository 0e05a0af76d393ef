"""Fixtures of the CLI's tests: a data directory with one published run of the demo site."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.cli import clean_env

DEMO = Path(__file__).parents[2] / "demo"


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """A data directory with one published run of the demo site (built once a session)."""
    sys.path.insert(0, str(DEMO))
    from serve import serve

    root = tmp_path_factory.mktemp("site")
    shutil.copytree(DEMO / "site", root / "site")
    server, base = serve(root / "site")
    data = tmp_path_factory.mktemp("published") / "data"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "idf_etl", "run", "--start-url", f"{base}/sitemap.xml",
             "--data-dir", str(data), "--rate", "0", "--set", "report=false"],
            capture_output=True, text=True, timeout=600, env=clean_env(), cwd=data.parent,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr[-2000:]
    return data


@pytest.fixture
def data(published, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(published, copy, symlinks=True)
    return copy
