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
from idf_etl.parse.countries import (
    is_country_line,
    is_remark,
    mostly_name_words,
    split_countries,
)
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

TEXT_LIMIT = 16_384
"""Bytes of text (UTF-8) one page's values may hold together: the title, the description,
every label's value, the country lists. Past it, the page's longest values are left empty,
longest first, until the rest fits, each with a `value_too_long` problem: read whole or
not at all, never cut. A page's values are one warehouse row, and DuckDB holds 2,048 rows
at once (a vector, a row group, a Parquet export's row group), so the widest row sets the
memory a build needs: 4.4 MB descriptions took it to 512MB (50 pages) and 2GB (200).
The site's longest description is about 3,500 characters, under a quarter of this. Rows
this wide build within the default 64MB; exporting 2,048 of them (a Parquet row group, a
CSV writer's buffer; project_changes holds a description twice) takes 128-256MB, which
the run gives the export alone (pipeline/memory.export_within_memory), whatever the
store's size."""


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
    # (field, text): values left empty for the page's TEXT_LIMIT, longest first.
    past_limit: list[tuple[str, str]] = field(default_factory=list)

    def bound(self) -> None:
        """Leave empty the page's longest values until its text fits TEXT_LIMIT, listing
        each in `past_limit`. A country list is one value (its lines together)."""
        texts = {"title": self.title, "description": self.description}
        texts |= {name: v for name, v in self.values.items() if name not in self.countries}
        texts |= {name: "\n".join(lines) for name, lines in self.countries.items()}
        sizes = {n: len(t.encode("utf-8", "replace")) for n, t in texts.items() if t is not None}
        total = sum(sizes.values())
        for name in sorted(sizes, key=sizes.__getitem__, reverse=True):  # ties: page order
            if total <= TEXT_LIMIT:
                break
            total -= sizes[name]
            self.past_limit.append((name, texts[name]))  # type: ignore[arg-type]
            if name in ("title", "description"):
                setattr(self, name, None)
            else:
                self.countries.pop(name, None)
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
    if len(text) <= 400 or mostly_name_words(text):
        # Names whose every leftover is a remark in brackets: a list, however long, whatever
        # its punctuation ("St. Helena" reads as a sentence's end to _PROSE_END).
        read = split_countries(text)
        if read.codes and all(is_remark(u) for u in read.unmatched):
            return True
    if _PROSE_END.search(text) or (len(text) > 400 and not mostly_name_words(text)):
        return False
    parsed = split_countries(text)
    # A remark in brackets after a name ("Kenya (Nairobi, Mombasa)") is no prose: a list
    # whose every name had one was taken for prose, every name lost.
    prose = [u for u in parsed.unmatched if not is_remark(u)]
    return len(parsed.codes) >= 2 and len(prose) < len(parsed.codes)


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
