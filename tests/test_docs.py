"""The documentation says what the code does: its data dictionary is the warehouse's, every
command it names exists, and the site builds in strict mode (a broken link fails)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import typer

from idf_etl.cli.app import app
from idf_etl.warehouse.schema import TABLES, create_schema, data_dictionary_markdown

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
# Every page a reader may follow: the README and the site's pages.
PAGES = {
    p.relative_to(ROOT).as_posix(): p.read_text()
    for p in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
}
MKDOCS = Path(sys.executable).parent / "mkdocs"


def test_the_warehouse_page_data_dictionary_is_current():
    page = PAGES["docs/warehouse.md"]
    section = page.split("<!-- data-dictionary:start -->\n")[1].split(
        "<!-- data-dictionary:end -->"
    )[0]
    assert section == data_dictionary_markdown(), (
        "run `idf-etl schema` and paste it into docs/warehouse.md"
    )


def test_every_column_has_a_comment_in_the_database():
    con = duckdb.connect()
    create_schema(con)
    for t in TABLES:
        comments = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [t.name]
            ).fetchall()
        )
        assert set(comments) == {c.name for c in t.columns}
        assert all(comments.values()), t.name


def test_every_command_the_docs_name_exists():
    # The commands the CLI offers, wherever they are registered (cli/warehouse.py adds some).
    names = set(typer.main.get_command(app).commands)
    named = {(page, c) for page, text in PAGES.items() for c in re.findall(r"`idf-etl (\w+)", text)}
    assert {c for _, c in named} >= {"run", "parse", "schema"}, (
        "the pages no longer name the commands"
    )
    missing = sorted((page, c) for page, c in named if c not in names and c != "COMMAND")
    assert not missing, f"commands the docs name that do not exist: {missing}"


def test_every_site_page_is_in_the_nav_and_the_readme_points_at_them():
    config = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.glob("*.md"):
        assert f" {page.name}\n" in config, f"{page.name} is not in mkdocs.yml's nav"
        if page.name != "index.md":
            assert f"(docs/{page.name})" in PAGES["README.md"], (
                f"the README does not point at {page.name}"
            )


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site-src"
    shutil.copytree(DOCS, site / "docs")
    shutil.copy(ROOT / "mkdocs.yml", site / "mkdocs.yml")
    return site


def _build(site: Path) -> subprocess.CompletedProcess[str]:
    if not MKDOCS.exists():
        pytest.fail(f"{MKDOCS} is missing: `make install` installs the docs group")
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site / "out")],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_site_builds_strict_and_a_broken_link_or_stale_dictionary_fails_it(tmp_path):
    site = _site(tmp_path)
    assert _build(site).returncode == 0, _build(site).stderr
    assert (site / "out" / "warehouse" / "index.html").exists()

    index = site / "docs" / "index.md"
    good = index.read_text()
    for broken in ("[gone](no-such-page.md)", "[gone](user-guide.md#no-such-heading)"):
        index.write_text(good + f"\n{broken}\n")
        result = _build(site)
        assert result.returncode != 0, broken
        assert "index.md" in result.stderr, result.stderr
    index.write_text(good)

    warehouse = site / "docs" / "warehouse.md"
    warehouse.write_text(
        warehouse.read_text().replace("| `runs` | INTEGER |", "| `runs` | BIGINT |")
    )
    result = _build(site)
    assert result.returncode != 0
    assert "data dictionary is stale" in result.stderr


def _anchors(markdown: str) -> set[str]:
    """The ids MkDocs (and GitHub, for these headings) gives a page's headings."""
    from markdown.extensions.toc import slugify

    return {slugify(h, "-") for h in re.findall(r"^#+ (.+)$", markdown, re.M)}


def test_every_link_the_readme_makes_leads_somewhere():
    # The README is outside the site, so MkDocs does not check it: its links are checked here.
    links = re.findall(r"\]\(([^)\s]+)\)", PAGES["README.md"])
    assert links
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else ROOT / "README.md"
        assert target.exists(), f"README links to {link}: no such file"
        if anchor:
            assert anchor in _anchors(target.read_text()), (
                f"README links to {link}: no such heading"
            )


def test_the_docs_state_the_limits_on_a_value_and_a_url():
    from idf_etl.parse.extracted import TEXT_LIMIT
    from idf_etl.records import MESSAGE_LIMIT

    contract = " ".join(PAGES["docs/parse-contract.md"].split())
    assert f"more than {TEXT_LIMIT:,} bytes of UTF-8 text (`extracted.TEXT_LIMIT`)" in contract
    assert f"at most {MESSAGE_LIMIT:,} characters" in contract
    from idf_etl.urls import URL_LIMIT

    guide = " ".join(PAGES["docs/user-guide.md"].split())
    assert f"URLs of at most {URL_LIMIT:,} characters (`urls.URL_LIMIT`" in guide
