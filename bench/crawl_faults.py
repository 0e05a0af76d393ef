"""The crawl's faults, as `idf-etl fetch` meets them: exit status, seconds, last stderr line.

    .venv/bin/python bench/crawl_faults.py [--src OTHER_CHECKOUT/src]

Each fault is a small server on 127.0.0.1 (werkzeug, in this process); the
CLI runs as a subprocess from the source tree given (default: this one), so
the same table can be printed for an older commit to compare before/after.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from werkzeug import Request, Response
from werkzeug.serving import make_server

PAGE = (Path(__file__).parent.parent / "tests/fixtures/pages/c_en_devfund.html").read_bytes()
Handler = Callable[[Request], Response]


def page(request: Request) -> Response:
    return Response(PAGE, content_type="text/html")


def urlset(paths: list[str], base: str) -> Response:
    entries = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return Response(f"<urlset>{entries}</urlset>", content_type="application/xml")


def trickle(request: Request) -> Response:
    def body() -> Iterator[bytes]:
        for _ in range(600):
            time.sleep(0.5)
            yield b"x"

    return Response(body(), content_type="text/html")


def scenarios(base: str) -> dict[str, tuple[dict[str, Handler], list[str]]]:
    pages = [f"/project/p{i}" for i in range(4)]
    site: dict[str, Handler] = {p: page for p in pages}
    robots_ok = {"/robots.txt": lambda r: Response("User-agent: *\n", content_type="text/plain")}
    sitemap = {"/sitemap.xml": lambda r: urlset(pages, base)}
    return {
        "robots.txt answers 503": (
            {"/robots.txt": lambda r: Response("busy", status=503), **sitemap, **site},
            [],
        ),
        "robots.txt over 512 KB": (
            {
                "/robots.txt": lambda r: Response(b"#" * 600_000, content_type="text/plain"),
                **sitemap,
                **site,
            },
            [],
        ),
        "sitemap answers 500": (
            {**robots_ok, "/sitemap.xml": lambda r: Response("down", status=500)},
            [],
        ),
        "sitemap lists no page": (
            {**robots_ok, "/sitemap.xml": lambda r: urlset([], base)},
            [],
        ),
        "page trickles 2 bytes/s": (
            {
                **robots_ok,
                "/sitemap.xml": lambda r: urlset(["/project/slow"], base),
                "/project/slow": trickle,
            },
            ["--set", "read_timeout=2", "--set", "max_retries=0", "--set", "request_timeout=5"],
        ),
        "429 Retry-After 3600": (
            {
                **robots_ok,
                **sitemap,
                **site,
                "/project/p0": lambda r: Response(
                    "later", status=429, headers={"Retry-After": "3600"}
                ),
            },
            ["--concurrency", "1"],
        ),
        "endless sitemap index": (
            {
                **robots_ok,
                "/sitemap.xml": lambda r: Response(
                    f"<sitemapindex><sitemap><loc>{base}/sitemap.xml?n="
                    f"{int(r.args.get('n', '0')) + 1}</loc></sitemap></sitemapindex>",
                    content_type="application/xml",
                ),
            },
            ["--set", "max_sitemaps=50"],
        ),
    }


def serve(handlers: dict[str, Handler]) -> tuple[object, str]:
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        handler = handlers.get(request.path)
        response = handler(request) if handler else Response("no", status=404)
        return response(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def run(src: Path, args: list[str], timeout: float) -> tuple[str, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    env["PYTHONPATH"] = str(src)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "idf_etl", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return "killed", time.monotonic() - started, f"still running after {timeout:.0f}s"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    last = next((line for line in reversed(lines) if line.startswith("idf-etl:")), lines[-1])
    return str(proc.returncode), time.monotonic() - started, last


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", type=Path, default=Path(__file__).parent.parent / "src")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    knows_new_settings = "run_timeout" in (args.src / "idf_etl" / "config.py").read_text()
    fast = ["--rate", "0", "--set", "backoff_base=0.1", "--set", "max_retries=2"]
    for name in scenarios(""):
        handlers: dict[str, Handler] = {}
        server, base = serve(handlers)  # the routes need the port: filled in once it is known
        routes, extra = scenarios(base)[name]
        handlers.update(routes)
        if not knows_new_settings:  # an older tree: its defaults (exit 2 on the new names)
            extra = [a for a in extra if not a.startswith(("request_timeout", "max_sitemaps"))]
            extra = [a for i, a in enumerate(extra) if not (a == "--set" and i == len(extra) - 1)]
        with tempfile.TemporaryDirectory() as data:
            cmd = ["fetch", "--start-url", f"{base}/sitemap.xml", "--data-dir", data, *fast]
            code, seconds, line = run(args.src, [*cmd, *extra], args.timeout)
        server.shutdown()  # type: ignore[attr-defined]
        print(f"| {name} | {code} | {seconds:.1f} | {line[:160]} |", flush=True)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    closed = port.getsockname()[1]
    port.close()
    code, seconds, line = run(args.src, ["parse", f"http://127.0.0.1:{closed}/x"], args.timeout)
    print(f"| parse URL, port closed | {code} | {seconds:.1f} | {line[:160]} |")


if __name__ == "__main__":
    main()
