"""Read project fields out of a block stream: labelled pairs where there are labels,
value shapes where there are none (template C), then the title and description.

Raw values only: turning them into canonical values is `normalise`'s job.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from idf_etl.parse.blocks import Block, Page
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
    LABEL_LANG,
    LABELS,
    PRIMA_ID,
    PROJECT_ID,
    PROJECT_ID_LOOSE,
    fold,
    plain_digits,
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
# Fields that hold a list of country names, which may run over several blocks.
COUNTRY_FIELDS = ("states", "other_states")
# An id of a shape we do not know yet ("odd_id"): one token with letters and digits.
# Any script's letters: under an id's label, "СЕ.0035" (Cyrillic) is that id, refused by
# its reader with a problem naming the field, not a value without a label.
# One token with a digit and a letter, whatever else it carries (a combining mark, a
# variation selector): the id's reader says what is wrong with it.
_ID_LIKE = re.compile(r"^(?=.*\d)(?=.*[^\W\d_])\S{3,24}$")
_ID_TOKEN = re.compile(r"^(?=.*\d)(?=.*[^\W\d_])\S{25,}$")  # id-like, too long
_PROSE_END = re.compile(r"[.!?;:]\s*$|\.\s+\S")
# A label repeated this often means a listing of several projects, not one project.
_LISTING_REPEATS = 3


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


def extract(page: Page, project_path: bool = False) -> Extracted:
    """Everything the page says about a project, as written. `project_path`: the page is
    at a project page's place on the site, so a title and one value by shape will do."""
    blocks = page.blocks
    labelled = [i for i, b in enumerate(blocks) if label_key(b) is not None]
    keys = Counter(label_key(blocks[i]) for i in labelled)
    if len(keys) >= 3:
        result = _read_labelled(page, labelled, keys)
        # The same label over and over: a listing of projects, not a project page.
        result.listing = max(keys.values()) >= _LISTING_REPEATS
        return result
    return (
        _read_unlabelled(page)
        or _read_label_less(page, project_path)
        or Extracted(title=_first_title(page))
    )


# -- labelled pages (templates A and B, and most HTML) ---------------------------


def _read_labelled(page: Page, labelled: list[int], counts: Counter[str | None]) -> Extracted:
    """Label/value pairs; `counts` says how often each label occurs (Spanish prints one twice)."""
    blocks = page.blocks
    out = Extracted(template="labelled")
    seen: Counter[str] = Counter()
    consumed: set[int] = set(labelled)
    end = labelled[0]
    for pos in labelled:
        label = blocks[pos]
        key = label_key(label)
        assert key is not None
        if key in LABEL_LANG:
            out.label_langs[LABEL_LANG[key]] += 1
        candidates = LABELS[key]
        values, nxt, too_long = _values_after(blocks, pos, candidates)
        consumed.update(range(pos + 1, nxt))
        end = max(end, nxt)
        name = _choose_field(candidates, values, seen[key], counts[key], out.values)
        seen[key] += 1
        if name is None:
            continue
        if too_long is not None and name not in out.values:
            out.too_long.append((name, too_long))
            consumed.add(nxt)
        if name in COUNTRY_FIELDS:
            out.countries.setdefault(name, []).extend(values)
            out.values.setdefault(name, " ".join(values) or None)
        elif name not in out.values or out.values[name] is None:
            out.values[name] = values[0] if values else None
    # Markup-labelled fields after the last known one are labels we do not know,
    # or values whose label is hidden; so are values just before the first label.
    while end < len(blocks) and blocks[end].role in ("label", "value") and not _prose(blocks[end]):
        end += 1
    start = labelled[0]
    while start > 0 and blocks[start - 1].role == "value":
        start -= 1
    # Text left between fields is a value without its label, or a label we do not know.
    for i in range(start, end):
        block = blocks[i]
        if i in consumed or block.role == "separator" or not block.text:
            continue
        if _place_unlabelled(block.text, out):
            continue
        if block.role == "value":
            out.unlabelled.append(block.text)
        else:
            out.unknown_labels.append(block.text)
    out.title = _title_before(page, labelled[0])
    out.description = _description(blocks, end, out.title) or _description_between(
        blocks, labelled[0], out.title
    )
    return out


def _values_after(
    blocks: list[Block], pos: int, candidates: tuple[str, ...]
) -> tuple[list[str], int, str | None]:
    """The value blocks that belong to the label at `pos`, the index after them, and the
    text of a first value refused only for its length (None when there is none)."""
    label = blocks[pos]
    multi = any(c in COUNTRY_FIELDS for c in candidates)
    values: list[str] = []
    i = pos + 1
    while i < len(blocks):
        block = blocks[i]
        if block.role == "separator":
            # "-" between items: a value never continues past it.
            break
        if label_key(block) is not None:
            break
        if not _plausible(block, label, candidates, values):
            if not values and _plausible(block, label, candidates, values, any_length=True):
                return values, i, block.text
            break
        if (
            (shaped := shape_fields(block.text))
            and not shaped & set(candidates)
            and not _year_number(block.text, candidates)
        ):
            # An empty field followed by one whose label is hidden: "Prima ID" then
            # "TK.0035" is a project id without its label, never a PRIMA id.
            break
        values.append(block.text)
        i += 1
        if not multi:
            break
    return values, i, None


_YEAR_FIELDS = frozenset({"start_year", "end_year", "year"})
_BARE_NUMBER = re.compile(r"^-?\d{1,12}$", re.ASCII)


def _year_number(text: str, candidates: tuple[str, ...]) -> bool:
    """A bare number (no separator, no currency) under a year's label is that year's value,
    a year or not ("0", "99999"): a person reads it so, and its problem is the year's. A
    budget whose label is hidden is written as one ("150,000", "400000.00")."""
    return bool(_YEAR_FIELDS & set(candidates)) and bool(
        _BARE_NUMBER.match(plain_digits(text).strip())
    )


def _plausible(
    block: Block,
    label: Block,
    candidates: tuple[str, ...],
    so_far: list[str],
    any_length: bool = False,
) -> bool:
    """Could this block be the value of that label? (The trap: the description.)
    `any_length`: would it be, were it short enough (then it is read as too long)."""
    id_shape = _ID_TOKEN if any_length else _ID_LIKE
    if set(candidates) <= {"project_id", "prima_id"}:
        # Ids are one token of letters and digits ("CE 0148" a current id loosely
        # written); anything else is another field's value.
        text = plain_id(block.text)
        return bool(id_shape.match(text) or PROJECT_ID_LOOSE.match(text))
    if block.role == "value":
        # The description, its label hidden, right after the states: not a state.
        return not (
            any(c in COUNTRY_FIELDS for c in candidates)
            and _prose(block)
            and not _country_list(block.text)
        )
    if block.role in ("label", "heading") and label.role == "label":
        return False
    if label.indent and block.indent < label.indent:
        # "  • Label" with its value indented below; an unindented line is the description.
        return False
    if any(c in COUNTRY_FIELDS for c in candidates):
        if so_far:
            return is_country_line(block.text)
        if _country_list(block.text):
            return True
        return (any_length or len(block.text) <= 200) and not _PROSE_END.search(block.text)
    limit = max(_SHORT_LIMIT.get(c, 200) for c in candidates)
    fits = any_length or len(block.text) <= limit
    return fits and not _PROSE_END.search(block.text.rstrip(")"))


def _choose_field(
    candidates: tuple[str, ...],
    values: list[str],
    occurrence: int,
    occurrences: int,
    filled: dict[str, str | None],
) -> str | None:
    if len(candidates) == 1:
        return candidates[0]
    # Spanish "Tipo de proyecto" twice: the first holds the status, the second the type.
    value = values[0] if values else None
    if value is not None and parse_status(value) is not None and "status" in candidates:
        return "status"
    if occurrences > 1:
        return candidates[min(occurrence, len(candidates) - 1)]
    for name in candidates:
        if name != "status" and name not in filled:
            return name
    return None


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


def _title_before(page: Page, first_label: int) -> str | None:
    if page.title_hint:
        return page.title_hint
    for block in reversed(page.blocks[:first_label]):
        if block.role != "separator" and block.text:
            return block.text
    return None


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


def _description_between(blocks: list[Block], first_label: int, title: str | None) -> str | None:
    """Some layouts put the description above the fields: take the prose there."""
    prose = [b.text for b in blocks[:first_label] if b.text != title and len(b.text) > 200]
    return "\n".join(prose) or None


# -- template C: values without labels -------------------------------------------


# Places template C's values may start that are tried, at most (a page has a handful).
_MAX_STARTS = 32
# Lines of country names template C's states may take: more than there are countries.
_MAX_STATE_LINES = 250


def _read_unlabelled(page: Page) -> Extracted | None:
    """Template C: the title (printed twice), then values in a known order, no labels."""
    blocks = page.blocks
    starts: list[int] = []
    if page.title_hint:
        starts += [i + 1 for i, b in enumerate(blocks) if b.text == page.title_hint]
    starts += [
        i + 2
        for i in range(len(blocks) - 1)
        if blocks[i].text and blocks[i].text == blocks[i + 1].text
    ]
    # Older pages print the title once: it is the line just above the first value.
    starts += [
        i + 1
        for i in range(len(blocks) - 1)
        if blocks[i].text
        and (parse_region(blocks[i + 1].text) or PROJECT_ID.match(plain_id(blocks[i + 1].text)))
    ]
    # Where each run of equal lines ends: a page of one line repeated is a start at every
    # line, and skipping the repeats from each one took quadratic time.
    run_end = list(range(1, len(blocks) + 1))
    for i in range(len(blocks) - 2, -1, -1):
        if blocks[i].text == blocks[i + 1].text:
            run_end[i] = run_end[i + 1]
    tried: set[int] = set()
    for start in sorted(set(starts)):
        # Skip further repeats of the title.
        title = blocks[start - 1].text
        if start < len(blocks) and blocks[start].text == title:
            start = run_end[start - 1]
        if start in tried:
            continue
        tried.add(start)
        if len(tried) > _MAX_STARTS:
            # A real page has a handful; thousands are a page of repeated lines.
            break
        result = _read_shapes(blocks, start)
        if result is not None:
            result.title = page.title_hint or title
            return result
    return None


def _read_shapes(blocks: list[Block], start: int) -> Extracted | None:
    out = Extracted(template="unlabelled")
    values = out.values
    i = start
    while i < len(blocks):
        text = blocks[i].text
        if blocks[i].role == "separator" or not text:
            i += 1
            continue
        if "idf_region" not in values and not values and parse_region(text):
            values["idf_region"] = text
        elif "project_id" not in values and PROJECT_ID.match(plain_id(text)):
            values["project_id"] = text
        elif "prima_id" not in values and PRIMA_ID.match(plain_id(text)):
            values["prima_id"] = text
        elif "budget_usd" not in values and AMOUNT_SHAPE.match(text) and parse_year(text) is None:
            values["budget_usd"] = text
        elif "coverage" not in values and parse_coverage(text):
            values["coverage"] = text
        elif "status" not in values and parse_status(text):
            values["status"] = text
            i += 1
            break
        elif "project_type" not in values and "coverage" not in values and is_country_line(text):
            out.countries.setdefault("states", []).append(text)
            if len(out.countries["states"]) > _MAX_STATE_LINES:
                return None  # more lines than countries: a list, not template C's values
        elif (
            "project_type" not in values
            and "coverage" not in values
            and values
            and len(text) <= _SHORT_LIMIT["project_type"]
            and not _PROSE_END.search(text)
        ):
            values["project_type"] = text
        else:
            break
        i += 1
    found = set(values) | set(out.countries)
    if len(found) < 3 or not ({"idf_region", "project_id", "prima_id"} & found):
        return None
    if "states" in out.countries:
        values["states"] = " ".join(out.countries["states"])
    out.description = _description(blocks, i, None)
    return out


# -- the label-less layout: a title, a line or two of bare values, the description --

# Value lines read between the title and the description.
_LABEL_LESS_LINES = 4


def _read_label_less(page: Page, project_path: bool) -> Extracted | None:
    """iom.int's label-less layout: the title, then one or two lines with no label (a
    project type, a line of country names), then the description. At a project page's
    place one value recognised by shape or vocabulary will do; elsewhere (a file with no
    URL) only the layout itself does: a text rendering's indented lines, each recognised."""
    blocks = page.blocks
    for title_at in _title_positions(page):
        title = (page.title_hint or blocks[title_at].text) if title_at >= 0 else page.title_hint
        out = Extracted(template="unlabelled", title=title)
        lines, end = _value_lines(page, title_at + 1)
        placed = 0
        for text in lines:
            if _place_unlabelled(text, out):
                placed += 1
            elif "states" not in out.countries and _country_list(text):
                out.countries["states"] = [text]
                out.values["states"] = text
                placed += 1
            else:
                out.unlabelled.append(text)
        # Away from a project's address, the layout must be the whole sign: indented
        # lines, each recognised, one a project type or id (a country alone could be a
        # news page's dateline), then the description.
        strict = (
            not page.is_html
            and 0 < len(lines) <= 2
            and not out.unlabelled
            and bool({"project_type", "project_id"} & set(out.values))
        )
        if not placed or not (project_path or strict):
            continue
        # Read only here, once a position is the layout: read from every candidate title,
        # a text page of many heading/indented-line pairs took quadratic time.
        out.description = _description(blocks, end, title)
        if project_path or out.description is not None:
            return out
    return None


def _title_positions(page: Page) -> list[int]:
    """Where the title may be: the page's <h1> (-1 when it is not among the blocks), else
    in a text rendering an unindented line with indented lines below it."""
    blocks = page.blocks
    if page.title_hint:
        found = [i for i, b in enumerate(blocks) if b.text == page.title_hint]
        return found[:1] or [-1]
    return [
        i
        for i in range(len(blocks) - 1)
        if blocks[i].text and blocks[i].indent == 0 and blocks[i + 1].indent > 0
    ]


def _value_lines(page: Page, start: int) -> tuple[list[str], int]:
    """The short lines below the title (in a text rendering: indented), and where they end."""
    lines: list[str] = []
    i = start
    while i < len(page.blocks) and len(lines) < _LABEL_LESS_LINES:
        block = page.blocks[i]
        if block.role == "separator" or not block.text or label_key(block) is not None:
            i += 1
            continue
        if _prose(block) or (not page.is_html and block.indent == 0):
            break
        lines.append(block.text)
        i += 1
    return lines, i


def _first_title(page: Page) -> str | None:
    if page.title_hint:
        return page.title_hint
    headings = [b.text for b in page.blocks if b.role == "heading"]
    return headings[0] if headings else None
