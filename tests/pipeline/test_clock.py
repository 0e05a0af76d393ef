"""The clock never decides which releases are kept: the real CLI run under faketime with the
clock set back, jumped forward, and restored, keep_published=1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from idf_etl.warehouse.publish import Publisher, run_number
from tests.helpers.cli import clean_env

pytestmark = pytest.mark.slow


def idf_at(offset: str | None, *args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """`idf-etl` with the clock moved by `offset` (faketime's "-2d", "+1y"), or as it is."""
    command = [sys.executable, "-m", "idf_etl", *args, "--data-dir", str(data)]
    if offset is not None:
        faketime = shutil.which("faketime")
        if faketime is None:
            pytest.skip("faketime is not installed: `make faketime` installs Debian's; CI runs it")
        command = [faketime, "-f", offset, *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=240, env=clean_env(), cwd=data.parent
    )


def nightly(offset: str | None, base: str, data: Path) -> int:
    done = idf_at(
        offset,
        "run",
        "--start-url",
        f"{base}/sitemap.xml",
        "--rate",
        "0",
        "--json",
        "--set",
        "report=false",
        "--set",
        "keep_published=1",
        data=data,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["outcome"] == "success"
    return int(summary["run_id"])


def kept(data: Path) -> list[int]:
    return [run_number(r) for r in Publisher(data / "clean").kept()]


def current(data: Path) -> int:
    release = Publisher(data / "clean").current_release()
    assert release is not None
    return run_number(release)


def restore(offset: str | None, data: Path) -> str:
    done = idf_at(offset, "restore", data=data)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def test_a_clock_set_back_two_days_prunes_the_oldest_and_restore_goes_back_one_run(
    demo_site, tmp_path
):
    _site, base = demo_site
    data = tmp_path / "data"
    assert [nightly(None, base, data), nightly(None, base, data)] == [1, 2]
    assert [nightly("-2d", base, data), nightly("-2d", base, data)] == [3, 4]

    # keep_published=1: the current release and the one before it, by run number.
    assert kept(data) == [4, 3] and current(data) == 4
    listed = idf_at(None, "restore", "--list", data=data).stdout.split()
    assert listed[0] == "*" and listed[1].startswith("run000004-")

    assert "published run000003-" in restore("-2d", data)
    assert current(data) == 3


def test_a_clock_a_year_ahead_for_one_run_decides_nothing(demo_site, tmp_path):
    _site, base = demo_site
    data = tmp_path / "data"
    assert nightly(None, base, data) == 1
    assert nightly("+1y", base, data) == 2  # named a year ahead
    assert nightly(None, base, data) == 3
    assert nightly(None, base, data) == 4
    assert kept(data) == [4, 3] and current(data) == 4
    assert "published run000003-" in restore(None, data)


def test_after_a_restore_the_next_run_and_its_base_are_kept_not_the_line_given_up(
    demo_site, tmp_path
):
    _site, base = demo_site
    data = tmp_path / "data"
    for _ in range(3):
        nightly(None, base, data)
    assert "published run000002-" in restore("+1y", data)  # a restore with the clock off
    # The warehouse restored holds runs 1-2: the next run is run 3 again, on a new line.
    assert nightly("-2d", base, data) == 3
    assert current(data) == 3
    # Kept: the new run 3 and run 2 it was built on; the run 3 given up is pruned first.
    releases = Publisher(data / "clean").kept()
    assert [run_number(r) for r in releases] == [3, 2]
    assert "published run000002-" in restore(None, data)


def test_two_runs_in_the_same_second_are_two_releases_in_order(demo_site, tmp_path):
    _site, base = demo_site
    data = tmp_path / "data"
    # faketime's "@" form stops the clock still: both runs start at the same instant.
    frozen = "@2026-12-01 03:00:00"
    assert [nightly(frozen, base, data), nightly(frozen, base, data)] == [1, 2]
    assert kept(data) == [2, 1] and current(data) == 2
