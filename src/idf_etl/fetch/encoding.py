"""A body's Content-Encoding undone, under the size cap, and never cut short unnoticed.

    decoder = BodyDecoder(url, response.headers.get("content-encoding"), limit)
    for raw in chunks: decoder.feed(raw)
    body = decoder.finish()

httpx's own decoders return what they have when a gzip or deflate stream
stops early: a body cut short (a Content-Length that matches the bytes sent,
not the stream) would be stored as the page, and its missing fields read as
removed. Here a stream that has not reached its end is a FetchError, as is one
that is not what its Content-Encoding says; the decoded size is capped as it
grows (a gzip bomb is small on the wire). Codings we do not ask for (we send
`Accept-Encoding: gzip, deflate`) pass through as they came, as httpx does.
"""

from __future__ import annotations

import zlib

from idf_etl.errors import FetchError

ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class BodyDecoder:
    """Raw bytes in, the decoded body out; FetchError past `limit` or for a broken stream."""

    def __init__(self, url: str, content_encoding: str | None, limit: int) -> None:
        self.url = url
        self.limit = limit
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1:
            raise FetchError(f"{url}: Content-Encoding {content_encoding!r}: one coding at most")
        self.coding = codings[0] if codings and codings[0] in _WBITS else None
        self._zlib = zlib.decompressobj(_WBITS[self.coding]) if self.coding else None
        self._parts: list[bytes] = []
        self._size = 0
        self._raw_deflate_tried = False

    def feed(self, raw: bytes) -> None:
        if self._zlib is None:
            self._keep(raw)
            return
        try:
            # At most one byte past the limit out of each call: a bomb never unpacks whole.
            data = self._zlib.decompress(raw, self.limit - self._size + 1)
            while self._zlib.unconsumed_tail and self._size + len(data) <= self.limit:
                data += self._zlib.decompress(
                    self._zlib.unconsumed_tail, self.limit - self._size - len(data) + 1
                )
        except zlib.error as exc:
            if self.coding == "deflate" and not self._raw_deflate_tried and not self._parts:
                # Some servers send raw deflate, without the zlib header the standard asks for.
                self._raw_deflate_tried = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self.feed(raw)
                return
            raise self._broken(str(exc)) from exc
        self._keep(data)

    def finish(self) -> bytes:
        if self._zlib is not None:
            try:
                self._keep(self._zlib.flush())
            except zlib.error as exc:
                raise self._broken(str(exc)) from exc
            if not self._zlib.eof and self._size:
                raise self._broken("the compressed stream stops before its end: cut short")
            if not self._zlib.eof:
                raise self._broken("no compressed data")
        return b"".join(self._parts)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.limit:
            raise FetchError(f"{self.url}: body exceeds the {self.limit:,}-byte limit")
        self._parts.append(data)

    def _broken(self, why: str) -> FetchError:
        return FetchError(f"{self.url}: body is not what its Content-Encoding says ({why})")
