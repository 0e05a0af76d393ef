"""Read project fields out of a block stream: labelled pairs where there are labels,
value shapes where there are none (template C), then the title and description.

Raw values only: turning them into canonical values is `normalise`'s job.

The labelled readers are here; the unlabelled ones (template C, the label-less
layout) are in `unlabelled.py`, and what every reader shares in `extracted.py`.
"""

from __future__ import annotations

import re
from collections import Counter

from idf_etl.parse.blocks import Block, Page
from idf_etl.parse.countries import is_country_line, starts_with_country
from idf_etl.parse.extracted import (
    _PROSE_END,
    _SHORT_LIMIT,
    Extracted,
    _country_list,
    _description,
    _place_unlabelled,
    _prose,
    label_key,
    shape_fields,
)
from idf_etl.parse.normalise import parse_status
from idf_etl.parse.unlabelled import _read_label_less, _read_unlabelled
from idf_etl.parse.vocabulary import (
    LABEL_LANG,
    LABELS,
    PROJECT_ID_LOOSE,
    plain_digits,
    plain_id,
)

# Fields that hold a list of country names, which may run over several blocks.
COUNTRY_FIELDS = ("states", "other_states")
# An id of a shape we do not know yet ("odd_id"): one token with letters and digits.
# Any script's letters: under an id's label, "СЕ.0035" (Cyrillic) is that id, refused by
# its reader with a problem naming the field, not a value without a label.
# One token with a digit and a letter, whatever else it carries (a combining mark, a
# variation selector): the id's reader says what is wrong with it.
_ID_LIKE = re.compile(r"^(?=.*\d)(?=.*[^\W\d_])\S{3,24}$")
_ID_TOKEN = re.compile(r"^(?=.*\d)(?=.*[^\W\d_])\S{25,}$")  # id-like, too long
# A label repeated this often means a listing of several projects, not one project.
_LISTING_REPEATS = 3


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
        # A short value the markup gives the label is that label's value, a sentence's
        # end or not ("Ghana, Kenya, etc."): read (and its unknown words reported),
        # never moved into the description.
        return not (
            any(c in COUNTRY_FIELDS for c in candidates)
            and (so_far or len(block.text) > 200)
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
        return (any_length or len(block.text) <= 200) and (
            # "Ghana, Kenya, etc.": a list with a sentence's end is still the value;
            # prose that opens with no country name is the description after an empty label.
            not _PROSE_END.search(block.text) or starts_with_country(block.text)
        )
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


def _title_before(page: Page, first_label: int) -> str | None:
    if page.title_hint:
        return page.title_hint
    for block in reversed(page.blocks[:first_label]):
        if block.role != "separator" and block.text:
            return block.text
    return None


def _description_between(blocks: list[Block], first_label: int, title: str | None) -> str | None:
    """Some layouts put the description above the fields: take the prose there."""
    prose = [b.text for b in blocks[:first_label] if b.text != title and len(b.text) > 200]
    return "\n".join(prose) or None


def _first_title(page: Page) -> str | None:
    if page.title_hint:
        return page.title_hint
    headings = [b.text for b in page.blocks if b.role == "heading"]
    return headings[0] if headings else None
