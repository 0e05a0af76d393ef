"""The parse does work linear in the page: no reader starts over from every place a value
or title may be (issue 22, adversary case 4: a 4.4 MB text page of heading / indented-line
pairs read the description once from each of its 100,000 title positions). Counted here,
timed in bench/bench_parse_shapes.py (never a timed test)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.parse import extract, unlabelled
from idf_etl.parse.page import parse_page

URL = "https://developmentfund.iom.int/project/slow"

SHAPES = {
    "pairs": lambda n: "Some heading here\n" + "A heading line\n    some indented words here\n" * n,
    "countries": lambda n: "Title\n" + "Armenia\n" * n,
    "titles": lambda n: "Water project\n" * n,
    "title_ids": lambda n: "Water project\nCE.0035\n" * n,
    "types": lambda n: "Title\n" + "Heading\n    Community Development\n" * n,
}


def counted(monkeypatch, name: str, *modules) -> list[int]:
    """Calls of `name` (and blocks read) from every module that calls it."""
    calls = [0, 0]  # calls, blocks read
    for module in modules:
        real = getattr(module, name)

        def wrapper(blocks, start, *args, real=real):
            calls[0] += 1
            calls[1] += len(blocks) - start
            return real(blocks, start, *args)

        monkeypatch.setattr(module, name, wrapper)
    return calls


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(sorted(SHAPES)), st.integers(50, 3000), st.booleans())
def test_the_description_and_template_values_are_read_a_bounded_number_of_times(
    shape, n, at_project_path
):
    with pytest.MonkeyPatch.context() as mp:
        description = counted(mp, "_description", extract, unlabelled)
        shapes = counted(mp, "_read_shapes", unlabelled)
        text = SHAPES[shape](n)
        parse_page(text.encode(), url=URL if at_project_path else None)
    assert description[0] <= 2, (shape, n, description)
    assert shapes[0] <= unlabelled._MAX_STARTS + 1, (shape, n, shapes)
