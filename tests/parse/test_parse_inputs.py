"""`idf-etl parse` reads an input no further than the fetch's cap on a page (max_bytes):
a 3 GB file or /dev/zero is one clear line, never a read until memory runs out (issue 22,
adversary case 24). The real CLI in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from idf_etl.parse.inputs import MAX_BYTES
from tests.helpers.cli import idf_etl


def test_an_input_past_max_bytes_is_refused_in_one_line(tmp_path: Path):
    big = tmp_path / "big.html"
    with big.open("wb") as f:  # sparse: no disk used
        f.truncate(3 * 1024**3)
    fits = tmp_path / "fits.html"
    fits.write_bytes(b"<html><body><h1>A</h1></body></html>".ljust(MAX_BYTES, b" "))
    proc = idf_etl("parse", "--jsonl", str(big), "/dev/zero", str(fits), cwd=tmp_path)
    assert proc.returncode == 1
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["kind"] for o in out] == ["error", "error", "other"]
    for o in out[:2]:
        assert "larger than max_bytes (5,242,880 bytes" in o["error"]
    errors = [line for line in proc.stderr.splitlines() if "idf-etl:" in line]
    assert len(errors) == 2 and "Traceback" not in proc.stderr
