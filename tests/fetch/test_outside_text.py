"""Texts read from outside (#22): robots.txt, URL list files, CDX listings. A byte-order mark
(UTF-8, UTF-16, UTF-32; at the start or where two files were joined) never hides a line; a
robots.txt past the size cap is obeyed for its first 512 KiB (RFC 9309 2.5), never the host
put off limits. Real servers on 127.0.0.1 (RawServer sends the drawn bytes), both clients."""

from __future__ import annotations

import codecs
import gzip
import zlib

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from idf_etl.errors import ConfigError
from idf_etl.fetch.archive import read_cdx
from idf_etl.fetch.encoding import decode_text
from idf_etl.fetch.link_lists import read_url_list
from idf_etl.fetch.robots import ROBOTS_MAX_BYTES
from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from tests.helpers.raw_server import RawServer, http

PAGE = b"<html><head><title>p</title></head><body><main><h1>p</h1></main></body></html>"
BOMS = {
    "none": (b"", "utf-8"),
    "utf-8": (codecs.BOM_UTF8, "utf-8"),
    "utf-16-le": (codecs.BOM_UTF16_LE, "utf-16-le"),
    "utf-16-be": (codecs.BOM_UTF16_BE, "utf-16-be"),
    "utf-32-le": (codecs.BOM_UTF32_LE, "utf-32-le"),
    "utf-32-be": (codecs.BOM_UTF32_BE, "utf-32-be"),
}


def encoded(text: str, bom: str) -> bytes:
    mark, codec = BOMS[bom]
    return mark + text.encode(codec)


@st.composite
def robots_files(draw):
    """A robots.txt refusing /project/a, in any encoding with its BOM, maybe very long
    (the rule inside the first 512 KiB, or a second, later BOM'd group), maybe gzip-coded."""
    bom = draw(st.sampled_from(list(BOMS)))
    joined = draw(st.booleans())  # two files joined: the second's BOM mid-text
    filler = draw(st.sampled_from([0, 0, 100, 70_000, 200_000]))  # '# filler' lines (9 bytes)
    rules = "User-agent: *\nDisallow: /project/a\n"
    text = ("# a first file\nUser-agent: other\nDisallow: /\n\n\ufeff" + rules) if joined else rules
    body = encoded(text + "# filler\n" * filler, bom)
    coding = draw(st.sampled_from(["", "", "gzip", "deflate"]))
    if coding == "gzip":
        body = gzip.compress(body)
    elif coding == "deflate":
        body = zlib.compress(body)
    headers = {"Content-Type": "text/plain"}
    if coding:
        headers["Content-Encoding"] = coding
    return bom, text, http(200, body, headers)


@settings(
    max_examples=25, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
@given(kind=st.sampled_from(["aiohttp", "httpx"]), robots=robots_files())
@example(
    kind="aiohttp",
    robots=("utf-8", "", http(200, b"\xef\xbb\xbfUser-agent: *\nDisallow: /project/a\n")),
)
@example(
    kind="httpx",
    robots=(
        "none",
        "",
        http(200, b"User-agent: *\nDisallow: /project/a\n" + b"Disallow:\n" * 500_000),
    ),
)
def test_robots_txt_is_obeyed_whatever_its_bom_or_size(tmp_path_factory, fast_settings, kind, robots):  # fmt: skip
    _, _, answer = robots
    with RawServer() as srv:
        srv.answer("/robots.txt", answer)
        for path in ("/project/a", "/project/b"):
            srv.answer(path, http(200, PAGE, {"Content-Type": "text/html"}))
        s = fast_settings(
            start_urls=[srv.url("/project/a"), srv.url("/project/b")], http_client=kind,
            data_dir=tmp_path_factory.mktemp("robots") / "data",
        )  # fmt: skip
        problems: list[str] = []
        with RawStore(s.raw_dir) as store:
            summary = fetch_site(s, store, lambda kind_, url, msg: problems.append(msg))
    assert summary.halts == [], summary.halts  # the host is never off limits for its size
    assert [u for u, _ in summary.refusals] == [srv.url("/project/a")]
    assert "/project/a" not in srv.requests and "/project/b" in srv.requests
    if any("larger than" in m for m in problems):
        assert any(
            f"larger than {ROBOTS_MAX_BYTES:,} bytes: obeying its first" in m for m in problems
        )


@given(st.sampled_from(list(BOMS)), st.text(max_size=50), st.booleans())
def test_decode_text_takes_any_bom_off_and_keeps_the_text(bom, text, twice):
    text = text.replace("\ufeff", "")
    # UTF-16-LE's BOM then U+0000 is FF FE 00 00, UTF-32-LE's BOM: the bytes cannot say which
    # (a text does not start with NUL; a fresh clone's random examples drew it).
    assume(not (bom == "utf-16-le" and text.startswith("\x00")))
    body = encoded(text, bom) + (encoded("\nmore", bom) if twice else b"")
    assert decode_text(body, errors="strict") == text + ("\nmore" if twice else "")


@pytest.mark.parametrize("bom", list(BOMS))
def test_a_url_list_file_with_a_bom_reads_its_first_url(tmp_path, bom):
    path = tmp_path / "urls.txt"
    path.write_bytes(encoded("http://a.example/project/x\n# c\nhttp://a.example/project/y\n", bom))
    assert read_url_list(path) == ["http://a.example/project/x", "http://a.example/project/y"]


def test_a_url_list_that_is_not_utf8_is_still_refused_by_name(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_bytes(b"http://a.example/caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_url_list(path)


@pytest.mark.parametrize("bom", ["utf-8", "utf-16-le"])
@pytest.mark.parametrize(
    "body",
    ['[["urlkey","timestamp","original"],["k","20200101000000","http://a.example/p"]]',
     '{"timestamp": "20200101000000", "original": "http://a.example/p"}\n'],
)  # fmt: skip
def test_a_cdx_listing_with_a_bom_keeps_its_first_row(bom, body):
    page = read_cdx(encoded(body, bom))
    assert [row["original"] for row in page.rows] == ["http://a.example/p"]


@pytest.mark.parametrize("bom", list(BOMS))
@pytest.mark.parametrize("compress", [False, True])
def test_a_sitemap_with_any_bom_lists_its_pages(bom, compress):
    from idf_etl.fetch.link_lists import parse_sitemap

    name = bom.upper() if bom != "none" else "UTF-8"
    xml = (
        f'<?xml version="1.0" encoding="{name}"?><urlset><url><loc>/project/a</loc></url></urlset>'
    )
    body = encoded(xml, bom)
    if compress and bom in ("none", "utf-8"):  # wider ones are re-encoded when not compressed
        body = gzip.compress(body)
    assert list(parse_sitemap(body, "http://a.example/s.xml").pages) == [
        "http://a.example/project/a"
    ]
