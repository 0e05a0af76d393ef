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
anything else fails the page, named. Bytes that arrive later, while the
connection idles in the pool, spoil it: httpcore's is_readable check drops it,
and so does our check of aiohttp's pool (`skip_spoiled_connections`). Bytes
that arrive after the next request went out on the connection are the one case
no HTTP/1.1 client can tell from its answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import h11
import httpx

from idf_etl.errors import FetchError

# Ours -> httpx's AsyncResponseStream -> httpcore's PoolByteStream -> its HTTP/1.1 body
# stream -> the connection, whose h11 state holds what was read past the answer; or ours ->
# httpx-aiohttp's stream -> aiohttp's response, whose protocol parsed what came after it.
_SPOILED_MAX = 1000  # pooled connections looked at for one request, at most (the pool's size)
# aiohttp's parser errors, by name (aiohttp is imported only with its transport).
_AIOHTTP_PARSE = frozenset(
    {"HttpProcessingError", "BadHttpMessage", "BadStatusLine", "InvalidHeader", "LineTooLong"}
)  # a body cut by a dropped connection (TransferEncodingError...) is a transport error, retried
_HOPS = ("_stream", "_httpcore_stream", "_connection", "_aiohttp_response")


def bytes_past_end(response: httpx.Response) -> bytes | None:
    """The bytes read past this answer's end, once it is whole; None when nobody can say
    (not httpx's HTTP/1.1 transport, or the answer not read to its end)."""
    state = _h11_state(response)
    if state is None or state.their_state not in (h11.DONE, h11.MUST_CLOSE):
        return None
    data, _closed = state.trailing_data
    return bytes(data)


class FramingChecked(httpx.AsyncBaseTransport):
    """A transport (httpx's own or aiohttp's) whose answers end where their framing says,
    or fail."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _named_framing(str(request.url)):
            response = await self.inner.handle_async_request(request)
        both = "transfer-encoding" in response.headers and "content-length" in response.headers
        if both:  # RFC 9112 6.3: a sign of smuggling, "ought to be handled as an error"
            await _drop(response)
            raise FetchError(
                f"{request.url}: the answer has both Transfer-Encoding and Content-Length: "
                "its end cannot be trusted; not stored, the connection dropped"
            )
        response.stream = _Checked(response, str(request.url))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Checked(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self._stream = response.stream
        self._url = url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        with _named_framing(self._url):
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
    if extra is None:  # not httpx's transport: aiohttp's, which says what it found
        what = _aiohttp_past_end(response)
        if what is None:
            return
    elif extra:
        what = f"{len(extra):,} bytes came" if extra.strip(b"\r\n") else None
    else:
        return
    await _drop(response)
    if what is None:
        return  # empty lines between answers: RFC 9112 asks us to ignore them
    declared = response.headers.get("content-length")
    framing = f"Content-Length {declared}" if declared else "its chunked framing"
    raise FetchError(
        f"{url}: {what} after the end of the answer ({framing}): "
        "the server frames its answers wrongly (a length counted in characters, or a "
        "second answer behind the first); not stored, the connection dropped"
    )


def _aiohttp_past_end(response: httpx.Response) -> str | None:
    """What aiohttp found past the answer's end: its parser failed on the bytes after it
    (the body was whole by its framing, and then not), or parsed another answer behind it.
    None when nothing (or not aiohttp's transport)."""
    protocol = _reach(response, "_protocol")
    if protocol is None:
        return None
    from aiohttp.http_exceptions import HttpProcessingError

    failed = protocol.exception()
    if isinstance(failed, HttpProcessingError):
        return "bytes that are no answer came"
    if getattr(protocol, "_buffer", None):
        return "another answer came"
    return None


@contextlib.contextmanager
def _named_framing(url: str) -> Iterator[None]:
    """aiohttp's parser or h11's (httpx's) refusing what came (a bad status line where the
    next answer should start, data after `Connection: close`, two lengths, a chunk size
    that is no number) is this page's framing failure, on either client. (httpx called
    h11's "illegal chunk header" or "bad Content-Length" 'connection closed by the
    server', and tried again: adversary, issue 22.) A body shorter than its framing is
    not one: the connection dropped, tried again (pacing.describe_transport_error)."""
    try:
        yield
    except Exception as exc:
        cause = next((e for e in _chain(exc) if _parser_refused(e)), None)
        if cause is None:
            raise
        said = str(getattr(cause, "message", "") or cause).strip().splitlines()
        what = said[0].rstrip(": ") if said else type(cause).__name__
        raise FetchError(
            f"{url}: the answer breaks HTTP's framing ({what}): "
            "the server frames its answers wrongly; not stored, the connection dropped"
        ) from exc


def _parser_refused(exc: BaseException) -> bool:
    if type(exc).__name__ in _AIOHTTP_PARSE:
        return True
    # h11 says "peer closed connection without sending complete message body" for a body
    # cut short: a dropped connection, not a framing fault.
    return isinstance(exc, h11.RemoteProtocolError) and "complete message body" not in str(exc)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def skip_spoiled_connections(connector: Any) -> None:
    """An aiohttp connector that never hands out a pooled connection which received
    something while it idled (an answer nobody asked for, bytes past the last one's end):
    aiohttp parses what comes into the connection's queue, and its pool checks only that
    the socket is open, so the next request read that queued answer as its own. Such a
    connection is closed and another taken (a new one once the pool has no clean one)."""
    connect = connector.connect

    async def checked(*args: Any, **kwargs: Any) -> Any:
        for _ in range(_SPOILED_MAX):
            connection = await connect(*args, **kwargs)
            protocol = connection.protocol
            if protocol is None or not protocol.should_close:
                return connection
            connection.close()  # should_close: something is queued, failed, or half-read
        return await connect(*args, **kwargs)

    connector.connect = checked


async def _drop(response: httpx.Response) -> None:
    """Close the connection under `response` for good, whichever transport carried it."""
    stream = response.extensions.get("network_stream")  # httpcore's, public
    protocol = _reach(response, "_protocol")  # aiohttp's
    with contextlib.suppress(Exception):  # closing is all we need; it may be gone already
        if stream is not None:
            await stream.aclose()
        if protocol is not None:
            protocol.force_close()
            protocol.close()


def _h11_state(response: httpx.Response) -> h11.Connection | None:
    state = _reach(response, "_h11_state")
    return state if isinstance(state, h11.Connection) else None


def _reach(response: httpx.Response, name: str) -> Any:
    """The attribute `name` of the connection under `response`'s stream, if it has one."""
    seen: Any = response.stream
    for _ in range(6):
        if hasattr(seen, name):
            return getattr(seen, name)
        seen = next((getattr(seen, hop) for hop in _HOPS if hasattr(seen, hop)), None)
        if seen is None:
            return None
    return None
