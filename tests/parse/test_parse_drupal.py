"""Drupal's field label displays (above, inline, hidden, visually hidden), node ids and
translation links, and values whose label is missing. Pages written here, in the
markup Drupal's field template produces (field--label-*, field__label, field__item)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idf_etl import parse_page
from idf_etl.parse.head import page_head, read_head
from tests.helpers.drupal_pages import drupal_page as page
from tests.helpers.drupal_pages import field_html

# (label as the site writes it, value, field, expected value in the record)
FIELDS = [
    ("Start Date", "2019", "start_year", 2019),
    ("End Date", "2021", "end_year", 2021),
    ("Project Status", "Completed", "status", "completed"),
    ("Project Type", "Labour Migration", "project_type", "Labour Migration"),
    ("Budget Amount (USD)", "250000.00", "budget_usd", "250000.00"),
    ("Coverage", "National", "coverage", "national"),
    ("Year", "2018", "year", 2018),
    ("IDF Region", "Africa", "idf_region", "Africa"),
    ("Prima ID", "GH10P0123", "prima_id", "GH10P0123"),
    ("Projects ID", "LM.0077", "project_id", "LM.0077"),
    ("Benefiting Member States", "Ghana", "states", ["GH"]),
]


def drupal_page(fields: list[str], head: str = "") -> str:
    return page(fields, head=head)


def expected(record, field):
    value = getattr(record, field)
    return str(value) if field == "budget_usd" and value is not None else value


@pytest.mark.parametrize("display", ["above", "inline", "visually_hidden"])
@pytest.mark.parametrize("colon", ["", ":", "\u00a0:", ":\u00a0", "&nbsp;:"])
def test_every_label_display_is_read(display, colon):
    html = drupal_page([field_html(lbl, v, display, colon) for lbl, v, _, _ in FIELDS])
    record = parse_page(html)
    assert record.kind == "project"
    for _, _, field, want in FIELDS:
        assert expected(record, field) == want, field
    assert record.description.startswith("The project helps")
    assert not [p for p in record.problems if p.code != "missing_project_id"]


def test_visually_hidden_labels_in_other_markup():
    """sr-only spans and element-invisible (Drupal 7) labels are read too; hidden menus are not."""
    html = drupal_page(
        [
            f'<div class="field"><span class="sr-only">{lbl}</span> <span class="field-item">{v}</span></div>'
            if i % 2
            else f'<div class="field"><div class="field-label element-invisible">{lbl}:&nbsp;</div>'
            f'<div class="field-items"><div class="field-item even">{v}</div></div></div>'
            for i, (lbl, v, _, _) in enumerate(FIELDS)
        ]
        + ['<ul class="visually-hidden"><li>Coverage</li><li>Skip to content</li></ul>']
    )
    record = parse_page(html)
    for _, _, field, want in FIELDS:
        assert expected(record, field) == want, field


def test_hidden_labels_are_read_by_value_shape():
    """Label display "hidden": no label in the markup; ids, status, region, type,
    coverage and budget are recognised by their shape."""
    shaped = {"status", "project_type", "budget_usd", "coverage", "idf_region", "prima_id"}
    shaped.add("project_id")
    html = drupal_page(
        [field_html(lbl, v, "hidden" if f in shaped else "above") for lbl, v, f, _ in FIELDS]
    )
    record = parse_page(html)
    for _, _, field, want in FIELDS:
        assert expected(record, field) == want, field


def test_an_id_without_its_label_never_lands_in_prima_id():
    """'Prima ID' with an empty value, then the project id with its label hidden."""
    html = drupal_page(
        [
            field_html("Project Status", "Active", "above"),
            field_html("Coverage", "Regional", "above"),
            field_html("IDF Region", "Europe", "inline"),
            '<div class="field field--label-above"><div class="field__label">Prima ID</div></div>',
            field_html("Projects ID", "TK.0035", "hidden"),
            field_html("Year", "2020", "above"),
        ]
    )
    record = parse_page(html)
    assert record.prima_id is None
    assert record.project_id == "TK.0035"
    assert record.year == 2020


def test_an_unrecognisable_value_without_label_stays_out_with_a_problem():
    html = drupal_page(
        [
            field_html("Project Status", "Active", "above"),
            field_html("Coverage", "Regional", "above"),
            '<div class="field field--label-above"><div class="field__label">Prima ID</div></div>',
            field_html("Something", "Phase two of the programme", "hidden"),
            field_html("IDF Region", "Europe", "inline"),
        ]
    )
    record = parse_page(html)
    assert record.prima_id is None
    assert record.project_type is None
    codes = {p.code: p.message for p in record.problems}
    assert "Phase two of the programme" in codes["value_without_label"]


def test_an_empty_states_label_does_not_take_an_id():
    html = drupal_page(
        [
            field_html("Project Status", "Active", "above"),
            field_html("Coverage", "National", "above"),
            '<div class="field field--label-above"><div class="field__label">'
            "Benefiting Member States</div></div>",
            field_html("Prima ID", "GH10P0123", "hidden"),
        ]
    )
    record = parse_page(html)
    assert record.states == [] and record.state_names == []
    assert record.prima_id == "GH10P0123"


HEAD = (
    '<link rel="canonical" href="https://www.iom.int/project/labour-mobility-ghana">'
    '<link rel="shortlink" href="https://www.iom.int/node/187686">'
    '<link rel="alternate" hreflang="en" href="https://www.iom.int/project/labour-mobility-ghana">'
    '<link rel="alternate" hreflang="fr" href="/fr/node/187686">'
    '<link rel="alternate" hreflang="es" href="https://www.iom.int/es/node/187686">'
)


def test_node_id_and_translations_from_the_head():
    url = "https://www.iom.int/project/labour-mobility-ghana"
    record = parse_page(drupal_page([field_html(*f[:2], "above") for f in FIELDS], HEAD), url=url)
    assert record.node_id == 187686
    assert record.translations == {
        "en": url,
        "fr": "https://www.iom.int/fr/node/187686",
        "es": "https://www.iom.int/es/node/187686",
    }
    assert read_head(drupal_page([], HEAD), url).node_id == 187686


@pytest.mark.parametrize(
    ("head", "url", "node"),
    [
        ('<link rel="shortlink" href="/node/42">', "https://www.iom.int/project/x", 42),
        ("", "https://www.iom.int/fr/node/43", 43),
        ("", "https://www.iom.int/node/44/", 44),
        ('<link rel="alternate" hreflang="es" href="/es/node/45">', "https://www.iom.int/p/x", 45),
        # another site's node numbers are not ours
        (
            '<link rel="shortlink" href="https://other.example/node/46">',
            "https://www.iom.int/p",
            None,
        ),
        ("", "https://www.iom.int/node/47/edit", None),
        ("", "https://www.iom.int/project/no-node", None),
        ("", None, None),
    ],
)
def test_node_id_sources(head, url, node):
    record = parse_page(drupal_page([field_html(*f[:2], "above") for f in FIELDS], head), url=url)
    assert record.node_id == node


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Migration de main-d'oeuvre", "Labour Migration"),
        ("Migration de main-d’œuvre", "Labour Migration"),
        ("TCMMCB", "Technical Cooperation on Migration Management and Capacity Building"),
        (
            "Cooperación técnica en gestión de la migración y creación de capac",
            "Technical Cooperation on Migration Management and Capacity Building",
        ),
        ("Desarrollo económico y comunitario", "Community and Economic Development"),
        ("Services de migration assistée", "Facilitated Migration"),
    ],
)
def test_project_type_is_canonical_and_kept_as_written(written, canonical):
    fields = [field_html(lbl, v, "above") for lbl, v, f, _ in FIELDS if f != "project_type"]
    record = parse_page(drupal_page([*fields, field_html("Project Type", written, "above")]))
    assert record.project_type == written
    assert record.project_type_canonical == canonical


def test_unknown_project_type_is_a_problem():
    # No id letters to fall back on: an older id.
    fields = [
        field_html(lbl, "T97-805" if f == "project_id" else v, "above")
        for lbl, v, f, _ in FIELDS
        if f != "project_type"
    ]
    record = parse_page(drupal_page([*fields, field_html("Project Type", "Fish farming", "above")]))
    assert record.project_type == "Fish farming"
    assert record.project_type_canonical is None
    assert [p.field for p in record.problems if p.code == "unknown_project_type"] == [
        "project_type"
    ]


@given(
    quote=st.sampled_from(['"', "'", ""]),
    query=st.sampled_from(["", "?a=1&amp;b=2", "?b=2&amp;a=1"]),
    extra=st.sampled_from(["", ' type="text/html"', " data-x=1"]),
)
def test_the_crawler_and_the_parser_read_one_canonical_link_the_same_way(quote, query, extra):
    # One reader of <link>: the crawler's canonical (one fetch per page) and its translations
    # come from read_head, the parser's node id and translations from head_links.
    href = f"/project/one{query}"
    head = (
        f"<link{extra} rel={quote}canonical{quote} href={quote}{href}{quote}>"
        '<link rel="alternate" hreflang="fr" href="/fr/node/7">'
        '<link rel="shortlink" href="/node/7">'
    )
    html = f"<html><head>{head}</head><body><p>x</p></body></html>".encode()
    facts = read_head(page_head(html), "https://www.iom.int/project/one")
    want = "https://www.iom.int/project/one" + ("?a=1&b=2" if query else "")
    assert facts.canonical == want
    assert facts.node_id == 7
    assert facts.translations == {"fr": "https://www.iom.int/fr/node/7"}
