"""The page: sections of chart + table made from the queries' rows, rendered through Jinja2."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import altair as alt
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from idf_etl.report import charts, worldmap
from idf_etl.report.queries import NO_YEAR, QUERIES
from idf_etl.version import package_version
from idf_etl.warehouse.formulas import runs_as_formula

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
    legend: Markup | None = None


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


# Invisible, and not a space: before a text a spreadsheet would run, it is text there too.
WORD_JOINER = "\u2060"


def not_a_formula(value: Any) -> Any:
    """Every value the page shows, as itself, or behind a word joiner when a spreadsheet
    would run it as a formula: LibreOffice and Excel open report.html's tables as a sheet,
    and run a title `=HYPERLINK(...)` from a <td> (warehouse/formulas.py, the CSVs' rule)."""
    if isinstance(value, str) and runs_as_formula(value):
        return Markup(WORD_JOINER) + value  # Markup + text escapes the text
    return value


def text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 row`, `2 rows`, `1,024 countries`: a count with its noun agreeing."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def span(start: Any, end: Any) -> str:
    """A project's years: `2019–2021`, `? – 2024` when the start is not known, `2019 – ?`
    when the end is not, `—` when neither is."""
    if start is None and end is None:
        return "—"
    if start is None or end is None:
        return f"{'?' if start is None else start} – {'?' if end is None else end}"
    return f"{start}–{end}"


def _map_section(rows: Sequence[Row]) -> Section:
    drawn = {r["iso2"]: worldmap.drawn_as(r["iso2"]) for r in rows}
    notes = []
    dots = sorted(r["country"] for r in rows if drawn[r["iso2"]] == "dot")
    if dots:
        notes.append(f"Drawn as a dot, too small for a shape at this scale: {', '.join(dots)}.")
    missing = sorted(r["country"] for r in rows if drawn[r["iso2"]] == "not drawn")
    if missing:
        notes.append(f"Not on the map (no shape or place for them): {', '.join(missing)}.")
    svg = None
    legend = None
    if rows:
        svg = Markup(fluid(worldmap.compact(charts.to_svg(worldmap.world_map(rows))), 1))
        legend = _map_legend(rows)
    return Section(
        "world-map",
        "Budget by benefiting country, on the map",
        "Each country shaded by its even share of the budgets of the projects it benefits "
        "from (a project benefiting several countries is split evenly between them).",
        "countries_map",
        [
            "country",
            "ISO",
            "projects",
            "budget (even share)",
            "budget (whole projects)",
            "on the map",
        ],
        [
            [
                text(r["country"]),
                text(r["iso2"]),
                number(r["projects"]),
                money(r["budget_usd"]),
                money(r["budget_usd_total"]),
                drawn[r["iso2"]],
            ]
            for r in rows
        ],
        svg,
        notes,
        legend,
    )


def _map_legend(rows: Sequence[Row]) -> Markup:
    """The map's key, in HTML so its text keeps its size however small the map is drawn:
    the same two colours as the map's log scale, its ends, and the two greys."""
    scale = worldmap.colour_scale(rows)
    ramp = ""
    if scale:
        low, high = (money(round(v)) for v in scale)
        ramp = Markup(
            '<span class="ramp"><span>{}</span><i style="background:linear-gradient(to right,{},{})">'
            "</i><span>{}</span></span>"
        ).format(low, worldmap.LOW, worldmap.HIGH, high)
    swatch = Markup('<span class="swatch"><i style="background:{}"></i>{}</span>')
    return Markup("").join(
        [
            ramp,
            swatch.format(worldmap.NO_BUDGET, "projects without a budget"),
            swatch.format(worldmap.NO_DATA, "no project"),
        ]
    )


def _svg(make: Callable[[Sequence[Row]], alt.TopLevelMixin], rows: Sequence[Row]) -> Markup | None:
    # vl-convert writes well-formed SVG with its text escaped: safe to embed as is.
    return Markup(fluid(charts.to_svg(make(rows)), GROW)) if rows else None


# How much larger than drawn a chart may be shown on a wide screen: its 12 px labels at 16 px.
GROW = 1.3
_SIZE = re.compile(r'<svg ([^>]*?)width="(\d+(?:\.\d+)?)"')


def fluid(svg: str, grow: float) -> str:
    """The SVG sized by the page: as wide as its box, at most `grow` times the width it was
    drawn at (its viewBox keeps its proportions)."""
    return _SIZE.sub(
        lambda m: (
            f'<svg {m.group(1)}style="max-width:{round(float(m.group(2)) * grow)}px" '
            f'width="{m.group(2)}"'
        ),
        svg,
        count=1,
    )


def _table(rows: Sequence[Row], columns: dict[str, Callable[[Any], str]]) -> list[list[str]]:
    return [[fmt(row[name]) for name, fmt in columns.items()] for row in rows]


def _no_year_note(rows: Sequence[Row]) -> list[str]:
    """The projects the time axis cannot place, said under it."""
    undated = [r for r in rows if r["year"] == NO_YEAR]
    if not undated:
        return []
    projects = sum(r["projects"] for r in undated)
    budget = sum((Decimal(r["budget_usd"] or 0) for r in undated), Decimal(0))
    return [
        f"Not on the time axis: {plural(projects, 'project')} with no allocation year "
        f"({money(budget)}), listed as “no year” in the numbers."
    ]


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
            notes=_no_year_note(region_year),
        ),
        _map_section(data["countries_map"]),
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
                f"{plural(unknown['no_start_year'], 'project')} "
                f"{'gives' if unknown['no_start_year'] == 1 else 'give'} no start year and "
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
        finalize=not_a_formula,
    )
    env.filters.update(money=money, number=number, when=when, text=text, plural=plural, span=span)
    by_name = {s.id: s for s in sections(data)}
    return env.get_template("report.html.j2").render(
        head=data["headline"][0],
        s=by_name,
        data=data,
        queries=QUERIES,
        built_at=built_at,
        version=package_version(),
    )
