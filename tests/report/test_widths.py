"""The report on a phone and on a laptop, in Debian's Chromium: the page never scrolls
sideways, every chart (the world map too) is drawn whole inside the window, and its text
stays readable."""

from __future__ import annotations

import pytest

from tests.helpers.report import Visit

# Each chart's box, the smallest text drawn in it (its font size times the scale the page
# draws the SVG at), and whether any of its text was cut short with an ellipsis.
MEASURE = """() => ({
  scrollWidth: document.scrollingElement.scrollWidth,
  innerWidth: window.innerWidth,
  viewport: document.querySelector('meta[name=viewport]')?.content,
  charts: [...document.querySelectorAll('figure svg')].map(svg => {
    const box = svg.getBoundingClientRect();
    const scale = box.width / svg.viewBox.baseVal.width;
    const sizes = [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
    return {id: svg.closest('section').id, left: box.left, right: box.right, width: box.width,
            height: box.height, marks: svg.querySelectorAll("g[class*='role-mark'] > path").length,
            smallestText: sizes.length ? Math.min(...sizes) : null,
            cut: [...svg.querySelectorAll('text')].map(t => t.textContent).filter(t => t.includes('…'))};
  }),
})"""


@pytest.mark.slow
@pytest.mark.parametrize("width", [320, 400, 768, 1024, 1400, 1920])
def test_the_report_fits_the_window_and_every_chart_is_drawn(demo_warehouse, browser, width):
    report = demo_warehouse / "clean" / "report.html"
    visit = Visit(browser, report, width=width, height=900)
    seen = visit.page.evaluate(MEASURE)
    assert seen["viewport"] == "width=device-width, initial-scale=1"
    assert seen["scrollWidth"] <= seen["innerWidth"] == width, "the page scrolls sideways"
    ids = [c["id"] for c in seen["charts"]]
    assert ids == [
        "budget-region-year",
        "countries",
        "world-map",
        "status-over-time",
        "types-by-region",
        "changes-per-year",
        "changes-per-run",
        "problems",
    ]
    for chart in seen["charts"]:
        assert chart["width"] > 0 and chart["height"] > 0, chart["id"]
        assert chart["left"] >= 0 and chart["right"] <= width, f"{chart['id']} is cut: {chart}"
        assert chart["marks"] > 0, f"{chart['id']} has nothing drawn"
        if chart["smallestText"] is not None:
            # 12 px labels drawn about 380 px wide: at 400 px they stay over 10 px; a
            # 320 px phone shrinks them to 9.
            assert chart["smallestText"] >= (10 if width >= 400 else 8.5), chart
    world = next(c for c in seen["charts"] if c["id"] == "world-map")
    assert world["marks"] > 150, "the world map's countries"
    types = next(c for c in seen["charts"] if c["id"] == "types-by-region")
    assert types["cut"] == [], "project types are written whole"
    assert visit.errors == []


@pytest.mark.slow
def test_printed_the_report_keeps_its_numbers_and_fits_the_page(demo_warehouse, browser):
    visit = Visit(browser, demo_warehouse / "clean" / "report.html", width=800)
    page = visit.page
    page.emulate_media(media="print")
    seen = page.evaluate(MEASURE)
    assert seen["scrollWidth"] <= seen["innerWidth"]
    # The numbers under each chart are printed, not folded away.
    assert page.locator("details.numbers table").first.is_visible()
    assert not page.locator("nav").first.is_visible()
