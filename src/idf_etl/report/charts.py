"""The report's charts: Vega-Lite specifications (through Altair) rendered to static SVG.

vl-convert renders each specification at build time, so the page needs no
JavaScript to show a chart and works from disk with no network. A chart gets
exactly the rows of its query (see queries.py); the same rows are printed as a
table under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import altair as alt
import vl_convert

from idf_etl.records import REGIONS
from idf_etl.report.queries import NO_REGION, NO_YEAR

Row = dict[str, Any]

WIDTH = 450
# One colour per region in every chart (Tableau 10, Vega's default palette).
REGION_ORDER = [*REGIONS, NO_REGION]
REGION_COLOURS = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#bab0ac"]
MONEY = "$~s"
FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"


def _plain(rows: Sequence[Row]) -> list[Row]:
    """Rows as JSON values (Vega-Lite's data): decimals as floats, times as ISO text."""
    return [{k: _json_value(v) for k, v in row.items()} for row in rows]


def _data(rows: Sequence[Row]) -> alt.InlineData:
    return alt.InlineData(values=_plain(rows))


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _region_colour(rows: Sequence[Row]) -> alt.Color:
    """Each region its own colour in every chart; the legend lists the regions present."""
    present = {r["region"] for r in rows}
    pairs = [(r, c) for r, c in zip(REGION_ORDER, REGION_COLOURS, strict=True) if r in present]
    return alt.Color(
        "region:N",
        title="IDF region",
        scale=alt.Scale(domain=[r for r, _ in pairs], range=[c for _, c in pairs]),
        legend=alt.Legend(orient="bottom", columns=3, labelLimit=220),
    )


def budget_by_region_year(rows: Sequence[Row]) -> alt.Chart:
    years = sorted({r["year"] for r in rows}, key=lambda y: (y == NO_YEAR, y))
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH, height=260)
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="Allocation year", sort=years),
            y=alt.Y("sum(budget_usd):Q", title="Budget (USD)", axis=alt.Axis(format=MONEY)),
            color=_region_colour(rows),
            order=alt.Order("region:N"),
        )
        .properties(description="Budget by IDF region and allocation year, stacked bars")
    )
    return chart


def budget_by_country(rows: Sequence[Row]) -> alt.HConcatChart:
    base = alt.Chart(_data(rows), height=alt.Step(16)).encode(
        y=alt.Y("country:N", title=None, sort=[r["country"] for r in rows])
    )
    budget = base.mark_bar(color="#4c78a8").encode(
        x=alt.X(
            "budget_usd_total:Q",
            title="Budget of the projects it benefits from (USD)",
            axis=alt.Axis(format=MONEY),
        )
    )
    count = base.mark_bar(color="#f58518").encode(
        x=alt.X("projects:Q", title="Projects", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("country:N", axis=None, sort=[r["country"] for r in rows]),
    )
    return alt.hconcat(
        budget.properties(width=250), count.properties(width=120), spacing=8
    ).properties(description="Budget and number of projects by benefiting country")


def starts_and_ends(rows: Sequence[Row]) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH, height=220)
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="Year"),
            xOffset=alt.XOffset("event:N", sort=["started", "ended or ends"]),
            y=alt.Y("projects:Q", title="Projects", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color(
                "event:N",
                title=None,
                sort=["started", "ended or ends"],
                scale=alt.Scale(range=["#54a24b", "#bab0ac"]),
                legend=alt.Legend(orient="top"),
            ),
        )
        .properties(description="Projects started and ended per year, grouped bars")
    )
    return chart


def types_by_region(rows: Sequence[Row]) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH - 140, height=alt.Step(18))
        .mark_bar()
        .encode(
            # The canonical names run to 67 characters: shown whole, not cut.
            y=alt.Y("project_type:N", title=None, sort="-x", axis=alt.Axis(labelLimit=420)),
            x=alt.X("sum(projects):Q", title="Projects", axis=alt.Axis(tickMinStep=1, format="d")),
            color=_region_colour(rows),
            order=alt.Order("region:N"),
        )
        .properties(description="Projects by project type and IDF region, stacked bars")
    )
    return chart


def changes_per_year(rows: Sequence[Row]) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH, height=140)
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="Year the change was first seen", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "sum(field_changes):Q",
                title="Field changes",
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=alt.Color(
                "seen_in:N",
                title="Seen in",
                scale=alt.Scale(domain=["live site", "web archive"], range=["#4c78a8", "#f58518"]),
            ),
        )
        .properties(description="Field changes per year, seen on the live site or in a web archive")
    )
    return chart


def changes_per_run(rows: Sequence[Row]) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH, height=140)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("run_id:O", title="Run", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                "field_changes:Q", title="Field changes", axis=alt.Axis(tickMinStep=1, format="d")
            ),
        )
        .properties(description="Number of field changes recorded by each run")
    )
    return chart


def problems_by_kind(rows: Sequence[Row]) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH - 140, height=alt.Step(18))
        .mark_bar()
        .encode(
            y=alt.Y("code:N", title=None, sort="-x"),
            x=alt.X("sum(problems):Q", title="Problems", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color(
                "severity:N",
                scale=alt.Scale(domain=["error", "warning"], range=["#e45756", "#f58518"]),
                legend=alt.Legend(orient="top"),
            ),
        )
        .properties(description="Open problems by kind and severity")
    )
    return chart


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (no JavaScript, no external references)."""
    # Text is measured at build time: a font with the same metrics everywhere (Arial, or
    # Liberation Sans where Arial is missing) keeps labels inside the drawing.
    spec = chart.configure(font=FONT, padding=8).to_dict()
    return vl_convert.vegalite_to_svg(spec)
