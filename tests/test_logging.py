"""Logging modes: timestamped lines off a terminal, JSON lines on request, Rich and bars on one."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import re
import subprocess
import sys

import pytest

from idf_etl.logs import level_for, plural, setup_logging
from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.local_site import SITEMAP_PAGES, Site

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"


def test_plain_lines_carry_a_timestamp_and_a_level():
    out = io.StringIO()
    setup_logging(stream=out)
    logging.getLogger("idf_etl.test").info("fetch: %s", "discovered 3 pages")
    logging.getLogger("idf_etl.test").debug("not shown at the default level")
    assert re.fullmatch(rf"{STAMP} INFO fetch: discovered 3 pages\n", out.getvalue())


def test_json_lines_carry_time_level_message_and_extras():
    out = io.StringIO()
    setup_logging(json_lines=True, stream=out)
    logging.getLogger("idf_etl.test").warning("fetch: %s", "gone", extra={"url": "http://x/p"})
    entry = json.loads(out.getvalue())
    assert entry["level"] == "warning" and entry["message"] == "fetch: gone"
    assert entry["url"] == "http://x/p" and entry["logger"] == "idf_etl.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])


def test_verbose_and_quiet_levels():
    assert level_for(0, 0) == logging.INFO
    assert level_for(1, 0) == level_for(3, 0) == logging.DEBUG
    assert level_for(0, 1) == logging.WARNING
    assert level_for(0, 2) == level_for(0, 5) == logging.ERROR


def test_plurals():
    assert [plural(n, "issue") for n in (0, 1, 2)] == ["0 issues", "1 issue", "2 issues"]
    assert (
        plural(1, "attempt") == "1 attempt" and plural(1200, "entry", "entries") == "1,200 entries"
    )


def fetch(server, tmp_path, *args):
    site = Site(server, with_listing=False)
    proc = idf_etl(
        "fetch",
        "--start-url",
        site.url("/sitemap.xml"),
        "--data-dir",
        "data",
        "--rate",
        "0",
        *args,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_cli_logs_json_lines_when_asked(server, tmp_path):
    proc = fetch(server, tmp_path, "--log-json", "--json")
    entries = [json.loads(line) for line in proc.stderr.splitlines()]
    messages = [e["message"] for e in entries]
    assert any(m.startswith("fetch: discovered") for m in messages)
    assert {e["url"] for e in entries if e["message"].startswith("fetch: new")} == {
        server.url_for(p) for p in SITEMAP_PAGES
    }
    assert json.loads(proc.stdout)["new"] == len(SITEMAP_PAGES)  # stdout stays the result


def test_cli_quiet_and_verbose(server, tmp_path):
    quiet = fetch(server, tmp_path, "-q")
    assert " INFO " not in quiet.stderr
    assert re.search(
        rf"^{STAMP} WARNING fetch: .*refused", quiet.stderr, re.M
    )  # problems still said
    verbose = fetch(server, tmp_path, "-v")  # second fetch: every page unchanged, said at debug
    assert re.search(rf"^{STAMP} DEBUG fetch: skipped ", verbose.stderr, re.M)


@pytest.mark.slow
def test_plain_progress_is_timestamped_and_in_stage_order(server, tmp_path):
    site = Site(server, with_listing=False)
    proc = idf_etl(
        "run",
        "--start-url",
        site.url("/sitemap.xml"),
        "--data-dir",
        "data",
        "--rate",
        "0",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert all(re.match(rf"{STAMP} (INFO|WARNING) ", line) for line in lines), lines
    summary = next(i for i, line in enumerate(lines) if " fetch: discovered " in line)
    first_parse = next(i for i, line in enumerate(lines) if " parse: " in line)
    assert summary < first_parse
    assert " INFO run 1 (network): success; parsed 3 pages" in proc.stderr


def test_progress_bars_and_rich_logs_on_a_terminal(server, tmp_path):
    site = Site(server, with_listing=False)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "idf_etl",
            "fetch",
            "--start-url",
            site.url("/sitemap.xml"),
            "--data-dir",
            "data",
            "--rate",
            "0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=tmp_path,
        env=clean_env(TERM="xterm-256color", COLUMNS="120"),
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=60) == 0
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))  # no colours
    assert re.search(r"fetch ━+ (\d+)/\1 ", text), text  # a bar, full at the end
    assert "fetch: new" not in text  # no per-page lines: the bar says it
    assert "fetch: discovered" in text  # the summary, through Rich's handler
    assert not re.search(rf"{STAMP} INFO", text)  # not the plain format
