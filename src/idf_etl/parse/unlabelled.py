"""Read a page whose values come without labels: template C (the title printed twice,
then values in a known order, each placed by its shape), and iom.int's label-less layout
(a title, a line or two of bare values, then the description).

Raw values only, as `extract.py`'s labelled readers give them; `extract` tries these
where a page has too few labels.
"""

from __future__ import annotations

from idf_etl.parse.blocks import Block, Page
from idf_etl.parse.countries import is_country_line
from idf_etl.parse.extracted import (
    _PROSE_END,
    _SHORT_LIMIT,
    Extracted,
    _country_list,
    _description,
    _place_unlabelled,
    _prose,
    label_key,
)
from idf_etl.parse.normalise import (
    parse_coverage,
    parse_region,
    parse_status,
    parse_year,
)
from idf_etl.parse.vocabulary import (
    AMOUNT_SHAPE,
    PRIMA_ID,
    PROJECT_ID,
    plain_id,
)

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
