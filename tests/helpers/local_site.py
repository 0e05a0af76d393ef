"""A small IOM-like site served on 127.0.0.1 for fetch tests, built from our fixture pages.

robots.txt (a disallowed path, a Crawl-delay, a Sitemap line), a sitemap index
pointing at a gzip sitemap and a plain one, a paginated listing, project pages
in three languages answering conditional requests, and fault pages.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"

SITEMAP_PAGES = {
    "/project/armenia-georgia": "a_en_field_divs.html",
    "/fr/node/187686": "a_fr_list_items.html",
    "/es/node/175631": "a_es_definition_list.html",
}
LISTING_PAGES = {
    "/project/moldova": "c_en_devfund.html",
    "/project/southern-africa": "a_en_table.html",
    "/project/cambodia": "b_en_paragraphs_empty_labels.html",
}


class Site:
    """Pages and their <lastmod>, changeable between runs; serves them on an HTTPServer."""

    def __init__(
        self, server: HTTPServer, *, crawl_delay: float | None = None, with_listing: bool = True
    ) -> None:
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.crawl_delay = crawl_delay
        self.with_listing = with_listing
        self.bodies: dict[str, bytes] = {
            p: (PAGES / f).read_bytes() for p, f in SITEMAP_PAGES.items()
        }
        self.bodies.update({p: (PAGES / f).read_bytes() for p, f in LISTING_PAGES.items()})
        self.bodies["/project/private-draft"] = (PAGES / "a_en_table.html").read_bytes()
        self.bodies["/news/some-release"] = (PAGES / "news_fr_same_title.html").read_bytes()
        self.lastmod = {
            p: "2024-01-15"
            for p in [*SITEMAP_PAGES, "/project/private-draft", "/news/some-release"]
        }
        self.hits: list[tuple[float, str]] = []
        self._install()

    def url(self, path: str) -> str:
        return self.base + path

    def change(self, path: str, old: bytes, new: bytes, lastmod: str = "2024-06-01") -> None:
        assert old in self.bodies[path]
        self.bodies[path] = self.bodies[path].replace(old, new)
        self.lastmod[path] = lastmod

    def page_requests(self) -> list[str]:
        return [r.path for r, _ in self.server.log if r.path in self.bodies]

    def paths(self) -> list[str]:
        return [r.full_path.rstrip("?") for r, _ in self.server.log]

    # -- handlers --

    def _install(self) -> None:
        s = self.server
        delay = f"Crawl-delay: {self.crawl_delay}\n" if self.crawl_delay else ""
        s.expect_request("/robots.txt").respond_with_data(
            f"User-agent: *\nDisallow: /project/private-\n{delay}Sitemap: {self.base}/sitemap.xml\n",
            content_type="text/plain",
        )
        s.expect_request("/sitemap.xml").respond_with_handler(self._index)
        s.expect_request("/sitemap-projects.xml.gz").respond_with_handler(self._projects_sitemap)
        s.expect_request("/sitemap-other.xml").respond_with_handler(self._other_sitemap)
        if self.with_listing:
            s.expect_request("/projects").respond_with_handler(self._listing)
        for path in self.bodies:
            s.expect_request(path).respond_with_handler(self._page)

    def _index(self, request: Request) -> Response:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.base}/sitemap-projects.xml.gz</loc></sitemap>"
            f"<sitemap><loc>{self.base}/sitemap-other.xml</loc></sitemap></sitemapindex>"
        )
        return Response(body, content_type="application/xml")

    def _urlset(self, paths: list[str], extra: str = "") -> str:
        entries = "".join(
            f"<url><loc>{self.base}{p}</loc><lastmod>{self.lastmod[p]}</lastmod></url>"
            for p in paths
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
            f'schemas/sitemap/0.9">{entries}{extra}</urlset>'
        )

    def _projects_sitemap(self, request: Request) -> Response:
        xml = self._urlset(list(SITEMAP_PAGES))
        return Response(gzip.compress(xml.encode()), content_type="application/x-gzip")

    def _other_sitemap(self, request: Request) -> Response:
        foreign = "<url><loc>http://foreign.example/project/elsewhere</loc></url>"
        xml = self._urlset(["/project/private-draft", "/news/some-release"], foreign)
        return Response(xml, content_type="application/xml")

    def _listing(self, request: Request) -> Response:
        page = int(request.args.get("page", "0"))
        listed = list(LISTING_PAGES)
        shown = {0: listed[:2], 1: listed[1:], 2: listed[:1]}.get(page, [])
        links = "".join(f'<li><a href="{p}?utm_source=list#top">{p}</a></li>' for p in shown)
        return Response(
            f"<html><body><main><ul>{links}</ul><a href='/projects?page={page + 1}'>next"
            "</a></main></body></html>",
            content_type="text/html",
        )

    def _page(self, request: Request) -> Response:
        self.hits.append((time.monotonic(), request.path))
        body = self.bodies[request.path]
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": "Mon, 15 Jan 2024 10:00:00 GMT"}
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers=headers)
        return Response(body, content_type="text/html; charset=utf-8", headers=headers)


class DroppingServer:
    """Accepts a connection, reads the request and hangs up without answering (robots.txt: 404)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                except OSError:
                    continue
                self.requests += 1
                if data.startswith(b"GET /robots.txt"):
                    conn.sendall(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
