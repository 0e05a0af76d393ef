"""SIGKILL `idf-etl run` at random moments, then check what is published; rerun; check again.

    python bench/kill_loop.py --kills 40 [--seed 7] [--copies 1500] [--window 0.7 1.05]

Serves demo/site on 127.0.0.1, runs the real CLI in a subprocess (network runs
that each change one budget, alternating with `run --from-raw` over a raw store
padded with copies of a page), kills it after a random delay and checks, after
the kill and again after a rerun to completion:
  - the published warehouse opens read-only;
  - no table has two rows with the same key;
  - every Parquet export holds exactly the rows of its table, and the database,
    parquet/ and datapackage.json resolve into the same release directory.
Prints one line per kill (stage reached, result) and a summary by stage.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "demo"))
from serve import serve  # noqa: E402

from idf_etl.rawstore import RawStore  # noqa: E402
from idf_etl.warehouse.schema import TABLES  # noqa: E402

ARMENIA = "project/migration-socio-economic-development-armenia-georgia.html"


def cli(data: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    return subprocess.Popen(
        [sys.executable, "-m", "idf_etl", "run", "--data-dir", str(data), "--rate", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def releases(clean: Path) -> set[str]:
    return {p.name for p in (clean / "releases").glob("[0-9]*")}


def stage(clean: Path, before: set[str]) -> str:
    """How far the run got, from what it leaves on disk (`before`: releases at its start)."""
    building = clean / "releases" / ".building"
    new = releases(clean) - before
    if (clean / ".current.tmp").exists():
        return "publish: pointer swap"
    if new:
        current = (clean / "current").resolve().name
        return "after publish" if current in new else "publish: renamed, pointer not swapped"
    if (building / "parquet").exists():
        return "export"
    if building.exists():
        return "parse/load"
    return "start/fetch"


def check(data: Path) -> list[str]:
    """What is wrong with the published state (empty: nothing)."""
    clean = data / "clean"
    db = clean / "idf.duckdb"
    if not db.exists():
        return ["no published warehouse"]
    problems = []
    names = ("idf.duckdb", "csv", "parquet", "datapackage.json")
    homes = {(clean / n).resolve().parent for n in names}
    if len(homes) != 1:
        problems.append(f"published names point into different releases: {homes}")
    package = json.loads((clean / "datapackage.json").read_text())
    if not {r["name"] for r in package["resources"]} >= {t.name for t in TABLES}:
        problems.append("datapackage.json does not list the tables")
    with duckdb.connect(str(db), read_only=True) as con:
        for t in TABLES:
            rows = sorted(map(repr, con.execute(f"SELECT * FROM {t.name}").fetchall()))
            exported = sorted(
                map(repr, con.read_parquet(str(clean / "parquet" / f"{t.name}.parquet")).fetchall())
            )
            if rows != exported:
                problems.append(f"{t.name}: export differs from the database")
            if t.key:
                keys = ", ".join(t.key)
                (dups,) = con.execute(
                    f"SELECT count(*) FROM (SELECT {keys} FROM {t.name} GROUP BY ALL "
                    "HAVING count(*) > 1)"
                ).fetchone() or (0,)
                if dups:
                    problems.append(f"{t.name}: {dups} duplicate keys")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--copies", type=int, default=1500)
    ap.add_argument(
        "--window",
        type=float,
        nargs=2,
        default=(0.03, 1.05),
        metavar=("FROM", "TO"),
        help="kill between these fractions of a run's measured length (0.7 1.05: mostly publish)",
    )
    ap.add_argument(
        "--at-publish",
        action="store_true",
        help="wait until the exports are written, then kill within the next 0-80 ms "
        "(checkpoint, fsync, rename, pointer swap)",
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kill-loop-"))
    site = work / "site"
    shutil.copytree(REPO / "demo" / "site", site)
    server, base = serve(site)
    data = work / "data"
    start = ("--start-url", f"{base}/sitemap.xml")
    first = cli(data, *start)
    assert first.wait() in (0, 1), first.stderr.read() if first.stderr else ""
    body = (site / ARMENIA).read_bytes()
    with RawStore(data / "raw") as store:
        for i in range(args.copies):
            store.record_body(
                f"{base}/project/copy-{i}",
                status=200,
                body=body.replace(b"CD.0085", f"ZZ.{i:04d}".encode()),
                headers={"content-type": "text/html"},
                final_url=f"{base}/project/copy-{i}",
                canonical_url=None,
                sitemap_lastmod=None,
            )
    # How long each kind of run takes, to spread the kills over all of it.
    durations = {}
    for mode, extra in (("from-raw", ("--from-raw",)), ("network", start)):
        t0 = time.monotonic()
        cli(data, *extra).wait()
        durations[mode] = time.monotonic() - t0
    print(f"runs take {durations} (s); data in {work}", flush=True)

    stages: Counter[str] = Counter()
    failures = 0
    for n in range(args.kills):
        mode = "from-raw" if n % 2 else "network"
        extra = ("--from-raw",) if mode == "from-raw" else start
        if mode == "network":  # a real change for this run to publish
            text = (site / ARMENIA).read_text()
            budget = f"{400000 + n * 1000}.00"
            stamps = json.loads((site / "lastmod.json").read_text())
            text = re.sub(r"'field__item'>\d+\.00<", f"'field__item'>{budget}<", text, count=1)
            (site / ARMENIA).write_text(text)
            stamps["/" + ARMENIA.removesuffix(".html")] = f"2025-01-{1 + n % 28:02d}T{n:02d}:00:00Z"
            (site / "lastmod.json").write_text(json.dumps(stamps))
        delay = rng.uniform(*(durations[mode] * f for f in args.window))
        before = releases(data / "clean")
        proc = cli(data, *extra)
        if args.at_publish:
            written = data / "clean" / "releases" / ".building" / "datapackage.json"
            while not written.exists() and proc.poll() is None:
                time.sleep(0.001)
            delay = rng.uniform(0, 0.08)
        time.sleep(delay)
        where = stage(data / "clean", before)
        alive = proc.poll() is None
        if alive:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        where = where if alive else "finished before the kill"
        after_kill = check(data)
        rerun = cli(data, *extra)
        rerun.wait()
        after_rerun = check(data)
        ok = not after_kill and not after_rerun and rerun.returncode in (0, 1)
        failures += not ok
        stages[where] += 1
        print(
            f"kill {n + 1:3d} {mode:8s} at {delay:5.2f}s [{where}]: "
            f"{'ok' if ok else 'FAILED'} {after_kill + after_rerun} rerun exit {rerun.returncode}",
            flush=True,
        )
    server.shutdown()
    print(f"\n{args.kills} kills, {failures} failed checks; by stage: {dict(stages)}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
