"""`make demo`: serve the embedded sample site on 127.0.0.1 and run the real `idf-etl run` on it, twice.

    python demo/run_demo.py [--data-dir demo/data] [--port 8765]

No internet needed; takes a few seconds; leaves demo/data/clean/idf.duckdb behind: its
own data directory, never data/ where the live job keeps the real site's.
The first run reads the site as it is in demo/site/; then the site changes as
a real one does (a budget revision, a status change, a page taken down) and
the second run records those changes in `project_changes`. A later `make
demo` on the same data directory runs once more on the changed site: nothing
new to record.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from serve import serve

HERE = Path(__file__).parent
# How the site changes between the two runs: page -> (text before, text after) pairs.
ARMENIA = ("400000.00", "450000.00")  # CD.0085's budget, revised on all three pages
EDITS = {
    "project/migration-socio-economic-development-armenia-georgia": [
        ARMENIA,
        ("Active", "Completed"),
    ],
    "fr/node/190001": [ARMENIA, ("Actif", "Achevé")],
    "es/node/190002": [ARMENIA, ("Activo", "Finalizado")],
}
REMOVED = ["project/moldova-diaspora-homeland-partnerships"]  # CE.0333's only page
CHANGED_ON = "2024-06-01"


def change_site(site: Path) -> None:
    """Apply EDITS and REMOVED to a copy of demo/site, moving the sitemap's <lastmod>."""
    stamps = json.loads((site / "lastmod.json").read_text())
    for page, edits in EDITS.items():
        file = site / f"{page}.html"
        text = file.read_text()
        for old, new in edits:
            assert old in text, (page, old)
            text = text.replace(old, new)
        file.write_text(text)
        stamps[f"/{page}"] = CHANGED_ON
    for page in REMOVED:
        (site / f"{page}.html").unlink()
        stamps.pop(f"/{page}", None)
    (site / "lastmod.json").write_text(json.dumps(stamps, indent=1))


def run(base: str, data_dir: str, *extra: str) -> int:
    command = [sys.executable, "-m", "idf_etl", "run", "--start-url", f"{base}/sitemap.xml"]
    command += ["--data-dir", data_dir, "--rate", "0", *extra]
    # What a person can paste into a shell to do the same (the console script, not -m).
    script = Path(sys.executable).with_name("idf-etl")
    print("demo: " + shlex.join([str(script), *command[3:]]), flush=True)
    return subprocess.call(command)


def closing_hints(data_dir: str, warehouse: Path) -> str:
    """What to try next: the README's own lines (tests/test_fresh_clone.py runs them)."""
    return (
        f"\ndemo: the warehouse is {warehouse}. Try:\n"
        f"  .venv/bin/idf-etl status -d {data_dir}\n"
        f'  .venv/bin/idf-etl sql -d {data_dir} "SELECT * FROM project_changes"\n'
        f'  .venv/bin/idf-etl sql -d {data_dir} "SELECT * FROM budget_by_region_year"\n'
        f"  make duckdb DATA_DIR={data_dir}   # the DuckDB CLI, read-only"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="demo/data")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    warehouse = Path(args.data_dir) / "clean" / "idf.duckdb"
    first_time = not warehouse.exists()
    with tempfile.TemporaryDirectory(prefix="idf-demo-site-") as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(HERE / "site", site)
        # A fixed port keeps page URLs the same from one demo run to the next (the
        # warehouse keys pages by URL); any free port when that one is taken.
        try:
            server, base = serve(site, port=args.port)
        except OSError:
            server, base = serve(site)
            print(f"demo: port {args.port} is busy; URLs differ from earlier demo runs", flush=True)
        try:
            print(f"demo: serving the sample site at {base}", flush=True)
            if first_time:
                run(base, args.data_dir)
                print("demo: the site changes: a budget revision, a status change, a page removed")
            change_site(site)
            # --revalidate asks for every known page, so the removed one is found gone.
            status = run(base, args.data_dir, "--revalidate")
        finally:
            server.shutdown()
            server.server_close()
    print(closing_hints(args.data_dir, warehouse))
    report = Path(args.data_dir) / "clean" / "report.html"
    if report.exists():
        print(f"\ndemo: the report is {report.resolve()} (open it in a browser; no network needed)")
    # The sample site holds one broken page on purpose: exit 1 there means "finished, with failures".
    return status


if __name__ == "__main__":
    sys.exit(main())
