"""A NUL byte, or any control byte, in a page's text no longer drops the page (#22, class 9):
binary is decided by the WHATWG MIME Sniffing rule browsers use, and control bytes are
removed from text, with a problem saying how many."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl import ParseError, parse_page
from idf_etl.parse.decoding import BINARY_DATA_BYTES, binary_kind

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
FIXTURES = sorted(p.name for p in PAGES.glob("*.html"))


def record(data: bytes) -> dict:
    out = parse_page(data, source="page.html").model_dump(mode="json")
    out["problems"] = [p for p in out["problems"] if "control byte" not in p["message"]]
    return out


def test_nul_in_the_title_keeps_the_page():
    """The issue's case: the page was dropped as 'input looks binary (NUL bytes)'."""
    page = (PAGES / "c_en_devfund.html").read_bytes()
    at = page.index(b"<title>") + len(b"<title>") + 3
    parsed = parse_page(page[:at] + b"\x00" + page[at:])
    assert parsed.model_dump() | {"problems": []} == parse_page(page).model_dump() | {
        "problems": []
    }
    assert [p.message for p in parsed.problems if p.code == "invalid_bytes"] == [
        "1 control byte(s) (NUL and the like) removed: they are not text"
    ]


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    name=st.sampled_from(FIXTURES),
    inserts=st.lists(
        st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=3).map(
            lambda b: bytes(BINARY_DATA_BYTES[x % len(BINARY_DATA_BYTES)] for x in b)
        )),
        min_size=1, max_size=6,
    ),
)  # fmt: skip
def test_control_bytes_anywhere_after_the_first_tag_change_nothing_but_a_problem(name, inserts):
    page = (PAGES / name).read_bytes()
    if binary_kind(page) is not None or page.startswith(b"\xef\xbb\xbf"):
        return  # not a page this property is about
    start = page.index(b">") + 1  # the sniffer reads the markup at the start
    dirty = page
    for where, junk in inserts:
        at = start + int(where * (len(dirty) - start))
        dirty = dirty[:at] + junk + dirty[at:]
    try:
        clean = record(page)
    except ParseError:
        with pytest.raises(ParseError):
            record(dirty)
        return
    assert record(dirty) == clean
    problems = parse_page(dirty).problems
    assert any("control byte" in p.message for p in problems)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n1 0 obj", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
        (b"PK\x03\x04\x14\x00", "a ZIP archive"),
        (b"\x1f\x8b\x08\x00\x00", "a gzip archive"),
        (b"GIF89a\x01\x00", "a GIF image"),
        (b"Project title\x00\x01 budget", "NUL bytes"),
        (b"\x01\x02plain", "control bytes"),
        (b"  <!DOCTYPE html><title>a\x00b</title>", None),
        (b"<html><p>\x00\x00\x00</p>", None),
        (b"<!-- x -->\x00<p>", None),
        (b"\xff\xfeh\x00i\x00", None),  # UTF-16 with its byte-order mark
        (b"Project title\n\tBudget: 1\r\n", None),
        (b"\x1b$B...", None),  # ISO-2022-JP begins with ESC
    ],
)
def test_binary_is_decided_as_browsers_sniff(data, kind):
    assert binary_kind(data) == kind


def test_binary_input_is_still_refused_with_what_it_is():
    with pytest.raises(ParseError, match=r"input looks binary \(a PDF document\)"):
        parse_page(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"<html>" * 10)
