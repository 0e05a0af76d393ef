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
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).parent))
from idf_etl.config import Settings
from pages import grow_store


class Run(NamedTuple):
    seconds: float  # wall, the process's start and exit included
    code: int
    summary: dict[str, Any]  # its --json line


def from_raw(data: Path, *settings: str, keep: bool = False) -> Run:
    """`idf-etl run --from-raw` into a new warehouse (`keep`: into the one published)."""
    if not keep:
        shutil.rmtree(data / "clean", ignore_errors=True)
    sets = [a for s in ("report=false", *settings) for a in ("--set", s)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    cmd = [sys.executable, "-m", "idf_etl", "run", "--from-raw", "--json", "--data-dir", str(data)]
    began = time.perf_counter()
    proc = subprocess.run([*cmd, *sets], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - began
    lines = proc.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else {}
    except ValueError:
        summary = {}
    if not summary:
        sys.stderr.write(proc.stderr[-2000:])
    return Run(seconds, proc.returncode, summary)


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
        grow_store(data, range(args.pages), args.shape)
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
