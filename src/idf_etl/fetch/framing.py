"""What an answer leaves on its connection: bytes past the end its framing declared.

    transport = FramedHTTPTransport(limits=limits)   # httpx's own HTTP/1.1 transport, checked

HTTP/1.1 frames an answer by its Content-Length (or its chunks). A server that
counts the length in characters instead of bytes, or sends a second answer
after the first (a broken proxy, a desynchronised keep-alive), leaves bytes
past the declared end. Read as the framing says, the page is cut short without
a word, and on a reused connection those bytes become the NEXT request's answer
(another page stored under this URL).

aiohttp's transport parses what follows and drops the connection (garbage
fails the page). httpx's (httpcore over h11) keeps the bytes in h11's buffer
and, the answer being complete, puts the connection back in the pool: its
next request reads them. httpcore's own rule is that an idle connection with
something to read is not reusable (`has_expired`, "is_readable"); h11 holds
these bytes where that check cannot see them. h11 exposes them as
`Connection.trailing_data`, which httpcore does not pass on (encode/httpcore
#872 asks for a public way): we read it here, in one place, when the body has
ended and before the connection goes back to the pool, and close the
connection through its public `network_stream` (httpcore then finds it closed
and never reuses it). A stray CRLF is tolerated (RFC 9112 2.2's robustness);
anything else fails the page, named. Bytes that arrive only after the check
(a later packet) are the one case left: httpcore's is_readable check drops
that connection unless a request is already on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

from idf_etl.errors import FetchError

# Ours -> httpx's AsyncResponseStream -> httpcore's PoolByteStream -> its HTTP/1.1 body
# stream -> the connection, whose h11 state holds what was read past the answer.
_HOPS = ("_stream", "_httpcore_stream", "_connection")


def bytes_past_end(response: httpx.Response) -> bytes | None:
    """The bytes read past this answer's end, once it is whole; None when nobody can say
    (not httpx's HTTP/1.1 transport, or the answer not read to its end)."""
    state = _h11_state(response)
    if state is None or state.their_state not in (h11.DONE, h11.MUST_CLOSE):
        return None
    data, _closed = state.trailing_data
    return bytes(data)


class FramedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP/1.1 transport whose answers end where their framing says, or fail."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        response.stream = _Checked(response, str(request.url))
        return response


class _Checked(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self._stream = response.stream
        self._url = url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        async for chunk in self._stream:
            yield chunk
        await check_framing(self._url, self._response)  # before aclose() hands the connection back

    async def aclose(self) -> None:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        await self._stream.aclose()


async def check_framing(url: str, response: httpx.Response) -> None:
    """Fail the page (FetchError) when bytes came after its declared end (its body read to
    the end); the connection that carried them is closed, never reused, whatever they were."""
    extra = bytes_past_end(response)
    if not extra:
        return
    stream = response.extensions.get("network_stream")
    with contextlib.suppress(Exception):  # closing is all we need from it; it may be gone
        if stream is not None:
            await stream.aclose()
    if not extra.strip(b"\r\n"):
        return  # empty lines between answers: RFC 9112 asks us to ignore them
    declared = response.headers.get("content-length")
    framing = f"Content-Length {declared}" if declared else "its chunked framing"
    raise FetchError(
        f"{url}: {len(extra):,} bytes came after the end of the answer ({framing}): "
        "the server frames its answers wrongly (a length counted in characters, or a "
        "second answer behind the first); not stored, the connection dropped"
    )


def _h11_state(response: httpx.Response) -> h11.Connection | None:
    seen: Any = response.stream
    for _ in range(6):
        state = getattr(seen, "_h11_state", None)
        if isinstance(state, h11.Connection):
            return state
        seen = next((getattr(seen, hop) for hop in _HOPS if hasattr(seen, hop)), None)
        if seen is None:
            return None
    return None
