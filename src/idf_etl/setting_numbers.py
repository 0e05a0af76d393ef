"""A number setting read from text (--set, IDF_ETL_*, a string in the pipeline file), and
what it wants when the text is not one.

    read_number("run_timeout", "4h", whole=False, default=14400.0)     -> 14400.0
    read_number("revalidate_days", "12h", whole=False, default=7.0)   -> 0.5
    read_number("concurrency", "2.5", whole=True, default=2)          -> ValueError:
        "is not a whole number: give one like 2 (its default)"

Pydantic's own "unable to parse string as a number" said neither the unit nor a form
(`--set run_timeout=15s`, adversary). Its bounds (gt, le, finite) still apply after.
"""

from __future__ import annotations

from contextlib import suppress

from idf_etl.numerals import duration_seconds

# Settings that are durations: their unit in seconds. A value with a unit ('90s', '4h', '1d',
# '1h30m', ISO 8601's 'PT4H') is read in it; a bare number is in the setting's own unit.
DURATIONS = {
    **dict.fromkeys(("connect_timeout", "read_timeout", "request_timeout", "run_timeout"), 1.0),
    **dict.fromkeys(("backoff_base", "backoff_max"), 1.0),
    "revalidate_days": 86400.0,
}
# The annotations of the settings read here.
NUMBER_TYPES = (int, float, int | None, float | None)


def read_number(name: str, text: str, whole: bool, default: object) -> int | float:
    """The number `text` says for setting `name` (a duration in the setting's unit), else
    ValueError saying what the setting wants. Infinite and NaN are returned, for the
    setting's own check ("should be a finite number") to refuse."""
    if not text.isascii():  # int() and float() read other scripts' digits: '٣' as 3
        raise ValueError(number_wanted(name, whole, default))
    if name in DURATIONS and (seconds := duration_seconds(text)) is not None:
        return seconds / DURATIONS[name]
    with suppress(ValueError):
        return int(text) if whole else float(text)  # ' 15 ', '1_000', '1e3'
    if whole:
        with suppress(ValueError):
            number = float(text)
            if number.is_integer():  # '3.0'
                return int(number)
    raise ValueError(number_wanted(name, whole, default))


def number_wanted(name: str, whole: bool, default: object) -> str:
    """What a number setting wants: 'is not a duration: give seconds (14400 is its ...'."""
    if name in DURATIONS:
        unit = "seconds" if DURATIONS[name] == 1 else "days"
        return (
            f"is not a duration: give {unit} ({default:g} is its default) or a number with "
            "a unit (90s, 30m, 4h, 1d, 1h30m; ISO 8601's PT4H)"
        )
    kind = "a whole number" if whole else "a number"
    if default is None:
        return f"is not {kind}: give one like 100"
    return f"is not {kind}: give one like {default} (its default)"
