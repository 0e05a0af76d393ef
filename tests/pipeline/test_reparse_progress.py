"""Runs cut short by run_timeout still finish the work between them: each parses a few
pages even when its time was up before its parse began, and a re-parse (--from-raw) takes
first the pages the warehouse read longest ago.

Before (adversary, session 31): `run --from-raw --set run_timeout=10` on 2,000 stored pages
parsed the same first 300 pages night after night and never the rest, saying they were
"left for the next run"; at run_timeout=6 (prepare and export took it all) it parsed none.
Through the real CLI on a real raw store.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from idf_etl.pipeline.run import PARSED_AT_LEAST
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

PAGES = 150


def store(data: Path, version: str) -> None:
    def page(i: int) -> bytes:
        fields = [
            field_html("Project ID", f"CE.{i:04d}"),
            field_html("Budget Amount (USD)", f"{100000 + i}.00"),
        ]
        return drupal_page(fields, title=f"Project {i} {version}").encode()

    store_pages(
        data / "raw",
        ((f"https://developmentfund.iom.int/project/p{i:05d}", page(i)) for i in range(PAGES)),
    )


def reparse(data: Path, *settings: str) -> dict:
    sets = [a for s in ("report=false", *settings) for a in ("--set", s)]
    proc = idf_etl(
        "run", "--from-raw", "--json", "--data-dir", str(data), *sets,
        cwd=data.parent, env=clean_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1) and proc.stdout.strip(), proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["parse_workers=1", "parse_workers=2"])
def test_re_parses_cut_short_each_parse_pages_the_last_did_not_until_all_are(tmp_path, workers):
    data = tmp_path / "data"
    store(data, "v1")
    assert reparse(data)["pages_parsed"] == PAGES
    # Time for nothing but the prepare and the export: the parse's share is over at once.
    parsed: list[set[str]] = []
    for _ in range(PAGES // PARSED_AT_LEAST + 2):
        summary = reparse(data, "run_timeout=0.01", workers)
        assert summary["pages_parsed"] >= min(PARSED_AT_LEAST, PAGES), summary
        with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
            parsed.append(
                {
                    url
                    for (url,) in con.execute(
                        "SELECT url FROM pages WHERE parsed_run_id = ?", [summary["run_id"]]
                    ).fetchall()
                }
            )
        if sum(map(len, parsed)) >= PAGES:
            break
    # No page parsed twice before every page was parsed once, and every page was.
    firsts = parsed[:-1]
    assert sum(map(len, firsts)) == len(set().union(*firsts)), [len(p) for p in parsed]
    assert len(set().union(*parsed)) == PAGES, [len(p) for p in parsed]
