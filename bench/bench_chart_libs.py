"""Why the report draws with Altair + vl-convert and not Plotly: the same six charts, both ways.

    .tools/bin/uv run --frozen --with plotly python bench/bench_chart_libs.py [--out DIR]

Plotly is not a dependency of idf-etl; `--with` brings it for this comparison
only. Prints each page's size (plain and gzipped, as a mail attachment
travels) and build time, and writes both pages to --out to open in a browser.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
from pathlib import Path

import altair as alt
import vl_convert

REGIONS = ["Africa", "Asia and Oceania", "Europe", "Latin America and the Caribbean", "Global"]


def data() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rng = random.Random(1)
    by_year = [
        {"region": r, "year": str(y), "budget": rng.randint(1, 30) * 1e5}
        for r in REGIONS
        for y in range(2001, 2027)
    ]
    by_country = [
        {"country": f"Country {i}", "budget": rng.randint(1, 90) * 1e5} for i in range(25)
    ]
    return by_year, by_country


def with_altair(by_year: list[dict[str, object]], by_country: list[dict[str, object]]) -> str:
    stacked = (
        alt.Chart(alt.InlineData(values=by_year), width=640, height=280)
        .mark_bar()
        .encode(x="year:O", y="sum(budget):Q", color="region:N")
    )
    bars = (
        alt.Chart(alt.InlineData(values=by_country), width=560)
        .mark_bar()
        .encode(y=alt.Y("country:N", sort="-x"), x="budget:Q")
    )
    svgs = [vl_convert.vegalite_to_svg(c.to_dict()) for c in [stacked, bars] * 3]
    return "<!DOCTYPE html><html><body>" + "".join(svgs) + "</body></html>"


def with_plotly(by_year: list[dict[str, object]], by_country: list[dict[str, object]]) -> str:
    import plotly.graph_objects as go
    import plotly.io as pio

    stacked = go.Figure(
        [
            go.Bar(
                name=r,
                x=[d["year"] for d in by_year if d["region"] == r],
                y=[d["budget"] for d in by_year if d["region"] == r],
            )
            for r in REGIONS
        ]
    )
    stacked.update_layout(barmode="stack")
    bars = go.Figure(
        go.Bar(
            y=[d["country"] for d in by_country],
            x=[d["budget"] for d in by_country],
            orientation="h",
        )
    )
    figures = [stacked, bars] * 3
    # Offline means the library inside the page: once, in the first figure.
    parts = [pio.to_html(figures[0], full_html=False, include_plotlyjs=True)]
    parts += [pio.to_html(f, full_html=False, include_plotlyjs=False) for f in figures[1:]]
    return "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("bench/out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    by_year, by_country = data()
    for name, build in (("altair+vl-convert", with_altair), ("plotly", with_plotly)):
        build(by_year, by_country)  # warm up: imports, the JS engine
        start = time.perf_counter()
        html = build(by_year, by_country)
        seconds = time.perf_counter() - start
        raw = html.encode()
        (args.out / f"charts-{name}.html").write_bytes(raw)
        print(
            f"{name}: 6 charts, {len(raw) / 1024:,.0f} KB ({len(gzip.compress(raw)) / 1024:,.0f} KB "
            f"gzipped), built in {seconds:.2f}s (warm), scripts: {html.count('<script')}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
