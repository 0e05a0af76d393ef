"""Ctrl-C and SIGTERM stop every long command the same way: one line, 128 + the signal.

SIGTERM (`kill`, systemd's stop) had no handler: the process died on the spot with 143,
saying nothing, and multiprocessing's resource tracker warned of leaked semaphores
(adversary, issue 22). A drawn command, a drawn signal at a drawn moment once the
command can hear it, through the CLI as a subprocess against a real server on 127.0.0.1
and a real published warehouse; then the lock is free and what was published is whole.
"""

from __future__ import annotations

import fcntl
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idf_etl.interrupts import INTERRUPTED, TERMINATED
from tests.helpers.cli import clean_env

PAGE = (Path(__file__).parents[1] / "fixtures" / "pages" / "a_en_field_divs.html").read_bytes()
PAGES = 400
LINES = {signal.SIGINT: INTERRUPTED, signal.SIGTERM: TERMINATED}


class _SlowSite(http.server.BaseHTTPRequestHandler):
    """A site of PAGES project pages, each answered after a pause: a crawl of it is long."""

    def do_GET(self) -> None:
        if self.path == "/sitemap.xml":
            urls = "".join(
                f"<url><loc>http://{self.headers['Host']}/project/p{i}</loc></url>"
                for i in range(PAGES)
            )
            body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            self._send(200, "application/xml", body.encode())
        elif self.path.startswith("/project/"):
            time.sleep(0.2)
            self._send(200, "text/html; charset=utf-8", PAGE)
        else:
            self._send(404, "text/plain", b"not here")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowSite)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stop-pages")
    paths = []
    for i in range(PAGES):
        (folder / f"p{i}.html").write_bytes(PAGE)
        paths.append(str(folder / f"p{i}.html"))
    return paths


HUGE = "SELECT count(*) FROM range(1000000000000) a, range(10) b"
# name -> (arguments, whether it works in a copy of the published data directory)
COMMANDS = {
    "run": lambda c: ["run", "--start-url", f"{c['site']}/sitemap.xml", "--data-dir", c["fresh"],
                      "--rate", "0", "--set", "report=false"],
    "fetch": lambda c: ["fetch", "--start-url", f"{c['site']}/sitemap.xml", "--data-dir",
                        c["fresh"], "--rate", "0"],
    "run --from-raw": lambda c: ["run", "--from-raw", "--data-dir", c["copy"], "--set",
                                 "report=false"],
    "sql": lambda c: ["sql", "--data-dir", c["copy"], HUGE],
    "sql --csv": lambda c: ["sql", "--data-dir", c["copy"], "--csv", HUGE],
    "report": lambda c: ["report", "--data-dir", c["copy"], "--out", c["out"]],
    "parse": lambda c: ["parse", "--workers", "2", "--jsonl", *c["pages"]],
}  # fmt: skip


def _hears(pid: int, signals: tuple[int, ...]) -> bool:
    """Whether the process has handlers for `signals` (its caught-signal mask)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:"))[7:], 16)
    return all(caught & (1 << (s - 1)) for s in signals)


def _runs(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT * FROM runs ORDER BY ALL").fetchall()


def _lock_free(data: Path) -> bool:
    lock = data / ".idf-etl.lock"
    if not lock.exists():
        return True
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.mark.slow
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    command=st.sampled_from(sorted(COMMANDS)),
    signum=st.sampled_from([signal.SIGINT, signal.SIGTERM]),
    after=st.floats(0, 1.5),
)
def test_a_stopped_command_says_so_once_and_loses_nothing(
    published, site, pages, tmp_path_factory, command, signum, after
):
    work = tmp_path_factory.mktemp("stop")
    copy = work / "copy"
    shutil.copytree(published[0], copy, symlinks=True)
    warehouse = copy / "clean" / "idf.duckdb"
    before = _runs(warehouse)
    places = {"site": site, "fresh": str(work / "fresh"), "copy": str(copy), "pages": pages,
              "out": str(work / "report.html")}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "idf_etl", *COMMANDS[command](places)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_env(), cwd=work,
    )  # fmt: skip
    try:
        ready = time.monotonic() + 60
        while not _hears(proc.pid, tuple(LINES)) and proc.poll() is None:
            assert time.monotonic() < ready, "no handler for SIGINT and SIGTERM within 60 s"
            time.sleep(0.02)
        time.sleep(after)
        if proc.poll() is not None:  # it ended before the signal: as it would have anyway
            _, err = proc.communicate()
            assert proc.returncode == 0, err[-3000:]
            return
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.5)  # the resource tracker writes after the process has gone
    assert proc.returncode == 128 + signum, err[-3000:]
    stops = [line for line in err.splitlines() if line.endswith(f"idf-etl: {LINES[signum]}")]
    assert len(stops) == 1, err[-3000:]
    for noise in ("Traceback", "leaked", "Warning:", "Exception ignored", "Aborted"):
        assert noise not in err, err[-3000:]
    for data in (copy, work / "fresh"):
        assert _lock_free(data), f"{data}: the lock is still held"
    assert _runs(warehouse) == before  # what was published is whole, and unchanged
    fresh = work / "fresh" / "clean" / "idf.duckdb"
    if fresh.exists():  # a run stopped after its publish: what it published opens
        assert _runs(fresh)
