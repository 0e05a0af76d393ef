"""Every template, language and markup style we know of parses to the right record."""

from __future__ import annotations

from decimal import Decimal

import pytest

EXPECTED = {
    # template A, Drupal field divs, English; states as one item per country
    "a_en_field_divs.html": dict(
        lang="en",
        project_id="CD.0085",
        prima_id="GE10P0527",
        status="active",
        status_label="Active",
        project_type="Community Development",
        budget_usd=Decimal("400000.00"),
        coverage="regional",
        idf_region="Europe",
        start_year=2023,
        end_year=2024,
        year=2022,
        states=["AM", "GE"],
    ),
    # template A, list items with label/value spans, French, region in French
    "a_fr_list_items.html": dict(
        lang="fr",
        project_id="TK.0035",
        prima_id="ZA99P0533",
        status="active",
        status_label="Actif",
        budget_usd=Decimal("400000.00"),
        coverage="regional",
        idf_region="Africa",
        idf_region_label="Afrique",
        start_year=2023,
        end_year=2024,
        year=2022,
        states=["LS", "MW", "MU"],
        state_names=["Lesotho", "Malawi", "Maurice"],
    ),
    # template A, definition list, Spanish: "Tipo de proyecto" twice, an empty <dd>
    "a_es_definition_list.html": dict(
        lang="es",
        project_id="T97-805",
        prima_id=None,
        status="completed",
        status_label="Finalizado",
        project_type="Cooperación técnica en gestión de la migración y creación de capac",
        budget_usd=Decimal("50000.00"),
        coverage="regional",
        idf_region="Latin America and the Caribbean",
        start_year=2001,
        end_year=2024,
        year=2001,
        states=["DO", "HT"],
        state_names=["República Dominicana (la)", "Haití"],
    ),
    # template A, table rows (th/td and td/td), "150,000"-style budget
    "a_en_table.html": dict(
        lang="en",
        project_id="PO.0123",
        status="completed",
        budget_usd=Decimal("100000"),
        coverage="regional",
        idf_region="Africa",
        start_year=2019,
        end_year=2021,
        year=2018,
        states=["AO", "BW", "KM", "CD", "SZ", "LS", "MG", "MW", "MU", "MZ", "NA", "ZA", "ZM", "ZW"],
    ),
    # template A as a text rendering (menu lines, "-" separators)
    "a_fr_text.txt": dict(
        lang="fr",
        project_id="CE.0276",
        prima_id="CD10P0001",
        status="completed",
        coverage="national",
        idf_region="Africa",
        start_year=None,
        end_year=2024,
        states=["CD"],
        budget_usd=Decimal("200000.00"),
    ),
    # template B in HTML paragraphs: most labels empty
    "b_en_paragraphs_empty_labels.html": dict(
        lang="en",
        project_id=None,
        status=None,
        project_type="Labour Migration",
        budget_usd=None,
        coverage=None,
        idf_region="Asia and Oceania",
        start_year=None,
        states=[],
    ),
    # template B as text: the last label is empty and the description follows
    "b_fr_text_empty_last_label.txt": dict(
        lang="fr",
        project_id="L20-805",
        status="completed",
        coverage="regional",
        idf_region="Africa",
        states=[],
        state_names=[],
    ),
    # template B as list items, Spanish: "Tipo de proyecto" twice, empty Año and empty last label
    "b_es_list_items.html": dict(
        lang="es",
        project_id="CE.0388",
        prima_id="MG10P0004",
        status="completed",
        project_type="Desarrollo económico y comunitario",
        budget_usd=Decimal("75000.00"),
        coverage="national",
        idf_region="Africa",
        idf_region_label="África",
        start_year=2017,
        end_year=2024,
        year=None,
        states=[],
    ),
    # template B in paragraphs, French, windows-1252 bytes declared in a meta http-equiv
    "b_fr_paragraphs.html": dict(
        lang="fr",
        project_id="TC4-805",
        status="completed",
        status_label="Achevé",
        project_type="TCMMCB",
        budget_usd=Decimal("40000.00"),
        coverage="national",
        idf_region="Europe",
        end_year=2024,
        states=["GE"],
        state_names=["Géorgie"],
    ),
    # template C: side menu, title twice, values without labels, two states on two lines
    "c_en_devfund.html": dict(
        lang="en",
        project_id="CE.0333",
        prima_id="MD10P0001",
        status="completed",
        project_type="Community and Economic Development",
        budget_usd=Decimal("200000"),
        coverage="national",
        idf_region="Europe",
        states=["MD", "RO"],
        start_year=None,
        template="unlabelled",
    ),
    # template C under /es/ carrying English content: lang is the content's language
    "c_es_devfund_english_content.html": dict(
        lang="en",
        project_id="CD.0002",
        prima_id="MU10P0005",
        status="active",
        budget_usd=Decimal("200000"),
        coverage="national",
        idf_region="Africa",
        states=["MU"],
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_project_fields(parse_fixture, name):
    record = parse_fixture(name)
    assert record.kind == "project"
    for field, want in EXPECTED[name].items():
        assert getattr(record, field) == want, field


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_title_and_description_carry_no_boilerplate(parse_fixture, name):
    record = parse_fixture(name)
    assert record.title
    assert record.description
    text = record.title + record.description
    for furniture in (
        "Who we are",
        "Qui sommes nous",
        "Quiénes somos",
        "2030 A",
        "Share this",
        "Contact us",
        "Donate Now",
        "Skip to main",
        "Breadcrumb",
    ):
        assert furniture not in text


def test_title_printed_twice_appears_once(parse_fixture):
    record = parse_fixture("c_en_devfund.html")
    assert record.title == (
        "Enhancing the Development of Moldova through Engagement with Diaspora-Homeland Partnerships"
    )
    assert record.title not in (record.description or "")


def test_description_joins_paragraphs_in_order(parse_fixture):
    record = parse_fixture("a_en_field_divs.html")
    first, second = record.description.split("\n")
    assert first.startswith("Returnees to both countries")
    assert second.startswith("It runs over two paragraphs so")  # &nbsp; became a space


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("news_fr_same_title.html", "no project fields"),
        ("faq_en.html", "no project fields"),
        ("error_404.html", "error page"),
        ("listing_en.html", "listing"),
    ],
)
def test_pages_that_are_not_projects(parse_fixture, name, reason):
    record = parse_fixture(name)
    assert record.kind == "other"
    assert reason in record.reason


def test_news_sharing_a_project_title_is_not_a_project(parse_fixture):
    project = parse_fixture("a_fr_list_items.html")
    news = parse_fixture("news_fr_same_title.html")
    assert news.title == project.title
    assert (project.kind, news.kind) == ("project", "other")
