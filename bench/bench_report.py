"""The report's size and build time, on the demo's warehouse and on a 3,000-project one.

    uv run --frozen --group bench python bench/bench_report.py [--projects 3000]

1. The demo: the embedded site through a real `idf-etl run`, then
   `idf-etl report` as a subprocess (what a user waits for: interpreter,
   imports, queries, charts) and `write_report` again in-process (warm).
2. A synthetic warehouse of N projects, three language pages each, loaded by
   the same Loader `idf-etl run` uses, over two runs with budget and status
   revisions in between; then the same two timings and the file's size.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

from idf_etl.load.loader import Loader
from idf_etl.load.parsed import ParsedPage
from idf_etl.parse.page import PARSER_VERSION
from idf_etl.parse.project_types import parse_project_type
from idf_etl.records import REGIONS, ProjectRecord
from idf_etl.report.build import write_report
from idf_etl.warehouse.schema import create_schema

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "demo"))
from serve import serve  # noqa: E402

CODES = [
    "AM",
    "GE",
    "GH",
    "MD",
    "CD",
    "ZA",
    "SV",
    "MU",
    "XK",
    "VN",
    "KE",
    "UG",
    "TZ",
    "MZ",
    "MW",
    "LS",
    "BI",
    "RW",
    "FJ",
    "PE",
    "AL",
    "BA",
    "ME",
    "RS",
    "DO",
    "HT",
    "KM",
]
TYPES = [
    "Community and Economic Development",
    "Transfer of migrant knowledge and resources",
    "Migration Policy Activities",
    "Migration Research and Publications",
    "Labour Migration",
    "Technical Cooperation on Migration Management and Capacity Building",
    "Counter-Trafficking",
    "Migration Health",
]
WORDS = [
    "diaspora",
    "migration",
    "policy",
    "capacity",
    "profile",
    "labour",
    "return",
    "mobility",
    "data",
    "border",
]


def project_pages(n: int, rng: random.Random, revised: bool) -> list[ParsedPage]:
    now = datetime.now(UTC)
    out = []
    for p in range(n):
        region = REGIONS[p % len(REGIONS)]
        year = None if p % 9 == 0 else 2001 + p % 25
        budget = Decimal(rng.randint(20, 400) * 1000)
        status = "active" if year and year >= 2022 else "completed"
        if revised and p % 20 == 0:
            budget += 25000
            status = "completed"
        states = rng.sample(CODES, rng.randint(1, 5))
        title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + f" ({p})"
        for lang in ("en", "fr", "es"):
            url = f"https://www.iom.int/{lang}/node/{100000 + p}"
            record = ProjectRecord(
                source=url,
                lang=lang,
                title=title,
                project_id=f"{['CE', 'TK', 'PO'][p % 3]}.{p:04d}",
                status=status,
                status_label=status,
                project_type=TYPES[p % len(TYPES)],
                project_type_canonical=parse_project_type(TYPES[p % len(TYPES)]),
                budget_usd=budget,
                coverage="national",
                idf_region=region,
                start_year=year,
                end_year=None if year is None else year + 2,
                year=year,
                states=states,
                state_names=states,
                description="Written for the benchmark. " * 10,
                template="labelled",
            )
            out.append(ParsedPage(url, f"{p:060x}{lang}{int(revised)}", now, now, False, record))
    return out


def synthetic_warehouse(path: Path, n: int) -> None:
    con = duckdb.connect(str(path))
    create_schema(con)
    start = datetime.now(UTC) - timedelta(days=1)
    for run_id, revised in ((1, False), (2, True)):
        started = start + timedelta(hours=run_id)
        con.execute("BEGIN TRANSACTION")
        stats = Loader(con, run_id, started, PARSER_VERSION).load(
            project_pages(n, random.Random(7), revised), {}
        )
        con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, mode, outcome, field_changes) "
            "VALUES (?, ?, ?, 'from-raw', 'success', ?)",
            [run_id, started, started + timedelta(minutes=2), stats.field_changes],
        )
        con.execute("COMMIT")
    con.close()


def measure(label: str, data_dir: Path) -> None:
    warehouse = data_dir / "clean" / "idf.duckdb"
    out = data_dir / "clean" / "bench-report.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "idf_etl", "report", "--data-dir", str(data_dir), "--out", str(out)],
        check=True,
        env=env,
        capture_output=True,
    )
    cold = time.perf_counter() - start
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (projects,) = con.execute("SELECT count(*) FROM projects").fetchone() or (0,)
        write_report(con, out)  # imports and vl-convert's engine warmed up
        info = write_report(con, out)
    print(
        f"{label}: {projects:,} projects -> report {info.size / 1024:,.0f} KB; "
        f"`idf-etl report` {cold:.1f}s (subprocess, cold), write_report {info.seconds:.2f}s (warm)"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        server, base = serve(REPO / "demo" / "site")
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "idf_etl",
                    "run",
                    "--start-url",
                    f"{base}/sitemap.xml",
                    "--data-dir",
                    str(demo),
                    "--rate",
                    "0",
                    "--set",
                    "report=false",
                ],
                capture_output=True,
            )
        finally:
            server.shutdown()
        measure("demo", demo)

        big = Path(tmp) / "big"
        (big / "clean").mkdir(parents=True)
        start = time.perf_counter()
        synthetic_warehouse(big / "clean" / "idf.duckdb", args.projects)
        print(
            f"(built the {args.projects:,}-project warehouse in {time.perf_counter() - start:.1f}s)"
        )
        measure("synthetic", big)
    return 0


if __name__ == "__main__":
    sys.exit(main())
