"""Another process holding a data directory's run lock the way a run does, for tests of
what the CLI and the schedule do next to it."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.helpers.cli import clean_env

HOLD = """
import sys, time
from idf_etl.pipeline.lock import RunLock
with RunLock(sys.argv[1], float(sys.argv[2]), tail=float(sys.argv[3])):
    print("held", flush=True)
    time.sleep(300)
"""


def faketime(offset: str) -> list[str]:
    found = shutil.which("faketime")
    if found is None:
        pytest.skip("faketime is not installed: `make faketime` installs Debian's; CI runs it")
    return [found, "-f", offset]


@contextmanager
def holder(
    data: Path, run_timeout: float, clock: list[str] | None = None, tail: float = 0.0
) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `data`'s lock the way a run does, until the block ends.
    `tail`: the seconds past twice run_timeout it may take before it is stuck (a run's
    own is a minute or more: 0 lets a test see a stuck holder within a second)."""
    proc = subprocess.Popen(
        [*(clock or []), sys.executable, "-c", HOLD, str(data), str(run_timeout), str(tail)],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
        start_new_session=True,  # faketime runs the holder as its child: both are killed
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready and proc.stdout and proc.stdout.readline() == "held\n"
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def holder_pid(data: Path) -> int:
    return int(json.loads((data / ".idf-etl.lock").read_text())["pid"])


def age_past(proc: subprocess.Popen[str], seconds: float) -> None:
    """Wait until the holder has held the lock for more than `seconds`, by the kernel."""
    tick = os.sysconf("SC_CLK_TCK")
    while True:
        started = int(Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        if uptime - started / tick > seconds:
            return
        time.sleep(0.1)
