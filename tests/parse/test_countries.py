"""Country names -> ISO codes: exact matching over real name data, and splitting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.parse.countries import country_code, country_index, split_countries
from idf_etl.parse.english_names import english_name


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Kosovo", "XK"),
        ("République démocratique du Congo", "CD"),  # CLDR French says "Congo-Kinshasa"
        ("Congo-Kinshasa", "CD"),
        ("Republic of Moldova", "MD"),  # pycountry's official name
        ("Viet Nam", "VN"),
        ("Côte d’Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("république-unie de tanzanie", "TZ"),
        ("República Dominicana (la)", "DO"),
        ("Géorgie", "GE"),
        ("Maurice", "MU"),
        ("Ouganda", "UG"),
        ("Federated States of Micronesia", "FM"),
        ("Eswatini", "SZ"),
    ],
)
def test_known_names(name, code):
    assert country_code(name) == code


@pytest.mark.parametrize(
    "name", ["Serbia and Kosovo", "Kosova", "Congo Republic Democratic", "Atlantis"]
)
def test_no_fuzzy_matches(name):
    # pycountry's fuzzy search maps "Kosovo" to Serbia; we never guess.
    assert country_code(name) is None


def test_space_separated_line_splits_into_names():
    got = split_countries(
        "Burundi République démocratique du Congo Kenya Rwanda Ouganda "
        "République-Unie de Tanzanie Soudan du Sud"
    )
    assert list(got.codes) == ["BI", "CD", "KE", "RW", "UG", "TZ", "SS"]
    assert not got.unmatched


def test_unknown_words_are_kept_together():
    got = split_countries("Ghana Middle Earth Togo")
    assert list(got.codes) == ["GH", "TG"]
    assert list(got.unmatched) == ["Middle Earth"]


# Names the site uses (CLDR's en/fr/es names, without the ones that are
# themselves sequences of other names).
def _site_names() -> list[str]:
    from babel import Locale

    names = []
    for lang in ("en", "fr", "es"):
        for code, name in Locale(lang).territories.items():
            if len(code) == 2 and code.isalpha() and code not in {"EU", "EZ", "UN", "QO", "ZZ"}:
                names.append(name)
    return sorted(set(names))


SITE_NAMES = _site_names()


@settings(max_examples=300)
@given(st.lists(st.sampled_from(SITE_NAMES), min_size=1, max_size=6, unique=True))
def test_any_sequence_of_known_names_splits_back(names):
    codes = [country_code(n) for n in names]
    if len(set(codes)) < len(codes):
        return  # two spellings of one country: the split rightly keeps one
    got = split_countries(" ".join(names))
    assert not got.unmatched
    assert list(got.codes) == codes


def test_index_covers_every_language():
    index = country_index()
    assert len(index) > 700


def test_connector_words_between_names():
    got = split_countries("Kenya, Ouganda et République-Unie de Tanzanie")
    assert list(got.codes) == ["KE", "UG", "TZ"] and not got.unmatched
    # ...but a name that holds one stays whole
    assert list(split_countries("Trinidad and Tobago Jamaica").codes) == ["TT", "JM"]
    assert list(split_countries("Antigua-et-Barbuda et Haïti").codes) == ["AG", "HT"]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("CD", "Democratic Republic of the Congo"),
        ("CG", "Congo"),
        ("BA", "Bosnia and Herzegovina"),
        ("MD", "Republic of Moldova"),
        ("TZ", "United Republic of Tanzania"),
        ("VN", "Viet Nam"),
        ("XK", "Kosovo"),
        ("CI", "Côte d'Ivoire"),
        ("BO", "Bolivia (Plurinational State of)"),
        ("MK", "North Macedonia"),
    ],
)
def test_english_names_are_un_style_not_cldr_short_forms(code, name):
    assert english_name(code) == name
    assert country_code(name) == code


def test_no_english_name_keeps_iso_s_inverted_comma_form():
    import pycountry

    inverted = [
        english_name(c.alpha_2)
        for c in pycountry.countries
        if english_name(c.alpha_2).endswith((" of", " of the"))
    ]
    assert inverted == []
