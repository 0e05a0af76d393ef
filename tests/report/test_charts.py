"""The charts say what the data says: counts on whole ticks, years on a time axis with their
gaps, missing years named, numbers in agreement with their nouns; and the world map draws
every country it can (Kosovo and small island states included). Read from the rendered page
(its SVG and HTML), as a reader sees it, on warehouses written here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pycountry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.report import charts, page, worldmap
from idf_etl.report.build import write_report
from idf_etl.warehouse.schema import create_schema

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def warehouse(path: Path, projects: list[dict], problems: dict[str, int] | None = None) -> Path:
    """A warehouse holding `projects` (key, and any of year, start, end, budget, region,
    states, title) and `problems` open ones of each code."""
    with duckdb.connect(str(path)) as con:
        create_schema(con)
        for p in projects:
            key = p["key"]
            con.execute(
                """INSERT INTO projects (project_key, project_id, title, budget_usd, year,
                       start_year, end_year, idf_region, states, urls, first_seen,
                       last_changed, missing_from_site)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, [?], ?, ?, false)""",
                [
                    key, key, p.get("title", f"Project {key}"), p.get("budget", 100000),
                    p.get("year"), p.get("start"), p.get("end"), p.get("region", "Africa"),
                    p.get("states", []), f"https://www.iom.int/project/{key}", NOW, NOW,
                ],
            )  # fmt: skip
            for iso2 in p.get("states", []):
                country = pycountry.countries.get(alpha_2=iso2)
                con.execute(
                    "INSERT INTO project_states (project_key, iso2, country_name) VALUES (?, ?, ?)",
                    [key, iso2, country.name if country else "Kosovo"],
                )
        if problems:
            con.execute(
                "INSERT INTO runs (run_id, started_at, finished_at, mode, outcome) "
                "VALUES (1, ?, ?, 'network', 'success')",
                [NOW, NOW],
            )
            n = 0
            for code, count in problems.items():
                for _ in range(count):
                    n += 1
                    con.execute(
                        """INSERT INTO problems (problem_id, stage, severity, code, url, message,
                               first_seen, last_seen, runs, first_run_id, last_run_id)
                           VALUES (?, 'parse', 'warning', ?, ?, 'm', ?, ?, 1, 1, 1)""",
                        [f"p{n}", code, f"https://www.iom.int/project/{n}", NOW, NOW],
                    )
    return path


def report(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        return write_report(con, path.with_suffix(".html")).path.read_text()


def section(html: str, id: str) -> str:
    start = html.index('<section class="chart')
    start = html.index(f'id="{id}"', start)
    return html[start : html.index("</section>", start)]


def axis_labels(svg: str) -> list[list[str]]:
    """The tick labels of each axis of a chart, in drawing order."""
    groups = re.findall(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', svg, re.S)
    return [re.findall(r">([^<]*)</text>", g) for g in groups]


def integer_axis(labels: list[str]) -> list[int]:
    values = [int(label.replace(",", "")) for label in labels]  # ValueError: not whole
    assert values == sorted(set(values)), f"repeated or unordered ticks: {labels}"
    return values


# -- whole ticks for counts ------------------------------------------------------------


def test_one_open_problem_reads_0_1_not_0_1_1(tmp_path):
    html = report(warehouse(tmp_path / "w.duckdb", [{"key": "A.1"}], {"unreadable_page": 1}))
    (x, _y) = axis_labels(section(html, "problems"))
    assert integer_axis(x) == [0, 1]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=st.lists(st.integers(1, 5000), min_size=1, max_size=4))
def test_every_count_axis_has_whole_distinct_ticks_that_cover_the_largest(counts):
    problems = [
        {"code": f"code_{i}", "severity": "warning", "problems": n} for i, n in enumerate(counts)
    ]
    (x, _y) = axis_labels(charts.to_svg(charts.problems_by_kind(problems)))
    ticks = integer_axis(x)
    assert ticks[0] == 0 and ticks[-1] >= max(counts) and len(ticks) >= 2
    runs = [{"run_id": i + 1, "field_changes": n} for i, n in enumerate(counts)]
    (_x, y) = axis_labels(charts.to_svg(charts.changes_per_run(runs)))
    assert integer_axis(y)[-1] >= max(counts)
    years = [
        {"year": 2001 + 3 * i, "seen_in": "web archive", "field_changes": n}
        for i, n in enumerate(counts)
    ]
    (x, y) = axis_labels(charts.to_svg(charts.changes_per_year(years)))
    assert integer_axis(y)[-1] >= max(counts)
    assert all(re.fullmatch(r"\d{4}", label) for label in x), x


@pytest.mark.parametrize("largest", [0, 1, 2, 3, 7, 10, 11, 99, 1001, 123456])
def test_count_axis_ticks_are_steps_of_1_2_or_5_to_a_power(largest):
    axis = charts.count_axis("n", largest)
    values = axis["axis"]["values"]
    step = values[1] - values[0]
    assert re.fullmatch(r"[125]0*", str(step)), step
    assert values[-1] >= max(largest, 1) and len(values) <= 6
    assert axis["scale"]["domain"] == [0, values[-1]]


# -- years are time ------------------------------------------------------------------


def bars_x(svg: str) -> list[float]:
    """The left edge of each bar of a chart (Vega draws them as paths starting M x,y)."""
    marks = re.search(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    assert marks, "no bars"
    return sorted(float(x) for x in re.findall(r'd="M(-?[\d.]+),', marks.group(1)))


def test_years_sit_on_a_time_axis_with_their_gaps(tmp_path):
    html = report(
        warehouse(
            tmp_path / "w.duckdb",
            [
                {"key": "A.1", "year": 2001, "start": 2001, "end": 2003},
                {"key": "A.2", "year": 2017, "start": 2017, "end": 2018},
                {"key": "A.3", "year": 2018, "start": 2018, "end": 2019},
            ],
        )
    )
    for id in ("budget-region-year", "status-over-time"):
        svg = section(html, id)
        x_labels = axis_labels(svg)[0]
        assert "2010" in x_labels, f"{id}: a year with no data has its place ({x_labels})"
        assert all(re.fullmatch(r"\d{4}", label) for label in x_labels), x_labels
    first, second, third = sorted(set(bars_x(section(html, "budget-region-year"))))
    assert (second - first) == pytest.approx(16 * (third - second), rel=0.05), (
        "2001 to 2017 is sixteen times 2017 to 2018"
    )


def test_projects_with_no_allocation_year_are_said_under_the_time_axis(tmp_path):
    html = report(
        warehouse(
            tmp_path / "w.duckdb",
            [{"key": "A.1", "year": 2020}, {"key": "A.2", "budget": 5000}],
        )
    )
    chart = section(html, "budget-region-year")
    assert "Not on the time axis: 1 project with no allocation year ($5,000)" in chart
    assert "<td>no year</td>" in chart


# -- a missing year is named, counts agree with their nouns ----------------------------


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        (None, 2024, "? – 2024"),
        (2019, None, "2019 – ?"),
        (2019, 2021, "2019–2021"),
        (None, None, "—"),
    ],
)
def test_the_projects_table_names_a_missing_year(tmp_path, start, end, shown):
    html = report(warehouse(tmp_path / "w.duckdb", [{"key": "A.1", "start": start, "end": end}]))
    row = re.search(r"<tr><td>A\.1</td>.*?</tr>", html, re.S)
    assert row
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row[0])
    assert cells[7] == shown
    assert "——" not in html and "—–" not in html


def test_one_row_is_one_row(tmp_path):
    html = report(
        warehouse(
            tmp_path / "w.duckdb",
            [{"key": "A.1", "states": ["MZ"], "start": 2020, "end": 2021}],
            {"x": 1},
        )
    )
    assert not re.search(r"\(1 (rows|projects|countries)\)", html)
    assert "(1 row)" in section(html, "problems")
    assert '<span id="projects-count" aria-live="polite">1 project</span>' in html
    assert "(2 rows)" in section(html, "status-over-time")  # started and ended


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (1234, "1,234 rows")]
)
def test_plural(count, text):
    assert page.plural(count, "row") == text


# -- the world map ----------------------------------------------------------------------


def test_every_country_is_a_shape_or_a_dot_but_a_few_territories():
    undrawn = {
        c.alpha_2 for c in pycountry.countries if worldmap.drawn_as(c.alpha_2) == "not drawn"
    }
    # Antarctica (left out), overseas parts of France, Norway, Australia, the Netherlands,
    # New Zealand and the US, and two uninhabited islands: no project benefits them.
    assert undrawn <= {"AQ", "BQ", "BV", "CC", "CX", "GF", "GP", "MQ", "RE", "SJ", "TK", "UM", "YT"}
    assert worldmap.drawn_as("XK") == "shape"
    assert {worldmap.drawn_as(c) for c in ("TV", "MV", "KM", "MU", "TO")} == {"dot"}
    assert "AQ" not in worldmap.shaped()


def test_the_map_draws_kosovo_a_tiny_island_and_names_what_it_cannot(tmp_path):
    html = report(
        warehouse(
            tmp_path / "w.duckdb",
            [
                {"key": "A.1", "states": ["XK", "RS"], "budget": 200000},
                {"key": "A.2", "states": ["TV"], "budget": 50000},
                {"key": "A.3", "states": ["GF"], "budget": None},
            ],
        )
    )
    map_ = section(html, "world-map")
    svg = map_[map_.index("<svg") : map_.index("</svg>")]
    layers = dict(
        re.findall(r'<g class="mark-(shape|symbol) role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    )
    shapes = re.findall(r'fill="([^"]+)"', layers["shape"])
    assert len(shapes) > 150 and worldmap.NO_DATA in shapes
    shaded = [c for c in shapes if c not in (worldmap.NO_DATA, worldmap.NO_BUDGET)]
    assert len(shaded) == 2, "Kosovo and Serbia, by their share of the budget"
    dots = re.findall(r'fill="([^"]+)"', layers["symbol"])
    assert len(dots) == 1 and dots[0] != worldmap.NO_BUDGET, "Tuvalu is a dot with its budget"
    assert "Drawn as a dot, too small for a shape at this scale: Tuvalu." in map_
    assert "Not on the map (no shape or place for them): French Guiana." in map_
    assert (
        "<td>Kosovo</td><td>XK</td><td>1</td><td>$100,000</td><td>$200,000</td><td>shape</td>"
        in map_
    )
    assert 'class="legend"' in map_ and "$50,000" in map_ and "$100,000" in map_


def test_a_warehouse_whose_countries_have_no_budget_still_gets_a_map(tmp_path):
    html = report(
        warehouse(tmp_path / "w.duckdb", [{"key": "A.1", "states": ["PE"], "budget": None}])
    )
    map_ = section(html, "world-map")
    assert worldmap.NO_BUDGET in map_ and "linear-gradient" not in map_


def absolute_points(path: str) -> list[list[tuple[float, float]]]:
    """The subpaths of a path of M, L, l and Z commands, as absolute points."""
    subpaths: list[list[tuple[float, float]]] = []
    tokens = re.findall(r"[MLlZ]|-?\d+(?:\.\d+)?", path)
    x = y = 0.0
    command = ""
    i = 0
    while i < len(tokens):
        if tokens[i] in ("M", "L", "l", "Z"):
            command = tokens[i]
            i += 1
            continue
        a, b = float(tokens[i]), float(tokens[i + 1])
        i += 2
        if command == "M":
            x, y = a, b
            subpaths.append([(x, y)])
            command = "L"
        else:
            x, y = (a, b) if command == "L" else (x + a, y + b)
            subpaths[-1].append((x, y))
    return subpaths


coordinate = st.floats(-50, 800, allow_nan=False).map(lambda v: round(v, 3))
subpath = st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=12)


@given(st.lists(subpath, min_size=1, max_size=4))
def test_compacted_map_paths_stay_within_half_a_pixel(subpaths):
    d = "".join("M" + "L".join(f"{x},{y}" for x, y in points) + "Z" for points in subpaths)
    out = worldmap.compact(f'<svg><path d="{d}" fill="#fff"/></svg>')
    new = re.search(r'd="([^"]*)"', out).group(1)
    assert len(new) <= len(d)
    got = absolute_points(new)
    assert len(got) == len(subpaths)
    for before, after in zip(subpaths, got, strict=True):
        rounded = [(round(x), round(y)) for x, y in before]
        deduplicated = [p for i, p in enumerate(rounded) if i == 0 or p != rounded[i - 1]]
        assert after == deduplicated
        assert all(
            abs(a - b) <= 0.5
            for p, q in zip(before, rounded, strict=True)
            for a, b in zip(p, q, strict=True)
        )
