"""Pure functions that turn a value as written into its canonical form.

Each returns the canonical value or None; none of them guesses. Callers record
a Problem when a written value maps to None.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from idf_etl.parse.vocabulary import (
    COVERAGE,
    REGIONS,
    STATUS,
    YEAR,
    fold,
    plain_digits,
)


def parse_status(text: str) -> str | None:
    """'Achevé' -> 'completed'; unknown words -> None."""
    return STATUS.get(fold(text))


def parse_coverage(text: str) -> str | None:
    """'Multi-Regional' -> 'multi-regional'; unknown words -> None."""
    return COVERAGE.get(fold(text))


def parse_region(text: str) -> str | None:
    """'Amérique latine et Caraïbes' -> 'Latin America and the Caribbean'; unknown -> None."""
    return REGIONS.get(fold(text))


# "2019/20", "2019-20": two years, the second written short; never a date ("2019-03" is March).
_SHORT_SPAN = re.compile(r"(?<!\d)(19[89]\d|20\d\d)\s*[-/–—]\s*(\d\d)(?![\d/.-])")


def parse_year(text: str) -> int | None:
    """The single year in a date-ish value ('2023', '15/03/2023', 'mars 2023'); else None
    (no year, or two: '2019-2020', '2019/20'). Any script's digits read as a person reads them."""
    text = plain_digits(text)
    for match in _SHORT_SPAN.finditer(text):
        if int(match[2]) > int(match[1]) % 100:
            return None
    years = set(YEAR.findall(text))
    return int(years.pop()) if len(years) == 1 else None


_CURRENCY = re.compile(
    r"^\s*(?:US\$|USD|U\.S\.\$|\$)\s*|\s*(?:US\$|USD|\$|dollars?|dólares)\s*$", re.IGNORECASE
)
_MULTIPLIER = re.compile(r"\s*(million|millions|millones|millón|mio|m)\.?\s*$", re.IGNORECASE)
# Arabic script's own thousands separator and decimal mark ("۱۵۰٬۰۰۰") are read as , and .
_GROUP_SPACES = str.maketrans(
    {"\u00a0": " ", "\u202f": " ", "\u2009": " ", "'": " ", "\u066c": ",", "\u066b": "."}
)
_NUMBER = re.compile(r"^\d[\d ,.]*$", re.ASCII)
# Thousands groups: never led by a 0 ("0.001" is no thousand, "0,500" no five hundred).
_GROUPED = re.compile(r"^[1-9]\d{0,2}(?:[ ,.]\d{3})+$", re.ASCII)
# More whole digits than the warehouse's DECIMAL(18,2) holds: no amount we can keep.
_MAX_DIGITS = 16


def parse_budget(text: str) -> Decimal | None:
    """An amount of US dollars as written on the site -> Decimal, or None when ambiguous.

    '400000.00', '150,000', '1 234 567,50', '1.234.567,50', 'USD 1.2 million'.
    A single separator followed by exactly three digits is a thousands
    separator ('150,000'); with one or two digits it is the decimal mark.
    Anything else ('12,34,567', '1.2.3', two amounts) gives None, never a
    different number.
    """
    if not text.isascii():  # full-width "１５０，０００" is "150,000" to a reader
        text = unicodedata.normalize("NFKC", text)
    value = plain_digits(text).translate(_GROUP_SPACES).strip()
    value = _CURRENCY.sub("", value).strip()
    multiplier = Decimal(1)
    if match := _MULTIPLIER.search(value):
        multiplier = Decimal(1_000_000)
        value = value[: match.start()].strip()
    value = _CURRENCY.sub("", value).strip()
    value = re.sub(r"\s+", " ", value)
    if not _NUMBER.match(value) or value.endswith((",", ".", " ")):
        return None
    number = _plain_number(value)
    if number is None or len(number.partition(".")[0].lstrip("0")) > _MAX_DIGITS:
        return None
    try:
        amount = Decimal(number) * multiplier
    except (ArithmeticError, ValueError):  # decimal.Overflow as well as InvalidOperation
        return None
    if amount.as_tuple().exponent < -2 or amount >= Decimal("1e16"):  # type: ignore[operator]
        return None
    return amount.quantize(Decimal("0.01"))


def _plain_number(value: str) -> str | None:
    """'1 234 567,50' -> '1234567.50'; None when the grouping does not hold together."""
    marks = [c for c in value if c in ",."]
    decimal_mark: str | None = None
    if marks:
        last = max(value.rfind(","), value.rfind("."))
        tail = value[last + 1 :]
        distinct = set(marks)
        if len(distinct) == 2:
            decimal_mark = value[last]  # "1.234,50" / "1,234.50": the last mark is decimal
        elif len(marks) == 1 and len(tail) in (1, 2):
            decimal_mark = value[last]  # "1234,5" / "400000.00"
        elif len(marks) == 1 and len(tail) != 3:
            return None
    if decimal_mark is not None:
        whole, _, fraction = value.rpartition(decimal_mark)
        if not fraction.isdigit() or len(fraction) > 2:
            return None
    else:
        whole, fraction = value, ""
    separators = {c for c in whole if c in " ,."}
    if separators and (len(separators) > 1 or not _GROUPED.match(whole)):
        return None
    digits = re.sub(r"[ ,.]", "", whole)
    if not (digits.isascii() and digits.isdigit()):
        return None
    return f"{digits}.{fraction}" if fraction else digits
