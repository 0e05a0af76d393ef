"""The README's own first lines, run as a newcomer runs them: in a fresh clone, on a PATH
with no uv on it (the Makefile installs its own into .tools/bin), the package caches reused."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.helpers.cli import clean_env

REPO = Path(__file__).parent.parent


def console_lines(readme: str) -> list[str]:
    """The commands of the README's console blocks, in order, comments dropped."""
    lines = []
    for block in re.findall(r"```console\n(.*?)```", readme, re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command:
                lines.append(command)
    return lines


def path_without_uv() -> str:
    """PATH less every directory that holds a uv or uvx."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not any((Path(d) / tool).exists() for tool in ("uv", "uvx"))
    ]
    return os.pathsep.join(keep)


@pytest.mark.slow
def test_the_readme_lines_work_in_a_fresh_clone_without_uv_on_path(tmp_path):
    assert shutil.which("git") and shutil.which("make"), "git and make are the README's needs"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    env = clean_env(PATH=path_without_uv())
    for name in ("VIRTUAL_ENV", "UV", "UVX"):
        env.pop(name, None)
    assert shutil.which("uv", path=env["PATH"]) is None
    assert shutil.which("python3", path=env["PATH"]), "python3 must stay on PATH"

    commands = console_lines((clone / "README.md").read_text())
    assert commands[0] == "make demo" and "make duckdb DATA_DIR=demo/data" in commands
    answers = {}
    for command in commands:
        if command == "make test":
            continue  # this test runs inside it
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=clone,
            env=env,
            input="SELECT count(*) AS projects FROM projects;\n",  # for the DuckDB CLI
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-3000:])
        answers[command] = proc.stdout

    warehouse = clone / "demo" / "data" / "clean" / "idf.duckdb"
    assert warehouse.exists() and not (clone / "data" / "clean" / "idf.duckdb").exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (projects,) = con.execute("SELECT count(*) FROM projects").fetchone()
    assert re.search(rf"│\s+{projects}\s+│", answers["make duckdb DATA_DIR=demo/data"])
    assert "make duckdb DATA_DIR=demo/data" in answers["make demo"]  # the closing hints agree
    assert (
        "CD.0085" in answers['.venv/bin/idf-etl sql -d demo/data "SELECT * FROM project_changes"']
    )
    assert (
        "last successful read of the site: run" in answers[".venv/bin/idf-etl status -d demo/data"]
    )
