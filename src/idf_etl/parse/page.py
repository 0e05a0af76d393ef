"""Parse one page into one record: the pure function behind `idf-etl parse`.

    parse_page(bytes_or_text, source="page.html", url=None) -> ProjectRecord | OtherPage

No network, no global state: the same bytes always give the same record, so
`idf-etl run --from-raw` can re-parse the raw store after a parser upgrade.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from idf_etl.parse.blocks import Page, read_page
from idf_etl.parse.countries import split_countries
from idf_etl.parse.extract import Extracted, extract
from idf_etl.parse.head import node_id, translations
from idf_etl.parse.normalise import (
    parse_budget,
    parse_coverage,
    parse_region,
    parse_status,
    parse_year,
)
from idf_etl.parse.project_types import parse_project_type, project_type_family
from idf_etl.parse.vocabulary import ERROR_TITLES, PRIMA_ID, PROJECT_ID, STOPWORDS
from idf_etl.records import LANGS, OtherPage, Problem, ProjectRecord
from idf_etl.urls import PROJECT_PAGE_PATTERNS, at_project_path

# Bump when a change to parsing can change a record: stored with every page.
PARSER_VERSION = "1.1.0"

_WORD = re.compile(r"[^\W\d_]+")
# word -> the languages it is a stop word of ("la" is French and Spanish)
_STOPWORD_LANGS: dict[str, tuple[str, ...]] = {}
for _lang, _words in STOPWORDS.items():
    for _word in _words:
        _STOPWORD_LANGS[_word] = (*_STOPWORD_LANGS.get(_word, ()), _lang)


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
    found = extract(page, at_project_path(url or canonical, patterns))
    lang = detect_language(page, found, url)
    record: ProjectRecord | OtherPage
    if found.template is None:
        record = OtherPage(source=source, lang=lang, title=found.title, reason=_other_reason(found))
    elif found.listing:
        record = OtherPage(
            source=source,
            lang=lang,
            title=found.title,
            reason="a listing of several projects, not one project page",
        )
    else:
        record = _project_record(found, source, lang)
        record.node_id = node_id(page.links, url)
        record.translations = translations(page.links, url)
    record.problems[:0] = [Problem(code="invalid_bytes", message=m) for m in page.problems]
    return record


def _other_reason(found: Extracted) -> str:
    if found.title and ERROR_TITLES.search(found.title):
        return f"an error page ({found.title!r})"
    return (
        "no project fields (labels or template values) found: news, FAQ, guidance or listing page"
    )


def _project_record(found: Extracted, source: str, lang: str | None) -> ProjectRecord:
    raw = found.values
    problems: list[Problem] = [
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

    def closed(
        field: str, parse: Callable[[str], str | None], what: str
    ) -> tuple[str | None, str | None]:
        written = raw.get(field)
        if written is None:
            return None, None
        value = parse(written)
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

    status, status_label = closed("status", parse_status, "status")
    coverage, coverage_label = closed("coverage", parse_coverage, "coverage")
    region, region_label = closed("idf_region", parse_region, "region")
    budget = None
    if (budget_label := raw.get("budget_usd")) is not None:
        budget = parse_budget(budget_label)
        if budget is None:
            problems.append(
                Problem(
                    code="unparsable_budget",
                    field="budget_usd",
                    message=f"budget {budget_label!r} is not an amount we can read "
                    "without guessing; left empty",
                )
            )
    years: dict[str, int | None] = {}
    for field in ("start_year", "end_year", "year"):
        written = raw.get(field)
        years[field] = parse_year(written) if written else None
        if written and years[field] is None:
            problems.append(
                Problem(
                    code="unparsable_year",
                    field=field,
                    message=f"{field} {written!r} holds no single year; left empty",
                )
            )
    project_id = _checked_id(raw.get("project_id"), PROJECT_ID, "project_id", problems)
    project_type_label = raw.get("project_type")
    project_type, type_problem = project_type_family(project_type_label, project_id)
    if type_problem is not None:
        problems.append(
            Problem(code=type_problem[0], field="project_type", message=type_problem[1])
        )
    elif project_type_label is not None and project_type is None:
        closed("project_type", parse_project_type, "project_type")  # words the problem
    prima_id = _checked_id(raw.get("prima_id"), PRIMA_ID, "prima_id", problems)
    states = split_countries("\n".join(found.countries.get("states", ())))
    other_states = split_countries("\n".join(found.countries.get("other_states", ())))
    problems += [
        Problem(
            code="unmatched_country",
            field=field,
            message=f"{name!r} matches no country name we know; add it to countries.ALIASES "
            "if it is one",
        )
        for field, countries in (("states", states), ("other_states", other_states))
        for name in countries.unmatched
    ]
    if project_id is None:
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
        project_id=project_id,
        prima_id=prima_id,
        status=status,
        status_label=status_label,
        project_type=project_type_label,
        project_type_canonical=project_type,
        budget_usd=budget,
        budget_label=budget_label,
        coverage=coverage,
        coverage_label=coverage_label,
        idf_region=region,
        idf_region_label=region_label,
        start_year=years["start_year"],
        end_year=years["end_year"],
        year=years["year"],
        states=list(states.codes),
        state_names=[*states.names, *states.unmatched],
        other_states=list(other_states.codes),
        other_state_names=[*other_states.names, *other_states.unmatched],
        description=found.description,
        template=found.template,
        problems=problems,
    )


def _checked_id(
    written: str | None, shape: re.Pattern[str], field: str, problems: list[Problem]
) -> str | None:
    if written is None:
        return None
    value = written.strip()
    if not shape.match(value):
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
    for hint in (page.html_lang, _url_lang(url)):
        if hint and hint[:2].lower() in STOPWORDS:
            return hint[:2].lower()
    return best if scores[best] > 0 else None


def _url_lang(url: str | None) -> str | None:
    if not url:
        return None
    first = urlsplit(url).path.strip("/").split("/", 1)[0]
    return first if first in LANGS else LANGS[0]
