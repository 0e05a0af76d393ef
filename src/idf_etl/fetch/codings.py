"""The compressions a body may come in, each undone a bounded piece at a time.

    inflater = inflater_for("br")          # None: a coding we pass through as it came
    data = inflater.take(raw, most=1000)   # at most about `most` bytes out of this call
    while inflater.pending(): data += inflater.take(b"", most)
    inflater.ended()                       # the compressed stream reached its end

gzip and deflate through zlib, br through Brotli (its C library's bindings),
zstd through `backports.zstd` (the standard library's `compression.zstd` from
Python 3.14, which aiohttp uses too). Each hands back a bounded piece of output
per call, so a bomb (10 KB of br that expands to 1 GB) never unpacks whole:
the caller (encoding.BodyDecoder) stops at its size cap. httpx's own decoders
cannot be used for this: its br and zstd decoders return everything a chunk
expands to in one call. A zstd frame may not ask for a window over 8 MB
(RFC 9659's limit for the zstd content coding): its decoder's memory is the
window, whatever the body's size. A broken stream raises ValueError, why.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from typing import Protocol

import brotli

if sys.version_info >= (3, 14):  # the standard library's, from Python 3.14
    from compression import zstd
else:
    from backports import zstd

_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
ZSTD_WINDOW_LOG_MAX = 23  # 8 MB (RFC 9659)
_GZIP_MAGIC = b"\x1f\x8b"
_BROTLI_STEP = 16384  # bytes asked of Brotli at a time: it hands back one 32 KB block


class Inflater(Protocol):
    def take(self, raw: bytes, most: int) -> bytes:
        """Feed `raw` (b"" while `pending`), return what it decodes to: at most `most` bytes,
        or about that (Brotli gives a 32 KB block at a time)."""
        ...

    def pending(self) -> bool:
        """Decoded output is waiting: take(b"", most) before any more input."""
        ...

    def ended(self) -> bool:
        """The compressed stream reached its end."""
        ...


class _Streams:
    """What follows the end of a compressed stream: the next one where the coding allows
    several (gzip members, RFC 1952; zstd frames, RFC 8878: each the rest of the page, never
    dropped unsaid), else bytes that fail the page, as bytes past an answer's end do
    (framing.py): a body is its streams, whole."""

    def __init__(self) -> None:
        self._after = b""  # bytes after a stream's end, not yet read as the next one

    def _starts(self, data: bytes) -> bool:
        """Whether `data` may start another stream of this coding."""
        return False

    def _next(self, raw: bytes) -> bytes:
        data, self._after = self._after + raw, b""
        if not self._starts(data):
            raise ValueError("bytes came after the end of the compressed stream")
        return data


class _Zlib(_Streams):
    def __init__(self, coding: str) -> None:
        super().__init__()
        self.coding = coding
        self._obj = zlib.decompressobj(_WBITS[coding])
        self._fed = False
        self._raw_tried = False

    def _starts(self, data: bytes) -> bool:
        return self.coding != "deflate" and _GZIP_MAGIC.startswith(data[:2])

    def take(self, raw: bytes, most: int) -> bytes:
        if self._obj.eof:
            raw = self._next(raw)
            self._obj = zlib.decompressobj(_WBITS[self.coding])
        try:
            data = self._obj.decompress(raw or self._obj.unconsumed_tail, most)
        except zlib.error as exc:
            if self.coding == "deflate" and not self._fed and not self._raw_tried:
                # Some servers send raw deflate, without the zlib header the standard asks for.
                self._raw_tried = True
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.take(raw, most)
            raise ValueError(str(exc)) from exc
        self._fed = True
        if self._obj.eof:
            self._after = self._obj.unused_data
        return data

    def pending(self) -> bool:
        return bool(self._obj.unconsumed_tail) or (self._obj.eof and bool(self._after))

    def ended(self) -> bool:
        return self._obj.eof and not self._after


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()
        self._gave = False  # the last call gave output: there may be more without input

    def take(self, raw: bytes, most: int) -> bytes:
        if raw and self._obj.is_finished():
            raise ValueError("bytes came after the end of the compressed stream")
        try:
            # Asked for more than a block, it hands back up to three (98 KB for 32 KB asked);
            # asked for less, one block (32 KB): small steps keep each piece near its bound.
            out = bytes(self._obj.process(raw, output_buffer_limit=min(most, _BROTLI_STEP)))
        except brotli.error as exc:
            raise ValueError(str(exc) or "brotli: the stream is broken") from exc
        self._gave = bool(out)
        return out

    def pending(self) -> bool:
        # can_accept_more_data() says whether its input is used up, not its output: a stream
        # whose input is all read can still have megabytes to give, a block per call.
        obj = self._obj
        return not obj.is_finished() and (self._gave or not obj.can_accept_more_data())

    def ended(self) -> bool:
        return bool(self._obj.is_finished())


class _Zstd(_Streams):
    def __init__(self) -> None:
        super().__init__()
        self._obj = self._new()

    @staticmethod
    def _new() -> zstd.ZstdDecompressor:
        return zstd.ZstdDecompressor(
            options={zstd.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG_MAX}
        )

    def _starts(self, data: bytes) -> bool:
        return True  # a frame, or the decoder says why not

    def take(self, raw: bytes, most: int) -> bytes:
        if self._obj.eof:
            raw = self._next(raw)
            self._obj = self._new()
        try:
            data = self._obj.decompress(raw, most)
        except zstd.ZstdError as exc:
            raise ValueError(str(exc)) from exc
        if self._obj.eof:
            self._after = self._obj.unused_data
        return data

    def pending(self) -> bool:
        obj = self._obj
        return (not obj.eof and not obj.needs_input) or (obj.eof and bool(self._after))

    def ended(self) -> bool:
        return self._obj.eof and not self._after


# Each coding we undo, by its token (RFC 9110 8.4.1; x-gzip is gzip): Accept-Encoding names
# exactly these, so a server that honours it never sends a coding we would refuse.
INFLATERS: dict[str, Callable[[], Inflater]] = {
    "gzip": lambda: _Zlib("gzip"),
    "x-gzip": lambda: _Zlib("x-gzip"),
    "deflate": lambda: _Zlib("deflate"),
    "br": _Brotli,
    "zstd": _Zstd,
}
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
# Compressions some servers use that we cannot undo (no such library is a dependency).
CANNOT_UNDO = frozenset({"compress", "x-compress", "bzip2", "x-bzip2", "xz", "lzma"})


def inflater_for(coding: str) -> Inflater | None:
    """The inflater of a coding token (lower case); None for one we pass through."""
    make = INFLATERS.get(coding)
    return make() if make is not None else None
