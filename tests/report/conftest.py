"""The report's fixtures: the demo site through two real runs, and Debian's Chromium.

Package-scoped: every module here reads the same published warehouse and report (they only
read it), so the two runs are made once per test process."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from tests.helpers.report import ARMENIA, MOLDOVA, REPO, edit, run

sys.path.insert(0, str(REPO / "demo"))
from browser import ARGS, find_chromium


@pytest.fixture(scope="package")
def demo_warehouse(tmp_path_factory):
    """The demo site through two real runs, with a budget revision, a status change, a
    country nobody knows and a page removed in between: data/ with the published warehouse
    and its report."""
    from serve import serve

    root = tmp_path_factory.mktemp("report")
    site = root / "site"
    shutil.copytree(REPO / "demo" / "site", site)
    server, base = serve(site)
    data = root / "data"
    try:
        run(base, data, check=False)  # the demo's broken page makes the first run exit 1
        edit(site, ARMENIA, "400000.00", "450000.00")
        edit(site, ARMENIA, "Active", "Completed")
        edit(site, ARMENIA, "Armenia Georgia<", "Armenia Georgia Atlantis<")  # a problem
        (site / (MOLDOVA.strip("/") + ".html")).unlink()
        stamps = json.loads((site / "lastmod.json").read_text())
        del stamps[MOLDOVA]
        (site / "lastmod.json").write_text(json.dumps(stamps))
        run(base, data, "--revalidate", check=False)
    finally:
        server.shutdown()
        server.server_close()
    return data


@pytest.fixture(scope="package")
def browser():
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on PATH: `make browser` installs Debian's (as root, with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()
