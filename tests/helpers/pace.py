"""How much slower than its own work the machine runs right now, for the tests that bound a
time.

A bound such as "the run ends within 7 s of run_timeout" or "Ctrl-C ends it within 5 s"
holds on a quiet machine. Where other suites share the 2 cores (load 12-25) the same work
takes several times as long, and the test failed for the machine, not for the code (#22:
2-9 such failures in each full run, different each time). Such a test scales its bound by
the slowness measured when it runs: the wall time of a fixed piece of work (a fresh Python
importing the CLI and opening DuckDB, what every `idf-etl` command does first) over the CPU
time that work used. On a quiet machine the two are equal (1.0); on a loaded one the probe
waits for a core most of its time (13-20 measured at load 17 on 2 cores). The ratio needs no figure
from any one machine, so a faster or slower CI runner scales the same way, and the bound
still fails for code that takes several times longer than the machine allows.

A scaled bound must stay below what it tells apart (a sleep of an hour, a query of hours):
tests lengthen that side rather than cap the bound.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.helpers.cli import clean_env

PROBE = "import duckdb, idf_etl.cli.app; duckdb.connect().execute('SELECT 1').fetchall()"
LEAST_CPU = 0.05  # seconds: a probe that used less (a clock's tick) is not divided by


def slowness() -> float:
    """Wall time over CPU time of the probe in a fresh process; 1.0 at least."""
    proc = subprocess.Popen([sys.executable, "-c", PROBE], env=clean_env())
    began = time.monotonic()
    # wait4, not wait: the probe's own CPU time, not that of other children of this process.
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, "the slowness probe failed"
    return max(1.0, wall / max(usage.ru_utime + usage.ru_stime, LEAST_CPU))


class Pace:
    """The slowness when the timed work begins (`pace = Pace()`), and again when a bound
    checked after it would fail (the load may have risen meanwhile): a probe costs a second
    or more on a loaded machine, so it is only repeated when needed."""

    def __init__(self) -> None:
        self.factors = [slowness()]

    def again(self) -> None:
        """Measure once more (the timed work has ended)."""
        self.factors.append(slowness())

    @property
    def factor(self) -> float:
        return max(self.factors)

    def seconds(self, quiet: float) -> float:
        """`quiet` seconds (a bound that holds on a quiet machine) at the slowness measured."""
        return quiet * self.factor

    def allows(self, took: float, quiet: float) -> bool:
        """`took` seconds are within `quiet` ones at the slowness before the work, or at the
        slowness now."""
        if took < self.seconds(quiet):
            return True
        self.again()
        return took < self.seconds(quiet)

    def __str__(self) -> str:
        return "slowness " + ", ".join(f"{f:.1f}" for f in self.factors)
