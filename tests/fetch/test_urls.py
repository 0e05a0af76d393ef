"""URL normalisation, hosts, Retry-After and sitemap reading: small pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idf_etl.fetch.link_lists import parse_lastmod, parse_sitemap
from idf_etl.fetch.pacing import retry_after_seconds, said_wait
from idf_etl.records import LANGS
from idf_etl.urls import host_allowed, normalise_url, url_language, with_page


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("HTTPS://WWW.IOM.INT:443/project/x/", "https://www.iom.int/project/x"),
        ("http://iom.int:80/fr/node/1#top", "http://iom.int/fr/node/1"),
        ("https://iom.int/p?utm_source=x&b=2&a=1&fbclid=y", "https://iom.int/p?a=1&b=2"),
        ("https://iom.int", "https://iom.int/"),
        ("https://iom.int//es//node/2", "https://iom.int/es/node/2"),
        ("mailto:someone@iom.int", None),
        ("javascript:void(0)", None),
        ("ftp://iom.int/file", None),
    ],
)
def test_normalise_url(url, want):
    assert normalise_url(url) == want


def test_relative_links_resolve_against_the_page():
    assert (
        normalise_url("../node/5?page=1", "https://iom.int/fr/a/b")
        == "https://iom.int/fr/node/5?page=1"
    )


def test_host_allow_list():
    assert host_allowed("https://www.iom.int/x", ["www.iom.int"])
    assert not host_allowed("https://evil.example/x", ["www.iom.int"])
    assert not host_allowed("https://www.iom.int.evil.example/x", ["www.iom.int"])
    assert host_allowed("http://127.0.0.1:8080/x", ["127.0.0.1"])
    assert not host_allowed("http://127.0.0.1:8081/x", ["127.0.0.1:8080"])


def test_with_page():
    assert (
        with_page("https://d.iom.int/projects?type=a", 3)
        == "https://d.iom.int/projects?page=3&type=a"
    )


def test_retry_after_seconds_and_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@given(st.integers(0, 10**40 - 1))
def test_a_paused_host_is_said_to_ask_the_wait_it_sent(seconds):
    """Whatever the digits, the message names the number the server sent (a float of 10**22
    read as 99999999999999991611392)."""
    said = str(seconds)
    wait = retry_after_seconds(said)
    assert wait is not None
    shown = said_wait(wait, said)
    assert shown == f"{said}s" or (seconds < 366 * 86400 and shown == f"{seconds}s")


@given(st.datetimes(datetime(2028, 1, 1), datetime(9999, 12, 31, 23, 59, 59)))
def test_a_paused_host_is_said_to_ask_the_date_it_sent(moment):
    """A Retry-After date more than a year away is said as the date ("until Fri, 31 Dec 9999
    23:59:59 GMT"), not as the date with an "s" after it (adversary, issue 22)."""
    said = format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
    wait = retry_after_seconds(said)
    assert wait is not None and wait > 366 * 86400
    assert said_wait(wait, said) == f"until {said}"


def test_sitemap_without_namespace_and_bad_lastmod():
    sm = parse_sitemap(
        b"<urlset><url><loc>/project/a</loc><lastmod>yesterday</lastmod></url>"
        b"<url><loc>https://x.org/project/b</loc><lastmod>2024-03-01T10:00:00+02:00"
        b"</lastmod></url></urlset>",
        "https://x.org/sitemap.xml",
    )
    assert sm.pages == {
        "https://x.org/project/a": None,
        "https://x.org/project/b": "2024-03-01T08:00:00+00:00",
    }


def test_lastmod_forms():
    assert parse_lastmod("2024-05-01") == "2024-05-01T00:00:00+00:00"
    assert parse_lastmod("2024-05-01T10:00:00Z") == "2024-05-01T10:00:00+00:00"
    assert parse_lastmod("May 2024") is None


@given(
    lang=st.sampled_from([*LANGS, "de", "", "node", "project"]),
    rest=st.lists(st.text(alphabet="abcdefghij-0123456789", min_size=1), max_size=3),
)
def test_a_url_path_names_its_language_once_for_the_crawler_and_the_parser(lang, rest):
    # The crawler (is_page) and the parser (detect_language) both ask url_language: a
    # first segment that is a language is it; anything else is the unprefixed default.
    path = "/".join(["", lang, *rest]) if lang else "/" + "/".join(rest)
    got = url_language("https://www.iom.int" + path)
    assert got == (lang if lang in LANGS else LANGS[0])
    assert got in LANGS


# -- one page, one URL: percent-encoding (#23) ------------------------------------------

_SEGMENT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/?#%\\"),
    min_size=1,
    max_size=12,
)


def _escape(segment: str, lower: bool, unreserved: bool) -> str:
    """The segment with every character escaped that need be (and, with `unreserved`, the
    letters and digits too), hex in lower or upper case: spellings of one path."""
    out = []
    for char in segment:
        # Reserved characters ("!$&'()*+,;=:@") mean something else escaped: kept as written.
        reserved = char in "!$&'()*+,;=:@"
        plain = char.isascii() and (char.isalnum() or char in "-._~")
        if reserved or (plain and not unreserved):
            out.append(char)
        else:
            hexes = "".join(f"%{b:02X}" for b in char.encode("utf-8"))
            out.append(hexes.lower() if lower else hexes)
    return "".join(out)


@given(st.lists(_SEGMENT, min_size=1, max_size=4), st.booleans(), st.booleans())
def test_spellings_of_one_path_normalise_to_one_url(segments, lower, unreserved):
    # (a last segment of our own: spaces at either end of a URL are no part of it)
    written = "https://www.iom.int/" + "/".join(segments) + "/x"
    escaped = (
        "https://www.iom.int/" + "/".join(_escape(s, lower, unreserved) for s in segments) + "/x"
    )
    assert normalise_url(written) == normalise_url(escaped)


@given(st.text(max_size=60), st.text(max_size=30))
def test_normalise_is_idempotent(path, query):
    url = normalise_url(f"https://www.iom.int/{path}?{query}")
    if url is not None:
        assert normalise_url(url) == url
        assert url.isascii() and " " not in url


@pytest.mark.parametrize(
    ("url", "want"),
    [
        (
            "https://www.iom.int/es/proyecto/migración",
            "https://www.iom.int/es/proyecto/migraci%C3%B3n",
        ),
        (
            "https://www.iom.int/es/proyecto/migraci%C3%B3n",
            "https://www.iom.int/es/proyecto/migraci%C3%B3n",
        ),
        (
            "https://www.iom.int/es/proyecto/migraci%c3%b3n",
            "https://www.iom.int/es/proyecto/migraci%C3%B3n",
        ),
        ("https://iom.int/a%7Eb%41", "https://iom.int/a~bA"),  # need not be escaped
        ("https://iom.int/a%2fb", "https://iom.int/a%2Fb"),  # "/" escaped is not a separator
        ("https://iom.int/a b", "https://iom.int/a%20b"),
        ("https://iom.int/a+b", "https://iom.int/a+b"),  # "+" is no space in a path
        ("https://iom.int/100%", "https://iom.int/100%25"),
        ("https://iom.int/p?q=a%20b&r=caf%c3%a9", "https://iom.int/p?q=a+b&r=caf%C3%A9"),
        ("https://iom.int/p?q=a%26b", "https://iom.int/p?q=a%26b"),  # "&" inside a value
        ("https://BÜCHER.example/x", "https://xn--bcher-kva.example/x"),
        ("https://xn--bcher-kva.example/x", "https://xn--bcher-kva.example/x"),
        ("https://iom.int/project/%2e%2e/x", "https://iom.int/x"),  # dots, escaped or not
        ("https://iom.int/a/./b/../c", "https://iom.int/a/c"),
        ("https://iom.int/..", "https://iom.int/"),
        ("https://iom.int/a..b/.c", "https://iom.int/a..b/.c"),
    ],
)
def test_percent_encoding_has_one_spelling(url, want):
    assert normalise_url(url) == want
