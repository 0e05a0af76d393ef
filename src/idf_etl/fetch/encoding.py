"""A body's Content-Encoding undone, under the size cap, and never cut short unnoticed.

    decoder = BodyDecoder(url, response.headers.get("content-encoding"), limit)
    for raw in chunks: decoder.feed(raw)
    body = decoder.finish()

httpx's own decoders return what they have when a gzip or deflate stream
stops early: a body cut short (a Content-Length that matches the bytes sent,
not the stream) would be stored as the page, and its missing fields read as
removed. Here a stream that has not reached its end is a FetchError, as is one
that is not what its Content-Encoding says, or that bytes follow which start no
next gzip member or zstd frame (a second member is the rest of the page: it was
dropped unsaid). The decoded size is capped as it grows (a gzip or br bomb is
small on the wire): codings.py hands it back a bounded piece at a time; and so
is what came on the wire (a gzip header's comment, zstd's skippable frames
decode to nothing). We ask for, and undo, gzip, deflate, br and zstd; a
compression we cannot undo (compress, xz: no library for them is a dependency)
fails the page, named, and the copy stored before is kept: stored as it came
it was parsed as "input looks binary (NUL bytes)". A token nobody defines
passes through as it came, as browsers do.

`cut=True` (robots.txt, which RFC 9309 lets us read in part): past the limit
the body is kept up to it and marked `truncated`, instead of failing.

`decode_text` reads a line-oriented text from outside (robots.txt, a URL list
file, a CDX listing) honouring a byte-order mark: Windows editors start files
with one, and a BOM glued onto the first line lost robots.txt's first group.
"""

from __future__ import annotations

import codecs

import httpx

from idf_etl.errors import FetchError
from idf_etl.fetch.codings import ACCEPT_ENCODING, CANNOT_UNDO, Inflater, inflater_for
from idf_etl.numerals import ascii_int

__all__ = ["ACCEPT_ENCODING", "BodyDecoder", "decode_text", "read_capped"]


async def read_capped(
    url: str, response: httpx.Response, limit: int, cut: bool = False
) -> tuple[bytes, bool]:
    """A response's body, decoded, within `limit`; and whether it was cut there (`cut`)."""
    # A Content-Length that lies (or is no number) is caught by counting the bytes, below.
    declared = ascii_int(response.headers.get("content-length"), max_digits=30)
    if declared is not None and declared > limit and not cut:
        raise FetchError(f"{url}: body of {declared:,} bytes exceeds the {limit:,}-byte limit")
    decoder = BodyDecoder(url, response.headers.get("content-encoding"), limit, cut=cut)
    async for chunk in response.aiter_raw():
        decoder.feed(chunk)
        if decoder.truncated:
            break  # the rest is not read: closing the response drops the connection
    return decoder.finish(), decoder.truncated


class BodyDecoder:
    """Raw bytes in, the decoded body out; FetchError past `limit` or for a broken stream."""

    def __init__(
        self, url: str, content_encoding: str | None, limit: int, *, cut: bool = False
    ) -> None:
        self.url = url
        self.limit = limit
        self.cut = cut
        self.truncated = False
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise FetchError(f"{url}: Content-Encoding {content_encoding!r}: one coding at most")
        if codings and codings[0] in CANNOT_UNDO:
            raise FetchError(
                f"{url}: Content-Encoding {codings[0]!r} is a compression we cannot undo (we ask "
                f"for {ACCEPT_ENCODING})"
            )
        self.coding = codings[0] if codings else None
        self._inflater: Inflater | None = inflater_for(self.coding) if self.coding else None
        self._parts: list[bytes] = []
        self._size = 0
        self._wire = 0

    def feed(self, raw: bytes) -> None:
        if self.truncated:
            return
        inflater = self._inflater
        if inflater is None:
            self._keep(raw)
            return
        # What comes on the wire is capped too: gzip's header fields, empty deflate blocks and
        # zstd's skippable frames decode to nothing, and a server could send them for ever.
        self._wire += len(raw)
        if self._wire > self.limit + self.limit // 32 + 65536:  # beyond any coding's overhead
            if self.cut:
                self.truncated = True
                return
            raise FetchError(
                f"{self.url}: body exceeds the {self.limit:,}-byte limit "
                f"({self._wire:,} compressed bytes so far)"
            )
        try:
            # At most one byte past the limit out of each call (Brotli: one block): a bomb
            # never unpacks whole, it fails at the limit.
            self._keep(inflater.take(raw, self.limit - self._size + 1))
            while inflater.pending() and not self.truncated:
                self._keep(inflater.take(b"", self.limit - self._size + 1))
        except ValueError as exc:
            raise self._broken(str(exc)) from exc

    def finish(self) -> bytes:
        inflater = self._inflater
        if inflater is not None and not self.truncated and not inflater.ended():
            if self._size:
                raise self._broken("the compressed stream stops before its end: cut short")
            raise self._broken("no compressed data")
        return b"".join(self._parts)

    def _keep(self, data: bytes) -> None:
        if self.cut and self._size + len(data) > self.limit:
            data, self.truncated = data[: self.limit - self._size], True
        self._size += len(data)
        if self._size > self.limit:
            raise FetchError(f"{self.url}: body exceeds the {self.limit:,}-byte limit")
        self._parts.append(data)

    def _broken(self, why: str) -> FetchError:
        return FetchError(f"{self.url}: body is not what its Content-Encoding says ({why})")


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM starts it
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_text(body: bytes, errors: str = "replace") -> str:
    """UTF-8, or what a byte-order mark says; no U+FEFF left. `errors`: as bytes.decode's.

    U+FEFF elsewhere (files joined together, each with its BOM) goes too: in these
    texts it is never content, and at a line's start it would hide the line's field.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors).replace("\ufeff", "")
    return body.decode("utf-8", errors).replace("\ufeff", "")
