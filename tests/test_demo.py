"""`make demo` shows the history feature on the first try: its second run records the site's changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.test_pipeline import query

REPO = Path(__file__).parent.parent


def demo(data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    command = [sys.executable, "demo/run_demo.py", "--data-dir", str(data), "--port", "0"]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_demo_second_run_records_a_budget_revision_a_status_change_and_a_removed_page(tmp_path):
    data = tmp_path / "data"
    proc = demo(data)

    assert "the site changes" in proc.stdout
    assert query(data, "SELECT run_id, field_changes FROM runs ORDER BY run_id") == [(1, 0), (2, 3)]
    assert query(
        data, "SELECT project_id, field, old_value, new_value FROM project_changes ORDER BY ALL"
    ) == [
        ("CD.0085", "budget_usd", "400000.00", "450000.00"),
        ("CD.0085", "status", "active", "completed"),
        ("CE.0333", "missing_from_site", "False", "True"),
    ]
    # The committed site is untouched: the demo changed a copy.
    assert (
        "400000.00"
        in (
            REPO / "demo/site/project/migration-socio-economic-development-armenia-georgia.html"
        ).read_text()
    )

    demo(data)  # again, on the same data directory: one more run, nothing new to record

    assert query(data, "SELECT run_id, field_changes FROM runs ORDER BY run_id")[-1] == (3, 0)
    assert query(data, "SELECT count(*) FROM project_changes") == [(3,)]
