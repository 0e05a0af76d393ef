"""The one reader of whole numbers from outside text (#22): ASCII digits only, bounded, never
an exception, whatever the text (superscripts, other scripts' digits, signs, underscores)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from idf_etl.numerals import ascii_int

# Text that looks like a number to str.isdigit(), int() or float(), and is not one we take.
LOOKALIKES = st.sampled_from(
    ["\u00b200", "2\u00b9", "\u0663\u0660\u0660", "\uff12\uff10\uff10", "\u09e8", "1_000", "+5",
     "-5", "5.0", "1e3", "0x10", "\u2167", "\U0001d7ce", "2\u200b0", "", " ", "nan", "\u00bd"]
)  # fmt: skip
NUMBERISH = st.one_of(
    st.text(),
    st.text(alphabet="0123456789 \t\u00b2\u0663\uff10_+-.").filter(bool),
    LOOKALIKES,
    st.integers(0, 10**40).map(str),
)


@given(NUMBERISH, st.integers(1, 40))
@example("\u00b200", 3)
@example("9" * 100_000, 18)
def test_a_number_is_ascii_digits_within_the_bound_or_none(text, max_digits):
    value = ascii_int(text, max_digits)
    digits = text.strip(" \t")
    plain = digits.isascii() and digits.isdigit() and len(digits) <= max_digits
    assert (value is not None) == plain, (text, value)
    if plain:
        assert value == int(digits)


@pytest.mark.parametrize("text", ["\u00b200", "\u0663\u0660\u0660", "\uff12\uff10\uff10", "1_0"])
def test_lookalikes_that_python_takes_are_not_numbers(text):
    assert ascii_int(text) is None


def test_no_isdigit_then_int_left_on_outside_text():
    """The pattern this reader replaces: `x.isdigit()` guarding `int(x)`/`float(x)` on text.
    Kept out of the code that reads outside text (fetch, urls); parse's readers have their own
    property tests."""
    from pathlib import Path

    src = Path(__file__).parents[1] / "src" / "idf_etl"
    for path in [*sorted((src / "fetch").glob("*.py")), src / "urls.py"]:
        text = path.read_text()
        assert ".isdigit()" not in text and ".isnumeric()" not in text, path
