"""A page's values are read whole while their text fits TEXT_LIMIT (bytes of UTF-8 together),
and past it its longest values are not read at all: each field empty with a
`value_too_long` problem, never cut. The limit bounds the warehouse's widest row (4.4 MB
descriptions made the build climb to 2GB), whichever field carries the long text and
whatever its characters weigh in UTF-8."""

from __future__ import annotations

import html

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.parse.extracted import TEXT_LIMIT
from idf_etl.parse.page import parse_page
from idf_etl.records import MESSAGE_LIMIT, ProjectRecord
from tests.helpers.drupal_pages import drupal_page, field_html

URL = "https://developmentfund.iom.int/project/labour-mobility-ghana"
NEWS = "https://developmentfund.iom.int/news/a-new-call-for-proposals"
# One, two, three and four bytes in UTF-8: the limit is of bytes, whatever the script.
LETTERS = ["a", "é", "ж", "中", "😀"]
COUNTRIES = ["Ghana", "Kenya", "Côte d'Ivoire", "Perú", "Bosnia and Herzegovina", "Viet Nam"]
# Bytes around the limit, and far past it (the raw store keeps pages up to 5 MB).
SIZES = st.one_of(
    st.integers(TEXT_LIMIT - 600, TEXT_LIMIT + 40),
    st.integers(TEXT_LIMIT // 2, 4 * TEXT_LIMIT),
    st.sampled_from([TEXT_LIMIT, TEXT_LIMIT + 1, 1_000_000]),
)
# The text a page carries besides the long value (title, ids, labels, states): less than this.
REST = 400


def size(text: str) -> int:
    return len(text.encode())


def prose(nbytes: int, letter: str) -> str:
    """About `nbytes` bytes of words of `letter`, no space at either end (read as written)."""
    count = max(1, nbytes // size(letter))
    text = "".join(" " if i % 6 == 5 else letter for i in range(count))
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
@given(st.sampled_from(sorted(FIELD)), SIZES, st.sampled_from(LETTERS))
def test_a_value_is_whole_while_the_page_fits_and_empty_with_a_problem_past_it(
    where, nbytes, letter
):
    field = FIELD[where]
    text = country_list(nbytes) if field in NAMES else prose(nbytes, letter)
    record = parse_page(page_carrying(where, text), url=NEWS if where == "news title" else URL)
    assert record.kind == ("other" if where == "news title" else "project"), record
    too_long = [p for p in record.problems if p.code == "value_too_long"]
    if size(text) > TEXT_LIMIT - REST and size(text) <= TEXT_LIMIT and not too_long:
        # Near the limit the page's other text decides; whole, then.
        assert _whole(record, field, text)
    elif size(text) <= TEXT_LIMIT - REST:
        assert too_long == []
        if field in NAMES:
            # Each name once (as written), however often the list repeats it.
            assert getattr(record, NAMES[field]) == list(dict.fromkeys(text.split(", ")))
            assert set(getattr(record, field)) <= {"GH", "KE", "CI", "PE", "BA", "VN"}
        else:
            assert getattr(record, field) == text
    else:
        assert [p.field for p in too_long] == [field]
        assert f"{len(text):,} characters ({size(text):,} bytes)" in too_long[0].message
        if field in NAMES:
            assert getattr(record, field) == [] and getattr(record, NAMES[field]) == []
        else:
            assert getattr(record, field) is None  # never a part of it
    # Whatever the page, the text it gives the warehouse fits the limit.
    assert sum(size(value) for value in texts(record)) <= TEXT_LIMIT + REST
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


def _whole(record: object, field: str, text: str) -> bool:
    if field in NAMES:
        return getattr(record, NAMES[field]) == list(dict.fromkeys(text.split(", ")))
    return getattr(record, field) == text


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(250, 3 * TEXT_LIMIT // 40))
def test_many_values_each_below_the_limit_are_each_read_whole(count, nbytes):
    # Many medium paragraphs: each below the limit, together a description up to 3 times it.
    paragraph = prose(nbytes, "é") + "."
    body = "</p><p>".join([paragraph] * count)
    record = parse_page(drupal_page(fields(), body=body), url=URL)
    assert isinstance(record, ProjectRecord)
    description = "\n".join([paragraph] * count)
    if size(description) <= TEXT_LIMIT - REST:
        assert record.description == description
    elif size(description) > TEXT_LIMIT:
        assert record.description is None
        assert ("value_too_long", "description") in {(p.code, p.field) for p in record.problems}
    assert record.title == "Labour mobility in Ghana" and record.states == ["GH", "KE"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, TEXT_LIMIT * 3 // 4),
    st.integers(300, TEXT_LIMIT * 3 // 4),  # prose: a description, not a stray value
    st.integers(0, TEXT_LIMIT * 3 // 4),
    st.sampled_from(LETTERS),
    st.sampled_from(LETTERS),
)
def test_past_the_limit_the_longest_values_go_first_and_the_rest_is_whole(
    title_bytes, description_bytes, states_bytes, title_letter, description_letter
):
    # Several long values, each below the limit, together past it.
    title = prose(title_bytes, title_letter) if title_bytes else "Labour mobility in Ghana"
    description = prose(description_bytes, description_letter) + "."
    states = country_list(states_bytes) if states_bytes >= 5 else "Ghana, Kenya"
    record = parse_page(drupal_page(fields(states=states), title=title, body=description), url=URL)
    assert isinstance(record, ProjectRecord)
    given_ = {"title": title, "description": description, "states": states}
    kept = {n: t for n, t in given_.items() if _whole(record, n, t)}
    dropped = {p.field for p in record.problems if p.code == "value_too_long"}
    # Each value whole, or empty with its problem: never a part of it.
    assert set(kept) | dropped == set(given_) and not set(kept) & dropped, (kept, dropped)
    for name in dropped:
        assert (getattr(record, name) in (None, [])) and (
            name != "states" or not record.state_names
        )
    # The longest went first, and only as many as the limit needs.
    assert all(size(given_[d]) >= size(given_[k]) for d in dropped for k in kept)
    assert sum(size(t) for t in kept.values()) <= TEXT_LIMIT
    if sum(size(t) for t in given_.values()) <= TEXT_LIMIT - REST:
        assert dropped == set()
    assert record.project_id == "GH.0001" and record.status == "active"
