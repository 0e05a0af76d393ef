"""Two pages of one language giving one project id are said so, both named, never hidden
as "the languages disagree" (issue 22, adversary case 19); and a disagreement among many
pages is a bounded message (case 46: 1,500 pages gave 78,483 characters). Through the real
CLI on a real raw store, the warehouse read with DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.load.test_values_fit import _store

SITE = "https://developmentfund.iom.int"


def page(pid: str, title: str, budget: str, prima: str) -> str:
    fields = [
        field_html("Project ID", pid),
        field_html("Project Status", "Active"),
        field_html("Budget Amount (USD)", budget),
        field_html("Prima ID", prima),
    ]
    return drupal_page(fields, title=title)


def run(tmp_path: Path, pages: dict[str, str]) -> list[tuple]:
    data = tmp_path / "data"
    _store(data, pages)
    proc = idf_etl(
        "run", "--from-raw", "--data-dir", str(data), "--set", "report=false",
        cwd=tmp_path, env=clean_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute("SELECT code, url, message FROM issues ORDER BY code, url").fetchall()


def test_two_english_pages_with_one_id_are_named_and_many_pages_bounded(tmp_path):
    pages = {
        f"{SITE}/project/a": page("CE.0001", "Alpha water project", "100.00", "ZA99P0001"),
        f"{SITE}/project/b": page("CE.0001", "Beta roads project", "200.00", "ZA99P0002"),
    }
    # 12 more pages printing one id: their disagreement names 5 and counts the rest
    pages |= {
        f"{SITE}/project/m{i:02d}": page("CE.0002", f"Project {i}", f"{i}00.00", "ZA99P0003")
        for i in range(12)
    }
    # one page at two addresses (the same body): not two pages
    same = page("CE.0003", "Gamma", "300.00", "ZA99P0004")
    pages |= {f"{SITE}/project/c": same, f"{SITE}/project/d": same}
    # an untranslated French address showing the English text: a translation, not two pages
    pages |= {
        f"{SITE}/project/e": page("CE.0004", "Delta", "400.00", "ZA99P0005"),
        f"{SITE}/fr/project/e": page("CE.0004", "Delta (fr)", "400.00", "ZA99P0005"),
    }
    issues = run(tmp_path, pages)
    dup = [(url, m) for code, url, m in issues if code == "duplicate_project_id"]
    assert [url for url, _ in dup] == [f"{SITE}/project/a", f"{SITE}/project/m00"]
    assert f"{SITE}/project/a" in dup[0][1] and f"{SITE}/project/b" in dup[0][1]
    assert "2 different en pages give project id CE.0001" in dup[0][1]
    assert "12 different en pages" in dup[1][1] and "and 9 more" in dup[1][1]
    said = [m for code, _, m in issues if code == "languages_disagree"]
    assert said and all(m.startswith("pages of the same language disagree") for m in said)
    many = [m for m in said if "CE.0002" in m or "/project/m" in m]
    assert many and all("and 7 more pages" in m and len(m) < 2000 for m in many)
    assert all(len(m) <= 2000 for _, _, m in issues)
