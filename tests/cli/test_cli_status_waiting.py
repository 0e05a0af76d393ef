"""`idf-etl status` counts the projects a run's time left for the next run (pending_projects),
which it did not show (adversary, issue 22): they keep their previous row until then. The
rows written with a real DuckDB client, status read through the CLI."""

from __future__ import annotations

import json

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.cli import idf_etl

ROWS = st.lists(
    st.tuples(
        st.from_regex(r"[A-Z]{2}\.[0-9]{4}", fullmatch=True),
        st.sampled_from(["merge", "history"]),
        st.sampled_from(["site", "archive"]),
    ),
    max_size=12,
    unique=True,
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS)
def test_status_counts_the_projects_waiting_for_the_next_run(data, rows):
    with duckdb.connect(str(data / "clean" / "idf.duckdb")) as con:
        con.execute("DELETE FROM pending_projects")
        if rows:
            con.executemany("INSERT INTO pending_projects VALUES (?, ?, ?)", rows)
    facts = json.loads(idf_etl("status", "--json", "--data-dir", str(data), cwd=data.parent).stdout)
    text = idf_etl("status", "--data-dir", str(data), cwd=data.parent)
    projects = {key for key, _, _ in rows}
    assert facts["warehouse"]["waiting_for_next_run"] == len(projects)
    assert facts["waiting"] == {
        work: len({k for k, w, _ in rows if w == work}) for work in sorted({w for _, w, _ in rows})
    }
    assert text.returncode == 0, text.stderr
    waiting = [line for line in text.stdout.splitlines() if line.startswith("waiting for")]
    if projects:
        assert len(waiting) == 1 and f" {len(projects)} project" in waiting[0], text.stdout
    else:
        assert waiting == [], text.stdout


def test_a_warehouse_from_before_pending_projects_has_none_waiting(data):
    with duckdb.connect(str(data / "clean" / "idf.duckdb")) as con:
        con.execute("DROP TABLE pending_projects")
    proc = idf_etl("status", "--json", "--data-dir", str(data), cwd=data.parent)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["warehouse"]["waiting_for_next_run"] == 0
