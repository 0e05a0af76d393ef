"""Usage mistakes a newcomer or an operator makes, each answered in one line with the exit
status their tools expect: a monitor reads `check` the Nagios way (a usage error is
UNKNOWN, 3, never CRITICAL), the other commands exit 2."""

from __future__ import annotations

import pytest

from tests.helpers.cli import idf_etl

CHECK_MISTAKES = {
    "mistyped option": (["--warn-hourz", "3"], "invalid arguments"),
    "negative hours": (["--warn-hours", "-1"], "invalid arguments"),
    "warning after critical": (
        ["--warn-hours", "60", "--critical-hours", "30"],
        "--warn-hours (60) is over --critical-hours (30)",
    ),
    "bad config": (["--config", "nowhere.toml"], "config file nowhere.toml does not exist"),
}


@pytest.mark.parametrize("case", CHECK_MISTAKES, ids=list(CHECK_MISTAKES))
def test_a_check_used_wrongly_is_unknown_to_a_monitor(published_dir, tmp_path, case):
    args, words = CHECK_MISTAKES[case]
    proc = idf_etl("check", "--data-dir", str(published_dir), *args, cwd=tmp_path)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    (line,) = proc.stdout.splitlines()
    assert line.startswith("IDF-ETL UNKNOWN - ") and words in line + proc.stderr


MISTAKES = {
    "negative --runs": (["status", "--runs", "-1"], "--runs"),
    "two restore modes": (["restore", "--list", "--empty"], "--list and --empty: choose one"),
    "restore a release and nothing": (
        ["restore", "--release", "x", "--empty"],
        "--empty and --release: choose one",
    ),
    "empty query": (["sql", "  "], "the query is empty"),
    "no language": (
        ["run", "--set", "languages="],
        "languages = [] (from --set languages): is empty",
    ),
}


@pytest.mark.parametrize("case", MISTAKES, ids=list(MISTAKES))
def test_a_usage_mistake_exits_2_with_one_line_and_no_traceback(published_dir, tmp_path, case):
    args, words = MISTAKES[case]
    proc = idf_etl(*args, "--data-dir", str(published_dir), cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert words in proc.stderr and "Traceback" not in proc.stderr
