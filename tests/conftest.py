"""Shared fixtures: where our hand-written pages live, and a parser over them."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hypothesis import settings

from idf_etl import parse_page

PAGES = Path(__file__).parent / "fixtures" / "pages"

# No time limit on an example: speed is measured by bench/, never asserted in a test, and on a
# shared CI machine a parse that takes 443 ms failed Hypothesis' default 200 ms (test_other_states).
settings.register_profile("idf-etl", deadline=None)
settings.load_profile("idf-etl")

# A suite started in the background (`make test &`, nohup, a CI runner's job) inherits Ctrl-C
# ignored, and Python then never turns SIGINT into KeyboardInterrupt: a test that stops its own
# work with Ctrl-C (tests/report/test_report.py) waited out its whole bound, two hours. The
# suite's processes (xdist's workers too: each imports this file) take Python's handler back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    """The slow tests first (a stable sort: each module's order kept within both halves).
    Under `-n 3` each worker is handed the next test when it is free, so a 40 s test
    collected last ran after the others had finished and the suite waited on it alone;
    begun first, the short tests fill the other workers around it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def parse_fixture():
    """Parse one of tests/fixtures/pages by file name."""

    def parse(name: str):
        path = PAGES / name
        return parse_page(path.read_bytes(), source=str(path))

    return parse


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1 (slow handlers must not block the others)."""
    from pytest_httpserver import HTTPServer

    srv = HTTPServer(host="127.0.0.1", threaded=True)
    srv.start()
    yield srv
    srv.clear()
    if srv.is_running():
        srv.stop()


# No rate limit, short timeouts and backoff: faults show up in a second, not a minute.
FAST = dict(
    rate=0,
    concurrency=4,
    read_timeout=0.5,
    connect_timeout=1,
    backoff_base=0.05,
    backoff_max=5,
    max_retries=2,
    allowed_hosts=["127.0.0.1"],
)


@pytest.fixture
def fast_settings(tmp_path):
    """Settings for tests (FAST), data in tmp_path; keyword arguments override."""
    from idf_etl.config import Settings

    def make(**overrides):
        return Settings(**{**FAST, "data_dir": tmp_path / "data", **overrides})

    return make


REPO = Path(__file__).parent.parent


@pytest.fixture
def demo_site(tmp_path):
    """A private copy of demo/site served on 127.0.0.1; tests may edit its pages."""
    import shutil
    import sys

    sys.path.insert(0, str(REPO / "demo"))
    from serve import serve

    root = tmp_path / "site"
    shutil.copytree(REPO / "demo" / "site", root)
    server, base = serve(root)
    yield root, base
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """One warehouse published by a real `idf-etl run` of the demo site, shared by every test
    that only reads it (status, sql, views, the first run's contents): they must not write.
    Returns (data dir, the run's stderr, its --json summary)."""
    import json
    import subprocess
    import sys

    from tests.helpers.cli import clean_env

    sys.path.insert(0, str(REPO / "demo"))
    from serve import serve

    server, base = serve(REPO / "demo" / "site")
    data = tmp_path_factory.mktemp("published") / "data"
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "idf_etl",
                "run",
                "--start-url",
                f"{base}/sitemap.xml",
                "--data-dir",
                str(data),
                "--rate",
                "0",
                "--json",
                # None of its readers looks at the report (test_report.py does): 2 s saved.
                "--set",
                "report=false",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=data.parent,
            env=clean_env(),
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return data, proc.stderr, json.loads(proc.stdout.strip().splitlines()[-1])
