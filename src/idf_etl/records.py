"""The typed records the parser produces and the loader stores, and their closed vocabularies.

This is the one list of a project page's fields. Each field the warehouse keeps
says how (`Stored`): its column in `project_pages`, and with `merged=True` also
a column of `projects` (merged across languages, every change kept in
`project_changes`). warehouse/tables.py declares both tables from it, load/ fills,
merges and diffs them from it; docs/development.md, "Adding a field", says what else a
new field needs (a migration).

The canonical values (languages, statuses, coverages, regions) live here too,
as the Literal types the record is checked against; every other module takes
them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

Lang = Literal["en", "fr", "es"]
Status = Literal["active", "completed"]
Coverage = Literal["national", "regional", "multi-regional", "global"]
Region = Literal[
    "Africa",
    "Asia and Oceania",
    "Europe",
    "Latin America and the Caribbean",
    "Middle East and North Africa",
    "Global",
]
LANGS: tuple[Lang, ...] = get_args(Lang)  # in merge order: English first
STATUSES: tuple[Status, ...] = get_args(Status)
COVERAGES: tuple[Coverage, ...] = get_args(Coverage)
REGIONS: tuple[Region, ...] = get_args(Region)


MESSAGE_LIMIT = 2000
"""Characters of a problem's or issue's message at most: enough for any message about one
value; longer ones quote a value or list of values whole, and are cut in the middle."""


def bounded(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """`message` cut to `limit` characters, saying how long it was."""
    if len(message) <= limit:
        return message
    tail = f" ... [{len(message):,} characters, cut] ... "
    keep = (limit - len(tail)) // 2
    return message[:keep] + tail + message[len(message) - keep :]


# Problems of one kind (code and field) a page keeps: a page naming 40,000 countries we do not
# know gave 40,000 problems, and six such pages took a run to 572 MB. The rest are counted.
PROBLEMS_OF_A_KIND = 20


def few_of_a_kind(problems: list[Problem]) -> list[Problem]:
    """The first PROBLEMS_OF_A_KIND problems of each code and field, and for a kind with
    more, one problem counting the rest."""
    kept: list[Problem] = []
    extra: dict[tuple[str, str | None], int] = {}
    seen: dict[tuple[str, str | None], int] = {}
    for problem in problems:
        kind = (problem.code, problem.field)
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] <= PROBLEMS_OF_A_KIND:
            kept.append(problem)
        else:
            extra[kind] = extra.get(kind, 0) + 1
    kept += [
        Problem(
            code=code,
            field=field,
            message=f"{more:,} more {code} problems on this page, not listed one by one "
            f"(the first {PROBLEMS_OF_A_KIND} are)",
        )
        for (code, field), more in extra.items()
    ]
    return kept


@dataclass(frozen=True)
class Stored:
    """How the warehouse keeps a record field: column type and meaning in `project_pages`;
    `merged`: `projects` has it too, merged across languages, its changes are history."""

    sql: str
    comment: str
    merged: bool = False


class Problem(BaseModel):
    """Something in a page the parser could not read as expected (kept with the record)."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    field: str | None = None

    @field_validator("message")
    @classmethod
    def _bounded(cls, message: str) -> str:
        """A message quotes what it is about: a 1.3 MB value is not repeated whole."""
        return bounded(message)


class ProjectRecord(BaseModel):
    """One project page, read and normalised. Missing fields are None.

    Field order is column order in the warehouse: add new fields at the end.
    """

    kind: Literal["project"] = "project"
    source: str
    project_id: Annotated[
        str | None,
        Stored("VARCHAR", "project id (TK.0035, older T97-805); null when the page gives none"),
    ] = None
    lang: Annotated[Lang | None, Stored("lang_t", "language of the content")] = None
    title: Annotated[str | None, Stored("VARCHAR", "title as written")] = None
    description: Annotated[str | None, Stored("VARCHAR", "free-text description")] = None
    prima_id: Annotated[
        str | None, Stored("VARCHAR", "IOM PRIMA id (e.g. ZA99P0533)", merged=True)
    ] = None
    status: Annotated[Status | None, Stored("status_t", "active or completed", merged=True)] = None
    # as written: the `idf-etl parse` contract
    project_type: Annotated[
        str | None, Stored("VARCHAR", "project type, as written on the page", merged=True)
    ] = None
    budget_usd: Annotated[
        Decimal | None,
        Field(max_digits=18, decimal_places=2),
        Stored("DECIMAL(18,2)", "budget in US dollars", merged=True),
    ] = None
    coverage: Annotated[
        Coverage | None,
        Stored("coverage_t", "national, regional, multi-regional or global", merged=True),
    ] = None
    idf_region: Annotated[
        Region | None, Stored("VARCHAR", "IDF region, canonical English name", merged=True)
    ] = None
    start_year: Annotated[
        int | None, Stored("SMALLINT", "year the project started", merged=True)
    ] = None
    end_year: Annotated[
        int | None, Stored("SMALLINT", "year the project ended or ends", merged=True)
    ] = None
    year: Annotated[int | None, Stored("SMALLINT", "allocation year", merged=True)] = None
    states: Annotated[
        list[str],
        Stored(
            "VARCHAR[]",
            "benefiting member states, ISO 3166-1 alpha-2 (XK for Kosovo)",
            merged=True,
        ),
    ] = Field(default_factory=list)
    state_names: Annotated[
        list[str], Stored("VARCHAR[]", "benefiting member states as written")
    ] = Field(default_factory=list)
    status_label: Annotated[
        str | None, Stored("VARCHAR", "status as written (Achevé, Finalizado...)")
    ] = None
    coverage_label: Annotated[str | None, Stored("VARCHAR", "coverage as written")] = None
    idf_region_label: Annotated[
        str | None, Stored("VARCHAR", "region as written (Afrique, África...)")
    ] = None
    budget_label: Annotated[str | None, Stored("VARCHAR", "budget as written (150,000)")] = None
    template: Annotated[
        str | None, Stored("VARCHAR", "labelled or unlabelled (developmentfund.iom.int)")
    ] = None
    project_type_canonical: Annotated[
        str | None,
        Stored(
            "VARCHAR",
            "project type, the fund's category in English (project_types.PROJECT_TYPE_FAMILIES); "
            "null when the type is unknown",
            merged=True,
        ),
    ] = None
    node_id: Annotated[
        int | None,
        Stored("INTEGER", "Drupal node id of the page (shortlink, hreflang or /fr/node/N URL)"),
    ] = None
    other_states: Annotated[
        list[str],
        Stored(
            "VARCHAR[]",
            "other countries benefiting at time of allocation, ISO 3166-1 alpha-2",
            merged=True,
        ),
    ] = Field(default_factory=list)
    other_state_names: Annotated[
        list[str],
        Stored("VARCHAR[]", "other countries benefiting at time of allocation, as written"),
    ] = Field(default_factory=list)
    # Read by the parser for the crawler, not kept in the warehouse: no `Stored`.
    translations: dict[str, str] = Field(default_factory=dict)
    problems: Annotated[list[Problem], AfterValidator(few_of_a_kind)] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _fit_columns(cls, data: Any) -> Any:
        """A value its warehouse column cannot hold (a 10-digit node id in an INTEGER)
        is left empty with a problem: written as it is, it stopped the whole run's load."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        problems = list(data.get("problems") or ())
        for name, stored in STORED_FIELDS.items():
            value = data.get(name)
            if value is None or (why := misfit(value, stored.sql)) is None:
                continue
            data[name] = [] if stored.sql.endswith("[]") else None
            problems.append(
                Problem(
                    code="value_out_of_range",
                    field=name,
                    message=f"{name} {_shown(value)} {why}; left empty",
                )
            )
        data["problems"] = problems
        return data


_INT_RANGES = {
    "TINYINT": 2**7,
    "SMALLINT": 2**15,
    "INTEGER": 2**31,
    "BIGINT": 2**63,
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
# Column types whose every value is checked elsewhere: a Literal vocabulary (the ENUMs
# and idf_region's CHECK) already refuses anything else.
_CHECKED_BY_TYPE = ("lang_t", "status_t", "coverage_t")


def misfit(value: Any, sql: str) -> str | None:
    """Why `value` cannot go into a column of type `sql` as it is, or None when it fits.
    Raises ValueError for a column type it does not know: a new type needs its rule here."""
    if sql.endswith("[]"):
        if not isinstance(value, list | tuple):
            return f"is not a list for a {sql} column"
        return next((why for item in value if (why := misfit(item, sql[:-2]))), None)
    if sql in _INT_RANGES:
        bound = _INT_RANGES[sql]
        if isinstance(value, bool) or not isinstance(value, int):
            return f"is not a whole number for a {sql} column"
        return (
            None
            if -bound <= value < bound
            else f"is out of the range of the warehouse's {sql} column"
        )
    if match := _DECIMAL.match(sql):
        precision, scale = int(match[1]), int(match[2])
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            return f"is not a number for a {sql} column"
        number = Decimal(value)
        if not number.is_finite():
            return f"is not a finite number for a {sql} column"
        digits = number.adjusted() + 1 if number else 1
        fits = digits <= precision - scale and -number.as_tuple().exponent <= scale  # type: ignore[operator]
        return (
            None
            if fits
            else (
                f"is out of the range of the warehouse's {sql} column "
                f"({precision - scale} whole digits, {scale} decimals)"
            )
        )
    if sql == "VARCHAR" or sql in _CHECKED_BY_TYPE:
        if not isinstance(value, str):
            return f"is not text for a {sql} column"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a character that is no text (a lone surrogate)"
        return None
    raise ValueError(f"no rule for a {sql} column: add one to records.misfit")


def _shown(value: Any) -> str:
    """A value in a problem's message, cut (a 1 MB value is not repeated whole)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text):,} characters)"


def stored_fields() -> dict[str, Stored]:
    """Every record field the warehouse keeps, in column order, with how it keeps it."""
    return {
        name: meta
        for name, info in ProjectRecord.model_fields.items()
        for meta in info.metadata
        if isinstance(meta, Stored)
    }


STORED_FIELDS = stored_fields()
MERGED_FIELDS = tuple(name for name, s in STORED_FIELDS.items() if s.merged)


class OtherPage(BaseModel):
    """A page that is not a project page (news, FAQ, guidance, listing, error)."""

    kind: Literal["other"] = "other"
    source: str
    lang: Lang | None = None
    title: str | None = None
    reason: str
    problems: Annotated[list[Problem], AfterValidator(few_of_a_kind)] = Field(default_factory=list)


PageRecord = ProjectRecord | OtherPage
