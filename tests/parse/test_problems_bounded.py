"""A page keeps PROBLEMS_OF_A_KIND problems of each kind and counts the rest: the values are
all kept, the problems do not grow with what the page holds (adversary case 16: a page
naming 40,000 countries we do not know gave 40,000 problems, and six took a run to 572 MB)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.parse.page import parse_page
from idf_etl.records import PROBLEMS_OF_A_KIND, Problem, few_of_a_kind

FIXTURE = (Path(__file__).parents[1] / "fixtures" / "pages" / "a_en_field_divs.html").read_text()
STATES = '<div class="field__item">Armenia</div><div class="field__item">Georgia</div>'


def _letters(i: int) -> str:
    return "".join(chr(97 + int(d, 26)) for d in _base26(i))


def _base26(i: int) -> str:
    digits = "0123456789abcdefghijklmnop"
    out = digits[i % 26]
    while i := i // 26:
        out = digits[i % 26] + out
    return out.rjust(3, "0")


@settings(max_examples=25, deadline=None)
@given(unknown=st.integers(0, 120))
def test_a_page_with_many_unknown_countries_keeps_every_name_and_few_problems(unknown):
    names = ["Armenia", "Georgia", *(f"Nowhere {_letters(i)}" for i in range(unknown))]
    items = "".join(f'<div class="field__item">{name}</div>' for name in names)
    html = FIXTURE.replace(STATES, items)
    record = parse_page(html, url="https://developmentfund.iom.int/project/a")
    assert record.states == ["AM", "GE"]
    assert record.state_names == names  # every name kept, as written
    listed = [p for p in record.problems if p.code == "unmatched_country"]
    assert len(listed) == min(unknown, PROBLEMS_OF_A_KIND) + (unknown > PROBLEMS_OF_A_KIND)
    if unknown > PROBLEMS_OF_A_KIND:
        assert f"{unknown - PROBLEMS_OF_A_KIND:,} more unmatched_country" in listed[-1].message


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([None, "x", "y"])), max_size=200
    )
)
def test_few_of_a_kind_keeps_order_and_counts_every_problem(kinds):
    problems = [Problem(code=c, field=f, message=str(i)) for i, (c, f) in enumerate(kinds)]
    kept = few_of_a_kind(problems)
    listed = [p for p in kept if not p.message.endswith("are)")]
    assert listed == [p for p in problems if p in listed]  # the first ones, in order
    for kind in set(kinds):
        n = kinds.count(kind)
        mine = [p for p in listed if (p.code, p.field) == kind]
        assert len(mine) == min(n, PROBLEMS_OF_A_KIND)
        more = [p for p in kept if (p.code, p.field) == kind and p.message.endswith("are)")]
        assert len(more) == (n > PROBLEMS_OF_A_KIND)
