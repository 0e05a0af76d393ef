"""The run lock as the schedule meets it: a second process really holding the lock (fresh,
stuck, dead, under a wrong clock), and the real CLI run next to it as a subprocess.

A fresh holder: exit 3, the schedule's "the run before is still going". A holder older
than twice its run_timeout: exit 4, one `idf-etl:` line naming it and what to do, which
the alerting reports. The age is the kernel's (seconds since boot), so faketime on
either side changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from idf_etl.pipeline.deadlines import EXPORT_SECONDS
from idf_etl.pipeline.holder import tail_seconds
from idf_etl.rawstore import RawStore
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.lock import age_past, faketime, holder, holder_pid
from tests.helpers.raw_pages import store_pages


def fetch(
    data: Path, *extra: str, clock: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`idf-etl fetch` (the same lock as run) at a port nobody listens on: it never gets far."""
    command = [
        *(clock or []),
        sys.executable,
        "-m",
        "idf_etl",
        "fetch",
        "--start-url",
        "http://127.0.0.1:9/sitemap.xml",
        "--data-dir",
        str(data),
        "--set",
        "max_retries=0",
        *extra,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=clean_env(), cwd=data.parent
    )


def one_line(stderr: str) -> str:
    lines = [x for x in stderr.splitlines() if "idf-etl:" in x]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_fresh_holder_is_waited_for_exit_3_naming_it(tmp_path):
    data = tmp_path / "data"
    with holder(data, run_timeout=3600) as proc:
        refused = fetch(data)
    assert refused.returncode == 3, refused.stderr
    said = one_line(refused.stderr)
    assert f"pid {proc.pid}" in said and "another idf-etl run is using" in said
    assert re.search(r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, [\d.]+s ago", said), said


def test_a_holder_older_than_twice_its_run_timeout_is_stuck_exit_4(tmp_path):
    data = tmp_path / "data"
    with holder(data, run_timeout=0.5) as proc:
        age_past(proc, 1.0)
        refused = fetch(data)
        assert proc.poll() is None  # only said: nothing is killed for you
    assert refused.returncode == 4, refused.stderr
    said = one_line(refused.stderr)
    assert "probably stuck" in said and f"pid {proc.pid}" in said
    assert f"ps -o pid,etime,args -p {proc.pid}" in said and f"kill {proc.pid}" in said
    assert "The published warehouse is unchanged" in said
    assert "import sys" in said or "-c " in said  # the holder's command line
    assert re.search(r"held for \d+(\.\d)?s, longer than a healthy run takes", said), said


def test_the_holders_own_run_timeout_decides(tmp_path):
    """A backfill started with a long run_timeout is not stuck for a nightly run's short one."""
    data = tmp_path / "data"
    with holder(data, run_timeout=3600) as proc:
        age_past(proc, 1.0)
        refused = fetch(data, "--set", "run_timeout=0.1")
    assert refused.returncode == 3, refused.stderr


def test_a_dead_holder_never_blocks(tmp_path):
    data = tmp_path / "data"
    with holder(data, run_timeout=0.1) as proc:
        age_past(proc, 1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        record = json.loads((data / ".idf-etl.lock").read_text())
        assert record["pid"] == proc.pid  # what it left behind: an old record, no lock
        after = fetch(data)
    assert after.returncode not in (3, 4), after.stderr
    assert "lock" not in after.stderr
    assert json.loads((data / ".idf-etl.lock").read_text())["pid"] != proc.pid


@pytest.mark.parametrize("offset", ["-2d", "+1y", "-30m"])
def test_a_fresh_holder_under_a_wrong_clock_is_not_stuck(tmp_path, offset):
    """Its record says it started days ago (or next year): the kernel says a second ago."""
    data = tmp_path / "data"
    with holder(data, run_timeout=60, clock=faketime(offset)):
        record = json.loads((data / ".idf-etl.lock").read_text())
        refused = fetch(data)
        looked_forward = fetch(data, clock=faketime("+3d"))
    assert record["started"][:10] != time.strftime("%Y-%m-%d", time.gmtime()) or offset == "-30m"
    assert (refused.returncode, looked_forward.returncode) == (3, 3), (
        refused.stderr,
        looked_forward.stderr,
    )


@pytest.mark.parametrize("offset", ["-2d", "+1y"])
def test_a_stuck_holder_is_stuck_whatever_either_clock_says(tmp_path, offset):
    data = tmp_path / "data"
    with holder(data, run_timeout=0.5, clock=faketime("+2y")) as proc:
        age_past(proc, 1.0)
        pid = holder_pid(data)
        refused = fetch(data, clock=faketime(offset))
    assert refused.returncode == 4, refused.stderr
    assert f"pid {pid}" in one_line(refused.stderr)


@pytest.mark.slow
def test_status_shows_the_run_in_progress_and_a_stuck_one(tmp_path, published):
    source, _, _ = published
    data = tmp_path / "data"
    shutil.copytree(source, data, symlinks=True, ignore=shutil.ignore_patterns(".idf-etl.lock"))

    def status(*args: str) -> subprocess.CompletedProcess[str]:
        return idf_etl("status", "--data-dir", str(data), *args, cwd=tmp_path)

    quiet = json.loads(status("--json").stdout)
    assert quiet["run_in_progress"] is None
    with holder(data, run_timeout=3600) as proc:
        going = json.loads(status("--json").stdout)["run_in_progress"]
        text = status().stdout
        assert fetch(data).returncode == 3  # status took no lock a run could trip on
    assert going["pid"] == proc.pid and going["stuck"] is False and going["seconds"] < 3600
    assert going["stuck_after_seconds"] == 7200 and going["tail_seconds"] == 0
    assert text.rstrip().splitlines()[-1].startswith(f"run in progress: pid {proc.pid}")
    with holder(data, run_timeout=0.2) as proc:
        age_past(proc, 0.5)
        stuck = json.loads(status("--json").stdout)["run_in_progress"]
        text = status().stdout
    assert stuck["pid"] == proc.pid and stuck["stuck"] is True
    assert text.rstrip().splitlines()[-1].startswith("STUCK: ")
    assert f"kill {proc.pid}" in text


# -- what a lock file can hold, and what can stand where it should be ------------------------

RECORDS = {
    "empty": b"",
    "garbage": bytes(range(256)) * 8,
    "huge": b'{"pid": 1, "command": "' + b"x" * 5_000_000 + b'"}',
    "escapes": json.dumps({"pid": 999999, "command": "idf-etl run\n\x1b[31mFAKE\x1b[0m"}).encode(),
    "wrong types": b'{"pid": "12", "since_boot": "NaN", "run_timeout": -5, "boot_id": 7}',
    # a stuck-looking run on another machine, 10 days ago; yet a process here holds the lock
    "another host": json.dumps(
        {"pid": 4242, "host": "etl-other", "boot_id": "other", "since_boot": 5.0,
         "started": "2026-01-01T00:00:00Z", "run_timeout": 1, "command": "idf-etl run"}
    ).encode(),
}  # fmt: skip


@pytest.mark.parametrize("name", RECORDS)
def test_whatever_the_lock_file_says_the_kernel_names_the_holder(tmp_path, name):
    """The record is believed only when the kernel's holder (/proc/locks) is the one it
    names: otherwise the holder's own pid, age and command line are used."""
    data = tmp_path / "data"
    data.mkdir()
    (data / ".idf-etl.lock").write_bytes(RECORDS[name])
    flock = shutil.which("flock")
    if flock is None:
        pytest.skip("flock(1) is not installed")
    held = subprocess.Popen([flock, "-n", str(data / ".idf-etl.lock"), "sleep", "60"])
    try:
        while not Path("/proc/locks").read_text().count(f" {held.pid} "):
            assert held.poll() is None
            time.sleep(0.05)
        refused = fetch(data)
    finally:
        held.kill()
        held.wait(10)
    assert refused.returncode == 3, refused.stderr
    said = one_line(refused.stderr)
    assert f"pid {held.pid} (`{flock} -n " in said and "s ago" in said
    assert "FAKE" not in said and "\x1b" not in said


def test_a_symbolic_link_for_the_lock_file_is_refused_and_its_target_untouched(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (data / ".idf-etl.lock").symlink_to(precious)
    refused = fetch(data)
    assert refused.returncode == 1, refused.stderr  # alerted: not 3, which is not
    assert "is a symbolic link: remove it" in one_line(refused.stderr)
    assert precious.read_text() == "keep me"  # a run wrote its record into it, before


def test_a_fifo_for_the_lock_file_is_refused_and_status_does_not_hang(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / ".idf-etl.lock")
    refused = fetch(data)
    status = idf_etl("status", "--data-dir", str(data), cwd=tmp_path, timeout=60)
    assert refused.returncode == status.returncode == 1, (refused.stderr, status.stderr)
    assert "is not a regular file" in one_line(status.stderr)  # before: status hung


def test_a_child_the_holder_forked_does_not_keep_the_lock_when_the_holder_dies(tmp_path):
    """A run's forked children share its lock file's descriptor; closed in them at fork, the
    lock still ends with the run (before: a child left behind held it for good)."""
    data = tmp_path / "data"
    script = HOLD_FORKING
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(data)], stdout=subprocess.PIPE, text=True,
        env=clean_env(), start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout and proc.stdout.readline() == "held\n"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        after = fetch(data)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the child too
    assert after.returncode not in (3, 4), after.stderr


HOLD_FORKING = """
import os, sys, time
from idf_etl.pipeline.lock import RunLock
with RunLock(sys.argv[1], 3600):
    if os.fork() == 0:  # a child, as multiprocessing's fork makes them
        time.sleep(60)
        os._exit(0)
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("how", ["deleted", "moved aside", "replaced"])
def test_a_lock_file_taken_away_from_a_holder_still_keeps_the_next_run_out(tmp_path, how):
    # An operator clearing what looks like a stale lock (rm, mv), or a clean-up job: the
    # lock went with the file, and the next run created a new one and ran beside the first
    # (adversary case). The data directory is locked too.
    data = tmp_path / "data"
    lock = data / ".idf-etl.lock"
    with holder(data, run_timeout=3600) as proc:
        if how == "deleted":
            lock.unlink()
        elif how == "moved aside":
            lock.rename(data / "old.lock")
        else:
            lock.unlink()
            lock.write_text('{"pid": 1, "command": "not the holder"}')
        refused = fetch(data)
        status = idf_etl("status", "--json", "--data-dir", str(data), cwd=tmp_path)
        check = idf_etl("check", "--data-dir", str(data), cwd=tmp_path)
    assert refused.returncode == 3, refused.stderr
    assert f"pid {proc.pid}" in one_line(refused.stderr)
    # status and check (no warehouse yet) still see the run going, by the kernel's holder.
    assert f"run in progress: pid {proc.pid}" in status.stderr + status.stdout, status.stderr
    assert f"run in progress: pid {proc.pid}" in check.stdout, check.stdout
    # Once the holder is gone the next run takes the lock.
    assert fetch(data).returncode != 3


def test_a_healthy_run_past_twice_a_short_run_timeout_is_waited_for_not_stuck(tmp_path):
    """A real `run --from-raw` at run_timeout=0.5 holds the lock for seconds (preparing,
    its first pages, the export and publish: adversary #25 saw 7 s, then a second run exit 4,
    "kill PID"). Its record says its tail (a minute, plus twice its last export's seconds up
    to run_timeout), so a run next to it waits (exit 3). Paused (SIGSTOP) as a loaded
    machine would."""
    data = tmp_path / "data"
    store_pages(data / "raw", [(f"https://www.iom.int/project/p{i}", PAGE % i) for i in range(40)])
    with RawStore(data / "raw") as raw:
        raw.set_meta(EXPORT_SECONDS, "40")  # the last run's export and publish: 40 s
    command = [sys.executable, "-m", "idf_etl", "run", "--from-raw", "--data-dir", str(data),
               "--set", "run_timeout=0.5", "--set", "report=false"]  # fmt: skip
    run = subprocess.Popen(
        command, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        record: dict = {}
        while not (record.get("pid") == run.pid and "tail" in record and record["tail"] != 60):
            assert run.poll() is None, run.communicate()
            with suppress(OSError, ValueError):
                record = json.loads((data / ".idf-etl.lock").read_text())
            time.sleep(0.01)
        run.send_signal(signal.SIGSTOP)
        assert record["tail"] == tail_seconds(40.0, 0.5) == 140.0
        age_past(run, 2.0)  # past twice run_timeout (1 s)
        refused = fetch(data)
        status = idf_etl("status", "--data-dir", str(data), cwd=tmp_path)
        run.send_signal(signal.SIGCONT)
        _, err = run.communicate(timeout=300)
    finally:
        with suppress(ProcessLookupError):
            run.send_signal(signal.SIGCONT)
            run.kill()
    assert refused.returncode == 3, refused.stderr
    assert f"another idf-etl run is using {data} (pid {run.pid}" in one_line(refused.stderr)
    # No warehouse yet: status says so, and that the run is in progress, not stuck.
    assert f"run in progress: pid {run.pid}" in status.stderr and "STUCK" not in status.stderr
    assert run.returncode in (0, 1), err  # the run ended as it would have: not killed


def test_a_stuck_message_says_the_bound_and_its_tail(tmp_path):
    data = tmp_path / "data"
    with holder(data, run_timeout=0.25, tail=0.5) as proc:
        age_past(proc, 1.5)
        refused = fetch(data)
    assert refused.returncode == 4, refused.stderr
    said = one_line(refused.stderr)
    assert (
        "longer than a healthy run takes (twice run_timeout (0.5s) and 0.5s for preparing, "
        "exporting and publishing: 1s)"
    ) in said, said


PAGE = b"""<html><head><title>Project %d</title></head><body><main><h1>Project</h1>
<ul><li><span>Projects ID</span> <span>CE.0001</span></li></ul></main></body></html>"""
