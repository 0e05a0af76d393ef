"""Memory as history grows: the same store, every page changed before each run (issue 22).

    PYTHONPATH=src .venv/bin/python bench/bench_history.py [--pages 1800] [--runs 12]

A store of `--pages` generated pages (pages.py, `--shape`) is read into a warehouse, then
`--runs` times every page's budget is changed in the raw store and `idf-etl run --from-raw`
reads them again into the same warehouse: each run adds a field change a project and an
observation a page, so the warehouse's history grows while the store does not. Prints a
row a run: seconds, the run's own peak RSS and its process tree's (parse workers
included), and the warehouse file's size. Flat memory means the peaks level off, bounded by
warehouse_memory, however long the history.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_load import NO_REPORT, measured
from pages import grow_store, project_page

_BUDGET = re.compile(r'(<div class="field__item">)(\d+)000\.00(</div>)')


def changed(i: int, shape: str, run: int) -> str:
    """Page i of a store `shape`, its budget moved by `run` thousand."""
    return _BUDGET.sub(
        lambda m: f"{m[1]}{int(m[2]) + run}000.00{m[3]}", project_page(i, shape=shape)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1800)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--shape", default="one")
    args = parser.parse_args()
    sets = [a for s in NO_REPORT for a in ("--set", s)]
    print(
        f"{args.pages:,} stored pages ({args.shape}), every one changed before each run\n"
        f"{'run':>4} {'seconds':>8} {'run peak MB':>11} {'tree peak MB':>12} "
        f"{'field changes':>13} {'warehouse MB':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        for run in range(args.runs + 1):
            grow_store(data, range(args.pages), page=partial(changed, shape=args.shape, run=run))
            cmd = [sys.executable, "-m", "idf_etl", "run", "--from-raw", "--json"]
            got = measured([*cmd, "--data-dir", str(data), *sets])
            size = (data / "clean" / "idf.duckdb").resolve().stat().st_size / 2**20
            changes = got.summary.get("field_changes", "?")
            print(
                f"{run:>4} {got.seconds:>8.1f} {got.peak:>11} {got.tree:>12} {changes!s:>13} "
                f"{size:>12.1f}" + ("" if got.code == 0 else f"  exit {got.code}"),
                flush=True,
            )


if __name__ == "__main__":
    main()
