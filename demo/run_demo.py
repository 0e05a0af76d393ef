"""`make demo`: serve the embedded sample site on 127.0.0.1 and run the real `idf-etl run` on it.

    python demo/run_demo.py [--data-dir data]

No internet needed; takes a few seconds; leaves data/clean/idf.duckdb behind.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from serve import serve

HERE = Path(__file__).parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    # A fixed port keeps page URLs the same from one demo run to the next (the
    # warehouse keys pages by URL); any free port when that one is taken.
    try:
        server, base = serve(HERE / "site", port=args.port)
    except OSError:
        server, base = serve(HERE / "site")
        print(f"demo: port {args.port} is busy; URLs differ from earlier demo runs", flush=True)
    try:
        print(f"demo: serving the sample site at {base}", flush=True)
        command = [
            sys.executable,
            "-m",
            "idf_etl",
            "run",
            "--start-url",
            f"{base}/sitemap.xml",
            "--data-dir",
            args.data_dir,
            "--rate",
            "0",
        ]
        print("demo: " + " ".join(command[2:]), flush=True)
        status = subprocess.call(command)
    finally:
        server.shutdown()
    warehouse = Path(args.data_dir) / "clean" / "idf.duckdb"
    print(
        f"\ndemo: the warehouse is {warehouse}. Try:\n"
        f"  .venv/bin/idf-etl status --data-dir {args.data_dir}\n"
        f'  .venv/bin/idf-etl sql --data-dir {args.data_dir} "SELECT * FROM budget_by_region_year"\n'
        f"  uvx --from duckdb-cli duckdb -readonly {warehouse}"
    )
    report = Path(args.data_dir) / "clean" / "report.html"
    if report.exists():
        print(f"\ndemo: the report is {report.resolve()} (open it in a browser; no network needed)")
    # The sample site holds one broken page on purpose: exit 1 there means "finished, with failures".
    return status


if __name__ == "__main__":
    sys.exit(main())
