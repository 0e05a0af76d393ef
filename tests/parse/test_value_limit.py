"""Every value is read whole up to VALUE_LIMIT characters, and past it not at all: its field
empty with a `value_too_long` problem, never cut. The limit keeps the warehouse's rows
narrow (a 4.4 MB description made the build climb to 2 GB), whichever field carries the
long text and whatever its characters weigh in UTF-8."""

from __future__ import annotations

import html

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.parse.extracted import VALUE_LIMIT
from idf_etl.parse.page import parse_page
from idf_etl.records import MESSAGE_LIMIT, ProjectRecord
from tests.helpers.drupal_pages import drupal_page, field_html

URL = "https://developmentfund.iom.int/project/labour-mobility-ghana"
NEWS = "https://developmentfund.iom.int/news/a-new-call-for-proposals"
# One, two, three and four bytes in UTF-8: a character limit, whatever the script.
LETTERS = ["a", "é", "ж", "中", "😀"]
COUNTRIES = ["Ghana", "Kenya", "Côte d'Ivoire", "Perú", "Bosnia and Herzegovina", "Viet Nam"]
# Lengths around the limit, and far past it (the raw store keeps pages up to 5 MB).
LENGTHS = st.one_of(
    st.integers(VALUE_LIMIT - 40, VALUE_LIMIT + 40),
    st.integers(VALUE_LIMIT // 2, 4 * VALUE_LIMIT),
    st.sampled_from([VALUE_LIMIT, VALUE_LIMIT + 1, 1_000_000]),
)


def prose(size: int, letter: str) -> str:
    """`size` characters of words of `letter`, with no space at either end (read as written)."""
    text = "".join(" " if i % 6 == 5 else letter for i in range(size))
    return text[:-1] + letter if text.endswith(" ") else text


def country_list(size: int) -> str:
    """Country names joined by commas, as close to `size` characters as whole names go."""
    names: list[str] = []
    length = -2
    while length + 2 + len(COUNTRIES[len(names) % len(COUNTRIES)]) <= size:
        names.append(COUNTRIES[len(names) % len(COUNTRIES)])
        length += 2 + len(names[-1])
    return ", ".join(names)


def fields(states: str = "Ghana, Kenya", others: str | None = None) -> list[str]:
    out = [
        field_html("Project ID", "GH.0001"),
        field_html("Project Status", "Active"),
        field_html("Benefiting Member States", html.escape(states)),
        field_html("IDF Region", "Africa"),
    ]
    if others is not None:
        out.append(field_html("Other Countries Benefiting at Time of Allocation", others))
    return out


def page_carrying(where: str, text: str) -> str:
    """A project page (or, for "news title", a news page) with `text` in one place."""
    if where == "title":
        return drupal_page(fields(), title=text)
    if where == "description":
        return drupal_page(fields(), body=html.escape(text))
    if where == "states":
        return drupal_page(fields(states=text))
    if where == "other_states":
        return drupal_page(fields(others=html.escape(text)))
    if where == "plain-text description":
        lines = ["Labour mobility in Ghana", "Project ID", "GH.0001", "Status", "Active"]
        return "\n".join([*lines, "IDF Region", "Africa", "", text])
    assert where == "news title"
    return (
        f"<html><head><title>{html.escape(text)}</title></head><body><main>"
        f"<h1>{html.escape(text)}</h1><p>The fund opens a new call for proposals.</p>"
        "</main></body></html>"
    )


FIELD = {
    "title": "title",
    "description": "description",
    "states": "states",
    "other_states": "other_states",
    "plain-text description": "description",
    "news title": "title",
}
NAMES = {"states": "state_names", "other_states": "other_state_names"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FIELD)), LENGTHS, st.sampled_from(LETTERS))
def test_a_value_is_whole_up_to_the_limit_and_empty_with_a_problem_past_it(where, size, letter):
    field = FIELD[where]
    text = country_list(size) if field in NAMES else prose(size, letter)
    record = parse_page(page_carrying(where, text), url=NEWS if where == "news title" else URL)
    assert record.kind == ("other" if where == "news title" else "project"), record
    too_long = [p for p in record.problems if p.code == "value_too_long"]
    if len(text) <= VALUE_LIMIT:
        assert too_long == []
        if field in NAMES:
            # Each name once (as written), however often the list repeats it.
            assert getattr(record, NAMES[field]) == list(dict.fromkeys(text.split(", ")))
            assert set(getattr(record, field)) <= {"GH", "KE", "CI", "PE", "BA", "VN"}
        else:
            assert getattr(record, field) == text
    else:
        assert [p.field for p in too_long] == [field]
        assert f"{len(text):,} characters" in too_long[0].message
        if field in NAMES:
            assert getattr(record, field) == [] and getattr(record, NAMES[field]) == []
        else:
            assert getattr(record, field) is None  # never a part of it
    # Whatever the page, no text it gives the warehouse is longer than the limit.
    assert all(len(value) <= VALUE_LIMIT for value in texts(record))
    assert all(len(p.message) <= MESSAGE_LIMIT for p in record.problems)
    if record.kind == "project":  # the rest of the page is read as ever
        assert record.project_id == "GH.0001" and record.status == "active"


def texts(record: object) -> list[str]:
    """Every text the record carries to a warehouse row (list items joined)."""
    out: list[str] = []
    for name in type(record).model_fields:  # type: ignore[attr-defined]
        value = getattr(record, name)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out.append(", ".join(value))
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(250, 3 * VALUE_LIMIT // 40))
def test_many_values_each_below_the_limit_are_each_read_whole(count, size):
    # Many medium paragraphs: each below the limit, together a description up to 3 times it.
    paragraph = prose(size, "é") + "."
    body = "</p><p>".join([paragraph] * count)
    record = parse_page(drupal_page(fields(), body=body), url=URL)
    assert isinstance(record, ProjectRecord)
    description = "\n".join([paragraph] * count)
    if len(description) <= VALUE_LIMIT:
        assert record.description == description
    else:
        assert record.description is None
        assert ("value_too_long", "description") in {(p.code, p.field) for p in record.problems}
    assert record.title == "Labour mobility in Ghana" and record.states == ["GH", "KE"]
