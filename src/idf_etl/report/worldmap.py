"""The world map: budget by benefiting country, drawn offline from an embedded topology.

The shapes are world-atlas 2.0.2's countries-110m.json (Natural Earth 1:110m, public
domain; ISC licence in world/), about 100 KB, read from the package: nothing is fetched.
Its countries carry ISO 3166 numeric ids; the warehouse speaks alpha-2, so the ids are
mapped through pycountry once, when the topology is read. Kosovo (XK, no ISO code) is found
by name; Somaliland and Northern Cyprus, drawn apart at this scale, take the colour of the
state the site names (SO, CY). Countries too small for a 1:110m shape (Tuvalu, the Maldives,
most small island states) are drawn as a dot at the point world/points.json gives; a
country in neither file (none today) is listed under the map as not drawn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import pycountry

WORLD = Path(__file__).parent / "world"
# Shapes without an ISO numeric id, by their name in the topology.
BY_NAME = {"Kosovo": "XK", "Somaliland": "SO", "N. Cyprus": "CY"}
ANTARCTICA = "AQ"  # no projects, and a third of the map's height: left out
# The colour ramp, light to dark, interpolated in RGB on a log scale: the page's legend
# (an HTML gradient between the same two colours) matches it exactly.
LOW, HIGH = "#c6dbef", "#08306b"
NO_DATA = "#e3e6ea"
NO_BUDGET = "#9aa3ad"  # benefits from projects, none of which gives a budget
WIDTH, HEIGHT = 760, 370

Row = dict[str, Any]


@cache
def topology() -> dict[str, Any]:
    """countries-110m with alpha-2 ids (a shape with none keeps no id) and Antarctica gone."""
    topo: dict[str, Any] = json.loads((WORLD / "countries-110m.json").read_text())
    kept = []
    for geometry in topo["objects"]["countries"]["geometries"]:
        name = geometry.get("properties", {}).get("name", "")
        country = pycountry.countries.get(numeric=geometry["id"]) if "id" in geometry else None
        iso2 = country.alpha_2 if country is not None else BY_NAME.get(name)
        if iso2 == ANTARCTICA:
            continue
        geometry["id"] = iso2
        geometry["properties"] = {}  # names come from the warehouse
        kept.append(geometry)
    topo["objects"]["countries"]["geometries"] = kept
    return topo


@cache
def shaped() -> frozenset[str]:
    return frozenset(g["id"] for g in topology()["objects"]["countries"]["geometries"] if g["id"])


@cache
def points() -> dict[str, tuple[float, float]]:
    """Longitude and latitude of each country too small to have a shape."""
    raw: dict[str, list[float]] = json.loads((WORLD / "points.json").read_text())
    return {iso2: (lon, lat) for iso2, (lon, lat) in raw.items()}


def drawn_as(iso2: str) -> str:
    """How the map shows a country: `shape`, `dot`, or `not drawn`."""
    if iso2 in shaped():
        return "shape"
    return "dot" if iso2 in points() else "not drawn"


def colour_scale(rows: Sequence[Row]) -> tuple[float, float] | None:
    """The budgets the ramp runs between (log scale), or None when no country has one."""
    budgets = [float(r["budget_usd"]) for r in rows if r["budget_usd"]]
    if not budgets:
        return None
    low, high = min(budgets), max(budgets)
    return (low, high if high > low else low * 10)


def world_map(rows: Sequence[Row]) -> alt.TopLevelMixin:
    """Each country shaded by the budget it benefits from (`rows`: iso2, country, projects,
    budget_usd), on a grey world. The legend is drawn by the page, outside the SVG, so its
    text keeps its size when the map is shrunk to a phone's width."""
    values = [
        {
            "iso2": r["iso2"],
            "has": True,
            "budget": float(r["budget_usd"]) if r["budget_usd"] else None,
        }
        for r in rows
    ]
    world = alt.InlineData(values=topology(), format={"type": "topojson", "feature": "countries"})
    domain = colour_scale(rows)
    # One shape per country: grey when it has no projects, a darker grey when its projects
    # give no budget, else shaded by its budget (`has` and `budget` are looked up by id).
    unshaded = [
        {"test": "!datum.has", "value": NO_DATA},
        {"test": "!isValid(datum.budget)", "value": NO_BUDGET},
    ]
    colour: Any = (
        alt.Color(
            "budget:Q",
            scale=alt.Scale(
                type="log", domain=list(domain), range=[LOW, HIGH], interpolate="rgb", clamp=True
            ),
            legend=None,
            condition=unshaded,
        )
        if domain
        else alt.Color(value=NO_BUDGET, condition=unshaded[0])
    )
    shapes = (
        alt.Chart(world)
        .mark_geoshape(stroke="#ffffff", strokeWidth=0.4, invalid="show", aria=False)
        .transform_lookup(
            lookup="id",
            from_=alt.LookupData(alt.InlineData(values=values), "iso2", ["budget", "has"]),
        )
        .encode(color=colour)
    )
    dots = [
        {**v, "lon": points()[v["iso2"]][0], "lat": points()[v["iso2"]][1]}
        for v in values
        if drawn_as(v["iso2"]) == "dot"
    ]
    layers: list[alt.Chart] = [shapes]
    if dots:
        layers.append(
            alt.Chart(alt.InlineData(values=dots))
            .mark_circle(
                size=60, opacity=1, stroke="#1d2733", strokeWidth=0.8, invalid="show", aria=False
            )
            .encode(
                longitude="lon:Q",
                latitude="lat:Q",
                color=colour,
            )
        )
    chart = (
        alt.layer(*layers)
        .project(type="equalEarth")
        .properties(
            width=WIDTH,
            height=HEIGHT,
            description="World map: budget of the projects each country benefits from (even share)",
        )
    )
    return chart


_PATH = re.compile(r'd="(M[-\d.,LMZ]*)"')
_TOKEN = re.compile(r"[MLZ]|-?\d+(?:\.\d+)?")


def compact(svg: str) -> str:
    """The map's SVG with its shapes' paths rewritten: whole pixels, relative moves, repeated
    points dropped. The shapes are drawn 760 px wide and never shown larger, so a pixel is
    as fine as a screen shows them; the file is about a third of vl-convert's."""
    svg = svg.replace(' transform="translate(0,0)"', "")
    return _PATH.sub(lambda m: f'd="{_relative(m.group(1))}"', svg)


def _relative(path: str) -> str:
    """A path of M, L and Z commands (what Vega's geo paths are made of), shortened."""
    tokens = _TOKEN.findall(path)
    out: list[str] = []
    x = y = 0
    start = (0, 0)
    i = 0
    command = ""
    while i < len(tokens):
        token = tokens[i]
        if token in ("M", "L", "Z"):
            command = token
            i += 1
            if token == "Z":
                out.append("Z")
                x, y = start  # a closed path's current point is where it began
            continue
        nx, ny = round(float(token)), round(float(tokens[i + 1]))
        i += 2
        if command == "M":
            out.append(f"M{nx},{ny}")
            start = (nx, ny)
            command = "L"  # pairs after a move are lines
        elif (nx, ny) != (x, y):
            dx, dy = nx - x, ny - y
            sep = (
                "l"
                if not out or not out[-1].startswith(("l", "-", " "))
                else ("" if dx < 0 else " ")
            )
            out.append(f"{sep}{dx}{',' if dy >= 0 else ''}{dy}")
        x, y = nx, ny
    return "".join(out)
