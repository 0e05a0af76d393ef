"""The HTML report: rendered from a real warehouse (the demo site through the real pipeline),
opened in a real headless Chromium (Debian's), checked the way a reader sees it."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.load.problems import track_problems
from idf_etl.report.build import write_report
from idf_etl.warehouse.schema import create_schema
from tests.helpers.pace import Pace
from tests.helpers.report import Visit, digits, idf, mark_then_sleep, query, run


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
    assert figures.count() == 8
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

    # Project types by their canonical English names, whatever language the page was in.
    # (text_content: the numbers sit in a closed <details>, so they have no inner text)
    types = page.locator("#types-by-region table tbody tr td:first-child").all_text_contents()
    canonical = {t for (t,) in query(data, "SELECT project_type_canonical FROM projects")}
    assert types and set(types) <= canonical | {"no type", "type not recognised"}
    written = {t for (t,) in query(data, "SELECT project_type FROM project_pages")}
    assert written - canonical, "the demo writes some types in French or Spanish"
    assert not set(types) & (written - canonical)

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
    problems = query(data, "SELECT count(*) FROM open_issues")
    assert digits(visit.page.inner_text("#fig-problems")) == problems[0][0]


@pytest.mark.slow
def test_a_report_that_cannot_be_written_is_an_open_problem_until_one_is(demo_site, tmp_path):
    site, base = demo_site
    (site / "project" / "broken-upload.html").unlink()  # a clean site: the run succeeds
    data = tmp_path / "data"
    # The staged report's path is taken by a directory: writing it fails for real.
    in_the_way = data / "clean" / ".report.html.staged"
    (in_the_way / "in-the-way").mkdir(parents=True)
    proc = run(base, data)
    assert "report.html was not refreshed" in proc.stderr
    assert query(data, "SELECT outcome FROM runs") == [("success",)]
    assert query(data, "SELECT severity, stage FROM issues WHERE code = 'report_failed'") == [
        ("warning", "load")
    ]
    assert query(data, "SELECT issues FROM runs") == query(data, "SELECT count(*) FROM issues")
    assert not (data / "clean" / "report.html").exists()
    assert query(data, "SELECT count(*) FROM projects")[0][0] > 0
    failed = "SELECT runs, first_run_id, last_run_id FROM open_issues WHERE code = 'report_failed'"
    assert query(data, failed) == [(1, 1, 1)]

    # Night 2 fails the same way: the same problem seen again, not resolved and reopened.
    run(base, data)
    assert query(data, failed) == [(2, 1, 2)]
    status = json.loads(idf("status", "--json", data_dir=data).stdout)
    assert "report_failed" in [p["code"] for p in status["oldest_open_problems"]]

    # Night 3: the way is clear; the report is written and the problem resolved.
    shutil.rmtree(in_the_way)
    summary = json.loads(run(base, data, "--json").stdout.strip().splitlines()[-1])
    assert summary["problems"]["resolved"] == 1
    assert query(data, failed) == []
    assert query(data, "SELECT resolved_run_id FROM problems WHERE code = 'report_failed'") == [
        (3,)
    ]
    html = (data / "clean" / "report.html").read_text()
    ((still_open,),) = query(data, "SELECT count(*) FROM open_issues")
    assert f'<dd id="fig-problems"><a href="#quality">{still_open}</a></dd>' in html


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
    assert html.count("Nothing to show yet.") == 8
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
            """INSERT INTO project_pages (url, project_id, project_key, lang, title, gone)
               VALUES ('https://www.iom.int/project/x?a=1&b=2', 'X.1', 'X.1', 'en', 'x', false)"""
        )
    with duckdb.connect(str(path), read_only=True) as con:
        html = write_report(con, tmp_path / "report.html").path.read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert '<a href="https://www.iom.int/project/x?a=1&amp;b=2">en</a>' in html
    assert '<dd id="fig-budget">$1,234.50</dd>' in html


def fresh_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    create_schema(con)
    return con


def night(con, run_id, issues, *, reparsed=(), failing=()):
    """One run's bookkeeping: its issues, then the problems' lifecycle, as `idf-etl run`."""
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=run_id)
    con.execute(
        "INSERT INTO runs (run_id, started_at, finished_at, mode, outcome) "
        "VALUES (?, ?, ?, 'network', 'success')",
        [run_id, now, now],
    )
    for stage, code, url, message in issues:
        con.execute(
            "INSERT INTO issues (run_id, found_at, stage, severity, url, code, message) "
            "VALUES (?, ?, ?, 'error', ?, ?, ?)",
            [run_id, now, stage, url, code, message],
        )
    track_problems(
        con, run_id, now, reparsed=set(reparsed), network=True, failing_urls=set(failing)
    )


def test_open_problems_are_those_still_open_not_the_latest_runs_issues(tmp_path):
    path = tmp_path / "idf.duckdb"
    quiet, atlantis = "https://www.iom.int/project/quiet", "https://www.iom.int/project/atlantis"
    with fresh_warehouse(path) as con:
        night(
            con,
            1,
            [
                ("fetch", "fetch_failed", quiet, "HTTP 503 after 3 attempts"),
                ("parse", "unmatched_country", atlantis, "'Atlantis' matches no country"),
            ],
            reparsed=[atlantis],
            failing=[quiet],
        )
        # Night 2 reports nothing: the failed page was not retried (the raw store still
        # records its failure), the other was re-parsed clean.
        night(con, 2, [], reparsed=[atlantis], failing=[quiet])
    with duckdb.connect(str(path), read_only=True) as con:
        html = write_report(con, tmp_path / "report.html").path.read_text()
    assert '<dd id="fig-problems"><a href="#quality">1</a></dd>' in html
    assert "<tr><td>fetch_failed</td><td>error</td><td>1</td></tr>" in html
    assert f'<td><a href="{quiet}">{quiet}</a></td><td>could not be fetched</td>' in html
    assert "unmatched_country" not in html  # resolved by night 2


def test_a_project_without_an_id_shows_everywhere_by_its_key(tmp_path):
    path = tmp_path / "idf.duckdb"
    url = "https://www.iom.int/es/node/300"
    key = "node:www.iom.int/300"
    with fresh_warehouse(path) as con:
        con.execute(
            """INSERT INTO projects (project_key, title, project_type, project_type_canonical,
                   idf_region, budget_usd, states, urls, first_seen, last_changed,
                   missing_from_site)
               VALUES (?, 'Perfil migratorio', 'Migración laboral', 'Labour Migration',
                       'Africa', 50000, ['MZ'], [?], now(), now(), false)""",
            [key, url],
        )
        con.execute(
            "INSERT INTO project_pages (url, project_key, lang, title, gone) "
            "VALUES (?, ?, 'es', 'Perfil migratorio', false)",
            [url, key],
        )
        con.execute(
            "INSERT INTO project_states (project_key, iso2, country_name) "
            "VALUES (?, 'MZ', 'Mozambique')",
            [key],
        )
        con.execute(
            "INSERT INTO project_changes (run_id, changed_at, project_key, field, old_value, "
            "new_value) VALUES (2, now(), ?, 'budget_usd', '40000.00', '50000.00')",
            [key],
        )
    with duckdb.connect(str(path), read_only=True) as con:
        html = write_report(con, tmp_path / "report.html").path.read_text()
    # The change links to the project's page (a join on project_id would find no project).
    assert f'<td><a href="{url}">{key}</a></td>\n        <td>budget_usd</td>' in html
    # The projects table: its page in Spanish, its country, its type by the canonical name.
    row = re.search(r"<tr><td>—</td><td dir=\"auto\">Perfil migratorio.*?</tr>", html)
    assert row, "the id-less project is in the projects table"
    assert f'<a href="{url}">es</a>' in row[0] and "<td>Mozambique</td>" in row[0]
    assert "<td>Labour Migration</td><td>Africa</td><td>1</td>" in html  # types by region
    assert "Migración laboral" not in html
    assert f'<td><a href="{url}">{key}</a></td><td>Perfil migratorio</td>' in html  # no id


def test_a_page_not_drawn_in_time_is_a_report_error_and_nothing_waits_longer():
    """The charts' JavaScript engine holds the interpreter while it works: the page is
    drawn in a child process, killed once its time is up."""
    import multiprocessing
    import time

    from idf_etl.errors import ReportError
    from idf_etl.report.build import in_child

    others = set(multiprocessing.active_children())  # an earlier test's, if any
    assert in_child(sum, [1, 2, 3], seconds=60) == 6
    # The child's hour tells apart "killed at its time" from "waited for": a bound of 30 s
    # scaled by the machine's slowness (tests/helpers/pace.py) stays far below it.
    pace = Pace()
    started = time.monotonic()
    with pytest.raises(ReportError, match="not drawn within 1s"):
        in_child(time.sleep, 3600, seconds=1)
    took = time.monotonic() - started
    assert pace.allows(took, 30), (took, str(pace))
    # killed and reaped, not left sleeping
    assert set(multiprocessing.active_children()) <= others


def test_ctrl_c_while_the_page_is_drawn_ends_the_child_too(tmp_path):
    """Ctrl-C once the child is drawing (it says so with a file), not after a fixed second:
    on a loaded machine the child had not started by then, and Ctrl-C during its start-up
    is another case (below)."""
    import multiprocessing
    import threading
    import time

    from idf_etl.report.build import in_child

    others = set(multiprocessing.active_children())  # an earlier test's, if any
    drawing = tmp_path / "drawing"
    threading.Thread(target=_interrupt_once, args=(drawing,), daemon=True).start()
    pace = Pace()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        in_child(mark_then_sleep, str(drawing), 3600, seconds=7200)
    took = time.monotonic() - started
    assert drawing.exists()  # interrupted while drawing, not before
    assert pace.allows(took, 30), (took, str(pace))
    assert set(multiprocessing.active_children()) <= others


@settings(max_examples=8, deadline=None)
@given(after=st.floats(0, 1.5))
def test_ctrl_c_at_any_moment_of_the_childs_start_ends_it_too(after):
    """Ctrl-C a drawn moment after in_child is called: before, while or after its child
    starts (a spawned Python takes 0.3-10 s to start, by the load). Whenever it comes, it
    is a KeyboardInterrupt and no child is left."""
    import multiprocessing
    import signal
    import threading
    import time

    from idf_etl.report.build import in_child

    others = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt):  # the timer's own start included: at 0 s it is
        threading.Timer(after, os.kill, (os.getpid(), signal.SIGINT)).start()
        in_child(time.sleep, 3600, seconds=7200)
    assert set(multiprocessing.active_children()) <= others


def _interrupt_once(drawing: Path) -> None:
    """SIGINT to this process once `drawing` exists (ten minutes at most: then the test's
    own assertion says the child never drew)."""
    import signal
    import time

    deadline = time.monotonic() + 600
    while not drawing.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGINT)
