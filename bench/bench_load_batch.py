"""`idf-etl run --from-raw` at load_batch=1 beside the default, and with a run_timeout (issue 22).

    .venv/bin/python bench/bench_load_batch.py [--pages 1000] [--shape one] [--timeout 60]

The same generated store (pages.py, `--shape`: one page a project, or many) read into a new
warehouse at load_batch=1 and at the default, each once without a deadline (how long the
run takes) and once with `--timeout` as run_timeout (how far past it the run ends, and what
it left for the next run). Run it with PYTHONPATH=<checkout>/src to measure another
checkout on the same store. Prints a row a run: seconds, each stage's, pages parsed and left.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_load import from_raw, grow_store
from idf_etl.config import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--shape", default="one")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--no-full", action="store_true", help="only the runs with --timeout")
    args = ap.parse_args()
    default = Settings().load_batch
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        data = Path(tmp) / "data"
        grow_store(data, 0, args.pages, args.shape)
        print(f"{args.pages:,} stored pages ({args.shape}), a new warehouse, report off")
        print(f"{'load_batch':>10} {'run_timeout':>11} {'seconds':>8} {'exit':>4} "
              f"{'parsed':>7} {'p. left':>7} {'m. left':>7}  stage seconds")  # fmt: skip
        timeouts = ([None] if not args.no_full else []) + [args.timeout]
        for timeout in timeouts:
            for batch in (1, default):
                sets = [f"load_batch={batch}"]
                if timeout is not None:
                    sets.append(f"run_timeout={timeout:g}")
                m = from_raw(data, *sets)
                s = m.summary
                print(
                    f"{batch:>10} {'-' if timeout is None else f'{timeout:g}':>11} "
                    f"{m.seconds:>8.1f} {m.code:>4} {s.get('pages_parsed', '?'):>7} "
                    f"{s.get('parse_left', '?'):>7} {s.get('merge_left', '-'):>7}  "
                    f"{s.get('stage_seconds')}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
