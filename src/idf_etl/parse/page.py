"""Parse one page into one record: the pure function behind `idf-etl parse`.

    parse_page(bytes_or_text, source="page.html", url=None) -> ProjectRecord | OtherPage

No network, no global state: the same bytes always give the same record, so
`idf-etl run --from-raw` can re-parse the raw store after a parser upgrade.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from idf_etl.parse.blocks import Page, read_page
from idf_etl.parse.countries import split_countries
from idf_etl.parse.extract import extract
from idf_etl.parse.extracted import TEXT_LIMIT, Extracted
from idf_etl.parse.head import node_id, translations
from idf_etl.parse.normalise import (
    parse_budget,
    parse_coverage,
    parse_region,
    parse_status,
    parse_year,
)
from idf_etl.parse.project_types import parse_project_type, project_type_family
from idf_etl.parse.vocabulary import (
    ERROR_TITLES,
    PRIMA_ID,
    PROJECT_ID,
    PROJECT_ID_LOOSE,
    STOPWORDS,
    plain_id,
)
from idf_etl.records import OtherPage, Problem, ProjectRecord
from idf_etl.urls import PROJECT_PAGE_PATTERNS, at_project_path, url_language

# Bump when a change to parsing can change a record: stored with every page.
PARSER_VERSION = "1.10.0"

_WORD = re.compile(r"[^\W\d_]+")
# word -> the languages it is a stop word of ("la" is French and Spanish)
_STOPWORD_LANGS: dict[str, tuple[str, ...]] = {}
for _lang, _words in STOPWORDS.items():
    for _word in _words:
        _STOPWORD_LANGS[_word] = (*_STOPWORD_LANGS.get(_word, ()), _lang)

# A page's values by field, as written (extracted.Extracted.values).
Raw = dict[str, str | None]


def parse_page(
    data: bytes | str,
    source: str = "<input>",
    url: str | None = None,
    charset: str | None = None,
    patterns: Iterable[str] = PROJECT_PAGE_PATTERNS,
) -> ProjectRecord | OtherPage:
    """Read one page (HTML or a plain-text rendering) into a project record or an 'other' page.

    `patterns`: the paths where a page is a project's (`page_patterns`); a page there
    (by its URL, else its canonical link) needs fewer signs to be read as a project.
    Raises ParseError when the input cannot be read as a page at all.
    """
    page = read_page(data, charset)
    canonical = next((link.href for link in page.links if link.rel == "canonical"), None)
    project_path = at_project_path(url or canonical, patterns)
    found = extract(page, project_path)
    lang = detect_language(page, found, url)  # from the page's words, long or not
    found.bound()
    record: ProjectRecord | OtherPage
    if found.template is None:
        record = OtherPage(
            source=source, lang=lang, title=found.title, reason=_other_reason(found, project_path)
        )
    elif found.listing:
        record = OtherPage(
            source=source,
            lang=lang,
            title=found.title,
            reason="a listing of several projects, not one project page",
        )
    else:
        record = _project_record(found, source, lang, node_id=node_id(page.links, url))
        record.translations = translations(page.links, url)
    record.problems[:0] = [Problem(code="invalid_bytes", message=m) for m in page.problems]
    if isinstance(record, OtherPage):  # a project record has them among its layout's
        record.problems += _past_limit(found)
    return record


def _other_reason(found: Extracted, project_path: bool) -> str:
    if found.title and ERROR_TITLES.search(found.title):
        return f"an error page ({found.title!r})"
    if project_path:
        return (
            "at a project page's address, but no project field (a label, or a value "
            "recognised by its shape) follows its title"
        )
    return (
        "no project fields (labels or template values) found: news, FAQ, guidance or listing page"
    )


def _project_record(
    found: Extracted, source: str, lang: str | None, node_id: int | None
) -> ProjectRecord:
    """The record from what was found, a function per field family; each adds the problems
    it finds, in the order a reader meets the fields."""
    raw = found.values
    problems = _layout_problems(found)
    closed = _closed_values(raw, problems)
    budget = _budget(raw, problems)
    years = _years(raw, problems)
    ids = _ids_and_type(raw, problems)
    places = _states(found, problems)
    if ids["project_id"] is None:
        problems.append(
            Problem(
                code="missing_project_id",
                field="project_id",
                message="the page gives no project id; it is merged with its other "
                "languages by its Drupal node id, or kept as a project of its own",
            )
        )
    return ProjectRecord(
        source=source,
        lang=lang,
        title=found.title,
        description=found.description,
        template=found.template,
        node_id=node_id,
        **ids,
        **closed,
        **budget,
        **years,
        **places,
        problems=problems,
    )


def _layout_problems(found: Extracted) -> list[Problem]:
    """What the page's layout left over: unknown labels, values without one, values too
    long to be what their label says."""
    problems = [
        Problem(
            code="unknown_label", message=f"text between the fields that is no known label: {t!r}"
        )
        for t in found.unknown_labels
    ]
    problems += [
        Problem(
            code="value_without_label",
            message=f"a value with no label and no recognisable shape: {t!r}; "
            "not put into any field",
        )
        for t in found.unlabelled
    ]
    problems += [
        Problem(
            code="value_too_long",
            field=name,
            message=f"{name} {text!r} is longer than any {name} we read "
            f"({len(text)} characters); left empty, not cut",
        )
        for name, text in found.too_long
    ]
    return problems + _past_limit(found)


def _past_limit(found: Extracted) -> list[Problem]:
    """The values `Extracted.bound` left empty, each a problem quoting its start."""
    return [
        Problem(
            code="value_too_long",
            field=name,
            message=f"{name} is {len(text):,} characters ({len(text.encode('utf-8', 'replace')):,} "
            f"bytes): with it, the page's text is more than the {TEXT_LIMIT:,} bytes one page may "
            f"hold ({text[:80]!r}...); left empty, not cut",
        )
        for name, text in found.past_limit
    ]


def _closed(
    raw: Raw,
    field: str,
    parse: Callable[[str], str | None],
    what: str,
    problems: list[Problem],
) -> tuple[str | None, str | None]:
    """A value from a closed vocabulary: (canonical, as written); a word we do not know
    keeps its label and leaves the canonical value empty, with a problem."""
    written = raw.get(field)
    if written is None:
        return None, None
    value = _read(parse, written)
    if value is None:
        problems.append(
            Problem(
                code=f"unknown_{what}",
                field=field,
                message=f"{what} {written!r} is not a known value: its canonical value is "
                "left empty (add the word to vocabulary.py if it is a real one)",
            )
        )
    return value, written


def _closed_values(raw: Raw, problems: list[Problem]) -> dict[str, Any]:
    """Status, coverage and region: each canonical value beside its label."""
    status, status_label = _closed(raw, "status", parse_status, "status", problems)
    coverage, coverage_label = _closed(raw, "coverage", parse_coverage, "coverage", problems)
    region, region_label = _closed(raw, "idf_region", parse_region, "region", problems)
    return {
        "status": status,
        "status_label": status_label,
        "coverage": coverage,
        "coverage_label": coverage_label,
        "idf_region": region,
        "idf_region_label": region_label,
    }


def _read(parse: Callable[[str], Any], written: str) -> Any:
    """A value reader's answer, None when it raises what a number conversion can (a
    1.3 MB amount overflowed Decimal): that value is unreadable, not the page."""
    try:
        return parse(written)
    except (ArithmeticError, ValueError, OverflowError):
        return None


def _budget(raw: Raw, problems: list[Problem]) -> dict[str, Any]:
    """The amount in USD when it reads without guessing, beside the label as written."""
    budget = None
    if (budget_label := raw.get("budget_usd")) is not None:
        budget = _read(parse_budget, budget_label)
        if budget is None:
            problems.append(
                Problem(
                    code="unparsable_budget",
                    field="budget_usd",
                    message=f"budget {budget_label!r} is not an amount we can read "
                    "without guessing; left empty",
                )
            )
    return {"budget_usd": budget, "budget_label": budget_label}


def _years(raw: Raw, problems: list[Problem]) -> dict[str, Any]:
    """start_year, end_year and year: a single year each, or empty with a problem."""
    years: dict[str, int | None] = {}
    for field in ("start_year", "end_year", "year"):
        written = raw.get(field)
        years[field] = _read(parse_year, written) if written else None
        if written and years[field] is None:
            problems.append(
                Problem(
                    code="unparsable_year",
                    field=field,
                    message=f"{field} {written!r} holds no single year; left empty",
                )
            )
    return years


def _ids_and_type(raw: Raw, problems: list[Problem]) -> dict[str, Any]:
    """The project id and PRIMA id, checked against their shapes, and the project type's
    family (read from its label, or from the id's letters)."""
    project_id = _checked_id(raw.get("project_id"), PROJECT_ID, "project_id", problems)
    project_type_label = raw.get("project_type")
    project_type, type_problem = project_type_family(project_type_label, project_id)
    if type_problem is not None:
        problems.append(
            Problem(code=type_problem[0], field="project_type", message=type_problem[1])
        )
    elif project_type_label is not None and project_type is None:
        # The vocabulary's reading of it, for the problem's words.
        _closed(raw, "project_type", parse_project_type, "project_type", problems)
    prima_id = _checked_id(raw.get("prima_id"), PRIMA_ID, "prima_id", problems)
    return {
        "project_id": project_id,
        "prima_id": prima_id,
        "project_type": project_type_label,
        "project_type_canonical": project_type,
    }


def _states(found: Extracted, problems: list[Problem]) -> dict[str, Any]:
    """The benefiting member states and the other countries benefiting at time of
    allocation as ISO codes, and their names as written (those we cannot match kept by
    name, with a problem each)."""
    out: dict[str, Any] = {}
    for field, names_field in (("states", "state_names"), ("other_states", "other_state_names")):
        countries = split_countries("\n".join(found.countries.get(field, ())))
        problems += [
            Problem(
                code="unmatched_country",
                field=field,
                message=f"{name!r} matches no country name we know; add it to "
                "countries.ALIASES if it is one",
            )
            for name in countries.unmatched
        ]
        out[field] = list(countries.codes)
        out[names_field] = [*countries.names, *countries.unmatched]
    return out


def _checked_id(
    written: str | None, shape: re.Pattern[str], field: str, problems: list[Problem]
) -> str | None:
    """An id as a person reads it (`plain_id`: another script's digits, invisible marks,
    full-width forms), checked against its shape; one with a character no id has is left
    empty, never kept as a second spelling of the same project."""
    if written is None:
        return None
    as_written = written.strip()
    value = plain_id(as_written)
    loose = PROJECT_ID_LOOSE.match(value) if shape is PROJECT_ID else None
    if loose and not shape.match(value):
        value = f"{loose.group(1).upper()}.{loose.group(2)}"
    if not value.isascii():
        odd = next(c for c in value if not c.isascii())
        problems.append(
            Problem(
                code="odd_id",
                field=field,
                message=f"{field} {as_written!r} holds a character no id has ({odd!r}); left empty",
            )
        )
        return None
    if shape.match(value):
        if value != as_written:
            # One project, one key: its pages in other languages write it the usual way.
            problems.append(
                Problem(
                    code="odd_id",
                    field=field,
                    message=f"{field} {as_written!r} is written in an unusual form; "
                    f"read as {value!r}",
                )
            )
        return value
    problems.append(
        Problem(
            code="odd_id",
            field=field,
            message=f"{field} {value!r} has an unexpected shape; kept as written",
        )
    )
    return value


def detect_language(page: Page, found: Extracted, url: str | None) -> str | None:
    """The language of the page's content: its words first, then labels, markup and URL."""
    text = " ".join(filter(None, [found.title, found.description]))
    if not text:
        text = " ".join(b.text for b in page.blocks[-40:])
    # The first 1,500 characters hold a couple of hundred words: plenty to tell three
    # languages apart, and counting more costs more than the rest of the parse.
    scores = dict.fromkeys(STOPWORDS, 0)
    for word in _WORD.findall(text[:1500].lower()):
        for lang in _STOPWORD_LANGS.get(word, ()):
            scores[lang] += 1
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    best, second = ranked[0], ranked[1]
    if scores[best] >= 4 and scores[best] >= 1.5 * scores[second]:
        return best
    if found.label_langs:
        return found.label_langs.most_common(1)[0][0]
    for hint in (page.html_lang, url_language(url) if url else None):
        if hint and hint[:2].lower() in STOPWORDS:
            return hint[:2].lower()
    return best if scores[best] > 0 else None
