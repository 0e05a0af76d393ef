"""Project types: every label the site writes has its family, and the id's letters name it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idf_etl.errors import ParseError
from idf_etl.parse.page import parse_page
from idf_etl.parse.project_types import (
    PROJECT_TYPE_FAMILIES,
    TYPE_LETTERS,
    id_letters,
    parse_project_type,
    project_type_family,
)
from idf_etl.records import ProjectRecord
from tests.helpers.cli import idf_etl

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pages"
DEMO_SITE = Path(__file__).parents[2] / "demo" / "site"

# The families of ../shared/DESIGN.md ("Project ids name the project's type"): the closed
# list, with the letters that name each.
DESIGN_FAMILIES = {
    "Community and Economic Development": {"CE", "CD"},
    "Transfer of Migrant Knowledge and Resources": {"TK"},
    "Labour Migration": {"LM"},
    "Immigration and Borders": {"IB"},
    "Counter-Trafficking": {"CT"},
    "Protection and Assistance to Vulnerable Migrants": {"PX"},
    "Migration Health": {"MA"},
    "Migration Management Support": {"MS"},
    "Migration Policy Activities": {"PO"},
    "Migration Research and Publications": {"PR"},
    "Return and Reintegration Assistance for Migrants and Governments": {"RR", "RT"},
    "Technical Cooperation on Migration Management and Capacity Building": {"TC"},
    "Facilitated Migration": {"FM"},
    "Mainstreaming Migration into Development": {"MD"},
    "Migration, Environment and Climate Change": {"NC"},
}

# Facts copied from the 74 real pages of ../shared (samples and seeds): every project
# type label they write, with the language and the id letters of the page ("" when the
# page's id is older or absent). Tests never read ../shared; this list is what they hold.
SHARED_PAGE_TYPES = [
    ("en", "Community Development", "CD"),
    ("en", "Community and Economic Development", "CE"),
    ("en", "Community and Economic Development", "CD"),
    ("en", "Health Promotion and Assist for Migrants", "MA"),
    ("en", "Labour Migration", "LM"),
    ("en", "Migration Management Support", ""),
    ("en", "Migration Policy Activities", "PO"),
    ("en", "Migration Research and Publication", ""),
    ("en", "Return Assist to Migrants and Government", ""),
    ("en", "Return and Reintegration Assistance for Migrants and Governments", ""),
    ("en", "TCMMCB", "TC"),
    ("en", "Transfer of migrant knowledge and resources", "TK"),
    ("es", "Actividades sobre políticas en materia de migración", "PO"),
    ("es", "Cooperación técnica en gestión de la migración y creación de capac", "TC"),
    ("es", "Desarrollo económico y comunitario", "CE"),
    ("es", "Inmigración y fronteras", "IB"),
    ("es", "Investigación y publicaciones sobre migración", "PR"),
    (
        "fr",
        "Aide au retour et à la réintégration à l’intention des migrants et des gouvernements",
        "RR",
    ),
    ("fr", "Appui à la gestion des migrations", "MS"),
    ("fr", "Développement communautaire et économique", "CE"),
    ("fr", "Développement communautaire", "CD"),
    ("fr", "Environnement et changement climatique", "NC"),
    ("fr", "Intégration de la migration dans le développement", "MD"),
    ("fr", "Migration de main-d’œuvre", ""),
    ("fr", "Recherche et publications en matière migratoire", "PR"),
    ("fr", "Services de migration assistée", "FM"),
    ("fr", "TCMMCB", "TC"),
    ("fr", "Transfert des connaissances et des ressources des migrants", "TK"),
]
# Wordings the issue-23 pages write (kept back from us; the labels are facts).
ISSUE_TYPES = {
    "Immigration et frontières": "Immigration and Borders",
    "Counter Trafficking Projects": "Counter-Trafficking",
    "Health Promotion and Assist for Migrants": "Migration Health",
    "Return Assist to Migrants and Government": (
        "Return and Reintegration Assistance for Migrants and Governments"
    ),
    "Protection and Assistance to Vulnerable Migrants": (
        "Protection and Assistance to Vulnerable Migrants"
    ),
    "Migration Management Support": "Migration Management Support",
}


def test_the_families_are_designs_closed_list_with_its_letters():
    assert {name: set(f["letters"]) for name, f in PROJECT_TYPE_FAMILIES.items()} == (
        DESIGN_FAMILIES
    )
    assert set(TYPE_LETTERS.values()) == set(DESIGN_FAMILIES)


@pytest.mark.parametrize(("lang", "label", "letters"), SHARED_PAGE_TYPES)
def test_every_type_on_the_shared_pages_has_its_family(lang, label, letters):
    family = parse_project_type(label)
    assert family in DESIGN_FAMILIES, (lang, label)
    if letters:
        assert letters in DESIGN_FAMILIES[family], (label, letters)


@pytest.mark.parametrize(("label", "family"), ISSUE_TYPES.items())
def test_the_issues_wordings_have_their_family(label, family):
    assert parse_project_type(label) == family


def test_every_written_type_in_our_fixture_pages_has_a_family():
    # Our fixture pages and the demo site's (it writes some guessed labels: they stay).
    walked = 0
    for path in sorted([*FIXTURES.rglob("*"), *DEMO_SITE.rglob("*")]):
        if path.suffix not in (".html", ".txt") or not path.read_bytes().strip():
            continue
        try:
            record = parse_page(path.read_bytes(), source=path.name)
        except ParseError:
            continue  # the demo's deliberately broken upload

        if isinstance(record, ProjectRecord) and record.project_type is not None:
            walked += 1
            assert record.project_type_canonical in DESIGN_FAMILIES, (path.name, record)
    assert walked >= 25


@pytest.mark.parametrize(
    "label",
    [
        "COUNTER TRAFFICKING PROJECTS",
        "counter-trafficking",
        "Counter Trafficking Project",
        "Counter  Trafficking\u00a0Projects",
    ],
)
def test_case_hyphens_and_a_trailing_projects_say_nothing(label):
    assert parse_project_type(label) == "Counter-Trafficking"


def test_projects_alone_is_no_type():
    assert parse_project_type("Projects") is None
    assert parse_project_type("") is None


@pytest.mark.parametrize(
    ("written", "letters"),
    [
        ("CE.0148", "CE"),
        ("ce.0148", "CE"),
        ("CE 0148", "CE"),
        (" TK.0035 ", "TK"),
        ("T97-805", None),
        ("ZA99P0533", None),
        (None, None),
        ("CE.01", None),
    ],
)
def test_id_letters(written, letters):
    assert id_letters(written) == letters


def test_a_new_wording_takes_the_letters_family_with_a_problem():
    family, problem = project_type_family("Anti-Trafficking Work", "CT.0121")
    assert family == "Counter-Trafficking"
    assert problem is not None and problem[0] == "project_type_from_id"
    assert "'Anti-Trafficking Work'" in problem[1] and "'CT'" in problem[1]


def test_label_and_letters_that_disagree_keep_the_labels_family_naming_both():
    family, problem = project_type_family("Community and Economic Development", "PR.0011")
    assert family == "Community and Economic Development"
    assert problem is not None and problem[0] == "project_type_disagrees_with_id"
    assert "Migration Research and Publications" in problem[1]
    assert "Community and Economic Development" in problem[1]


def test_no_letters_and_an_unknown_label_stay_null():
    assert project_type_family("Fish farming", "T97-805") == (None, None)
    assert project_type_family("Fish farming", None) == (None, None)
    assert project_type_family(None, None) == (None, None)


def test_unknown_letters_and_a_known_label_take_the_label():
    assert project_type_family("TCMMCB", "ZZ.0001") == (
        "Technical Cooperation on Migration Management and Capacity Building",
        None,
    )


_LABELS = [
    name
    for family in PROJECT_TYPE_FAMILIES.values()
    for k, names in family.items()
    if k != "letters"
    for name in names
]


@given(st.sampled_from(sorted(TYPE_LETTERS)), st.integers(0, 9999), st.sampled_from(_LABELS))
def test_whatever_the_letters_a_known_label_keeps_its_family(letters, number, label):
    family, problem = project_type_family(label, f"{letters}.{number:04d}")
    assert family == parse_project_type(label)
    assert (problem is None) == (family == TYPE_LETTERS[letters])


@given(
    st.sampled_from(sorted(TYPE_LETTERS)),
    st.integers(0, 9999),
    st.text(st.characters(categories=("Ll", "Lu", "Zs")), min_size=1, max_size=40),
)
def test_whatever_the_wording_known_letters_give_a_family(letters, number, label):
    family, problem = project_type_family(label, f"{letters}.{number:04d}")
    known = parse_project_type(label)
    assert family == (known or TYPE_LETTERS[letters])
    assert (problem is None) == (known == TYPE_LETTERS[letters])


def test_a_page_through_the_cli_gets_the_letters_family(tmp_path):
    page = tmp_path / "page.txt"
    page.write_text(
        "Training Border Officials on Document Checks\n\n"
        "  • Project Type\n    Border Work Projects\n"
        "  • IDF Region\n    Africa\n"
        "  • Projects ID\n    IB.0099\n"
        "  • Benefiting Member States\n    Ghana\n\n"
        "Our own words for a test: officials learn to check travel documents at two posts.\n",
        encoding="utf-8",
    )
    out = idf_etl("parse", "--jsonl", str(page), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["project_type"] == "Border Work Projects"
    assert record["project_type_canonical"] == "Immigration and Borders"
    codes = {p["code"]: p["message"] for p in record["problems"]}
    assert re.search(r"'Border Work Projects'.*'IB'", codes["project_type_from_id"])


def _page_with_id(written: str) -> str:
    return (
        "A Title for an Id Test\n\n  • Project Type\n    Labour Migration\n"
        f"  • Projects ID\n    {written}\n  • Benefiting Member States\n    Ghana\n\n"
        "Our own words: officials of two ministries agree on one procedure together.\n"
    )


@given(
    st.sampled_from(sorted(TYPE_LETTERS)),
    st.integers(0, 9999),
    st.booleans(),
    st.sampled_from([".", " ", "", " . "]),
)
def test_an_id_written_loosely_is_one_project_id(letters, number, lower, separator):
    # "ce.0148", "CE 0148", "CE0148": the key that joins a project's pages is "CE.0148".
    written = f"{letters.lower() if lower else letters}{separator}{number:04d}"
    record = parse_page(_page_with_id(written))
    assert record.project_id == f"{letters}.{number:04d}"
    odd = [p for p in record.problems if p.code == "odd_id"]
    assert bool(odd) == (written != record.project_id)
