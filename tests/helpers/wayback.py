"""A real Wayback server for tests: pywb on 127.0.0.1 over WARC files written here with warcio.

    captures = [Capture("http://127.0.0.1:8000/project/x", "20190301100000", 200, body)]
    with Wayback(tmp_path / "archive", captures) as archive:
        archive.cdx      # http://127.0.0.1:PORT/idf/cdx
        archive.replay   # http://127.0.0.1:PORT/idf

pywb runs from its own environment (.tools/pywb, `make pywb`): it pins older
libraries than ours. Without it the test fails and says how to install it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from types import TracebackType

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).parents[2]
PYWB_BIN = ROOT / ".tools" / "pywb" / "bin"
COLLECTION = "idf"
_REASONS = {200: "OK", 301: "Moved Permanently", 404: "Not Found", 500: "Server Error"}


@dataclass(frozen=True)
class Capture:
    url: str
    timestamp: str  # 14 digits
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None


def write_warc(path: Path, captures: list[Capture]) -> None:
    """One response record a capture, dated by its timestamp."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for c in captures:
            headers = [("Content-Type", c.content_type)]
            if c.location:
                headers.append(("Location", c.location))
            http = StatusAndHeaders(
                f"{c.status} {_REASONS.get(c.status, 'Status')}", headers, protocol="HTTP/1.1"
            )
            when = datetime.strptime(c.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            record = writer.create_warc_record(
                c.url,
                "response",
                payload=BytesIO(c.body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            )
            writer.write_record(record)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Wayback:
    """pywb's `wayback` serving one collection of the given captures."""

    def __init__(self, root: Path, captures: list[Capture]) -> None:
        wayback = PYWB_BIN / "wayback"
        assert wayback.exists(), f"pywb is not installed: run `make pywb` (wanted {wayback})"
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        warc = root / "captures.warc.gz"
        write_warc(warc, captures)
        manager = str(PYWB_BIN / "wb-manager")
        for args in (["init", COLLECTION], ["add", COLLECTION, str(warc)]):
            subprocess.run([manager, *args], cwd=root, check=True, capture_output=True)
        self.port = _free_port()
        self.replay = f"http://127.0.0.1:{self.port}/{COLLECTION}"
        self.cdx = f"{self.replay}/cdx"
        self._log = (root / "wayback.log").open("wb")
        self._process = subprocess.Popen(
            [str(wayback), "-b", "127.0.0.1", "-p", str(self.port)],
            cwd=root,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self, seconds: float = 120) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert self._process.poll() is None, (self.root / "wayback.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"pywb did not listen on port {self.port} within {seconds}s")

    def requests(self) -> list[str]:
        """The request lines pywb logged (its access log)."""
        text = (self.root / "wayback.log").read_text(errors="replace")
        return [line for line in text.splitlines() if '"GET ' in line]

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> Wayback:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
