"""Crawl throughput: `idf-etl fetch` vs Scrapy on a local mirror, same run, same machine.

    uv run --frozen --group bench python bench/bench_fetch.py --pages 1000 3000 --concurrency 16

The mirror (bench/mirror.py, aiohttp) runs in its own process on 127.0.0.1.
Each crawler runs as a subprocess with rate limiting off and the same
concurrency, stores every body, and is measured by wall time and its peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def start_mirror(pages: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "mirror.py"), "--pages", str(pages)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Run a command; return wall seconds, peak RSS in MB and exit status."""
    # stderr to a file, not a pipe: a crawler logging a line per page would fill
    # an unread pipe and block on it.
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            log.seek(0)
            sys.stderr.write(log.read().decode()[-2000:])
    return seconds, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status)


def count_bodies(root: Path) -> tuple[int, int]:
    files = [p for p in (root / "objects").rglob("*.gz")]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    print(
        f"local mirror on 127.0.0.1 (aiohttp, own process), concurrency {args.concurrency}, "
        f"rate limit off, {os.cpu_count()} cores"
    )
    print(
        f"{'crawler':10} {'pages':>6} {'stored':>6} {'seconds':>8} {'pages/s':>8} {'MB/s':>6} {'peak MB':>8}"
    )
    for pages in args.pages:
        mirror, port = start_mirror(pages)
        sitemap = f"http://127.0.0.1:{port}/sitemap.xml"
        page_bytes = pages * 61_000
        try:
            rates = {}
            for name in ("idf-etl", "scrapy"):
                work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
                if name == "idf-etl":
                    cmd = [
                        sys.executable,
                        "-m",
                        "idf_etl",
                        "fetch",
                        "--start-url",
                        sitemap,
                        "--data-dir",
                        str(work),
                        "--rate",
                        "0",
                        "--concurrency",
                        str(args.concurrency),
                    ]
                    root = work / "raw"
                else:
                    cmd = [
                        sys.executable,
                        str(HERE / "scrapy_crawl.py"),
                        sitemap,
                        str(work),
                        str(args.concurrency),
                    ]
                    root = work
                seconds, peak, status = timed(cmd, env)
                stored, _ = count_bodies(root)
                rates[name] = pages / seconds
                print(
                    f"{name:10} {pages:6d} {stored:6d} {seconds:8.2f} {pages / seconds:8.0f} "
                    f"{page_bytes / seconds / 1e6:6.1f} {peak:8d}"
                    + ("" if status == 0 else f"  exit {status}")
                )
                shutil.rmtree(work, ignore_errors=True)
            print(f"{'':10} idf-etl / scrapy = {rates['idf-etl'] / rates['scrapy']:.2f}")
        finally:
            mirror.terminate()
            mirror.wait()


if __name__ == "__main__":
    main()
