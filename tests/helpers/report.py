"""The report's tests' helpers: the CLI on a data directory, the demo site edited between
runs, the published warehouse queried read-only, and a page opened in Chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb

REPO = Path(__file__).parents[2]

ARMENIA = "/project/migration-socio-economic-development-armenia-georgia"
MOLDOVA = "/project/moldova-diaspora-homeland-partnerships"  # CE.0333's only page


def mark_then_sleep(path: str, seconds: float) -> None:
    """A page's drawing that says it has begun (a file at `path`) and then takes `seconds`."""
    Path(path).touch()
    time.sleep(seconds)


def idf(*args, data_dir, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    proc = subprocess.run(
        [sys.executable, "-m", "idf_etl", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=data_dir.parent,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def run(base, data_dir, *extra, check=True):
    return idf(
        "run",
        "--start-url",
        f"{base}/sitemap.xml",
        "--rate",
        "0",
        *extra,
        data_dir=data_dir,
        check=check,
    )


def edit(site: Path, path: str, old: str, new: str) -> None:
    file = site / (path.strip("/") + ".html")
    text = file.read_text()
    assert old in text, old
    file.write_text(text.replace(old, new))
    stamps = json.loads((site / "lastmod.json").read_text())
    stamps[path] = "2024-06-01"
    (site / "lastmod.json").write_text(json.dumps(stamps))


def query(data_dir, sql):
    with duckdb.connect(str(data_dir / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


class Visit:
    """A page opened from disk, with everything it logged and every request it tried."""

    def __init__(self, browser, path: Path, width: int = 1280, height: int = 900) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        # Every request is recorded; anything but the file itself is refused, so a
        # reference to the network shows up here instead of leaving the machine.
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _route(self, route) -> None:
        self.requests.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()


def digits(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.]", "", text))
