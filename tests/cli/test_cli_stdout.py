"""A command whose stdout cannot be written says so, in one line, and fails.

`> /dev/full` gave the data directory's advice for a write to stdout ("old releases under
clean/releases"), or nothing at all (`schema`, `--version`: exit 1, silent); `>&-` ended
with 0 saying nothing, the answer gone nowhere (`sql --csv` printed a traceback). Each
command that writes to stdout, as a subprocess, with its stdout full, closed, or a pipe
nobody reads (adversary, issue 22).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.cli.options import EXIT_FAILURES, EXIT_PIPE
from tests.helpers.cli import clean_env

PAGE = Path(__file__).parents[1] / "fixtures" / "pages" / "a_en_field_divs.html"

# Every command that writes to stdout, with what it needs; `d` holds a published data
# directory ("data") and pages to parse ("pages").
LARGE = "SELECT * FROM range(300000)"  # more than a pipe or a buffer holds
WRITERS = {
    "parse": lambda d: ["parse", d["pages"][0]],
    "parse --jsonl": lambda d: ["parse", "--jsonl", *d["pages"][:3]],
    "sql table": lambda d: ["sql", "--data-dir", d["data"], "SELECT * FROM runs"],
    "sql --csv": lambda d: ["sql", "--data-dir", d["data"], "--csv", "SELECT * FROM runs"],
    "sql --json": lambda d: ["sql", "--data-dir", d["data"], "--json", "SELECT * FROM runs"],
    "sql --csv large": lambda d: ["sql", "--data-dir", d["data"], "--csv", LARGE],
    "status": lambda d: ["status", "--data-dir", d["data"]],
    "status --json": lambda d: ["status", "--data-dir", d["data"], "--json"],
    "check": lambda d: ["check", "--data-dir", d["data"]],
    "check usage": lambda d: ["check", "--no-such-option"],
    "restore --list": lambda d: ["restore", "--data-dir", d["data"], "--list"],
    "schema": lambda d: ["schema"],
    "--version": lambda d: ["--version"],
    "--help": lambda d: ["--help"],
    "run --help": lambda d: ["run", "--help"],
}
NOISE = ("Traceback", "Exception ignored", "old releases", "--data-dir at one")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, published):
    pages = tmp_path_factory.mktemp("stdout-pages")
    paths = []
    for i in range(3):
        path = pages / f"p{i}.html"
        shutil.copyfile(PAGE, path)
        paths.append(str(path))
    return {"pages": paths, "data": str(published[0])}


def run_with_stdout(args: list[str], stdout: str, cwd: Path) -> tuple[int, str]:
    """`idf-etl ARGS` with stdout "full" (/dev/full), "closed" (>&-) or "unread" (a pipe
    whose reader is gone before it starts): (status, stderr)."""
    command = [sys.executable, "-m", "idf_etl", *args]
    if stdout == "closed":
        proc = subprocess.run(
            command, stdout=None, stderr=subprocess.PIPE, env=clean_env(), cwd=cwd,
            preexec_fn=lambda: os.close(1), timeout=180,
        )  # fmt: skip
    elif stdout == "full":
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                command, stdout=full, stderr=subprocess.PIPE, env=clean_env(), cwd=cwd,
                timeout=180,
            )  # fmt: skip
    else:
        read, write = os.pipe()
        os.close(read)
        try:
            proc = subprocess.run(
                command, stdout=write, stderr=subprocess.PIPE, env=clean_env(), cwd=cwd,
                timeout=180,
            )  # fmt: skip
        finally:
            os.close(write)
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


@settings(
    max_examples=16, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=st.sampled_from(sorted(WRITERS)), stdout=st.sampled_from(["full", "closed"]))
def test_a_stdout_that_cannot_be_written_is_said_in_one_line(inputs, tmp_path, command, stdout):
    status, err = run_with_stdout(WRITERS[command](inputs), stdout, tmp_path)
    # A command that had failed already keeps its status (check's Nagios codes); one that
    # had not fails now.
    assert status == EXIT_FAILURES or (command.startswith("check") and status > 0), err[-2000:]
    said = [line for line in err.splitlines() if "idf-etl: <stdout>: " in line]
    assert len(said) == 1, err[-2000:]
    reason = "No space left on device" if stdout == "full" else "Bad file descriptor"
    assert reason in said[0] and "output is incomplete" in said[0], said
    for noise in NOISE:
        assert noise not in err, err[-2000:]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(command=st.sampled_from(sorted(WRITERS)))
def test_a_pipe_nobody_reads_ends_every_writer_quietly_with_141(inputs, tmp_path, command):
    status, err = run_with_stdout(WRITERS[command](inputs), "unread", tmp_path)
    assert status == EXIT_PIPE, err[-2000:]
    for noise in (*NOISE, "Broken pipe", "BrokenPipe", "Errno", "<stdout>"):
        assert noise not in err, err[-2000:]


@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_a_command_that_writes_nothing_to_stdout_does_not_mind(inputs, tmp_path, stdout):
    """`fsck` writes only to stderr: a closed or full stdout is nothing to it, as to
    `true >&-`, and a file it opens does not take stdout's place."""
    data = tmp_path / "data"
    shutil.copytree(inputs["data"], data, symlinks=True)
    status, err = run_with_stdout(["fsck", "--data-dir", str(data)], stdout, tmp_path)
    assert status == 0, err[-2000:]
    assert "nothing wrong" in err and "<stdout>" not in err, err[-2000:]
