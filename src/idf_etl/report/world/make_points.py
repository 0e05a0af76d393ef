"""Write points.json: a point for each country too small to have a shape in countries-110m.json.

Run once by hand, from this folder, with world-atlas 2.0.2's countries-10m.json beside it
(`npm pack world-atlas@2.0.2`; not committed: 3.6 MB), and commit the output:

    python make_points.py countries-10m.json > points.json

Each point is the centroid of the country's largest polygon at 1:10m, rounded to 0.1°
(11 km: finer than the map shows). Only shapes with an ISO 3166 numeric code are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pycountry

HERE = Path(__file__).parent


def _arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """The topology's arcs in longitude/latitude (they are quantised and delta-encoded)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    out = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        out.append(points)
    return out


def _ring(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[tuple[float, float]]:
    ring: list[tuple[float, float]] = []
    for i in indices:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        ring.extend(arc if not ring else arc[1:])
    return ring


def _centroid(ring: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Area and centroid of a ring (shoelace); a degenerate ring gives its mean point."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-12:
        n = len(ring)
        return 0.0, sum(x for x, _ in ring) / n, sum(y for _, y in ring) / n
    return abs(a) / 2, cx / (3 * a), cy / (3 * a)


def main(path: str) -> None:
    drawn = json.loads((HERE / "countries-110m.json").read_text())
    shaped = {g.get("id") for g in drawn["objects"]["countries"]["geometries"]}
    fine = json.loads(Path(path).read_text())
    arcs = _arcs(fine)
    points = {}
    for geometry in fine["objects"]["countries"]["geometries"]:
        country = (
            pycountry.countries.get(numeric=geometry.get("id", "")) if "id" in geometry else None
        )
        if country is None or geometry["id"] in shaped:
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        best = max((_centroid(_ring(arcs, polygon[0])) for polygon in polygons), key=lambda c: c[0])
        points[country.alpha_2] = [round(best[1], 1), round(best[2], 1)]
    json.dump(dict(sorted(points.items())), sys.stdout, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
