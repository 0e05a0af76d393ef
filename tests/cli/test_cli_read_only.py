"""Commands that only read never write: pointed at a directory with no data they create
nothing and say so; on a published warehouse status, check, sql and restore --list leave
every file as it was. And what a user is told before a restore and under -q."""

from __future__ import annotations

import os

import pytest

from tests.helpers.cli import idf_etl

READERS = {
    # command: (arguments, exit status with nothing there, words it must say)
    "status": ([], 1, "no warehouse at"),
    "check": ([], 3, "IDF-ETL UNKNOWN - no warehouse at"),
    "sql": (["SELECT 1"], 1, "no warehouse at"),
    "sql --csv": (["SELECT 1", "--csv"], 1, "no warehouse at"),
    "report": ([], 1, "no warehouse at"),
    "fsck": ([], 1, "nothing here to work on"),
    "restore --list": (["--list"], 1, "nothing here to work on"),
    "restore": ([], 1, "nothing here to work on"),
    "restore --empty": (["--empty"], 1, "nothing here to work on"),
}


def tree(root) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and modification time (ns)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            stat = os.lstat(path)
            out[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return out


@pytest.mark.parametrize("case", READERS, ids=list(READERS))
def test_pointed_at_nothing_a_command_creates_nothing_and_says_so(tmp_path, case):
    args, status, words = READERS[case]
    for where in ("default", "named"):  # ./data (no pipeline file), and --data-dir DIR
        extra = [] if where == "default" else ["--data-dir", str(tmp_path / "nowhere")]
        proc = idf_etl(case.split()[0], *args, *extra, cwd=tmp_path)
        assert proc.returncode == status, (where, proc.stdout, proc.stderr)
        said = proc.stdout + proc.stderr
        assert words in said and "--data-dir" in said and "demo/data" in said, said
        assert "Traceback" not in said
        assert tree(tmp_path) == {}, (where, tree(tmp_path))


def test_a_data_dir_that_is_a_file_is_named_as_such(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("not a data directory\n")
    for command in ("run", "status", "fsck", "sql"):
        args = ["SELECT 1"] if command == "sql" else []
        proc = idf_etl(command, *args, "--data-dir", str(afile), cwd=tmp_path)
        assert proc.returncode == 2, (command, proc.stderr)
        assert f"data_dir = '{afile}' (from --data-dir): is a file, not a directory" in proc.stderr
    assert afile.read_text() == "not a data directory\n"


def test_reading_a_published_warehouse_changes_no_file(published_dir, tmp_path):
    data = published_dir
    before = tree(data)
    for args in (
        ["status"],
        ["status", "--json"],
        ["check"],
        ["sql", "SELECT count(*) FROM projects"],
        ["sql", "--csv", "SELECT * FROM projects"],
        ["sql", "--json", "SELECT * FROM runs"],
        ["restore", "--list"],
    ):
        proc = idf_etl(*args, "--data-dir", str(data), cwd=tmp_path)
        assert proc.returncode in (0, 1), (args, proc.stderr)  # check: WARNING on a failed run
        assert tree(data) == before, args
    listed = idf_etl("restore", "--list", "--data-dir", str(data), cwd=tmp_path).stdout
    assert listed.startswith("* ")  # the current release marked


@pytest.mark.slow
def test_restore_of_a_healthy_warehouse_says_what_it_replaces_before_doing_it(demo_site, tmp_path):
    _, base = demo_site
    data = tmp_path / "data"
    for _ in range(2):
        proc = idf_etl(
            "run", "--start-url", f"{base}/sitemap.xml", "-d", str(data), "--rate", "0",
            "--revalidate", cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    kept = idf_etl("restore", "--list", "-d", str(data), cwd=tmp_path).stdout.split()
    current, older = kept[1], kept[2]  # "* newest", "  older"
    proc = idf_etl("restore", "-d", str(data), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == (
        f"restore: replacing {current} (which opens: it is not damaged) with {older}"
    )
    assert lines[-1].startswith(f"restore: published {older} (was {current}); ")
    assert f"idf-etl restore --release {current}` goes back" in lines[-1]
    back = idf_etl("restore", "--release", current, "-d", str(data), cwd=tmp_path)
    assert back.returncode == 0 and f"published {current}" in back.stderr


@pytest.mark.slow
def test_an_unreadable_page_is_said_under_quiet(demo_site, tmp_path):
    """The demo site's empty page is an error-level problem: -q (warnings and errors) shows it."""
    _, base = demo_site
    proc = idf_etl(
        "run", "-q", "--start-url", f"{base}/sitemap.xml", "-d", str(tmp_path / "d"),
        "--rate", "0", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if "unreadable_page" in line]
    assert len(warned) == 1 and " WARNING " in warned[0] and "/project/broken-upload" in warned[0]
    assert " INFO " not in proc.stderr


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("[/]", "[/]"),  # rich read it as markup: a traceback, no answer
        ("a[/bold]b", "a[/bold]b"),
        ("[bold]x[/bold]", "[bold]x[/bold]"),  # shown as "x"
        (":warning:", ":warning:"),  # shown as an emoji
        ("\x1b]8;;http://attacker.example\x1b\\click\x1b]8;;\x1b\\", "\\x1b]8;;"),  # a link
        ("\x1b[2J\x9b31m", "\\x1b[2J\\x9b31m"),  # clears the screen, colours (C1 CSI)
    ],
)
def test_sql_and_status_tables_show_a_value_as_it_is_never_as_markup_or_escapes(
    published_dir, tmp_path, value, shown
):
    literal = "concat(" + ", ".join(f"chr({ord(c)})" for c in value) + ")"
    proc = idf_etl(
        "sql", f'SELECT {literal} AS "{value[:3]}", 1 AS n', "--data-dir", str(published_dir),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert shown in proc.stdout
    assert "\x1b" not in proc.stdout and "\x9b" not in proc.stdout
