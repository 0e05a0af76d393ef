"""Budget, year and vocabulary normalisers, with property tests for the budget."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idf_etl.parse.normalise import (
    parse_budget,
    parse_coverage,
    parse_region,
    parse_status,
    parse_year,
)
from idf_etl.parse.project_types import PROJECT_TYPE_NAMES, PROJECT_TYPES, parse_project_type


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("400000.00", "400000.00"),
        ("150,000", "150000"),
        ("1 234 567,50", "1234567.50"),
        ("1\u202f234\u202f567,50", "1234567.50"),
        ("1.234.567,50", "1234567.50"),
        ("1,234,567.50", "1234567.50"),
        ("USD 1.2 million", "1200000"),
        ("1,5 millions", "1500000"),
        ("US$ 75,000", "75000"),
        ("$200,000.00", "200000"),
        ("41100.00 USD", "41100"),
    ],
)
def test_budget_formats(text, want):
    assert parse_budget(text) == Decimal(want)


@pytest.mark.parametrize(
    "text", ["", "n/a", "12,34,567", "1.2.3", "100,000 or 200,000", "1,23,4", "1 234.567", "1.2345"]
)
def test_budget_that_cannot_be_read_without_guessing_is_none(text):
    assert parse_budget(text) is None


def _group(digits: str, sep: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sep.join(parts)


@st.composite
def written_amounts(draw):
    cents = draw(st.integers(min_value=0, max_value=10**13))
    amount = Decimal(cents) / 100
    whole, frac = divmod(cents, 100)
    decimal_mark = draw(st.sampled_from([".", ","]))
    group = draw(
        st.sampled_from(["", " ", "\u00a0", "\u202f", ",", "."]).filter(lambda g: g != decimal_mark)
    )
    show_cents = draw(st.booleans()) or frac != 0
    text = _group(str(whole), group) if group else str(whole)
    if show_cents:
        text += decimal_mark + f"{frac:02d}"
    prefix = draw(st.sampled_from(["", "USD ", "US$", "$", "US$ "]))
    suffix = draw(st.sampled_from(["", " USD", ""]))
    return amount, f"{prefix}{text}{suffix}"


@given(written_amounts())
def test_any_written_amount_reads_back_the_same_or_none(case):
    amount, text = case
    got = parse_budget(text)
    assert got is None or got == amount, text


@given(written_amounts())
def test_unambiguous_amounts_always_parse(case):
    amount, text = case
    # A single "," or "." followed by exactly three digits is read as grouping, so
    # amounts written that way with a decimal mark may legitimately be None/equal.
    got = parse_budget(text)
    if "," not in text and "." not in text:
        assert got == amount


@given(st.text(max_size=30))
def test_budget_never_raises(text):
    parse_budget(text)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Achevé", "completed"),
        ("Finalizado", "completed"),
        ("Completed", "completed"),
        ("Actif", "active"),
        ("Activo", "active"),
        ("ACTIVE", "active"),
        ("Dormant", None),
    ],
)
def test_status(text, want):
    assert parse_status(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Multi-Regional", "multi-regional"),
        ("Regional", "regional"),
        ("Global", "global"),
        ("National", "national"),
        ("Continental", None),
    ],
)
def test_coverage(text, want):
    assert parse_coverage(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Afrique", "Africa"),
        ("África", "Africa"),
        ("Asie et Océanie", "Asia and Oceania"),
        ("Amérique latine et Caraïbes", "Latin America and the Caribbean"),
        ("América Latina y el Caribe", "Latin America and the Caribbean"),
        ("Monde", "Global"),
        ("Europa", "Europe"),
        ("Atlantis", None),
    ],
)
def test_region(text, want):
    assert parse_region(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2023", 2023),
        ("15/03/2023", 2023),
        ("mars 2019", 2019),
        ("", None),
        ("2019-2021", None),
        ("TBD", None),
    ],
)
def test_year(text, want):
    assert parse_year(text) == want


# Project types as the site writes them (from the real pages in ../shared) -> canonical.
SITE_TYPES = {
    "Développement communautaire et économique": "Community and Economic Development",
    "Transfert des connaissances et des ressources des migrants": "Transfer of Migrant Knowledge and Resources",
    "TCMMCB": "Technical Cooperation on Migration Management and Capacity Building",
    "Community Development": "Community and Economic Development",
    "Labour Migration": "Labour Migration",
    "Return and Reintegration Assistance for Migrants and Governments": "Return and Reintegration Assistance for Migrants and Governments",
    "Community and Economic Development": "Community and Economic Development",
    "Transfer of migrant knowledge and resources": "Transfer of Migrant Knowledge and Resources",
    "Migration Policy Activities": "Migration Policy Activities",
    "Migration de main-d’œuvre": "Labour Migration",
    "Aide au retour et à la réintégration à l’intention des migrants et des gouvernements": "Return and Reintegration Assistance for Migrants and Governments",
    "Services de migration assistée": "Facilitated Migration",
    "Desarrollo económico y comunitario": "Community and Economic Development",
    "Cooperación técnica en gestión de la migración y creación de capac": "Technical Cooperation on Migration Management and Capacity Building",
    "Investigación y publicaciones sobre migración": "Migration Research and Publications",
}


@pytest.mark.parametrize(("written", "canonical"), SITE_TYPES.items())
def test_every_project_type_on_the_site_is_canonical(written, canonical):
    assert parse_project_type(written) == canonical


def test_project_types_are_a_closed_list():
    assert set(PROJECT_TYPES.values()) == set(PROJECT_TYPE_NAMES)
    assert parse_project_type("Migration") is None  # too short a prefix to tell
    assert parse_project_type("Cooperación técnica") is None  # cut, but too short
    assert parse_project_type("Transfert des connaissances et des") is not None


@given(
    st.integers(min_value=0, max_value=10**13),
    st.sampled_from([".", ","]),
    st.sampled_from(["", " ", "\u00a0", "\u202f", ",", "."]),
    st.sampled_from(["", "USD ", "US$", "$"]),
)
def test_amounts_written_with_cents_always_parse(cents, decimal_mark, group, prefix):
    # Two digits after the decimal mark cannot be grouping: such an amount is never None.
    # (The property above also holds for a parser that always answers None; this one cannot.)
    if group == decimal_mark:
        group = ""
    whole, frac = divmod(cents, 100)
    text = f"{prefix}{_group(str(whole), group) if group else whole}{decimal_mark}{frac:02d}"
    assert parse_budget(text) == Decimal(cents) / 100, text
