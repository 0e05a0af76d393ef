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
    args = ap.parse_args()
    server, base = serve(HERE / "site")
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
        f"  duckdb -readonly {warehouse}"
    )
    # The sample site holds one broken page on purpose: exit 1 there means "finished, with failures".
    return status


if __name__ == "__main__":
    sys.exit(main())
