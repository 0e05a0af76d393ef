"""Layouts the first pages did not show (#23): the label-less iom.int layout, an English page
whose eleven labels are all empty, and fund pages with a French menu or blank lines, each
read through `idf-etl parse` in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idf_etl.parse.page import parse_page
from tests.helpers.cli import idf_etl

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"


def parse_cli(tmp_path: Path, *names: str) -> list[dict]:
    out = idf_etl("parse", "--jsonl", *(str(PAGES / n) for n in names), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def codes(record: dict) -> list[str]:
    return [p["code"] for p in record["problems"]]


def test_label_less_layout_is_a_project_read_by_shape(tmp_path):
    text, html = parse_cli(tmp_path, "d_en_label_less.txt", "d_en_label_less.html")
    assert text["kind"] == "project"
    assert text["title"] == "Improving Migration Management Capacity in Guatemala and Honduras"
    assert text["project_type"] == "Migration Management Support"
    assert text["project_type_canonical"] == "Migration Management Support"
    assert text["states"] == ["GT", "HN"]
    assert text["description"].startswith("Written for our tests: the two governments")
    # What the layout does not say is null, and the missing id is a problem.
    assert text["project_id"] is None and text["budget_usd"] is None and text["status"] is None
    assert codes(text) == ["missing_project_id"]
    # The HTML page: at a project path by its canonical link; names run together.
    assert html["kind"] == "project"
    assert html["title"] == "Counter-Trafficking Referral Networks in the Southern Cone"
    assert html["project_type_canonical"] == "Counter-Trafficking"
    assert html["states"] == ["CL", "UY"]
    assert html["state_names"] == ["Chile", "Uruguay"]


def test_label_less_html_needs_a_project_path():
    html = (PAGES / "d_en_label_less.html").read_text()
    elsewhere = html.replace("/project/", "/news/")
    assert parse_page(elsewhere).kind == "other"
    assert parse_page(elsewhere, url="https://www.iom.int/project/x").kind == "project"
    no_link = html.replace('<link rel="canonical"', '<link rel="x"')
    assert parse_page(no_link).kind == "other"
    assert parse_page(no_link, url="https://www.iom.int/fr/node/1234").kind == "project"


def test_a_label_less_value_nothing_recognises_is_a_problem_not_a_field():
    html = (PAGES / "d_en_label_less.html").read_text().replace("ChileUruguay", "Many partners")
    record = parse_page(html)
    assert record.kind == "project" and record.states == []
    assert "value_without_label" in [p.code for p in record.problems]


def test_title_and_prose_alone_are_no_project_even_at_a_project_path():
    text = "A Title of Something\n\nA first paragraph of news that says a lot of things.\n"
    assert parse_page(text, url="https://www.iom.int/project/x").kind == "other"


@pytest.mark.parametrize("name", ["b_en_all_labels_empty.txt", "b_en_all_labels_empty.html"])
def test_eleven_empty_labels_are_a_project_with_title_and_description(tmp_path, name):
    (record,) = parse_cli(tmp_path, name)
    assert record["kind"] == "project"
    assert record["title"] == "Strengthening Migration Data Collection in the Pacific"
    assert record["description"].startswith("Written for our tests: island statistics")
    empty = ["project_id", "prima_id", "status", "project_type", "budget_usd", "coverage",
             "idf_region", "start_year", "end_year", "year"]  # fmt: skip
    assert {f: record[f] for f in empty} == dict.fromkeys(empty)
    assert record["states"] == []


@pytest.mark.parametrize(
    ("name", "title", "project_id", "budget", "states"),
    [
        (
            "c_en_devfund_french_menu.html",
            "Building the Capacity of the Mauritian Government to Strengthen Linkages with the "
            "Mauritian Diaspora",
            "CD.0002",
            "200000.00",
            ["MU"],
        ),
        (
            "c_en_devfund_french_menu.txt",
            "Developing a Migration Policy for Ghana",
            "TC.0766",
            "150000.00",
            ["GH"],
        ),
        (
            "c_en_devfund_blank_lines.txt",
            "Developing a Migration Policy for Ghana",
            "TC.0766",
            "150000.00",
            ["GH"],
        ),
    ],
)
def test_fund_pages_with_a_french_menu_or_blank_lines(
    tmp_path, name, title, project_id, budget, states
):
    (record,) = parse_cli(tmp_path, name)
    assert record["kind"] == "project"
    assert record["lang"] == "en"  # the content's language, not the menu's
    assert record["title"] == title
    assert record["project_id"] == project_id
    assert record["budget_usd"] == budget
    assert record["states"] == states
    assert record["idf_region"] == "Africa"
    assert record["coverage"] == "national"
    assert record["description"].startswith(("This is our own text", "Written for our tests"))
    assert record["problems"] == []


def test_a_dateline_country_under_a_title_is_no_project_away_from_project_paths():
    # A news page's rendering may put its place under its title; only a type or an id
    # makes the layout a project page where the address says nothing.
    text = (
        "A Visit to the Border Posts\n\n    Ecuador\n\n"
        "Written for the test: the ambassador saw two border posts and spoke with staff.\n"
    )
    assert parse_page(text).kind == "other"
    assert parse_page(text, url="https://www.iom.int/project/x").kind == "project"
    typed = text.replace("    Ecuador\n", "    Labour Migration\n    Ecuador\n")
    assert parse_page(typed).kind == "project"


def test_only_a_title_at_a_project_path_says_why_it_is_other():
    record = parse_page("Only A Title Here\n", url="https://www.iom.int/project/x")
    assert record.kind == "other" and "project page's address" in record.reason
