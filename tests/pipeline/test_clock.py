"""The clock never decides which releases are kept, how fresh the data looks, whether
revalidation is due, or how long a run took: the real CLI run under faketime with the clock
set back, jumped forward, stepped mid-run and restored; the comparisons themselves drawn
by Hypothesis over clock offsets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.config import Settings
from idf_etl.fetch.crawl import Crawler
from idf_etl.pipeline import summary as summary_module
from idf_etl.pipeline.summary import StageClock
from idf_etl.rawstore import CLOCK_SLACK, RawStore
from idf_etl.warehouse.publish import Publisher, run_number
from tests.helpers.cli import clean_env


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_clock_a_year_ahead_for_one_run_decides_nothing(demo_site, tmp_path):
    _site, base = demo_site
    data = tmp_path / "data"
    assert nightly(None, base, data) == 1
    assert nightly("+1y", base, data) == 2  # named a year ahead
    assert nightly(None, base, data) == 3
    assert nightly(None, base, data) == 4
    assert kept(data) == [4, 3] and current(data) == 4
    assert "published run000003-" in restore(None, data)


@pytest.mark.slow
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


@pytest.mark.slow
def test_two_runs_in_the_same_second_are_two_releases_in_order(demo_site, tmp_path):
    _site, base = demo_site
    data = tmp_path / "data"
    # faketime's "@" form stops the clock still: both runs start at the same instant.
    frozen = "@2026-12-01 03:00:00"
    assert [nightly(frozen, base, data), nightly(frozen, base, data)] == [1, 2]
    assert kept(data) == [2, 1] and current(data) == 2


def faketime_or_skip() -> str:
    found = shutil.which("faketime")
    if found is None:
        pytest.skip("faketime is not installed: `make faketime` installs Debian's; CI runs it")
    return found


# -- comparisons of a stored wall-clock time with now, drawn over clock offsets --


@settings(max_examples=80, deadline=None)
@given(
    since=st.integers(min_value=-800 * 24 * 60, max_value=800 * 24 * 60),
    days=st.integers(min_value=1, max_value=60),
)
def test_revalidation_is_due_whatever_the_clock_did(tmp_path_factory, since, days):
    """`last_revalidation` stored `since` minutes ago (negative: in the future). Due once
    revalidate_days have passed, and at once when the stamp is in the future (a first run
    with the clock a year ahead stopped weekly revalidation for a year)."""
    root = tmp_path_factory.mktemp("raw")
    settings_ = Settings(data_dir=root, revalidate_days=days)
    with RawStore(settings_.raw_dir) as store:
        stamp = datetime.now(UTC) - timedelta(minutes=since)
        store.set_meta("last_revalidation", stamp.isoformat())
        due = Crawler(settings_, store)._revalidation_due()
    age = timedelta(minutes=since)
    if age < -CLOCK_SLACK - timedelta(minutes=1) or age >= timedelta(days=days, minutes=1):
        assert due
    elif -CLOCK_SLACK + timedelta(minutes=1) < age < timedelta(days=days, minutes=-1):
        assert not due  # (a minute either side of each edge: the test's own time passes)


@pytest.mark.parametrize(
    "stamp",
    ["not a date", "", "2026-13-45", "2026-01-01T00:00:00", "9999-12-31T23:59:59-14:00", "9" * 60],
)
def test_a_revalidation_stamp_edited_by_hand_is_due(tmp_path, stamp):
    """Unreadable, or without a zone (read as UTC, long ago): due, never a traceback."""
    settings_ = Settings(data_dir=tmp_path, revalidate_days=7)
    with RawStore(settings_.raw_dir) as store:
        store.set_meta("last_revalidation", stamp)
        assert Crawler(settings_, store)._revalidation_due()


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.floats(min_value=-2e6, max_value=2e6), min_size=1, max_size=12),
    wall=st.floats(min_value=-4e7, max_value=4e7),
)
def test_stage_seconds_and_the_end_never_go_back(steps, wall):
    """The monotonic clock moved by `steps` (faketime moves it too; a broken VM clock may), the
    wall clock by `wall` seconds after the run began: every stage has seconds >= 0, the run's
    end is never before its start, and the wall clock is read once."""
    ticks = [1000.0]
    for step in steps:
        ticks.append(ticks[-1] + step)
    read: list[float] = []

    def monotonic() -> float:  # the drawn ticks in turn, then the last one
        read.append(ticks[min(len(read), len(ticks) - 1)])
        return read[-1]

    began = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    with mock.patch.object(summary_module, "datetime") as fake_datetime:
        fake_datetime.now.return_value = began
        with mock.patch.object(summary_module.time, "monotonic", side_effect=monotonic):
            clock = StageClock()
            fake_datetime.now.return_value = began + timedelta(seconds=wall)
            for number in range(len(steps)):
                clock.start(f"stage{number % 3}")
            clock.stop()
            assert clock.began_at == began
            end = clock.now()
    assert end == began + timedelta(seconds=max(0.0, read[-1] - read[0]))
    assert all(seconds >= 0 for seconds in clock.stages.values())
    assert end >= began


# -- the real CLI under faketime --


def test_one_run_a_year_ahead_then_none_is_not_ok(demo_site, tmp_path):
    """After one run with the clock a year ahead, no run for days: `check` said OK ("finished
    -8688.0 h ago") for a year and `status` a negative hours_since_success."""
    _site, base = demo_site
    data = tmp_path / "data"
    assert nightly("+365d", base, data) == 1
    for later in ("+3d", "+30d"):
        check = idf_at(later, "check", data=data)
        assert check.returncode == 1, check.stdout + check.stderr
        assert check.stdout.startswith("IDF-ETL WARNING - the last successful read of the site")
        assert "after this machine's clock" in check.stdout and "timedatectl" in check.stdout
    facts = json.loads(idf_at("+3d", "status", "--json", data=data).stdout)
    assert facts["hours_since_success"] is None
    assert "clock" in facts["clock_problem"]
    shown = idf_at(None, "status", data=data)
    assert shown.returncode == 0 and "freshness unknown: the last successful read" in shown.stdout
    # The clock right again, a run: fresh again, the ledger in run order.
    assert nightly(None, base, data) == 2
    assert idf_at(None, "check", data=data).stdout.startswith("IDF-ETL OK - ")


def test_a_first_run_a_year_ahead_does_not_stop_revalidation(demo_site, tmp_path):
    """A page changed without its sitemap lastmod moving is read again at the next
    revalidation, even after a first run with the clock a year ahead."""
    site, base = demo_site
    data = tmp_path / "data"
    assert nightly("+365d", base, data) == 1
    page = site / "project" / "diaspora-resources-drc.html"
    page.write_text(page.read_text().replace("200000.00", "555000.00"))
    assert nightly("+8d", base, data) == 2
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        (budget,) = con.execute(
            "SELECT budget_usd FROM projects WHERE project_id = 'CE.0276'"
        ).fetchone()
    assert float(budget) == 555000.0


def test_the_clock_stepping_back_mid_run_changes_no_duration(demo_site, tmp_path):
    """An NTP step (or a VM restored) sets the wall clock back two days in the middle of a
    run; the monotonic clock goes on, as on a real machine. The ledger row ends after it
    began, no stage has negative seconds, and `check` with the clock right is OK."""
    faketime_or_skip()
    library = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
    if not library.exists():
        pytest.skip("libfaketime is not installed: `make faketime`")
    _site, base = demo_site
    data = tmp_path / "data"
    stamp = tmp_path / "faketime"
    stamp.write_text("+0\n")
    env = clean_env(
        LD_PRELOAD=str(library),
        FAKETIME_TIMESTAMP_FILE=str(stamp),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
    )
    command = [sys.executable, "-m", "idf_etl", "run", "--start-url", f"{base}/sitemap.xml"]
    command += ["--data-dir", str(data), "--json", "--rate", "3", "--set", "report=false"]
    run = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not (data / "raw" / "manifest.sqlite").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the run has begun (its start read) once its raw store is there
    time.sleep(1)
    stamp.write_text("-2d\n")
    out, err = run.communicate(timeout=240)
    assert run.returncode == 0, err[-2000:]
    result = json.loads(out.splitlines()[-1])
    assert all(seconds >= 0 for seconds in result["stage_seconds"].values()), result
    assert result["seconds"] >= 1
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        started, finished = con.execute("SELECT started_at, finished_at FROM runs").fetchone()
    assert timedelta(seconds=1) <= finished - started < timedelta(minutes=5)
    check = idf_at(None, "check", data=data)
    assert check.stdout.startswith("IDF-ETL OK - "), check.stdout
