"""Numbers read from text that comes from outside: ASCII digits only, bounded.

    ascii_int(" 200 ")      -> 200
    ascii_int("\u00b200")   -> None   (str.isdigit() says yes; int() raises ValueError)
    ascii_int("\u0663")     -> None   (int() would read 3: another script's digit)
    duration_seconds("1h30m") -> 5400.0 (a setting's duration; None for a bare number)

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


# A duration with units, as people write them ('90s', '30m', '4h', '1d', '1h30m'), and
# as ISO 8601 writes them ('PT4H', 'P1DT2H'): `--set run_timeout=15s` was refused with
# "unable to parse string as a number" (adversary).
_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]+)")
_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_ISO = re.compile(r"P(?:([0-9.]+)D)?(?:T(?:([0-9.]+)H)?(?:([0-9.]+)M)?(?:([0-9.]+)S)?)?", re.I)


def duration_seconds(text: str) -> float | None:
    """'90s', '30 min', '4h', '1d', '1h30m', '1h 30m 5s', 'PT4H', 'P1DT2H' -> seconds; None for
    anything else, a bare number too (it is in the setting's own unit). ISO 8601's years,
    months and weeks are not read: their length in seconds is not one number."""
    text = text.strip()
    if not text or len(text) > 100:
        return None
    iso = _ISO.fullmatch(text)
    if iso is not None:
        if not any(iso.groups()) or text[-1] in "tT":  # 'P', 'PT', 'P1DT'
            return None
        try:
            days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
        except ValueError:  # '1.2.3'
            return None
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    total, pos = 0.0, 0
    while pos < len(text):
        part = _PART.match(text, pos)
        if part is None or (unit := _UNIT_SECONDS.get(part[2].lower())) is None:
            return None
        total += float(part[1]) * unit
        pos = part.end()
    return total
