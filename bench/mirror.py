"""A local mirror of the site for benchmarks: an aiohttp server on 127.0.0.1.

    python bench/mirror.py --pages 3000 --port 0    # prints the port, serves until killed

robots.txt, one sitemap listing every page with a <lastmod>, and generated
~60 KB project pages (bench/pages.py), all prepared in memory before serving.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).parent))
from pages import project_page


def make_app(pages: int) -> web.Application:
    bodies = {f"/project/p{i:05d}": project_page(i).encode() for i in range(pages)}

    async def robots(request: web.Request) -> web.Response:
        return web.Response(
            text=f"User-agent: *\nDisallow: /private/\nSitemap: {request.url.origin()}/sitemap.xml\n"
        )

    async def sitemap(request: web.Request) -> web.Response:
        origin = request.url.origin()
        entries = "".join(
            f"<url><loc>{origin}{p}</loc><lastmod>2024-01-15</lastmod></url>" for p in bodies
        )
        xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
        return web.Response(text=xml, content_type="application/xml")

    async def page(request: web.Request) -> web.Response:
        body = bodies.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/sitemap.xml", sitemap)
    app.router.add_get("/project/{name}", page)
    return app


async def serve(pages: int, port: int) -> None:
    runner = web.AppRunner(make_app(pages), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    actual = runner.addresses[0][1]
    print(actual, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=3000)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    asyncio.run(serve(args.pages, args.port))
