"""'Other Countries Benefiting at Time of Allocation': a field of its own (#23), and country
names run together with no separator, split by the gazetteer or reported, never guessed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idf_etl.parse.countries import country_code, split_countries, split_run_together
from idf_etl.parse.page import parse_page
from tests.helpers.cli import idf_etl

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"


def test_other_countries_through_the_cli(tmp_path):
    out = idf_etl("parse", "--jsonl", str(PAGES / "a_en_other_countries.html"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["states"] == ["AR", "PY"]
    assert record["state_names"] == ["Argentina", "Paraguay"]
    assert record["other_states"] == ["CL", "UY"]
    assert record["other_state_names"] == ["Chile", "Uruguay"]
    assert record["problems"] == []
    # The label is no unknown text, and the other countries are not benefiting states.
    assert "CL" not in record["states"]


def test_an_unsplittable_rest_is_a_problem_on_its_field():
    html = (
        (PAGES / "a_en_other_countries.html").read_text().replace("ChileUruguay", "ChileAtlantis")
    )
    record = parse_page(html)
    assert record.other_states == []
    assert record.other_state_names == ["ChileAtlantis"]
    (problem,) = [p for p in record.problems if p.code == "unmatched_country"]
    assert problem.field == "other_states" and "ChileAtlantis" in problem.message


@pytest.mark.parametrize(
    ("text", "codes", "names"),
    [
        ("ChileUruguay", ("CL", "UY"), ("Chile", "Uruguay")),
        ("CHILEURUGUAY", ("CL", "UY"), ("CHILE", "URUGUAY")),
        ("Costa RicaPanamá", ("CR", "PA"), ("Costa Rica", "Panamá")),
        ("NigerNigeria", ("NE", "NG"), ("Niger", "Nigeria")),
        ("DominicaDominican Republic", ("DM", "DO"), ("Dominica", "Dominican Republic")),
        ("ChileUruguay, Argentina", ("CL", "UY", "AR"), ("Chile", "Uruguay", "Argentina")),
        ("Côte d’IvoireGhana", ("CI", "GH"), ("Côte d’Ivoire", "Ghana")),
        ("Guinea Bissau", ("GW",), ("Guinea Bissau",)),
        ("DR Congo", ("CD",), ("DR Congo",)),
        ("Congo", ("CG",), ("Congo",)),
    ],
)
def test_run_together_names(text, codes, names):
    result = split_countries(text)
    assert (result.codes, result.names, result.unmatched) == (codes, names, ())


@pytest.mark.parametrize("text", ["ChileAtlantis", "Atlantis", "Chil", "x" * 500, ""])
def test_no_split_is_guessed(text):
    assert split_run_together(text) is None


_NAMES = ["Chile", "Uruguay", "Argentina", "Costa Rica", "Panamá", "Niger", "Nigeria",
          "Dominica", "Dominican Republic", "Guinea", "Guinea-Bissau", "Equatorial Guinea",
          "Sudan", "South Sudan", "Mali", "Oman", "Samoa", "American Samoa"]  # fmt: skip


@given(st.lists(st.sampled_from(_NAMES), min_size=2, max_size=6, unique=True))
def test_glued_known_names_come_back_or_are_reported_whole(names):
    glued = "".join(names)
    result = split_run_together(glued)
    if result is not None:
        # Whatever cut it found reads back to the text, every piece a known name.
        assert "".join(name for _, name in result) == glued
        assert all(country_code(name) == code for code, name in result)
        assert [code for code, _ in result] == [country_code(n) for n in names]
    else:
        # Ambiguous ("Guinea"+"Equatorial Guinea"... can cut two ways): reported whole.
        assert split_countries(glued).unmatched == (glued,)
