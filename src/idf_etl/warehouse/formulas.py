"""A text a spreadsheet would run as a formula, and the one guard every output we write uses.

    runs_as_formula("=HYPERLINK(...)")       # True
    guarded_sql('"title"')                    # the SQL the CSV writer (exports, sql --csv) uses

OWASP's CSV injection list (and ASVS 1.2.10): a cell starting with `=`, `+`, `-`, `@`,
a tab, a carriage return or a NUL. Also: any control character first (LibreOffice skips a
leading NUL and runs `\\0=1+1`); those characters after leading spaces or invisible
characters (Excel skips spaces; a no-break space, a zero-width space or a byte-order
mark is not seen either); and their full-width and small forms (`＝`, `﹦`), and the
minus sign `−`, which East Asian input methods type and some spreadsheets read as `=`,
`+` or `-`. Such a text is written behind an apostrophe in CSV (the mark spreadsheets
read as "this is text") and behind an invisible word joiner in report.html's tables.
Only texts are guarded: numbers, times and lists are never formulas.
"""

from __future__ import annotations

import unicodedata

# What a formula starts with: OWASP's four, their full-width and small forms, the minus sign.
FORMULA_CHARACTERS = "=+-@" + "＝＋－＠" + "﹦﹢﹣﹫" + "−"
# Characters a person does not see before the formula character: controls (tab, CR, LF,
# NUL...), formatting characters (zero-width space, BOM, soft hyphen), every kind of space.
INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zs", "Zl", "Zp")
# The apostrophe CSV cells get (spreadsheets show it, and run nothing).
CSV_MARK = "'"


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet could run `text` (a cell's whole text) as a formula."""
    if not text:
        return False
    if unicodedata.category(text[0]) == "Cc":  # a tab, CR, LF or NUL first: OWASP's rule
        return True
    for character in text:
        if unicodedata.category(character) not in INVISIBLE_CATEGORIES:
            return character in FORMULA_CHARACTERS
    return False


def _sql_pattern() -> str:
    """runs_as_formula as an RE2 pattern (DuckDB's regexp_matches), from the same facts."""
    invisible = "".join(f"\\p{{{category}}}" for category in INVISIBLE_CATEGORIES)
    starts = "".join("\\" + c if c in "-" else c for c in FORMULA_CHARACTERS)
    return f"^\\p{{Cc}}|^[{invisible}]*[{starts}]"


FORMULA_PATTERN = _sql_pattern()


def guarded_sql(name: str) -> str:
    """SQL for the text column `name` (a quoted identifier) with a formula behind CSV_MARK."""
    mark = CSV_MARK.replace("'", "''")  # an SQL literal
    return (
        f"CASE WHEN regexp_matches({name}, '{FORMULA_PATTERN}') "
        f"THEN concat('{mark}', {name}) ELSE {name} END"
    )
