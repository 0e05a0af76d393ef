"""Loader and whole-run throughput.

    uv run --frozen --group bench python bench/bench_load.py [--records 100000] [--pages 3000]

1. Loads N generated project records (as the parser makes them) into a new
   DuckDB file in one transaction, through the same Loader `idf-etl run`
   uses, and reports records/s and rows/s (rows of every table written);
   beside it, `executemany` on 2,000 rows for scale.
2. Stores M generated ~60 KB pages in a raw store and times a real
   `idf-etl run --from-raw` subprocess over them: pages/s and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from idf_etl.load import Loader, ParsedPage
from idf_etl.parse import PARSER_VERSION
from idf_etl.rawstore import RawStore
from idf_etl.records import ProjectRecord
from idf_etl.warehouse import create_schema
from pages import project_page

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


def bench_loader(n: int) -> None:
    pages = records(n)
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        create_schema(con)
        con.execute("BEGIN TRANSACTION")
        start = time.perf_counter()
        loader = Loader(con, 1, datetime.now(UTC), PARSER_VERSION)
        stats = loader.load(pages, {})
        con.execute("COMMIT")
        seconds = time.perf_counter() - start
        tables = ["pages", "project_pages", "projects", "project_states"]
        rows = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)  # type: ignore[index]
        print(
            f"loader: {n:,} records -> {rows:,} rows in {seconds:.2f}s: "
            f"{n / seconds:,.0f} records/s, {rows / seconds:,.0f} rows/s "
            f"({stats.projects_total:,} projects)"
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


def bench_from_raw(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        with RawStore(data / "raw") as store:
            for i in range(n):
                url = f"https://www.iom.int/project/p{i:05d}"
                store.record_body(
                    url,
                    status=200,
                    body=project_page(i).encode(),
                    headers={"content-type": "text/html; charset=utf-8"},
                    final_url=url,
                    canonical_url=None,
                    sitemap_lastmod=None,
                )
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
        start = time.perf_counter()
        with tempfile.TemporaryFile() as log:
            proc = __import__("subprocess").Popen(
                [sys.executable, "-m", "idf_etl", "run", "--from-raw", "--data-dir", str(data)],
                stdout=log,
                stderr=log,
                env=env,
            )
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        print(
            f"idf-etl run --from-raw: {n:,} stored pages in {seconds:.2f}s: {n / seconds:,.0f} pages/s, "
            f"peak RSS {usage.ru_maxrss // 1024} MB, exit {os.waitstatus_to_exitcode(status)}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--pages", type=int, default=3000)
    args = ap.parse_args()
    # The run first: a child forked from a parent holding 100,000 records would
    # report the parent's memory as its own peak RSS.
    bench_from_raw(args.pages)
    bench_loader(args.records)


if __name__ == "__main__":
    main()
