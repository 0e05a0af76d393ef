"""An answer's framing (#22 adversary 12-13): bytes past a response's declared end make its
connection unusable (closed, never reused) and fail the page, named; a body that does not
match its Content-Length or chunks fails its page. Never another URL's answer, never a page
cut short without a word.

A real keep-alive server on 127.0.0.1 sends the exact bytes Hypothesis draws (lengths counted
in characters, too short, too long, a second answer behind the first, chunks with garbage
after them; keep-alive or close), through the real fetch stage, on both HTTP clients.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from tests.helpers.raw_server import RawServer, http

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
HTML = "<html><head><title>{}</title></head><body><main><h1>{}</h1><p>{}</p></main></body></html>"
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)


def answer(body: bytes, framing: str, conn: str, extra: bytes = b"", length: int | None = None):
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nConnection: {conn}\r\n"
    if framing == "chunked":
        half = len(body) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:half], body[half:]) if c)
        return (
            (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n" + extra
        )
    n = len(body) if length is None else length
    return (head + f"Content-Length: {n}\r\n\r\n").encode() + body + extra


def page(title: str, text: str = "") -> bytes:
    return HTML.format(title, title, text).encode()


FRAMINGS = st.sampled_from(
    ["exact", "chars", "short", "long", "extra", "smuggle", "chunked", "chunk_cut", "chunk_huge"]
)


@st.composite
def framed(draw):
    """(the bytes the server sends for /project/a, the body it meant)."""
    # Pages of 60 KB and more arrive in many reads: the bytes past the end come in the last.
    body = page("Alpha", draw(TEXT) * draw(st.sampled_from([1, 1, 400])))
    framing, conn = draw(FRAMINGS), draw(st.sampled_from(["keep-alive", "close"]))
    cut = draw(st.integers(1, 40))
    if framing == "chars":
        return answer(body, framing, conn, length=len(body.decode())), body
    if framing == "short":
        return answer(body, framing, conn, length=len(body) - cut), body
    if framing == "long":
        return answer(body, framing, conn, length=len(body) + cut), body
    if framing in ("chunk_cut", "chunk_huge"):  # a chunk longer than what is sent, or than any
        size = b"%x" % (len(body) + cut) if framing == "chunk_cut" else b"f" * 16
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: {conn}\r\n"
        return head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\n" + body, body
    if framing == "smuggle":  # a whole second answer behind the first: /project/b's, faked
        fake = answer(page("SMUGGLED"), "exact", "keep-alive")
        return answer(body, "exact", conn, extra=fake), body
    extra = draw(st.binary(max_size=60)) if framing in ("extra", "chunked") else b""
    return answer(body, "chunked" if framing == "chunked" else "exact", conn, extra), body


def crawl(tmp_path_factory, fast_settings, kind: str, sent: bytes | list[bytes], rate=0.0):
    """One crawl of /project/a (answered `sent`), b and c on one keep-alive connection."""
    with RawServer(keep_alive=True) as srv:
        urls = [srv.url(f"/project/{p}") for p in ("a", "b", "c")]
        entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
        srv.answer("/robots.txt", NOT_FOUND)
        srv.answer("/sitemap.xml", http(200, f"<urlset>{entries}</urlset>".encode()))
        srv.answer("/project/a", sent)
        srv.answer("/project/b", answer(page("Bravo"), "exact", "keep-alive"))
        srv.answer("/project/c", answer(page("Charlie"), "exact", "keep-alive"))
        s = fast_settings(
            start_urls=[srv.url("/sitemap.xml")], http_client=kind, concurrency=1, rate=rate,
            read_timeout=0.3, max_retries=0, min_discovered_share=0,
            data_dir=tmp_path_factory.mktemp("framing") / "data",
        )  # fmt: skip
        with RawStore(s.raw_dir) as store:
            summary = fetch_site(s, store)
            stored = {u.rsplit("/", 1)[1]: store.get(u) for u in urls}
            bodies = {
                p: store.get_body(row.sha256) if row and row.sha256 else None
                for p, row in stored.items()
            }
        return summary, stored, bodies


@settings(
    max_examples=int(os.environ.get("FRAMING_EXAMPLES", 40)), deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(kind=st.sampled_from(["aiohttp", "httpx"]), sent=framed())
@example(kind="httpx", sent=(answer(page("Alpha"), "exact", "keep-alive", answer(page("SMUGGLED"), "exact", "keep-alive")), page("Alpha")))  # fmt: skip
@example(kind="httpx", sent=(answer(page("Alpha", "é" * 50), "exact", "close", length=len(page("Alpha", "é" * 50).decode())), page("Alpha", "é" * 50)))  # fmt: skip
@example(kind="aiohttp", sent=(answer(page("Alpha", "é" * 50), "exact", "keep-alive", length=len(page("Alpha", "é" * 50).decode())), page("Alpha", "é" * 50)))  # fmt: skip
def test_a_page_is_what_the_server_meant_or_fails_named_never_another_urls_answer(
    tmp_path_factory, fast_settings, kind, sent
):
    raw, meant = sent
    summary, stored, bodies = crawl(tmp_path_factory, fast_settings, kind, raw)
    got = bodies["a"]
    if got is not None:
        # Stored: exactly what was meant (a cut of only blank lines is no cut a reader sees).
        assert meant.startswith(got) and not meant[len(got) :].strip(b"\r\n"), (
            got[-60:], meant[-60:],
        )  # fmt: skip
    else:
        reasons = [r for u, r in summary.failures if u.endswith("/project/a")]
        assert reasons, (stored["a"], summary.as_dict())
        reason = reasons[0]
        assert reason.strip(), "a page failed without a reason"
        # "connection failed" is what a cause nobody named gets: each framing fault has one.
        assert ": connection failed" not in reason, reason
    # The pages after it are their own answers, whatever /project/a's connection carried.
    assert bodies["b"] == page("Bravo"), bodies["b"]
    assert bodies["c"] == page("Charlie"), bodies["c"]


def test_bytes_past_the_end_are_named_and_the_connection_is_dropped(
    tmp_path_factory, fast_settings
):
    body = page("Alpha", "Améliorer la santé des migrants " * 2000)  # 70 KB: many reads
    sent = answer(body, "exact", "keep-alive", length=len(body.decode()))
    for kind in ("aiohttp", "httpx"):
        summary, _, bodies = crawl(tmp_path_factory, fast_settings, kind, sent)
        assert bodies["a"] is None and bodies["b"] == page("Bravo"), kind
        [(url, reason)] = summary.failures
        assert url.endswith("/project/a")
        assert "frames its answers wrongly" in reason, (kind, reason)


def test_an_answer_that_comes_while_the_connection_idles_is_nobodys(
    tmp_path_factory, fast_settings
):
    """/project/a's answer, then 0.1 s later a second one nobody asked for: the connection
    waiting in the pool is spoiled, never /project/b's (aiohttp's pool took it as b's).
    Two requests a second: the second answer is there before /project/b is asked for."""
    sent = [
        answer(page("Alpha"), "exact", "keep-alive"),
        answer(page("SMUGGLED"), "exact", "keep-alive"),
    ]
    for kind in ("aiohttp", "httpx"):
        _, _, bodies = crawl(tmp_path_factory, fast_settings, kind, sent, rate=2)
        assert bodies["b"] == page("Bravo") and bodies["c"] == page("Charlie"), kind
        assert bodies["a"] in (page("Alpha"), None), kind


def test_an_answer_with_both_lengths_is_refused(tmp_path_factory, fast_settings):
    sent = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    for kind in ("aiohttp", "httpx"):
        summary, _, bodies = crawl(tmp_path_factory, fast_settings, kind, sent)
        assert bodies["a"] is None and bodies["b"] == page("Bravo"), kind
        [(url, reason)] = summary.failures
        assert url.endswith("/project/a")
        assert "Transfer-Encoding" in reason and "Content-Length" in reason, (kind, reason)


REFUSED = {  # what the server sends for /project/a: an answer neither parser can read
    "chunk size no number": b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk size negative": b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "chunk size past any": b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 24 + b"\r\nabc",
    "length negative": b"Content-Length: -1\r\n\r\nhello",
    "length past any": b"Content-Length: 99999999999999999999999\r\n\r\nhello",
    "two lengths": b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
}


def test_an_answer_the_parser_refuses_is_named_a_framing_fault_on_both_clients(
    tmp_path_factory, fast_settings
):
    # httpx called h11's refusals ("illegal chunk header", "bad Content-Length")
    # 'connection closed by the server', and tried again; aiohttp named them (adversary).
    for name, rest in REFUSED.items():
        sent = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n" + rest
        for kind in ("aiohttp", "httpx"):
            summary, _, bodies = crawl(tmp_path_factory, fast_settings, kind, sent)
            assert bodies["a"] is None and bodies["b"] == page("Bravo"), (name, kind)
            [(_, reason)] = [f for f in summary.failures if f[0].endswith("/project/a")]
            assert "the answer breaks HTTP's framing" in reason, (name, kind, reason)
            assert "connection closed" not in reason, (name, kind, reason)


def test_a_redirect_whose_location_is_no_url_says_so_on_both_clients(
    tmp_path_factory, fast_settings
):
    # It was 'connection closed by the server (ValueError: invalid literal for int()...)'.
    for location in (b"http://[::1", b"http://127.0.0.1:99999999/x", b"http://[x]y/"):
        sent = b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        for kind in ("aiohttp", "httpx"):
            summary, _, bodies = crawl(tmp_path_factory, fast_settings, kind, sent)
            assert bodies["b"] == page("Bravo"), (location, kind)
            [(_, reason)] = [f for f in summary.failures if f[0].endswith("/project/a")]
            assert "without a usable Location" in reason, (location, kind, reason)
