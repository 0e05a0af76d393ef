"""What one page says, as written (`Extracted`), and what every reader of its block
stream asks of a block: is it a known label, which field a bare value's shape fits, is it
prose or a list of country names; and the description read below the fields.

Shared by the labelled readers (`extract.py`) and the unlabelled ones (`unlabelled.py`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from idf_etl.parse.blocks import Block
from idf_etl.parse.countries import is_country_line, mostly_name_words, split_countries
from idf_etl.parse.normalise import (
    parse_coverage,
    parse_region,
    parse_status,
    parse_year,
)
from idf_etl.parse.project_types import parse_project_type
from idf_etl.parse.vocabulary import (
    AMOUNT_SHAPE,
    DESCRIPTION_END,
    LABELS,
    PRIMA_ID,
    PROJECT_ID,
    fold,
    plain_id,
)

# Fields that hold one short value; "states" may run over several blocks.
_SHORT_LIMIT = {
    "start_year": 40,
    "end_year": 40,
    "year": 40,
    "status": 80,
    "coverage": 80,
    "idf_region": 80,
    "prima_id": 40,
    "project_id": 40,
    "budget_usd": 60,
    "project_type": 200,
    "states": 600,
    "other_states": 600,
}
_PROSE_END = re.compile(r"[.!?;:]\s*$|\.\s+\S")

VALUE_LIMIT = 16_384
"""Characters one value may have, whatever its field (the description, the title, a
label's value, a list of country names taken whole): one longer is left empty with a
`value_too_long` problem, never cut. The site's longest description is about 3,500
characters; this is over four times that. It bounds the widest row a page makes: DuckDB
holds 2,048 rows at once (a vector, a row group of the building warehouse, of a Parquet
export), so 2,048 rows of the widest value must fit the default warehouse_memory."""


@dataclass
class Extracted:
    """What one page says, as written."""

    title: str | None = None
    values: dict[str, str | None] = field(default_factory=dict)
    # country-list field -> its lines as written ("states", "other_states")
    countries: dict[str, list[str]] = field(default_factory=dict)
    description: str | None = None
    template: str | None = None  # "labelled" | "unlabelled" | None
    label_langs: Counter[str] = field(default_factory=Counter)
    unknown_labels: list[str] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)  # values no label or shape places
    # (field, text): a label's value longer than any value of that field we read; the
    # field is left empty with a problem, never filled with part of it.
    too_long: list[tuple[str, str]] = field(default_factory=list)
    listing: bool = False
    # (field, text): a value longer than VALUE_LIMIT, its field left empty.
    past_limit: list[tuple[str, str]] = field(default_factory=list)

    def bound(self) -> None:
        """Leave empty every value longer than VALUE_LIMIT, listing it in `past_limit`: a
        value is read whole or not at all (a 4 MB description made every row group of the
        warehouse as wide, and the build asked for 2 GB)."""
        for name in ("title", "description"):
            text = getattr(self, name)
            if text is not None and len(text) > VALUE_LIMIT:
                self.past_limit.append((name, text))
                setattr(self, name, None)
        for name, lines in list(self.countries.items()):
            text = "\n".join(lines)
            if len(text) > VALUE_LIMIT:  # the list whole: its names are one value
                self.past_limit.append((name, text))
                del self.countries[name]
                self.values[name] = None
        for name, value in self.values.items():
            if value is not None and len(value) > VALUE_LIMIT:
                self.past_limit.append((name, value))
                self.values[name] = None


def shape_fields(text: str) -> set[str]:
    """The fields a bare value can only belong to, by its shape or vocabulary
    ("TK.0035" -> project_id, "Achevé" -> status, "Global" -> coverage or region).
    Empty when the shape says nothing (a year, a title, free text)."""
    if len(text) > 200:
        return set()
    if PROJECT_ID.match(plain_id(text)):
        return {"project_id"}
    if PRIMA_ID.match(plain_id(text)):
        return {"prima_id"}
    found = {
        name
        for name, parse in (
            ("status", parse_status),
            ("coverage", parse_coverage),
            ("idf_region", parse_region),
            ("project_type", parse_project_type),
        )
        if parse(text) is not None
    }
    if not found and AMOUNT_SHAPE.match(text) and parse_year(text) is None:
        found.add("budget_usd")
    return found


def _place_unlabelled(text: str, out: Extracted) -> bool:
    """Put a value whose label is missing where its shape says, if that field is still empty."""
    shaped = shape_fields(text) - {name for name, v in out.values.items() if v is not None}
    if len(shaped) != 1:
        return False
    out.values[shaped.pop()] = text
    return True


def label_key(block: Block) -> str | None:
    """The folded label a block spells, or None when it is not a known label."""
    if block.role in ("value", "separator") or len(block.text) > 120:
        return None
    key = fold(block.text.rstrip(": "))
    return key if key in LABELS else None


def _country_list(text: str) -> bool:
    """A list of country names of any length, a few of them unknown ("Armenia, Atlantis"):
    read whole, the unknown ones reported, never dropped for its length. Prose that names
    countries has a sentence's end, or more words that are no name than names."""
    if is_country_line(text):
        return True
    if _PROSE_END.search(text) or (len(text) > 400 and not mostly_name_words(text)):
        return False
    parsed = split_countries(text)
    return len(parsed.codes) >= 2 and len(parsed.unmatched) < len(parsed.codes)


def _prose(block: Block) -> bool:
    return len(block.text) > 200 or bool(_PROSE_END.search(block.text))


def _description(blocks: list[Block], start: int, title: str | None) -> str | None:
    parts: list[str] = []
    for block in blocks[start:]:
        if block.role == "separator" or not block.text:
            continue
        if len(block.text) < 40 and fold(block.text) in DESCRIPTION_END:
            break
        if block.text == title and not parts:
            continue
        parts.append(block.text)
    return "\n".join(parts) or None
