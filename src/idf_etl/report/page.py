"""The page: sections of chart + table made from the queries' rows, rendered through Jinja2."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import altair as alt
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from idf_etl import __version__
from idf_etl.report import charts
from idf_etl.report.queries import QUERIES

Row = dict[str, Any]


@dataclass
class Section:
    """One chart, the rows it draws as a table, and the query that made them."""

    id: str
    title: str
    intro: str
    query: str
    columns: list[str]
    rows: list[list[str]]
    svg: Markup | None = None
    notes: list[str] = field(default_factory=list)


def money(value: Any) -> str:
    """$1,234,567 (cents only when there are some); an em dash for no value."""
    if value is None:
        return "—"
    text = f"${Decimal(value):,.2f}"
    return text.removesuffix(".00")


def number(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


def when(value: Any) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _svg(make: Callable[[Sequence[Row]], alt.TopLevelMixin], rows: Sequence[Row]) -> Markup | None:
    # vl-convert writes well-formed SVG with its text escaped: safe to embed as is.
    return Markup(charts.to_svg(make(rows))) if rows else None


def _table(rows: Sequence[Row], columns: dict[str, Callable[[Any], str]]) -> list[list[str]]:
    return [[fmt(row[name]) for name, fmt in columns.items()] for row in rows]


def sections(data: dict[str, list[Row]]) -> list[Section]:
    region_year = data["budget_by_region_year"]
    countries = data["budget_by_country"]
    starts = data["starts_and_ends"]
    unknown = data["years_unknown"][0]
    types = data["types_by_region"]
    problems = data["problems_by_kind"]
    return [
        Section(
            "budget-region-year",
            "Budget by IDF region and allocation year",
            "Where the money went, year by year. Projects whose page gives no allocation "
            "year are shown as “no year”.",
            "budget_by_region_year",
            ["IDF region", "allocation year", "projects", "budget (USD)"],
            _table(
                region_year,
                {"region": text, "year": text, "projects": number, "budget_usd": money},
            ),
            _svg(charts.budget_by_region_year, region_year),
        ),
        Section(
            "countries",
            "Budget and projects by benefiting country",
            "The countries with the largest budgets. A project that benefits several "
            "countries counts in full for each; the even share splits it between them.",
            "budget_by_country",
            ["country", "ISO", "projects", "budget (whole projects)", "budget (even share)"],
            _table(
                countries,
                {
                    "country": text,
                    "iso2": text,
                    "projects": number,
                    "budget_usd_total": money,
                    "budget_usd_even_share": money,
                },
            ),
            _svg(charts.budget_by_country, countries),
        ),
        Section(
            "status-over-time",
            "Projects started and ended per year",
            "Start and end years as the pages give them; an end year still to come is "
            "when an active project is due to end.",
            "starts_and_ends",
            ["year", "event", "projects"],
            _table(starts, {"year": str, "event": text, "projects": number}),
            _svg(charts.starts_and_ends, starts),
            notes=[
                f"{number(unknown['no_start_year'])} projects give no start year and "
                f"{number(unknown['no_end_year'])} no end year (query years_unknown)."
            ],
        ),
        Section(
            "types-by-region",  # not "types": the h2 above it has that id
            "Project types by region",
            "How many projects of each type each region has: the fund's project types "
            "in English, whatever the language of the page.",
            "types_by_region",
            ["project type", "IDF region", "projects", "budget (USD)"],
            _table(
                types,
                {"project_type": text, "region": text, "projects": number, "budget_usd": money},
            ),
            _svg(charts.types_by_region, types),
        ),
        Section(
            "changes-per-year",
            "Changes per year",
            "Field changes by the year they were first seen, over the whole history: on the "
            "live site, or in a web archive's captures (read by idf-etl backfill).",
            "changes_per_year",
            ["year", "seen in", "field changes"],
            _table(
                data["changes_per_year"],
                {"year": str, "seen_in": text, "field_changes": number},
            ),
            _svg(charts.changes_per_year, data["changes_per_year"]),
        ),
        Section(
            "changes-per-run",
            "Changes recorded by each run",
            "Field changes each run found (the latest runs).",
            "changes_per_run",
            ["run", "started", "mode", "outcome", "field changes"],
            _table(
                data["changes_per_run"],
                {
                    "run_id": str,
                    "started_at": when,
                    "mode": text,
                    "outcome": text,
                    "field_changes": number,
                },
            ),
            _svg(charts.changes_per_run, data["changes_per_run"]),
        ),
        Section(
            "problems",
            "Open problems by kind",
            "Problems still open, whichever run found them (view open_issues): errors lost "
            "data, warnings left it incomplete.",
            "problems_by_kind",
            ["kind", "severity", "problems"],
            _table(problems, {"code": text, "severity": text, "problems": number}),
            _svg(charts.problems_by_kind, problems),
        ),
    ]


def render(data: dict[str, list[Row]], built_at: datetime) -> str:
    env = Environment(
        loader=PackageLoader("idf_etl.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, number=number, when=when, text=text)
    by_name = {s.id: s for s in sections(data)}
    return env.get_template("report.html.j2").render(
        head=data["headline"][0],
        s=by_name,
        data=data,
        queries=QUERIES,
        built_at=built_at,
        version=__version__,
    )
