"""A URL longer than URL_LIMIT is no page's: it is not read, and its text reaches no warehouse
row (#22: a sitemap of 60,000-character URLs made pages, project_pages, projects.urls and
issues rows that wide, each a key DuckDB holds 2,048 of at once)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from idf_etl.urls import URL_LIMIT, normalise_url, url_refusal
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_server import RawServer, http

BASE = "https://developmentfund.iom.int"


@settings(max_examples=200, deadline=None)
@given(
    st.integers(URL_LIMIT - 80, URL_LIMIT + 80) | st.integers(1, 4 * URL_LIMIT),
    st.sampled_from(["x", "é", "%7E", "/./", "//"]),
    st.booleans(),
)
def test_a_url_is_read_up_to_the_limit_and_refused_past_it(size, piece, tracking):
    # Escapes grow a path ("é" -> "%C3%A9"), dot segments and tracking parameters shrink it:
    # the limit is of the URL as normalised, the form every row keys.
    path = "/project/" + (piece * (size // len(piece) + 1))[:size]
    url = BASE + path + ("?utm_source=" + "y" * size if tracking else "")
    unlimited = normalise_url(url, limited=False)
    assert unlimited is not None
    normal = normalise_url(url)
    if len(unlimited) <= URL_LIMIT:
        assert normal == unlimited
    else:
        assert normal is None
        assert url_refusal(url) == (
            f"{len(unlimited):,} characters, longer than the {URL_LIMIT:,} a URL may have"
        )
    assert url_refusal("mailto:someone@example.org") == "not an http(s) URL"


def test_a_sitemap_of_long_urls_is_refused_by_its_own_url_and_the_rest_read(fast_settings):
    page = drupal_page([field_html("Project ID", "CE.0001")]).encode()
    with RawServer() as srv:
        long_paths = [f"/project/p{i}-" + "x" * 60_000 for i in range(3)]
        entries = [*long_paths, "/project/ok-1", "/project/ok-2"]
        body = "".join(f"<url><loc>{srv.url(p)}</loc></url>" for p in entries)
        srv.answer("/robots.txt", http(404))
        srv.answer("/sitemap.xml", http(200, f"<urlset>{body}</urlset>".encode()))
        for path in entries:
            srv.answer(path, http(200, page, {"Content-Type": "text/html; charset=utf-8"}))
        settings = fast_settings(start_urls=[srv.url("/sitemap.xml")], min_discovered_share=0)
        with RawStore(settings.raw_dir) as store:
            summary = fetch_site(settings, store)
            stored = [p.url for p in store.pages()]
    assert sorted(stored) == [srv.url("/project/ok-1"), srv.url("/project/ok-2")]
    # One refusal, by the sitemap's URL, saying how many and how each begins.
    (refusal,) = summary.refusals
    assert refusal[0] == srv.url("/sitemap.xml")
    assert "3 of its entries are longer than the 2,048 characters" in refusal[1]
    assert len(refusal[1]) < 400
