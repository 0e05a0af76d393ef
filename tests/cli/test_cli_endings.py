"""How a command ends when its reader or its user stops it: quietly, in one line at most.

A closed pipe (`idf-etl parse ... | head -1`) ended every command that writes to stdout
with exit 1 and nothing said (click's and rich's handling of BrokenPipeError); Ctrl-C
during a run's parse said "interrupted" twice and left multiprocessing's resource
tracker warning of leaked semaphores (adversary, issue 22). The CLI as a subprocess.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.cli.options import EXIT_PIPE
from idf_etl.interrupts import EXIT_INTERRUPTED, INTERRUPTED
from tests.helpers.cli import clean_env

PAGE = Path(__file__).parents[1] / "fixtures" / "pages" / "a_en_field_divs.html"
# Each writes far more than a pipe holds (64 KiB), so the write meets the closed pipe.
LONG = {
    "parse --jsonl": lambda d: ["parse", "--jsonl", *d["pages"]],
    "parse": lambda d: ["parse", *d["pages"][:60]],
    "sql --csv": lambda d: [
        "sql",
        "--data-dir",
        d["data"],
        "--csv",
        "SELECT * FROM range(3000000)",
    ],
    "sql --json": lambda d: [
        "sql",
        "--data-dir",
        d["data"],
        "--json",
        "SELECT * FROM range(3000000)",
    ],
}
# These may write all they have before the reader goes (then 0, as `cat` gives): each is
# under a pipe's 64 KiB (--help 4 KB, run --help 8 KB, status 5 KB: as LONG, they failed
# whenever their last write came before the reader had closed).
SHORT = {
    "--help": lambda d: ["--help"],
    "run --help": lambda d: ["run", "--help"],
    "status": lambda d: ["status", "--data-dir", d["data"]],
    "status --json": lambda d: ["status", "--data-dir", d["data"], "--json"],
    "check": lambda d: ["check", "--data-dir", d["data"]],
    "schema": lambda d: ["schema"],
    "sql table": lambda d: ["sql", "--data-dir", d["data"], "SELECT * FROM runs"],
    "parse one": lambda d: ["parse", d["pages"][0]],
    "--version": lambda d: ["--version"],
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, published):
    pages = tmp_path_factory.mktemp("pages")
    paths = []
    for i in range(400):
        path = pages / f"p{i}.html"
        path.write_bytes(PAGE.read_bytes())
        paths.append(str(path))
    return {"pages": paths, "data": str(published[0])}


def closed_early(args: list[str], read: int, cwd: Path) -> tuple[int, str]:
    """Run `idf-etl ARGS`, read `read` bytes of its stdout, close the pipe: (status, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "idf_etl", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(), cwd=cwd,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(read)
    proc.stdout.close()
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("still running 120 s after its reader went away")
    return proc.returncode, err.decode("utf-8", "replace")


@settings(
    max_examples=14, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=st.sampled_from(sorted(LONG) + sorted(SHORT)), read=st.integers(0, 3000))
def test_a_closed_pipe_ends_every_command_quietly(inputs, tmp_path, command, read):
    status, err = closed_early((LONG | SHORT)[command](inputs), read, tmp_path)
    assert status in ((EXIT_PIPE,) if command in LONG else (0, EXIT_PIPE)), err[-2000:]
    for noise in ("Traceback", "Broken pipe", "BrokenPipe", "Exception ignored", "Errno"):
        assert noise not in err, err[-2000:]


# -- Ctrl-C -------------------------------------------------------------------------------

# A command whose own exit is slower than the grace: the hard exit ends it, with a process
# pool's queues (forkserver: semaphores the resource tracker knows) still alive.
SLOW_EXIT = """
import sys, time
from idf_etl.interrupts import INTERRUPTED, Interrupted, said_interrupted, watch_interrupts
from idf_etl.workers import map_isolated

said, workers, fork = sys.argv[1] == "said", int(sys.argv[2]), sys.argv[3] == "fork"
watch_interrupts(grace=0.3)
results = map_isolated(abs, range(10**7), workers=workers, isolate=True, fork=fork)
try:
    for i, _ in results:
        if i == 100:
            print("ready", flush=True)
except Interrupted:
    if said:
        sys.stderr.write(f"idf-etl: {INTERRUPTED}\\n")
        said_interrupted()
    time.sleep(20)  # the exit that takes longer than the grace
"""


@settings(max_examples=6, deadline=None)
@given(
    said=st.booleans(),
    workers=st.integers(1, 3),
    fork=st.booleans(),
    after=st.floats(0, 0.5),
)
def test_an_interrupted_command_says_so_once_and_nothing_else(said, workers, fork, after):
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_EXIT, "said" if said else "-", str(workers),
         "fork" if fork else "server"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    time.sleep(0.5)  # the resource tracker writes after the process has gone
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert err.count(INTERRUPTED) == 1, err
    assert err.strip() == f"idf-etl: {INTERRUPTED}", err  # no leaked-semaphore warning


@pytest.mark.slow
# Moments from the parse's first line: its workers are still starting for the first second
# or more on a loaded machine, and a worker the fork server was starting when the run
# exited printed a traceback (3 runs in 10 at load 15) until fork_server.py.
@pytest.mark.parametrize("after", [0, 0.1, 0.3, 0.5, 1.0, 2.5])
def test_ctrl_c_during_a_run_s_parse_is_one_line(tmp_path, after):
    from tests.pipeline.test_memory import store

    data = tmp_path / "data"
    store(data, 600)
    proc = subprocess.Popen(
        [sys.executable, "-m", "idf_etl", "run", "--from-raw", "--data-dir", str(data),
         "--set", "report=false", "--set", "parse_workers=2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # the parse has begun
        if "pages to check" in line:
            break
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    time.sleep(0.5)
    assert proc.returncode == EXIT_INTERRUPTED, err[-2000:]
    assert err.count(INTERRUPTED) == 1, err[-2000:]
    assert "leaked" not in err and "Warning" not in err and "Traceback" not in err, err[-2000:]
