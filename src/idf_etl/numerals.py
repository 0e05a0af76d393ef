"""Whole numbers read from text that comes from outside: ASCII digits only, bounded.

    ascii_int(" 200 ")      -> 200
    ascii_int("\u00b200")   -> None   (str.isdigit() says yes; int() raises ValueError)
    ascii_int("\u0663")     -> None   (int() would read 3: another script's digit)

Headers (Content-Length, Retry-After), a web archive's CDX rows, a listing's
?page=N: the `isdigit()`-then-`int()` pattern raised on superscripts and read
other scripts' digits as numbers. Here a number is what a server means by one:
1 to `max_digits` ASCII digits, spaces or tabs around them; anything else None.
The bound keeps int() of a 100,000-digit "number" from costing quadratic time.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[ \t]*([0-9]+)[ \t]*")


def ascii_int(text: str | None, max_digits: int = 18) -> int | None:
    """The whole number `text` says in ASCII digits, else None (never an exception)."""
    if text is None or len(text) > max_digits + 64:
        return None
    match = _DIGITS.fullmatch(text)
    if match is None or len(match[1]) > max_digits:
        return None
    return int(match[1])
