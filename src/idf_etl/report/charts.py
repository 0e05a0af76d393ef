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

# The plot's width: with its labels a chart is about 380 px wide, a phone's screen, so a
# phone shows it at (nearly) full size and a laptop at the size its text was set for.
WIDTH = 270
# One colour per region in every chart (Tableau 10, Vega's default palette).
REGION_ORDER = [*REGIONS, NO_REGION]
REGION_COLOURS = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#bab0ac"]
MONEY = "$~s"
# "~s" writes zero as "$0k" or "$0M": a plain $0.
MONEY_LABEL = "datum.value == 0 ? '$0' : datum.label"
FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"
# Vega-Lite's 10-11 px text is small on a phone: 12 px labels, 13 px titles.
LABEL_SIZE, TITLE_SIZE = 12, 13


def count_axis(
    title: str, largest: int | float | None, most: int = 5, **axis: Any
) -> dict[str, Any]:
    """An axis of whole things (projects, problems): integer ticks only (at most `most`
    steps of 1, 2 or 5 times a power of ten), the scale ending on the last one. Vega's own
    ticks on a small domain fall on halves, which a "d" format shows as 0, 1, 1."""
    top = max(int(largest or 0), 1)
    step = next(s for s in _STEPS if top / s <= most)
    last = -(-top // step) * step
    return {
        "title": title,
        "axis": alt.Axis(values=list(range(0, last + 1, step)), format="d", **axis),
        "scale": alt.Scale(domain=[0, last], nice=False),
    }


_STEPS = [m * 10**e for e in range(0, 12) for m in (1, 2, 5)]


def _largest_sum(rows: Sequence[Row], by: str, field: str) -> float:
    totals: dict[Any, float] = {}
    for r in rows:
        totals[r[by]] = totals.get(r[by], 0) + float(r[field] or 0)
    return max(totals.values(), default=0)


def _year_axis(title: str) -> alt.X:
    """Years as time: a year with nothing still takes its place, so gaps show."""
    return alt.X("utcyear(date):T", title=title, axis=alt.Axis(format="%Y", labelOverlap=True))


def _dated(rows: Sequence[Row]) -> list[Row]:
    """Rows with a `date` (1 January of `year`, UTC) for a time axis."""
    return [{**row, "date": f"{int(row['year']):04d}-01-01"} for row in _plain(rows)]


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
        legend=alt.Legend(orient="bottom", columns=1, labelLimit=0),
    )


def budget_by_region_year(rows: Sequence[Row]) -> alt.Chart:
    """Stacked bars on a time axis; projects with no allocation year are in the table and a
    note under the chart, since they have no place in time."""
    dated = _dated([r for r in rows if r["year"] != NO_YEAR])
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=dated), width=WIDTH, height=220)
        .mark_bar()
        .encode(
            x=_year_axis("Allocation year"),
            y=alt.Y(
                "sum(budget_usd):Q",
                title="Budget (USD)",
                axis=alt.Axis(format=MONEY, labelExpr=MONEY_LABEL),
            ),
            color=_region_colour(rows),
            order=alt.Order("region:N"),
        )
        .properties(description="Budget by IDF region and allocation year, stacked bars")
    )
    return chart


def budget_by_country(rows: Sequence[Row]) -> alt.HConcatChart:
    # A long name ("Democratic Republic of the Congo") on two lines rather than cut short;
    # the rows are then spaced for two lines.
    wrapped = [{**r, "country": _wrap(r["country"], 24)} for r in _plain(rows)]
    names = [r["country"] for r in wrapped]
    two_lines = any("|" in n for n in names)
    rows_scale = alt.Scale(paddingInner=0.35 if two_lines else 0.1)
    base = alt.Chart(alt.InlineData(values=wrapped), height=alt.Step(32 if two_lines else 17))
    base = base.encode(
        y=alt.Y(
            "country:N",
            title=None,
            sort=names,
            scale=rows_scale,
            axis=alt.Axis(
                labelLimit=150,
                labelExpr="split(datum.label, '|')",
                # Vega puts a two-line label's first line on the bar: lift it half a line.
                labelOffset={
                    "condition": {"test": "indexof(datum.label, '|') >= 0", "value": -7},
                    "value": 0,
                },
            ),
        )
    )
    budget = base.mark_bar(color="#4c78a8").encode(
        x=alt.X(
            "budget_usd_total:Q",
            title="Budget (USD)",
            axis=alt.Axis(format=MONEY, tickCount=3, labelExpr=MONEY_LABEL),
        )
    )
    largest = max((r["projects"] for r in rows), default=0)
    count = base.mark_bar(color="#f58518").encode(
        x=alt.X("projects:Q", **count_axis("Projects", largest, most=2)),
        y=alt.Y("country:N", axis=None, sort=names, scale=rows_scale),
    )
    return alt.hconcat(
        budget.properties(width=130), count.properties(width=56), spacing=10
    ).properties(description="Budget and number of projects by benefiting country")


def starts_and_ends(rows: Sequence[Row]) -> alt.Chart:
    """Starts above the axis, ends below it, on a time axis: each year in its place."""
    signed = [
        {**r, "drawn": r["projects"] if r["event"] == "started" else -r["projects"]}
        for r in _dated(rows)
    ]
    started = max((r["projects"] for r in rows if r["event"] == "started"), default=0)
    ended = max((r["projects"] for r in rows if r["event"] != "started"), default=0)
    # One step on both sides (of the larger side's count axis), each side as long as it needs.
    step = count_axis("", max(started, ended), most=4)["axis"]["values"][1]
    up, down = (max(-(-n // step), 1 if n else 0) * step for n in (started, ended))
    ticks = list(range(-down, up + 1, step))
    y: dict[str, Any] = {
        "title": "Projects (ended: below)",
        "axis": alt.Axis(values=ticks, format="d", labelExpr="abs(datum.value)"),
        "scale": alt.Scale(domain=[ticks[0], ticks[-1]], nice=False),
    }
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=signed), width=WIDTH, height=200)
        .mark_bar()
        .encode(
            x=_year_axis("Year"),
            y=alt.Y("drawn:Q", **y),
            color=alt.Color(
                "event:N",
                title=None,
                sort=["started", "ended or ends"],
                scale=alt.Scale(domain=["started", "ended or ends"], range=["#54a24b", "#8c8c8c"]),
                legend=alt.Legend(orient="top"),
            ),
        )
        .properties(description="Projects started (above) and ended (below) per year")
    )
    return chart


def types_by_region(rows: Sequence[Row]) -> alt.FacetChart:
    """A row per type, its name written whole above its bar: the canonical names run to 67
    characters, which beside the bars would leave them no room on a phone."""
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["project_type"]] = totals.get(r["project_type"], 0) + r["projects"]
    order = sorted(totals, key=lambda t: (-totals[t], t))
    # A long name on two lines (Vega draws a list of strings as lines): split at "|".
    wrapped = [{**r, "project_type": _wrap(r["project_type"], 48)} for r in _plain(rows)]
    chart: alt.FacetChart = (
        alt.Chart(alt.InlineData(values=wrapped), width=WIDTH + 60, height=14)
        .mark_bar()
        .encode(
            x=alt.X("sum(projects):Q", **count_axis("Projects", max(totals.values(), default=0))),
            color=_region_colour(rows),
            order=alt.Order("region:N"),
        )
        .facet(
            row=alt.Row(
                "project_type:N",
                sort=[_wrap(t, 48) for t in order],
                title=None,
                header=alt.Header(
                    labelAngle=0,
                    labelOrient="top",
                    labelAnchor="start",
                    labelAlign="left",
                    labelFontSize=LABEL_SIZE,
                    labelLimit=WIDTH + 60,
                    labelPadding=2,
                    labelExpr="split(datum.value, '|')",
                ),
            ),
            spacing=6,
        )
        .properties(description="Projects by project type and IDF region, stacked bars")
    )
    return chart


def changes_per_year(rows: Sequence[Row]) -> alt.Chart:
    """Stacked by where a change was seen, on a time axis (a year without changes keeps its
    place) with whole ticks."""
    largest = _largest_sum(rows, "year", "field_changes")
    chart: alt.Chart = (
        alt.Chart(alt.InlineData(values=_dated(rows)), width=WIDTH, height=140)
        .mark_bar()
        .encode(
            x=_year_axis("Year the change was first seen"),
            y=alt.Y("sum(field_changes):Q", **count_axis("Field changes", largest)),
            color=alt.Color(
                "seen_in:N",
                title="Seen in",
                scale=alt.Scale(domain=["live site", "web archive"], range=["#4c78a8", "#f58518"]),
                legend=alt.Legend(orient="top"),
            ),
        )
        .properties(description="Field changes per year, seen on the live site or in a web archive")
    )
    return chart


def _wrap(label: str, width: int) -> str:
    """`label` cut at the last space before `width` characters, the lines joined by "|"."""
    lines: list[str] = []
    line = ""
    for word in label.replace("|", "/").split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "|".join([*lines, line])


def changes_per_run(rows: Sequence[Row]) -> alt.Chart:
    largest = max((r["field_changes"] for r in rows), default=0)
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH, height=140)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("run_id:O", title="Run", axis=alt.Axis(labelAngle=0, labelOverlap=True)),
            y=alt.Y("field_changes:Q", **count_axis("Field changes", largest)),
        )
        .properties(description="Number of field changes recorded by each run")
    )
    return chart


def problems_by_kind(rows: Sequence[Row]) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(_data(rows), width=WIDTH - 110, height=alt.Step(20))
        .mark_bar()
        .encode(
            y=alt.Y("code:N", title=None, sort="-x", axis=alt.Axis(labelLimit=170)),
            x=alt.X(
                "sum(problems):Q",
                **count_axis("Problems", _largest_sum(rows, "code", "problems"), most=3),
            ),
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
    spec = (
        chart.configure(font=FONT, padding=8)
        .configure_axis(labelFontSize=LABEL_SIZE, titleFontSize=TITLE_SIZE)
        .configure_legend(labelFontSize=LABEL_SIZE, titleFontSize=TITLE_SIZE)
        .configure_header(labelFontSize=LABEL_SIZE)
        .to_dict()
    )
    return vl_convert.vegalite_to_svg(spec)
