"""Parser throughput: idf-etl vs BeautifulSoup (lxml) vs trafilatura on the same pages.

    make bench            # or: uv run --group bench python bench/bench_parse.py --pages 3000

Each contender parses every page once in this one process (so pages/s is per
core) and does its nearest equivalent of our job: BeautifulSoup parses with
lxml, drops nav/header/footer and reads label/value pairs from the field divs;
trafilatura extracts the main text. Checks that idf-etl's records are right
before timing anything.

Beside the in-process rate, the command as a user runs it: `idf-etl parse
--jsonl` over the same pages as files, end to end (interpreter start, reading
files, worker processes, JSON lines written to a file), with the default
workers (every core) and with --workers 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from idf_etl import parse_page
from pages import project_facts, project_page


def run_idf_etl(pages: list[bytes]) -> None:
    for body in pages:
        parse_page(body)


def run_bs4(pages: list[bytes]) -> None:
    from bs4 import BeautifulSoup

    for body in pages:
        soup = BeautifulSoup(body, "lxml")
        for tag in soup.select("nav, header, footer, script, style"):
            tag.decompose()
        main = soup.select_one("main") or soup.body
        fields = {}
        for field in main.select(".field"):
            label = field.select_one(".field__label")
            value = field.select_one(".field__item")
            if label and value:
                fields[label.get_text(strip=True)] = value.get_text(" ", strip=True)
        main.get_text("\n", strip=True)


def run_trafilatura(pages: list[bytes]) -> None:
    import trafilatura

    for body in pages:
        trafilatura.extract(body.decode(), include_tables=True, favor_precision=True)


def run_cli(files: list[str], workers: str | None) -> None:
    """`idf-etl parse --jsonl FILE...` as a subprocess, its output into a file."""
    extra = [] if workers is None else ["--workers", workers]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run(
            [sys.executable, "-m", "idf_etl", "parse", "--jsonl", *extra, *files],
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        out.seek(0)
        assert sum(1 for _ in out) == len(files)


def measure_cli(
    name: str, files: list[str], pages: list[bytes], workers: str | None, rounds: int
) -> tuple[str, float, float]:
    return measure(name, lambda _: run_cli(files, workers), pages[: len(files)], rounds)


def measure(name: str, fn, pages: list[bytes], rounds: int) -> tuple[str, float, float]:
    """Best of `rounds` passes: this machine is shared, and the best pass is the least disturbed."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(pages)
        best = min(best, time.perf_counter() - start)
    megabytes = sum(map(len, pages)) / 1e6
    return name, len(pages) / best, megabytes / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3, help="passes per contender; the best counts")
    ap.add_argument(
        "--cli-pages", type=int, default=None, help="pages for the command (default: --pages)"
    )
    ap.add_argument(
        "--slow-pages",
        type=int,
        default=300,
        help="pages for the slower contenders (their rate is per page, so fewer is fine)",
    )
    args = ap.parse_args()
    pages = [project_page(i).encode() for i in range(args.pages)]
    avg_kb = sum(map(len, pages)) / len(pages) / 1000
    for i in range(0, args.pages, max(1, args.pages // 50)):  # correctness before speed
        record = parse_page(pages[i])
        facts = project_facts(i)
        assert record.kind == "project" and record.project_id == facts["project_id"], i
        assert str(record.budget_usd) == facts["budget"], i
    print(
        f"{args.pages} generated pages, {avg_kb:.1f} KB on average, best of {args.rounds} "
        f"passes; in-process rows on one core, the command's rows on {os.cpu_count()} cores"
    )
    rows = [measure("idf-etl (selectolax/lexbor)", run_idf_etl, pages, args.rounds)]
    rows.append(measure("BeautifulSoup (lxml)", run_bs4, pages[: args.slow_pages], args.rounds))
    rows.append(
        measure("trafilatura.extract", run_trafilatura, pages[: args.slow_pages], args.rounds)
    )
    with tempfile.TemporaryDirectory() as tmp:
        cli_pages = pages[: args.cli_pages or args.pages]
        files = []
        for i, body in enumerate(cli_pages):
            files.append(str(Path(tmp) / f"p{i:05d}.html"))
            Path(files[-1]).write_bytes(body)
        rows.append(
            measure_cli(f"idf-etl parse, {len(files)} files", files, pages, None, args.rounds)
        )
        rows.append(measure_cli("idf-etl parse --workers 1", files, pages, "1", args.rounds))
    bs4 = rows[1][1]
    print(f"{'parser':32} {'pages/s':>9} {'MB/s':>7} {'x BS4':>7}")
    for name, rate, mbps in rows:
        print(f"{name:32} {rate:9.0f} {mbps:7.1f} {rate / bs4:7.1f}")


if __name__ == "__main__":
    main()
