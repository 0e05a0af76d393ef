"""Parse time of adversarial page shapes at N and 2N: each must grow ~linearly (a ratio near
2, never near 4). Issue 22, adversary case 4: a 4.4 MB text page of 100,000 heading /
indented-line pairs made the label-less reader quadratic (still parsing at 280 s).

    .venv/bin/python bench/bench_parse_shapes.py [N]     # default N = 20000

Prints, a shape a line: the shape, its size at 2N, CPU seconds at N and 2N, the ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from idf_etl.parse.page import parse_page

URL = "https://developmentfund.iom.int/project/slow"

SHAPES: dict[str, Callable[[int], bytes]] = {
    # adversary case 4: every unindented line above an indented one is a title position
    "heading/indented pairs": lambda n: (
        "Some heading here\n" + "A heading line\n    some indented words here\n" * n
    ).encode(),
    # each pair of equal lines is a place template C's values may start
    "repeated country lines": lambda n: ("Title\n" + "Armenia\n" * n).encode(),
    "repeated title lines": lambda n: ("Water project\n" * n).encode(),
    "title/id pairs": lambda n: ("Water project\nCE.0035\n" * n).encode(),
    "indented type lines": lambda n: (
        "Title\n" + "Heading\n    Community Development\n" * n
    ).encode(),
}


def cpu(data: bytes) -> float:
    start = time.process_time()
    parse_page(data, source="bench", url=URL)
    return time.process_time() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    for name, make in SHAPES.items():
        small, large = make(n), make(2 * n)
        a, b = cpu(small), cpu(large)
        print(
            f"{name:26s} {len(large):>10,} B  N: {a:6.2f}s  2N: {b:6.2f}s  ratio {b / max(a, 1e-3):.1f}"
        )


if __name__ == "__main__":
    main()
