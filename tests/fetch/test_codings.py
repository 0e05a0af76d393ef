"""Content codings (#22): gzip, deflate, br and zstd are asked for and undone; whatever a server
sends under them (whole, cut short, garbage, bytes after the end, a bomb, a zstd window past
RFC 9659's 8 MB) is the page, or that page's failure with a reason, its stored copy kept; a
bomb never unpacks past the size cap. A compression we cannot undo fails by name. Real
server on 127.0.0.1, both clients, drawn codings and bodies."""

from __future__ import annotations

import gzip
import zlib
from functools import cache
from itertools import pairwise

import brotli
import pytest
from backports import zstd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from idf_etl.errors import FetchError
from idf_etl.fetch.codings import ACCEPT_ENCODING, INFLATERS
from idf_etl.fetch.encoding import BodyDecoder
from idf_etl.fetch.site import fetch_site
from idf_etl.rawstore import RawStore
from tests.helpers.raw_server import RawServer, http

PAGE = b"<html><head><title>p</title></head><body><main><h1>p</h1></main></body></html>"
CAP = 5 * 1024 * 1024  # max_bytes' default
GIB = 1 << 30


def compress(coding: str, data: bytes) -> bytes:
    if coding == "br":
        return bytes(brotli.compress(data, quality=5))
    if coding == "zstd":
        return zstd.compress(data)
    return gzip.compress(data) if coding == "gzip" else zlib.compress(data)


def reference(coding: str, body: bytes) -> bytes | None:
    """What the coding's own library makes of a whole body; None when it refuses it."""
    try:
        return bytes(brotli.decompress(body)) if coding == "br" else zstd.decompress(body)
    except (brotli.error, zstd.ZstdError):
        return None


@cache
def bomb(coding: str, size: int) -> bytes:
    """`size` zero bytes compressed, a MiB at a time (a 1 GiB br bomb is 1.6 KB)."""
    mib = b"\0" * (1 << 20)
    if coding == "br":
        c = brotli.Compressor(quality=5)
        return b"".join([*(c.process(mib) for _ in range(size >> 20)), c.finish()])
    if coding == "zstd":
        z = zstd.ZstdCompressor()
        return b"".join([*(z.compress(mib) for _ in range(size >> 20)), z.flush()])
    obj = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | (16 if coding == "gzip" else 0))
    return b"".join([*(obj.compress(mib) for _ in range(size >> 20)), obj.flush()])


@cache
def wide_window() -> bytes:
    """A zstd frame that asks for a 128 MB window (12 MB of text that repeats far apart)."""
    block = bytes(range(256)) * 4096  # 1 MB
    params = {zstd.CompressionParameter.window_log: 27}
    return zstd.ZstdCompressor(options=params).compress(block * 12, zstd.ZstdCompressor.FLUSH_FRAME)


def test_we_ask_for_exactly_the_codings_we_undo():
    asked = [c.strip() for c in ACCEPT_ENCODING.split(",")]
    assert set(asked) == set(INFLATERS) - {"x-gzip"}  # x-gzip is gzip's old name, taken too
    for coding in ("gzip", "deflate", "br", "zstd"):
        body = PAGE * 50
        decoder = BodyDecoder("u", coding, CAP)
        encoded = compress(coding, body)
        for at in range(0, len(encoded), 7):  # fed in pieces, as they come off the wire
            decoder.feed(encoded[at : at + 7])
        assert decoder.finish() == body, coding


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
def test_the_request_names_the_codings_we_undo(tmp_path, fast_settings, kind):
    with RawServer() as srv:
        srv.answer("/project/p", http(200, compress("br", PAGE), {"Content-Encoding": "br"}))
        s = fast_settings(start_urls=[srv.url("/project/p")], http_client=kind,
                          data_dir=tmp_path / "data")  # fmt: skip
        with RawStore(s.raw_dir) as store:
            fetch_site(s, store)
            stored = store.get(srv.url("/project/p"))
            assert stored is not None and store.get_body(stored.sha256) == PAGE
    heads = [h for h in srv.heads if h.startswith(b"GET /project/p ")]
    assert heads and all(
        f"\r\naccept-encoding: {ACCEPT_ENCODING}".encode() in h.lower() for h in heads
    ), heads


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_bomb_never_unpacks_past_the_cap(coding):
    # 1 GiB of zeros: a few KB on the wire. Every piece the decoder is handed is bounded, and
    # it fails at the cap, having kept at most the cap.
    decoder = BodyDecoder("u", coding, CAP)
    inflater = decoder._inflater
    assert inflater is not None
    pieces: list[int] = []
    take = inflater.take

    def counted(raw: bytes, most: int) -> bytes:
        out = take(raw, most)
        pieces.append(len(out))
        return out

    inflater.take = counted  # type: ignore[method-assign]
    encoded = bomb(coding, GIB)
    assert len(encoded) < 2 * 1024 * 1024
    with pytest.raises(FetchError, match=r"body exceeds the 5,242,880-byte limit"):
        for at in range(0, len(encoded), 16384):
            decoder.feed(encoded[at : at + 16384])
        decoder.finish()
    assert max(pieces) <= CAP + 1  # zlib and zstd: the cap and a byte; br: a 32 KB block
    assert sum(pieces) <= CAP + 65536
    # robots.txt's way (cut=True): kept up to the cap, marked truncated, no failure.
    cut = BodyDecoder("u", coding, 1024, cut=True)
    cut.feed(encoded[:16384])
    assert cut.truncated and cut.finish() == b"\0" * 1024


def reference_any(coding: str, body: bytes) -> bytes | None:
    """What the coding's own library makes of a body: several gzip members and zstd frames
    read one after another, as Python's gzip does."""
    try:
        if coding == "gzip":
            return gzip.decompress(body)
        if coding == "deflate":
            obj = zlib.decompressobj()
            out = obj.decompress(body)
            return out if obj.eof and not obj.unused_data else None
        return reference(coding, body)
    except (OSError, EOFError, zlib.error):
        return None


@settings(max_examples=150, deadline=None)
@given(
    coding=st.sampled_from(["gzip", "deflate", "br", "zstd"]),
    page=st.binary(max_size=3000),
    cuts=st.lists(st.integers(0, 3000), max_size=3),
    tail=st.binary(min_size=1, max_size=40),
    step=st.integers(1, 5000),
)
def test_a_body_is_all_its_streams_or_fails(coding, page, cuts, tail, step):
    # gzip members and zstd frames one after another are the page, whole (a second gzip
    # member was dropped unsaid); bytes after the last stream fail the page, whichever coding.
    bounds = sorted({0, len(page), *(c for c in cuts if c <= len(page))})
    if coding in ("gzip", "zstd"):
        parts = [page[a:b] for a, b in pairwise(bounds)] or [b""]
        body = b"".join(compress(coding, part) for part in parts)
    else:
        body = compress(coding, page)

    def decode(data: bytes) -> bytes:
        decoder = BodyDecoder("u", coding, CAP)
        for at in range(0, len(data), step):
            decoder.feed(data[at : at + step])
        return decoder.finish()

    assert decode(body) == page
    assume(reference_any(coding, body + tail) is None)  # a tail that is another whole stream
    with pytest.raises(FetchError, match="not what its Content-Encoding says"):
        decode(body + tail)


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_what_decodes_to_nothing_is_capped_on_the_wire(coding):
    # A gzip header's comment and zstd's skippable frames are read and decode to nothing: 20
    # MB of them fail at the cap (and some overhead), not after 20 MB (or never).
    filler = 20 << 20
    if coding == "zstd":
        body = (0x184D2A50).to_bytes(4, "little") + filler.to_bytes(4, "little") + bytes(filler)
    else:
        body = b"\x1f\x8b\x08\x10\0\0\0\0\0\xff" + b"c" * filler + b"\0"
    decoder = BodyDecoder("u", coding, CAP)
    with pytest.raises(FetchError, match="compressed bytes so far") as failed:
        for at in range(0, len(body), 65536):
            decoder.feed(body[at : at + 65536])
    said = int(str(failed.value).split("(")[1].split()[0].replace(",", ""))
    assert said < CAP + CAP // 32 + 2 * 65536


SHAPES = ["whole", "whole", "pieces", "cut", "garbage", "after-end", "empty", "bomb", "window"]


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, str, bytes, bytes | None]:
    """(shape, Content-Encoding as sent, the body sent, the page it must store or None)."""
    coding = draw(st.sampled_from(["br", "zstd"]))
    sent_as = draw(st.sampled_from([coding, coding.upper(), f" {coding} ", f"identity, {coding}"]))
    page = PAGE.replace(b"<h1>p", b"<h1>" + draw(st.text(max_size=200)).encode())
    shape = draw(st.sampled_from(SHAPES))
    encoded = compress(coding, page)
    if shape == "whole":
        return shape, sent_as, encoded, page
    if shape == "pieces":  # zstd: two frames, one body (RFC 8878); br: one stream
        if coding == "br":
            return shape, sent_as, encoded, page
        at = draw(st.integers(0, len(page)))
        return shape, sent_as, compress("zstd", page[:at]) + compress("zstd", page[at:]), page
    if shape in ("cut", "garbage", "after-end"):
        if shape == "cut":
            body = encoded[: draw(st.integers(1, len(encoded) - 1))]
        elif shape == "garbage":
            body = draw(st.binary(min_size=1, max_size=300))
        else:
            body = encoded + draw(st.binary(min_size=1, max_size=50))
        # A few bytes can be a whole stream by chance (b"\x06" is an empty br stream): the
        # reference decoder says which bodies are broken.
        assume(reference(coding, body) is None)
        return shape, sent_as, body, None
    if shape == "empty":
        return shape, sent_as, b"", None
    if shape == "bomb":
        size = draw(st.sampled_from([CAP + (1 << 20), 64 << 20, GIB]))
        return shape, sent_as, bomb(coding, size), None
    if coding == "br":  # no window to ask for past what br allows: a whole page instead
        return shape, sent_as, encoded, page
    return shape, sent_as, wide_window(), None


@settings(
    max_examples=30, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(kind=st.sampled_from(["aiohttp", "httpx"]), answer=answers())
def test_br_and_zstd_are_undone_or_fail_only_their_page(
    tmp_path_factory, fast_settings, kind, answer
):
    shape, sent_as, body, page = answer
    with RawServer() as srv:
        srv.answer("/robots.txt", http(404))
        srv.answer("/project/p", http(200, PAGE, {"Content-Type": "text/html"}))
        srv.answer("/project/q", http(200, PAGE, {"Content-Type": "text/html"}))
        s = fast_settings(
            start_urls=[srv.url("/project/p"), srv.url("/project/q")], http_client=kind,
            data_dir=tmp_path_factory.mktemp("coding") / "data",
        )  # fmt: skip
        with RawStore(s.raw_dir) as store:
            fetch_site(s, store)
            before = store.get(srv.url("/project/p"))
        headers = {"Content-Type": "text/html", "Content-Encoding": sent_as}
        srv.answer("/project/p", http(200, body, headers))
        with RawStore(s.raw_dir) as store:
            summary = fetch_site(s, store, revalidate=True)
            after = store.get(srv.url("/project/p"))
            stored = store.get_body(after.sha256) if after and after.sha256 else None
            other = store.get(srv.url("/project/q"))
    assert before is not None and after is not None and other is not None
    assert other.sha256 == before.sha256  # the other page is untouched either way
    if page is not None:
        assert stored == page and not summary.failures, (shape, summary.failures)
        return
    [(url, reason)] = summary.failures
    assert url == srv.url("/project/p"), reason
    assert after.sha256 == before.sha256, "the stored copy was replaced"
    if shape == "bomb":
        assert "body exceeds the 5,242,880-byte limit" in reason, reason
    else:
        assert "body is not what its Content-Encoding says" in reason, reason
    if shape == "window":
        assert "memory" in reason or "window" in reason, reason


CANNOT = st.sampled_from(["compress", "x-compress", "COMPRESS", " xz ", "bzip2", "lzma"])


@settings(
    max_examples=8, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    kind=st.sampled_from(["aiohttp", "httpx"]),
    coding=CANNOT,
    body=st.one_of(st.binary(max_size=300), st.just(PAGE)),
)
def test_a_coding_we_cannot_undo_fails_the_page_by_name_and_keeps_its_copy(
    tmp_path_factory, fast_settings, kind, coding, body
):
    with RawServer() as srv:
        srv.answer("/robots.txt", http(404))
        srv.answer("/project/p", http(200, PAGE, {"Content-Type": "text/html"}))
        s = fast_settings(
            start_urls=[srv.url("/project/p")], http_client=kind,
            data_dir=tmp_path_factory.mktemp("coding") / "data",
        )  # fmt: skip
        with RawStore(s.raw_dir) as store:
            fetch_site(s, store)
            before = store.get(srv.url("/project/p"))
        headers = {"Content-Type": "text/html", "Content-Encoding": coding}
        srv.answer("/project/p", http(200, body, headers))
        with RawStore(s.raw_dir) as store:
            summary = fetch_site(s, store, revalidate=True)
            after = store.get(srv.url("/project/p"))
    [(url, reason)] = summary.failures
    assert url == srv.url("/project/p")
    assert f"Content-Encoding {coding.strip().lower()!r} is a compression we cannot undo" in reason
    assert before is not None and after is not None
    assert after.sha256 == before.sha256, "the stored copy was replaced"
