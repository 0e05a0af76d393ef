"""The HTML report: rendered from a real warehouse (the demo site through the real pipeline),
opened in a real headless Chromium (Debian's), checked the way a reader sees it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from idf_etl.report import write_report
from idf_etl.warehouse import create_schema

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "demo"))
from browser import ARGS, find_chromium  # noqa: E402

ARMENIA = "/project/migration-socio-economic-development-armenia-georgia"
MOLDOVA = "/project/moldova-diaspora-homeland-partnerships"  # CE.0333's only page


def idf(*args, data_dir, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    proc = subprocess.run(
        [sys.executable, "-m", "idf_etl", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=data_dir.parent,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def run(base, data_dir, *extra, check=True):
    return idf(
        "run",
        "--start-url",
        f"{base}/sitemap.xml",
        "--rate",
        "0",
        *extra,
        data_dir=data_dir,
        check=check,
    )


def edit(site: Path, path: str, old: str, new: str) -> None:
    file = site / (path.strip("/") + ".html")
    text = file.read_text()
    assert old in text, old
    file.write_text(text.replace(old, new))
    stamps = json.loads((site / "lastmod.json").read_text())
    stamps[path] = "2024-06-01"
    (site / "lastmod.json").write_text(json.dumps(stamps))


def query(data_dir, sql):
    with duckdb.connect(str(data_dir / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on PATH: `make browser` installs Debian's (as root, with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


class Visit:
    """A page opened from disk, with everything it logged and every request it tried."""

    def __init__(self, browser, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        # Every request is recorded; anything but the file itself is refused, so a
        # reference to the network shows up here instead of leaving the machine.
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _route(self, route) -> None:
        self.requests.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()


def digits(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.]", "", text))


@pytest.mark.slow
def test_the_run_writes_a_report_that_reads_right_in_a_browser(demo_warehouse, browser):
    data = demo_warehouse
    report = data / "clean" / "report.html"
    assert report.exists(), "a successful run refreshes data/clean/report.html"
    visit = Visit(browser, report)
    page = visit.page

    assert visit.errors == []
    assert visit.requests == [report.as_uri()]

    # Every chart drawn: an inline SVG per figure, each with marks in it.
    figures = page.locator("figure")
    assert figures.count() == 6
    for i in range(figures.count()):
        marks = figures.nth(i).locator("svg g[class*='role-mark'] > path")
        assert marks.count() > 0, figures.nth(i).get_attribute("aria-label")

    # The headline figures are the warehouse's.
    ((total, projects),) = query(data, "SELECT sum(budget_usd), count(*) FROM projects")
    assert digits(page.inner_text("#fig-budget")) == total
    assert digits(page.inner_text("#fig-projects")) == projects
    ((active,),) = query(data, "SELECT count(*) FROM active_projects")
    assert digits(page.inner_text("#fig-active")) == active

    # The changes table lists every change of the demo, newest first.
    changes = query(
        data, "SELECT project_id, field, old_value, new_value FROM project_changes ORDER BY ALL"
    )
    assert ("CD.0085", "budget_usd", "400000.00", "450000.00") in changes
    assert ("CD.0085", "status", "active", "completed") in changes
    assert any(field == "missing_from_site" for _, field, _, _ in changes)
    rows = page.locator("#changes-table tbody tr").all_inner_texts()
    shown = sorted(tuple(r.split("\t")[2:6]) for r in rows)
    assert shown == sorted(changes)

    # The projects table: one row a project; search and sort work.
    table = page.locator("#projects-table tbody tr")
    assert table.count() == projects
    page.fill("#projects-search", "cd.0085")
    assert page.locator("#projects-table tbody tr:visible").count() == 1
    assert page.inner_text("#projects-count") == f"1 of {projects} projects"
    page.fill("#projects-search", "")
    page.get_by_role("button", name="budget (USD)").click()
    page.get_by_role("button", name="budget (USD)").click()  # descending
    ((largest,),) = query(data, "SELECT max(budget_usd) FROM projects")
    first = table.first.locator("td").nth(5).inner_text()
    assert digits(first) == largest
    assert visit.errors == []


@pytest.mark.slow
def test_the_report_command_writes_where_asked_and_reads_only(demo_warehouse, browser, tmp_path):
    data = demo_warehouse
    published = data / "clean" / "idf.duckdb"
    before = published.stat().st_mtime_ns
    out = tmp_path / "mail" / "idf-report.html"
    proc = idf("report", "--out", str(out), data_dir=data)
    assert out.exists() and f"wrote {out}" in proc.stderr
    assert published.stat().st_mtime_ns == before
    assert not (data / "clean" / "idf.duckdb.wal").exists()
    assert out.stat().st_size < 2 * 1024 * 1024  # small enough to mail
    visit = Visit(browser, out)
    assert visit.errors == [] and visit.requests == [out.as_uri()]
    problems = query(
        data, "SELECT count(*) FROM issues WHERE run_id = (SELECT max(run_id) FROM runs)"
    )
    assert digits(visit.page.inner_text("#fig-problems")) == problems[0][0]


@pytest.mark.slow
def test_a_report_that_cannot_be_written_is_a_problem_not_a_failed_run(demo_site, tmp_path):
    site, base = demo_site
    (site / "project" / "broken-upload.html").unlink()  # a clean site: the run succeeds
    data = tmp_path / "data"
    # The staged report's path is taken by a directory: writing it fails for real.
    (data / "clean" / ".report.html.staged" / "in-the-way").mkdir(parents=True)
    proc = run(base, data)
    assert "report.html was not refreshed" in proc.stderr
    assert query(data, "SELECT outcome FROM runs") == [("success",)]
    assert query(data, "SELECT severity, stage FROM issues WHERE code = 'report_failed'") == [
        ("warning", "load")
    ]
    assert query(data, "SELECT issues FROM runs") == query(data, "SELECT count(*) FROM issues")
    assert not (data / "clean" / "report.html").exists()
    assert query(data, "SELECT count(*) FROM projects")[0][0] > 0


def test_report_without_a_warehouse_says_what_to_do(tmp_path):
    proc = idf("report", data_dir=tmp_path / "data", check=False)
    assert proc.returncode == 1
    assert "no warehouse" in proc.stderr and "idf-etl run" in proc.stderr


def test_an_empty_warehouse_gives_a_page_with_nothing_to_chart(tmp_path):
    path = tmp_path / "idf.duckdb"
    with duckdb.connect(str(path)) as con:
        create_schema(con)
    with duckdb.connect(str(path), read_only=True) as con:
        info = write_report(con, tmp_path / "report.html")
    html = info.path.read_text()
    assert "<figure" not in html
    assert html.count("Nothing to show yet.") == 6
    assert "No field has changed yet" in html


def test_text_from_the_site_is_escaped(tmp_path):
    path = tmp_path / "idf.duckdb"
    with duckdb.connect(str(path)) as con:
        create_schema(con)
        con.execute(
            """INSERT INTO projects (project_key, project_id, title, budget_usd, urls,
                   first_seen, last_changed, missing_from_site)
               VALUES ('X.1', 'X.1', '<script>alert(1)</script> & co', 1234.5,
                       ['https://www.iom.int/project/x?a=1&b=2'], now(), now(), false)"""
        )
        con.execute(
            """INSERT INTO project_pages (url, project_id, lang, title, gone)
               VALUES ('https://www.iom.int/project/x?a=1&b=2', 'X.1', 'en', 'x', false)"""
        )
    with duckdb.connect(str(path), read_only=True) as con:
        html = write_report(con, tmp_path / "report.html").path.read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert '<a href="https://www.iom.int/project/x?a=1&amp;b=2">en</a>' in html
    assert '<dd id="fig-budget">$1,234.50</dd>' in html
