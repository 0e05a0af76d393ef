"""Translations found through the pages' own hreflang links, not through sitemaps, and
incrementally: a real server on 127.0.0.1, the request log as the proof."""

from __future__ import annotations

import hashlib

import pytest
from werkzeug import Request, Response

from idf_etl.fetch.site import fetch_site
from idf_etl.parse.head import page_head, read_head
from idf_etl.rawstore import RawStore


class TranslatedSite:
    """N projects in en/fr/es. The sitemap lists only the English pages (and a news node);
    each page names its translations in <link rel="alternate" hreflang>."""

    def __init__(self, server, projects: int) -> None:
        self.server = server
        self.lastmod = "2024-01-15"
        self.bodies: dict[str, bytes] = {}
        for i in range(projects):
            node = 1000 + i
            paths = {"en": f"/project/p{i}", "fr": f"/fr/node/{node}", "es": f"/es/node/{node}"}
            links = "".join(
                f'<link rel="alternate" hreflang="{lang}" href="{server.url_for(path)}" />'
                for lang, path in paths.items()
            )
            links += f'<link rel="alternate" hreflang="x-default" href="{paths["en"]}" />'
            for lang, path in paths.items():
                self.bodies[path] = (
                    f'<html lang="{lang}"><head><link rel="shortlink" href="/node/{node}" />'
                    f"{links}</head><body><main><h1>Project {i} ({lang})</h1>"
                    f"<p>Budget 1{i}0000</p></main></body></html>"
                ).encode()
        self.news = "/fr/node/9"  # listed in the sitemap, linked by no project
        self.bodies[self.news] = b"<html><head></head><body><main>news</main></body></html>"
        server.expect_request("/robots.txt").respond_with_data(
            "User-agent: *\nDisallow: /es/node/1001\n", content_type="text/plain"
        )
        server.expect_request("/sitemap.xml").respond_with_handler(self._sitemap)
        for path in self.bodies:
            server.expect_request(path).respond_with_handler(self._page)
        self.english = [p for p in self.bodies if p.startswith("/project/")]

    def _sitemap(self, request: Request) -> Response:
        entries = "".join(
            f"<url><loc>{self.server.url_for(p)}</loc><lastmod>{self.lastmod}</lastmod></url>"
            for p in self.english
        )
        return Response(f"<urlset>{entries}</urlset>", content_type="application/xml")

    def _page(self, request: Request) -> Response:
        body = self.bodies[request.path]
        etag = '"' + hashlib.sha256(body).hexdigest()[:12] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type="text/html; charset=utf-8", headers={"ETag": etag})

    def requests(self) -> list[str]:
        return [r.path for r, _ in self.server.log]


def crawl(settings, revalidate=None):
    with RawStore(settings.raw_dir) as store:
        return fetch_site(settings, store, revalidate=revalidate)


@pytest.mark.parametrize("projects", [1, 12])
def test_first_crawl_fetches_translations_from_hreflang_links(server, fast_settings, projects):
    site = TranslatedSite(server, projects)
    settings = fast_settings(start_urls=[server.url_for("/sitemap.xml")])
    summary = crawl(settings)

    requests = site.requests()
    pages = [p for p in requests if p not in ("/robots.txt", "/sitemap.xml")]
    disallowed = ["/es/node/1001"] if projects > 1 else []
    # robots.txt + the sitemap + three pages a project (less what robots.txt forbids)
    assert len(requests) == 2 + 3 * projects - len(disallowed)
    assert sorted(pages) == sorted(set(site.bodies) - {site.news} - set(disallowed))
    assert len(pages) == len(set(pages))  # each page once
    assert summary.discovered == projects
    assert summary.translations == 2 * projects
    assert summary.new == 3 * projects - len(disallowed)
    assert site.news not in requests  # a node no project names is not fetched
    assert [u for u, _ in summary.refusals] == [server.url_for(p) for p in disallowed]
    with RawStore(settings.raw_dir) as store:
        assert store.translations(server.url_for("/project/p0")) == {
            "en": server.url_for("/project/p0"),
            "fr": server.url_for("/fr/node/1000"),
            "es": server.url_for("/es/node/1000"),
        }


def test_unchanged_night_requests_no_translation(server, fast_settings):
    site = TranslatedSite(server, 5)
    settings = fast_settings(start_urls=[server.url_for("/sitemap.xml")])
    crawl(settings)
    server.clear_log()

    summary = crawl(settings)

    assert site.requests() == ["/robots.txt", "/sitemap.xml"]
    assert summary.skipped == 15 - 1  # every page but the one robots.txt forbids
    assert summary.fetched == 0


def test_changed_page_asks_its_translations_conditionally(server, fast_settings):
    site = TranslatedSite(server, 3)
    settings = fast_settings(start_urls=[server.url_for("/sitemap.xml")])
    crawl(settings)
    site.bodies["/project/p2"] = site.bodies["/project/p2"].replace(b"120000", b"125000")
    site.lastmod = "2024-06-01"
    server.clear_log()

    summary = crawl(settings)

    asked = {r.path: r.headers.get("If-None-Match") for r, _ in server.log}
    assert set(asked) - {"/robots.txt", "/sitemap.xml"} == {
        "/project/p0",
        "/project/p1",
        "/project/p2",
        "/fr/node/1002",
        "/es/node/1002",
    }  # the unchanged projects' translations are vouched for by their English pages
    assert asked["/fr/node/1002"] and asked["/es/node/1002"]  # conditional: 304, no body
    assert summary.changed == 1
    # p0 and p1 (their lastmod moved too, their bodies did not) and p2's two translations
    assert summary.not_modified == 4
    assert summary.skipped == 3  # fr/1000, es/1000, fr/1001: vouched for by a 304


def test_revalidation_asks_every_translation_again(server, fast_settings):
    site = TranslatedSite(server, 2)
    settings = fast_settings(start_urls=[server.url_for("/sitemap.xml")])
    crawl(settings)
    server.clear_log()
    summary = crawl(settings, revalidate=True)
    assert sorted(site.requests()[2:]) == sorted(set(site.bodies) - {site.news, "/es/node/1001"})
    assert summary.not_modified == 5


def test_translations_only_within_languages_hosts_and_patterns(server, fast_settings):
    site = TranslatedSite(server, 2)
    settings = fast_settings(
        start_urls=[server.url_for("/sitemap.xml")],
        languages=["en", "fr"],
    )
    crawl(settings)
    assert not [p for p in site.requests() if p.startswith("/es/")]
    server.clear_log()
    off = fast_settings(start_urls=[server.url_for("/sitemap.xml")], follow_translations=False)
    off = off.model_copy(update={"data_dir": settings.data_dir.parent / "off"})
    crawl(off)
    assert not [p for p in site.requests() if p.startswith(("/fr/", "/es/"))]


def test_the_crawler_reads_translations_from_the_head_alone():
    html = (
        b"<html><head><link rel='canonical' href='/project/x'>"
        b'<link hreflang="fr-FR" href="/fr/node/5" rel="alternate">'
        b'<link rel="alternate" hreflang="es" href="https://www.iom.int/es/node/5?utm_source=a">'
        b'<link rel="alternate" hreflang="x-default" href="/project/x">'
        b'<link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        b"</head><body><link rel='alternate' hreflang='de' href='/de/node/5'></body></html>"
    )
    links = read_head(page_head(html), "https://www.iom.int/project/x")
    assert links.translations == {
        "fr": "https://www.iom.int/fr/node/5",
        "es": "https://www.iom.int/es/node/5",
    }
