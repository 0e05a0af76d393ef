"""A finished command exits: no thread left running holds the process past a bound."""

from __future__ import annotations

import subprocess
import sys
import time

STUCK = """
import logging, threading, time
from idf_etl.cli.endings import exit_unheld

logging.basicConfig()  # the CLI's own handler is set up by its options

threading.Thread(target=threading.Event().wait, name="stuck-reader").start()
threading.Thread(target=time.sleep, args=(0.2,), name="ends-soon").start()
print("summary", flush=True)
exit_unheld(3, grace=2)
print("not reached")
"""

ENDS = """
import logging, threading, time
from idf_etl.cli.endings import exit_unheld

logging.basicConfig()  # the CLI's own handler is set up by its options

threading.Thread(target=time.sleep, args=(0.2,), name="ends-soon").start()
exit_unheld(0, grace=30)
print("returned")
"""


def _run(script: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    return proc, time.monotonic() - started


def test_a_thread_that_never_ends_is_left_after_the_grace_with_the_commands_exit_code():
    proc, seconds = _run(STUCK)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "summary\n"  # what was printed is kept, nothing runs after
    assert "stuck-reader still ran 2s later" in proc.stderr
    assert "ends-soon" not in proc.stderr
    assert seconds < 60  # the grace, not the 120 s bound of this test


def test_threads_that_end_within_the_grace_are_waited_for_and_nothing_is_said():
    proc, _ = _run(ENDS)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "returned\n", "")


# A command that fails with a bug (not a SystemExit) or that sets up no logging (`schema`)
# while a thread it started is stuck: the CLI's main() with a short grace.
COMMAND_LEAVES_A_THREAD = """
import sys, threading
import idf_etl.warehouse.schema as schema
from idf_etl.cli import app, endings

def leave_a_thread():
    threading.Thread(target=threading.Event().wait, name="stuck-reader").start()
    if {bug!r}:
        raise RuntimeError("a bug in the command")
    return "dictionary\\n"

schema.data_dictionary_markdown = leave_a_thread
endings.exit_unheld.__defaults__ = (2.0,)
sys.argv = ["idf-etl", "schema"]
app.main()
"""


def test_a_command_that_fails_with_a_bug_exits_too_with_its_traceback_and_status_1():
    proc, seconds = _run(COMMAND_LEAVES_A_THREAD.format(bug=True))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "RuntimeError: a bug in the command" in proc.stderr  # the traceback, once
    assert proc.stderr.count("a bug in the command") == 1
    assert "stuck-reader still ran 2s later" in proc.stderr
    assert seconds < 60  # before: held until the test's 120 s bound


def test_a_command_without_logging_options_still_says_which_thread_it_left():
    proc, _ = _run(COMMAND_LEAVES_A_THREAD.format(bug=False))
    assert (proc.returncode, proc.stdout) == (0, "dictionary\n")
    assert "stuck-reader still ran 2s later" in proc.stderr  # before: said to a NullHandler
