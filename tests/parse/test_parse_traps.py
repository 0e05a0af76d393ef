"""The traps the site sets, one test each, on small pages written inline."""

from __future__ import annotations

import pytest

from idf_etl import ParseError, parse_page

FIELDS_FR = """\
<html lang="fr"><body><main><h1>Un projet</h1><dl>
<dt>Statut du projet</dt><dd>Achevé</dd>
<dt>Couverture</dt><dd>National</dd>
<dt>IDF Region</dt><dd>Europe</dd>
<dt>Projet ID</dt><dd>CE.0148</dd>
{extra}
</dl>{after}</main></body></html>"""


def page(extra: str = "", after: str = "") -> str:
    return FIELDS_FR.format(extra=extra, after=after)


def test_empty_label_is_null_not_the_next_label():
    text = "Un projet\n\n  • Date de début\n  • Date de fin\n    2024\n  • Statut du projet\n    Achevé\n  • Projet ID\n    CE.0001\n"
    record = parse_page(text)
    assert record.start_year is None
    assert record.end_year == 2024
    assert record.status == "completed"


def test_empty_last_label_is_not_the_description():
    text = (
        "Un projet\n\n  • Statut du projet\n    Achevé\n  • Couverture\n    National\n"
        "  • Projet ID\n    CE.0001\n"
        "  • Etat(s) membre(s) beneficiaires remplissant les conditions requises\n"
        "Un paragraphe court\n"
    )
    record = parse_page(text)
    assert record.states == []
    assert record.state_names == []
    assert record.description == "Un paragraphe court"


def test_empty_last_label_before_prose_in_unindented_text():
    text = (
        "Title\n-\nProject Status\nActive\n-\nCoverage\nNational\n-\nProjects ID\nCE.0002\n-\n"
        "Benefiting Member States\nThe project helps Ghana. It runs two years.\n"
    )
    record = parse_page(text)
    assert record.states == []
    assert record.description.startswith("The project helps Ghana.")


def test_two_spanish_tipo_de_proyecto_labels():
    text = (
        "Un proyecto\n  • Tipo de proyecto\n    Activo\n  • Tipo de proyecto\n"
        "    Migración laboral\n  • Cobertura geográfica\n    National\n  • Proyecto ID\n    LM.0001\n"
    )
    record = parse_page(text)
    assert (record.status, record.status_label) == ("active", "Activo")
    assert record.project_type == "Migración laboral"


def test_spanish_first_tipo_empty_keeps_type_in_second():
    text = (
        "Un proyecto\n  • Tipo de proyecto\n  • Tipo de proyecto\n    Migración laboral\n"
        "  • Cobertura geográfica\n    National\n  • Proyecto ID\n    LM.0001\n"
    )
    record = parse_page(text)
    assert record.status is None
    assert record.project_type == "Migración laboral"


def test_multiword_and_parenthesised_country_names_in_one_line():
    html = page(
        "<dt>Etat(s) membre(s) beneficiaires remplissant les conditions requises</dt>"
        "<dd>Albanie Bosnie-Herzégovine Monténégro Serbie République démocratique du Congo "
        "República Dominicana (la)</dd>"
    )
    record = parse_page(html)
    assert record.states == ["AL", "BA", "ME", "RS", "CD", "DO"]
    assert record.state_names[-1] == "República Dominicana (la)"


def test_english_country_name_on_a_french_page():
    html = page(
        "<dt>Etat(s) membre(s) beneficiaires remplissant les conditions requises</dt>"
        "<dd>Federated States of Micronesia</dd>"
    )
    assert parse_page(html).states == ["FM"]


def test_two_states_on_separate_lines():
    html = page(
        "<dt>Etat(s) membre(s) beneficiaires remplissant les conditions requises</dt>"
        "<dd>Kosovo<br>Serbie</dd>"
    )
    assert parse_page(html).states == ["XK", "RS"]


def test_unmatched_country_is_reported_not_guessed():
    html = page(
        "<dt>Etat(s) membre(s) beneficiaires remplissant les conditions requises</dt>"
        "<dd>Serbie Atlantide</dd>"
    )
    record = parse_page(html)
    assert record.states == ["RS"]
    (problem,) = [p for p in record.problems if p.field == "states"]
    assert problem.code == "unmatched_country"
    assert "Atlantide" in problem.message


def test_unknown_label_is_reported():
    html = page("<dt>Partenaire principal</dt><dd>PNUD</dd>")
    record = parse_page(html)
    assert record.kind == "project"
    assert any(p.code == "unknown_label" and "Partenaire" in p.message for p in record.problems)


def test_unparsable_budget_is_null_and_reported():
    html = page("<dt>Budget Amount (USD)</dt><dd>à confirmer</dd>")
    record = parse_page(html)
    assert record.budget_usd is None
    assert record.budget_label == "à confirmer"
    assert any(p.code == "unparsable_budget" for p in record.problems)


def test_unknown_status_keeps_label_and_is_reported():
    record = parse_page(page().replace("Achevé", "Suspendu"))
    assert (record.status, record.status_label) == (None, "Suspendu")
    assert any(p.code == "unknown_status" for p in record.problems)


def test_inline_label_colon_value():
    html = (
        "<html><body><main><h1>Project</h1><p>Project Status: Completed</p>"
        "<p>Coverage: Global</p><p>IDF Region: Global</p><p>Projects ID: CE.0009</p>"
        "<p>Budget Amount (USD): USD 1.2 million</p></main></body></html>"
    )
    record = parse_page(html)
    assert (record.status, record.coverage, record.idf_region) == ("completed", "global", "Global")
    assert str(record.budget_usd) == "1200000.00"


def test_bold_label_inside_list_item():
    html = (
        "<html><body><main><h1>Project</h1><ul><li><strong>Start Date</strong> 2019</li>"
        "<li><b>End Date:</b> 2020</li><li><strong>Coverage</strong> National</li>"
        "<li><strong>Projects ID</strong> CE.0010</li></ul></main></body></html>"
    )
    record = parse_page(html)
    assert (record.start_year, record.end_year, record.coverage) == (2019, 2020, "national")


def test_latin1_page_with_meta_charset():
    html = page().replace(
        '<html lang="fr">', '<html lang="fr"><head><meta charset="iso-8859-1"></head>'
    )
    record = parse_page(html.encode("latin-1"))
    assert record.status_label == "Achevé"


def test_utf8_bom_and_entities():
    html = page().replace("Achevé", "Achev&eacute;")
    record = parse_page(b"\xef\xbb\xbf" + html.encode())
    assert record.status == "completed"


def test_utf16_page():
    record = parse_page(page().encode("utf-16"))
    assert record.project_id == "CE.0148"


@pytest.mark.parametrize("data", [b"", b"   \n\t", "", b"\x00\x01\x02binary\x00"])
def test_empty_or_binary_input_is_a_clear_error(data):
    with pytest.raises(ParseError):
        parse_page(data)


def test_missing_most_fields_is_still_a_project():
    text = "Short page\n  • Project Type\n    Labour Migration\n  • Coverage\n  • IDF Region\n    Africa\n"
    record = parse_page(text)
    assert record.kind == "project"
    assert record.project_type == "Labour Migration"
    assert any(p.code == "missing_project_id" for p in record.problems)


def test_language_from_url_when_content_is_silent():
    html = "<html><body><main><h1>404</h1></main></body></html>"
    assert parse_page(html, url="https://www.iom.int/es/node/1").lang == "es"


def test_parser_is_pure_same_input_same_record(parse_fixture):
    assert parse_fixture("a_en_table.html") == parse_fixture("a_en_table.html")


@pytest.mark.parametrize(
    "fields",
    [
        # Drupal views: label span and field-content div
        "".join(
            f'<div class="views-field"><span class="views-label">{k}: </span>'
            f'<div class="field-content">{v}</div></div>'
            for k, v in [
                ("Project Status", "Active"),
                ("Coverage", "Global"),
                ("Projects ID", "TK.0042"),
                ("Benefiting Member States", "Fiji<br>Peru"),
            ]
        ),
        # bold label, line break, value
        "".join(
            f"<p><strong>{k}</strong><br>{v}</p>"
            for k, v in [
                ("Project Status", "Active"),
                ("Coverage", "Global"),
                ("Projects ID", "TK.0042"),
                ("Benefiting Member States", "Fiji Peru"),
            ]
        ),
        # headings as labels
        "".join(
            f"<section><h3>{k}</h3><p>{v}</p></section>"
            for k, v in [
                ("Project Status", "Active"),
                ("Coverage", "Global"),
                ("Projects ID", "TK.0042"),
                ("Benefiting Member States", "Fiji<br>Peru"),
            ]
        ),
    ],
    ids=["views-fields", "strong-br", "heading-labels"],
)
def test_more_markup_styles(fields):
    html = f"<html><body><main><h1>Global alliances</h1>{fields}<p>Our own text.</p></main></body></html>"
    record = parse_page(html)
    assert (record.status, record.coverage, record.project_id) == ("active", "global", "TK.0042")
    assert record.states == ["FJ", "PE"]
    assert record.description == "Our own text."
