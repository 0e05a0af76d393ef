"""Serve a site folder (demo/site by default) on 127.0.0.1 the way the real site answers.

    python demo/serve.py [--root demo/site] [--port 8000]

Extensionless page URLs (/project/x, /fr/node/1) map to x.html; robots.txt, a
sitemap index and a gzip sitemap (with <lastmod> from lastmod.json) are made on
the fly; pages carry ETag and Last-Modified and answer If-None-Match with 304.
Used by `make demo` and the end-to-end tests.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_ROOT = Path(__file__).parent / "site"


class SiteHandler(BaseHTTPRequestHandler):
    root: Path = DEFAULT_ROOT
    server_version = "idf-demo/1"

    def log_message(self, format: str, *args: object) -> None:  # quiet: the crawler logs
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        base = f"http://{self.headers.get('Host', '127.0.0.1')}"
        lastmod = json.loads((self.root / "lastmod.json").read_text())
        if path == "/robots.txt":
            self._send(
                f"User-agent: *\nDisallow: /admin/\nSitemap: {base}/sitemap.xml\n".encode(),
                "text/plain",
            )
        elif path == "/sitemap.xml":
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/'
                f'schemas/sitemap/0.9"><sitemap><loc>{base}/sitemap-pages.xml.gz</loc></sitemap>'
                "</sitemapindex>"
            )
            self._send(xml.encode(), "application/xml")
        elif path == "/sitemap-pages.xml.gz":
            entries = "".join(
                f"<url><loc>{base}{p}</loc><lastmod>{d}</lastmod></url>" for p, d in lastmod.items()
            )
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                f'schemas/sitemap/0.9">{entries}</urlset>'
            )
            self._send(gzip.compress(xml.encode(), mtime=0), "application/x-gzip")
        else:
            file = (self.root / (path.strip("/") + ".html")).resolve()
            if not file.is_relative_to(self.root.resolve()) or not file.is_file():
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            body = file.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self._send(
                body,
                "text/html; charset=utf-8",
                {"ETag": etag, "Last-Modified": "Mon, 15 Jan 2024 10:00:00 GMT"},
            )

    def _send(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def serve(root: Path = DEFAULT_ROOT, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start serving `root` on 127.0.0.1 in a daemon thread; return the server and its base URL."""
    handler = type("Handler", (SiteHandler,), {"root": Path(root)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    srv, url = serve(args.root, args.port)
    print(f"serving {args.root} at {url}/ (sitemap: {url}/sitemap.xml); Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        srv.shutdown()
