"""Scrapy doing the same job as `idf-etl fetch` on the local mirror, for a side-by-side ratio.

Sitemap -> pages, robots.txt obeyed, each body stored gzip-compressed under its
sha256 and one manifest row per page (SQLite), so both do the same work.
"""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
import sys
from pathlib import Path

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.spiders import SitemapSpider


class MirrorSpider(SitemapSpider):
    name = "mirror"

    def __init__(self, sitemap: str, out: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.sitemap_urls = [sitemap]
        self.out = Path(out)
        (self.out / "objects").mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.out / "manifest.sqlite", isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, sha256 TEXT)")

    def parse(self, response: scrapy.http.Response):  # type: ignore[override]
        digest = hashlib.sha256(response.body).hexdigest()
        path = self.out / "objects" / f"{digest}.gz"
        path.write_bytes(gzip.compress(response.body, compresslevel=6))
        self.db.execute("INSERT OR REPLACE INTO pages VALUES (?, ?)", (response.url, digest))
        return None


def main() -> None:
    sitemap, out, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    process = CrawlerProcess(
        settings={
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "USER_AGENT": "scrapy-bench (+http://127.0.0.1)",
            "DOWNLOAD_MAXSIZE": 5 * 1024 * 1024,
        }
    )
    process.crawl(MirrorSpider, sitemap=sitemap, out=out)
    process.start()


if __name__ == "__main__":
    main()
