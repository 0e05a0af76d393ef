"""The command line follows the conventions: --version, -h, readable help with defaults,
completion, shared options defined once, `sql -`, exclusive output formats, a copyable demo
command, and status/sql/check that find the warehouse from anywhere or say where they looked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import duckdb
import pytest
import typer

from idf_etl import __version__
from idf_etl.cli.app import app
from idf_etl.cli.options import CrawlOptions
from tests.helpers.cli import clean_env, idf_etl

REPO = Path(__file__).parents[2]


def options_of(command: str) -> set[str]:
    group = typer.main.get_command(app)
    return {o for p in group.commands[command].params for o in (*p.opts, *p.secondary_opts)}


def test_version_and_short_help(tmp_path):
    version = idf_etl("--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"idf-etl {__version__}")
    for args in (["-h"], ["run", "-h"], ["sql", "-h"]):
        proc = idf_etl(*args, cwd=tmp_path, env=clean_env(COLUMNS="200"))
        assert proc.returncode == 0, proc.stderr
        assert "Usage: idf-etl" in proc.stdout


def test_help_shows_defaults_and_readable_types(tmp_path):
    help_text = idf_etl("run", "--help", cwd=tmp_path, env=clean_env(COLUMNS="200")).stdout
    assert "<list[str]>" not in help_text and "<bool>  No network" not in help_text
    for words in ("--start-url", "URL", "HOST[:PORT]", "NAME=VALUE", "PER_SECOND", "built in: 1.0"):
        assert words in help_text, words
    sql_help = idf_etl("sql", "--help", cwd=tmp_path, env=clean_env(COLUMNS="200")).stdout
    assert "QUERY" in sql_help and "- reads it from stdin" in sql_help


def test_run_and_fetch_share_one_definition_of_the_crawl_options():
    crawl = {"--" + f.name.replace("_", "-") for f in fields(CrawlOptions)} - {"--assign"}
    assert crawl <= options_of("run") and crawl <= options_of("fetch")
    assert options_of("run") - options_of("fetch") == {"--from-raw"}


def test_shell_completion_is_enabled(tmp_path):
    def complete(words: str) -> list[str]:
        env = clean_env(
            _IDF_ETL_COMPLETE="complete_bash",
            COMP_WORDS=words,
            COMP_CWORD=str(len(words.split()) - 1),
        )
        return idf_etl(cwd=tmp_path, env=env).stdout.split()

    assert complete("idf-etl ru") == ["run"]
    assert complete("idf-etl fetch --start") == ["--start-url"]


def test_sql_reads_stdin_and_refuses_two_formats(published, tmp_path):
    data, _, _ = published
    proc = idf_etl(
        "sql",
        "-",
        "--csv",
        "--data-dir",
        str(data),
        cwd=tmp_path,
        stdin="SELECT count(*) AS n\nFROM projects\n",
    )
    assert (proc.returncode, proc.stdout.splitlines()) == (0, ["n", "14"])
    both = idf_etl("sql", "SELECT 1", "--csv", "--json", "--data-dir", str(data), cwd=tmp_path)
    assert both.returncode == 2 and "choose one" in both.stderr


def test_status_and_sql_find_the_data_dir_from_another_directory(published, tmp_path):
    data, _, _ = published
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    by_env = idf_etl("status", cwd=elsewhere, env=clean_env(IDF_ETL_DATA_DIR=str(data)))
    assert by_env.returncode == 0 and "recent runs" in by_env.stdout
    config = tmp_path / "pipeline.toml"
    config.write_text(f"data_dir = '{data}'\n")
    by_config = idf_etl(
        "sql",
        "SELECT count(*) FROM runs",
        "--csv",
        cwd=elsewhere,
        env=clean_env(IDF_ETL_CONFIG=str(config)),
    )
    assert by_config.stdout.splitlines() == ["count_star()", "1"]
    lost = idf_etl("status", cwd=elsewhere)
    assert lost.returncode == 1
    assert f"no warehouse at {elsewhere / 'data' / 'clean' / 'idf.duckdb'}" in lost.stderr


def test_status_json_for_monitoring(published, tmp_path):
    data, _, _ = published
    report = json.loads(idf_etl("status", "--json", "--data-dir", str(data), cwd=tmp_path).stdout)
    assert report["last_run"]["run_id"] == 1 and report["last_run"]["outcome"] == "success"
    assert report["last_success"]["run_id"] == 1
    assert 0 <= report["hours_since_success"] < 1
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        counts = dict(
            con.execute("SELECT severity, count(*) FROM open_issues GROUP BY ALL").fetchall()
        )
        codes = [c for (c,) in con.execute("SELECT code FROM open_issues").fetchall()]
    assert report["open_problems"] == {"error": 0, "warning": 0, **counts}
    assert counts["error"] == 1  # the demo's empty page
    assert [p["code"] for p in report["oldest_open_problems"]] == codes
    assert report["warehouse"]["projects"] == 14
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", report["last_run"]["finished_at"])


def test_check_exits_like_a_nagios_plugin(published, tmp_path):
    data, _, _ = published
    ok = idf_etl("check", "--data-dir", str(data), cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith(
        "IDF-ETL OK - last successful read of the site (run 1) "
    )
    assert "| hours_since_success=" in ok.stdout  # performance data for graphs
    warn = idf_etl("check", "--data-dir", str(data), "--warn-hours", "0.0001", cwd=tmp_path)
    assert warn.returncode == 1 and warn.stdout.startswith("IDF-ETL WARNING")
    critical = idf_etl(
        "check",
        "--data-dir",
        str(data),
        "--warn-hours",
        "0",
        "--critical-hours",
        "0.0001",
        cwd=tmp_path,
    )
    assert critical.returncode == 2 and critical.stdout.startswith("IDF-ETL CRITICAL")
    missing = idf_etl("check", "--data-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert missing.returncode == 3 and missing.stdout.startswith(
        "IDF-ETL UNKNOWN - no warehouse at"
    )


def test_run_summary_line_uses_plurals(published):
    _, stderr, summary = published
    issues = summary["issues"]
    said = "1 issue" if issues == 1 else f"{issues} issues"
    assert (
        f"parsed 28 pages (1 unreadable), 14 projects (14 new), 0 field changes, {said};" in stderr
    )


@pytest.mark.slow
def test_demo_prints_a_command_a_person_can_copy(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "demo" / "run_demo.py"),
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("demo: ") and " run " in x)
    program = line.split()[1]
    assert program.endswith("/idf-etl") and Path(program).exists()
    assert "idf_etl" not in line and "-m" not in line.split()


COMMANDS = (
    "parse",
    "fetch",
    "run",
    "status",
    "check",
    "sql",
    "restore",
    "fsck",
    "report",
    "schema",
)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_no_python_types_and_only_page_commands_talk_of_pages(tmp_path, command):
    """Typer writes `<bool>` after flags and `<list[str]>` after arguments unless told not to:
    no command's help shows one; -v logs every page only where pages are read."""
    proc = idf_etl(command, "--help", cwd=tmp_path, env=clean_env(COLUMNS="200"))
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"<(bool|str|list\[str\]|int|float|path)>", proc.stdout), proc.stdout
    verbose = next((line for line in proc.stdout.splitlines() if "--verbose" in line), "")
    if command in ("parse", "fetch", "run"):
        assert "every page" in verbose
    elif verbose:
        assert "page" not in verbose, verbose


@pytest.mark.parametrize("fmt", [(), ("--csv",), ("--json",)], ids=["table", "csv", "json"])
def test_a_query_may_hold_what_a_run_may_grow_to_and_cannot_raise_it(published, tmp_path, fmt):
    """DuckDB's own default is 80 % of the machine, shared with the nightly run."""
    data, _, _ = published
    env = clean_env(IDF_ETL_MAX_WAREHOUSE_MEMORY="96MB")
    ask = "SELECT current_setting('memory_limit') AS m"
    shown = idf_etl("sql", ask, *fmt, "--data-dir", str(data), cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "91.5 MiB" in shown.stdout  # 96,000,000 bytes
    raised = idf_etl("sql", "SET memory_limit = '10GB'", "--data-dir", str(data), cwd=tmp_path)
    assert raised.returncode != 0 and "configuration has been locked" in raised.stderr
