"""How far past run_timeout `idf-etl run --from-raw` ends (issue 22, adversary H7).

    .venv/bin/python bench/bench_run_timeout.py [--pages 2600] [--timeouts 10 20 30] [--kept 0]

A generated store (pages.py, one page a project) read into a new warehouse, or with
`--kept N` into one that already has the first N pages' projects (a warehouse to export
whatever this run parses), with each run_timeout in turn, report off. Each run starts from
the same published warehouse. Run it with PYTHONPATH=<checkout>/src to measure another
checkout on the same store. Prints a row a run: the run's own seconds (its summary), wall
seconds, how far past run_timeout, exit status, pages parsed and left, stage seconds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_load_batch import from_raw
from pages import grow_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2600)
    ap.add_argument("--timeouts", type=float, nargs="+", default=[10.0, 20.0, 30.0])
    ap.add_argument("--kept", type=int, default=0, help="projects the warehouse has first")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        data = Path(tmp) / "data"
        grow_store(data, range(args.kept))
        if args.kept:
            first = from_raw(data)
            print(f"kept: {args.kept:,} projects in {first.seconds:.1f}s (exit {first.code})")
        grow_store(data, range(args.kept, args.pages))
        kept = Path(tmp) / "kept"
        if args.kept:
            shutil.copytree(data / "clean", kept, symlinks=True)
        print(f"{args.pages:,} stored pages, {args.kept:,} projects kept, report off")
        print(f"{'timeout':>7} {'seconds':>7} {'wall':>6} {'past':>6} {'exit':>4} "
              f"{'parsed':>6} {'p.left':>6} {'m.left':>6}  stage seconds")  # fmt: skip
        for timeout in args.timeouts:
            if args.kept:
                shutil.rmtree(data / "clean", ignore_errors=True)
                shutil.copytree(kept, data / "clean", symlinks=True)
            m = from_raw(data, f"run_timeout={timeout:g}", keep=bool(args.kept))
            s = m.summary
            seconds = float(s.get("seconds", float("nan")))
            stages = ", ".join(f"{k} {v:.1f}" for k, v in s.get("stage_seconds", {}).items())
            print(
                f"{timeout:>7g} {seconds:>7.1f} {m.seconds:>6.1f} {seconds - timeout:>+6.1f} "
                f"{m.code:>4} {s.get('pages_parsed', '?'):>6} {s.get('parse_left', '?'):>6} "
                f"{s.get('merge_left', '-'):>6}  {stages}"
            )


if __name__ == "__main__":
    main()
