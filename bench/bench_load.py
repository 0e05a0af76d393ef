"""Loader and whole-run throughput, memory as the raw store grows, and the parse workers.

    uv run --frozen --group bench python bench/bench_load.py \
        [--records 100000] [--scaling 3000 10000 30000] [--workers-pages 10000] [--rounds 3]
        [--machine 2000] [--nightly 3000] [--load-batch N]

1. `idf-etl run --from-raw` as a subprocess over raw stores of growing size
   (generated ~60 KB pages, default workers): pages/s, the run's own peak RSS
   (wait4) and the peak of the whole process tree (run + parse workers, RSS
   summed, sampled every 50 ms: it counts pages the workers share with the
   fork server twice, so it is an upper bound).
2. The same run with --set parse_workers=1 (in-process) and with the default
   (every core), on the same store, interleaved --rounds times; the ratio is of
   each side's best run (and the median of each adjacent pair's ratio, which
   drifts less), for the whole run and for its parse stage (parsing and
   loading the pages; the merge and publish after it are serial, the export
   runs on as many threads as workers), as
   the run's `--json` reports it (`stage_seconds`).
   Beside it, the machine's own ceiling for that ratio: the same generated
   pages parsed by one process alone and by one process per core at once,
   each its share, nothing sent back and nothing loaded (--machine pages).
   Each run also gives the CPU seconds the machine's cores spent busy, idle
   and stolen by the hypervisor meanwhile (bench/machine.py): a run on every
   core that was slow for its machine shows there. And each pair is followed
   by one measurement of the ceiling, so its ratio can be read beside what
   the machine gave two processes in the same minute.
3. The nightly job when nothing changed: a local mirror (bench/mirror.py), a
   first `idf-etl run`, then the timed second one (every page skipped by its
   sitemap date, the warehouse rebuilt and published).
4. Loads N generated project records (as the parser makes them) into a new
   DuckDB file in one transaction, through the Loader in batches as
   `idf-etl run` does, and reports records/s and rows/s (rows of every table
   written); beside it, `executemany` on 2,000 rows for scale.

The report (report.html, issue 11) is switched off in these runs
(--set report=false): its cost is measured by bench_report.py. The script
also runs against a checkout from before the batched loader and the parse
workers (issue 12), to measure the same things there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from bench_fetch import start_mirror
from idf_etl.config import Settings
from idf_etl.load.loader import Loader

try:
    from idf_etl.load.parsed import ParsedPage
except ImportError:  # a checkout from before load/parsed.py
    from idf_etl.load.loader import ParsedPage  # type: ignore[attr-defined,no-redef]
from idf_etl.parse.page import PARSER_VERSION
from idf_etl.pipeline import run as pipeline
from idf_etl.records import ProjectRecord
from idf_etl.warehouse.schema import create_schema
from machine import Cores, bench_machine, ceiling, cores_now, generated
from pages import SHAPES, grow_store

CODES = ["AM", "GE", "GH", "MD", "CD", "ZA", "SV", "MU", "XK", "VN", "KE", "UG", "TZ"]


def records(n: int) -> list[ParsedPage]:
    rng = random.Random(7)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        lang = ("en", "fr", "es")[i % 3]
        project = (
            f"{['CE', 'TK', 'CD'][i // 3 % 3]}.{i // 3:05d}"  # three pages (languages) a project
        )
        states = rng.sample(CODES, rng.randint(1, 4))
        rec = ProjectRecord(
            source=f"https://www.iom.int/{lang}/node/{i}",
            lang=lang,
            title=f"Project {i}",
            project_id=project,
            prima_id=f"ZA{i % 90 + 10}P{i % 10000:04d}",
            status=rng.choice(["active", "completed"]),
            status_label="Active",
            project_type="Community and Economic Development",
            budget_usd=Decimal(rng.randint(20, 400) * 1000),
            coverage="national",
            idf_region="Africa",
            start_year=2020,
            end_year=2023,
            year=2019,
            states=states,
            state_names=states,
            description="Generated for the benchmark. " * 8,
            template="labelled",
        )
        out.append(
            ParsedPage(
                url=rec.source,
                sha256=f"{i:064x}",
                fetched_at=now,
                checked_at=now,
                gone=False,
                record=rec,
            )
        )
    return out


def bench_loader(n: int, batch: int | None = None) -> None:
    pages = records(n)
    with tempfile.TemporaryDirectory() as tmp:
        # As `idf-etl run` connects (a checkout from before issue 12 left DuckDB its default).
        threads = getattr(pipeline, "WAREHOUSE_THREADS", None) or getattr(
            sys.modules.get("idf_etl.pipeline.memory"), "WAREHOUSE_THREADS", None
        )
        con = duckdb.connect(
            str(Path(tmp) / "bench.duckdb"), config={"threads": threads} if threads else {}
        )
        create_schema(con)
        con.execute("BEGIN TRANSACTION")
        start = time.perf_counter()
        loader = Loader(con, 1, datetime.now(UTC), PARSER_VERSION)
        size = batch or Settings().load_batch
        if hasattr(loader, "merge_batch"):  # as `idf-etl run` sets it
            loader.merge_batch = size
        if hasattr(loader, "finish"):
            try:
                from idf_etl.pipeline.parsing import batched
            except ImportError:  # a checkout from before pipeline/parsing.py
                from idf_etl.pipeline.run import batched

            for part in batched(pages, size):
                loader.load_pages(part)
            stats = loader.finish()
            how = f"batches of {size}"
        else:  # a checkout from before issue 12
            stats = loader.load(pages, {})
            how = "one batch"
        con.execute("COMMIT")
        seconds = time.perf_counter() - start
        tables = ["pages", "project_pages", "projects", "project_states"]
        rows = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)  # type: ignore[index]
        print(
            f"loader: {n:,} records -> {rows:,} rows in {seconds:.2f}s: "
            f"{n / seconds:,.0f} records/s, {rows / seconds:,.0f} rows/s "
            f"({stats.projects_total:,} projects, {how})"
        )
        con.execute("CREATE TABLE em AS SELECT * FROM project_pages LIMIT 0")
        sample = con.execute("SELECT * FROM project_pages LIMIT 2000").fetchall()
        marks = ", ".join("?" * len(sample[0]))
        start = time.perf_counter()
        con.executemany(f"INSERT INTO em VALUES ({marks})", sample)
        seconds = time.perf_counter() - start
        print(
            f"executemany, for scale: 2,000 project_pages rows in {seconds:.2f}s: "
            f"{2000 / seconds:,.0f} rows/s"
        )
        con.close()


class Measured(NamedTuple):
    seconds: float  # wall
    peak: int  # the command's own peak RSS, MB
    tree: int  # the peak RSS of it and its children, summed, MB
    code: int  # exit status
    summary: dict[str, Any]  # its last stdout line, read as JSON (`--json`), if it is
    cores: Cores  # what the machine's cores did meanwhile (all processes, not only these)


def measured(cmd: list[str]) -> Measured:
    """Run a command: wall seconds, peak RSS of it and of its tree, exit, --json summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    tree_peak = 0
    done = threading.Event()
    with tempfile.TemporaryFile() as log, tempfile.TemporaryFile() as out:
        start, before = time.perf_counter(), cores_now()
        proc = subprocess.Popen(cmd, stdout=out, stderr=log, env=env)

        def sample() -> None:
            nonlocal tree_peak
            root = psutil.Process(proc.pid)
            while not done.is_set():
                try:
                    family = [root, *root.children(recursive=True)]
                    tree_peak = max(tree_peak, sum(p.memory_info().rss for p in family))
                except psutil.Error:
                    pass
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds, cores = time.perf_counter() - start, cores_now() - before
        done.set()
        sampler.join()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.seek(0)
            sys.stderr.write(log.read().decode()[-2000:])
        out.seek(0)
        lines = out.read().decode().strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else {}
    except ValueError:
        summary = {}
    return Measured(seconds, usage.ru_maxrss // 1024, tree_peak // 2**20, code, summary, cores)


# Settings a checkout may not have yet (report: issue 11).
NO_REPORT = ("report=false",) if "report" in Settings.model_fields else ()


def from_raw(data: Path, *settings: str) -> Measured:
    shutil.rmtree(data / "clean", ignore_errors=True)  # a first run: a new warehouse
    sets = [a for s in (*NO_REPORT, *settings) for a in ("--set", s)]
    cmd = [sys.executable, "-m", "idf_etl", "run", "--from-raw", "--json", "--data-dir", str(data)]
    return measured([*cmd, *sets])


def bench_scaling(sizes: list[int], workers_pages: int, rounds: int, machine: int = 0) -> None:
    print(
        f"idf-etl run --from-raw, new warehouse, {os.cpu_count()} cores, report off\n"
        f"{'stored pages':>12} {'workers':>8} {'seconds':>8} {'pages/s':>8} "
        f"{'run peak MB':>11} {'tree peak MB':>12} {'parse stage s':>13} {'its pages/s':>11} "
        f"{'cores busy s':>12} {'idle s':>6} {'stolen s':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        stored = 0
        for n in sorted({*sizes, workers_pages} - {0}):
            grow_store(data, range(stored, n))
            stored = n
            # A checkout from before issue 12 parses in its one process.
            runs = [("all" if "parse_workers" in Settings.model_fields else "none", ())]
            if n == workers_pages:
                # Interleaved, `rounds` times: this machine's speed drifts by 20 % from one
                # minute to the next, so each side's best run is compared.
                runs = [("1", ("parse_workers=1",)), ("all", ())] * rounds
            best: dict[str, float] = {}
            best_parse: dict[str, float] = {}
            sides: list[tuple[float, float]] = []  # (whole, parse stage) of each run, in order
            bodies = generated(machine) if machine and len(runs) > 1 else []
            for label, settings in runs:
                r = from_raw(data, *settings)
                best[label] = min(best.get(label, r.seconds), r.seconds)
                # A checkout from before the stage times has none.
                parse = r.summary.get("stage_seconds", {}).get("parse", float("nan"))
                best_parse[label] = min(best_parse.get(label, parse), parse)
                sides.append((r.seconds, parse))
                print(
                    f"{n:12,} {label:>8} {r.seconds:8.2f} {n / r.seconds:8.0f} {r.peak:11d} "
                    f"{r.tree:12d} {parse:13.2f} {n / parse:11.0f} "
                    f"{r.cores.busy:12.1f} {r.cores.idle:6.1f} {r.cores.steal:8.1f}"
                    + ("" if r.code == 0 else f"  exit {r.code}")
                )
                if bodies and label == "all":
                    # The machine's ceiling right after the pair: its minute, not the run's.
                    one, every = sides[-2:]
                    print(
                        f"{'':12} pair {len(sides) // 2}: all / 1 = {one[0] / every[0]:.2f} for "
                        f"the whole run, {one[1] / every[1]:.2f} for its parse stage; the "
                        f"machine's ceiling just after: {ceiling(bodies):.2f}x"
                    )
            if len(best) == 2:
                print(
                    f"{'':12} all / 1 = {best['1'] / best['all']:.2f} for the whole run, "
                    f"{best_parse['1'] / best_parse['all']:.2f} for its parse stage "
                    f"(pages/s of each side's best of {rounds})"
                )
                # Each pair ran a minute apart: their ratios drift less than the bests do.
                pairs = list(zip(sides[::2], sides[1::2], strict=True))
                whole = statistics.median(one[0] / every[0] for one, every in pairs)
                stage = statistics.median(one[1] / every[1] for one, every in pairs)
                print(
                    f"{'':12} median of the {len(pairs)} adjacent pairs' ratios: {whole:.2f} for "
                    f"the whole run, {stage:.2f} for its parse stage"
                )


def bench_flat_memory(
    shapes: list[str], sizes: list[int], *settings: str, stores: Path | None = None
) -> None:
    """`run --from-raw` at the default settings over stores of each shape as they grow:
    whether it completes, and its peak RSS at each size against the smallest (issue 22:
    within 15 % from 3,000 to 30,000 stored pages, for every shape). `stores`: a directory
    to keep each store in (STORES/SHAPE-SIZE) and to take it from next time, so that code
    before and after a change is measured on the same stores without making them again."""
    print(
        f"\nflat memory: idf-etl run --from-raw, default settings{' + ' if settings else ''}"
        f"{' '.join(settings)}, report off\n"
        f"{'shape':>9} {'stored pages':>12} {'seconds':>8} {'run peak MB':>11} "
        f"{'tree peak MB':>12} {'vs smallest':>11} {'issues':>7} {'problems':>8} exit  built with"
    )
    for shape in shapes:
        with tempfile.TemporaryDirectory() as tmp:
            data, stored, first = Path(tmp), 0, 0
            for n in sorted(sizes):
                if stores is None:
                    grow_store(data, range(stored, n), shape)
                    stored = n
                    r = from_raw(data, *settings)
                else:
                    r = from_raw(_kept_store(stores, shape, n), *settings)
                first = first or r.peak
                print(
                    f"{shape:>9} {n:12,} {r.seconds:8.1f} {r.peak:11d} {r.tree:12d} "
                    f"{r.peak / first - 1:+10.0%} {r.summary.get('issues', 0):7,} "
                    f"{r.summary.get('problems', {}).get('still_open', 0):8,} {r.code:4d}  "
                    f"{_built_with(r.summary)}",
                    flush=True,
                )


def _kept_store(stores: Path, shape: str, n: int) -> Path:
    """STORES/SHAPE-N, made whole the first time (a half-made one, interrupted, again)."""
    data = stores / f"{shape}-{n}"
    if not (data / "made").exists():
        shutil.rmtree(data, ignore_errors=True)
        grow_store(data, range(n), shape)
        (data / "made").touch()
    return data


def _built_with(summary: dict[str, object]) -> str:
    """The memory the build ended with: warehouse_memory, or what it was raised to (a
    statement needed more at once: the run's memory is then not flat)."""
    notes = summary.get("notes") or []
    raised = [n.rsplit("built with ", 1)[1] for n in notes if "built with" in str(n)]  # type: ignore[union-attr]
    return raised[-1] if raised else "warehouse_memory"


def bench_nightly(pages: int) -> None:
    mirror, port = start_mirror(pages)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "-m",
                "idf_etl",
                "run",
                "--start-url",
                f"http://127.0.0.1:{port}/sitemap.xml",
                "--data-dir",
                tmp,
                "--rate",
                "0",
                "--concurrency",
                "16",
                *(a for s in NO_REPORT for a in ("--set", s)),
            ]
            first = measured(cmd)
            second = measured(cmd)
            print(
                f"nightly run, nothing changed: {pages:,} pages known, {second.seconds:.2f}s, "
                f"peak RSS {second.peak} MB (first full run {first.seconds:.1f}s; "
                f"exits {first.code}, {second.code})"
            )
    finally:
        mirror.terminate()
        mirror.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--scaling", type=int, nargs="*", default=[3000, 10_000, 30_000])
    ap.add_argument("--workers-pages", type=int, default=10_000, help="0: no workers comparison")
    ap.add_argument("--rounds", type=int, default=3, help="workers comparison: runs of each side")
    ap.add_argument("--machine", type=int, default=2000, help="pages; 0: no machine ceiling")
    ap.add_argument("--nightly", type=int, default=3000, help="pages on the mirror; 0: skip")
    ap.add_argument("--load-batch", type=int, help="the loader's batch (default: load_batch)")
    ap.add_argument(
        "--flat-shapes",
        nargs="*",
        default=list(SHAPES),
        choices=SHAPES,
        help="store shapes for the flat-memory runs (pages.SHAPES); none: skip",
    )
    ap.add_argument("--flat-sizes", type=int, nargs="*", default=[3000, 30_000])
    ap.add_argument("--flat-set", nargs="*", default=[], help="settings for those runs (KEY=VALUE)")
    ap.add_argument(
        "--flat-stores",
        type=Path,
        help="keep those runs' stores here (SHAPE-SIZE) and reuse them: before and after a change",
    )
    args = ap.parse_args()
    # The runs first: a child forked from a parent holding 100,000 records would
    # report the parent's memory as its own peak RSS.
    if args.scaling or args.workers_pages:
        bench_scaling(args.scaling, args.workers_pages, args.rounds, args.machine)
    if args.flat_shapes and args.flat_sizes:
        bench_flat_memory(
            args.flat_shapes, args.flat_sizes, *args.flat_set, stores=args.flat_stores
        )
    if args.machine:
        bench_machine(args.machine, args.rounds)
    if args.nightly:
        bench_nightly(args.nightly)
    if args.records:
        bench_loader(args.records, args.load_batch)


if __name__ == "__main__":
    main()
