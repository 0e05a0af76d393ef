"""Debian's Chromium, headless, driven by Playwright: for the report's tests and its screenshot.

    python demo/browser.py data/clean/report.html docs/report-400.png --width 400 --height 2400

Playwright's own browser downloads are never used: it drives the system's
`chromium` (`make browser` installs it), with the flags that keep a headless
browser from calling home.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(
    page_path: Path, png: Path, width: int = 1280, height: int = 1500, full_page: bool = False
) -> None:
    """The top of the page as a reader first sees it on a laptop-size window, or the whole
    page at that width (`full_page`)."""
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:
        raise SystemExit("no chromium on PATH: run `make browser` (as root) first")
    # Playwright gives each launch a fresh, temporary profile of its own.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(page_path.resolve().as_uri())
        page.screenshot(path=str(png), full_page=full_page)
        browser.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--full-page", action="store_true", help="the whole page, not its top")
    ap.add_argument("--width", type=int, default=1280, help="the window's width in CSS px")
    ap.add_argument("--height", type=int, default=1500, help="the window's height in CSS px")
    args = ap.parse_args()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    screenshot(args.page, args.png, args.width, args.height, full_page=args.full_page)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
