"""Small parts of politeness: one host's pace, Retry-After, and naming what went wrong."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from idf_etl.errors import OutOfTime
from idf_etl.numerals import ascii_int


class HostPace:
    """One host's share of politeness: so many requests in flight, so far apart."""

    def __init__(self, concurrency: int, interval: float, deadline: float | None = None) -> None:
        """`deadline`: time.monotonic() past which no wait here may end (the run's end)."""
        self.interval = interval
        self.deadline = deadline
        self._slots = asyncio.Semaphore(concurrency)
        self._lock = asyncio.Lock()
        self._next_start = 0.0

    def slow_down(self, interval: float) -> None:
        self.interval = max(self.interval, interval)

    def pause(self, seconds: float) -> None:
        """Nobody starts a request on this host for `seconds` (after 429/503)."""
        self._next_start = max(self._next_start, time.monotonic() + seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._lock:
                wait = self._next_start - time.monotonic()
                if self.deadline is not None and time.monotonic() + wait >= self.deadline:
                    # Waiting for our turn would outlast the run: give up now, not after.
                    raise OutOfTime(f"run_timeout reached: the host's pace ({wait:.0f}s to wait)")
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = max(time.monotonic(), self._next_start) + self.interval
            yield


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: '120' or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if (seconds := ascii_int(value, max_digits=40)) is not None:  # a huge one: "a long time"
        return float(seconds)
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
    except (TypeError, ValueError, OverflowError, IndexError):  # what email.utils raises
        return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the ones under it (httpx and aiohttp each wrap the socket's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_transport_error(exc: BaseException) -> tuple[str, str]:
    """What a user can act on ('DNS lookup failed', 'connection refused', 'TLS error', ...)
    and the detail under it.

    The cause decides, not the mapped httpx class: the aiohttp transport maps a
    dropped connection to httpx.ConnectTimeout, for one.
    """
    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}

    def caught(*kinds: type[BaseException], named: frozenset[str] = frozenset()) -> bool:
        return any(isinstance(e, kinds) for e in chain) or bool(names & named)

    if caught(ssl.SSLError, ssl.CertificateError, named=_TLS):
        what = "TLS error"
    elif caught(socket.gaierror, named=frozenset({"ClientConnectorDNSError"})):
        what = "DNS lookup failed"
    elif caught(ConnectionRefusedError):
        what = "connection refused"
    elif caught(ConnectionResetError, BrokenPipeError):
        what = "connection reset"
    elif caught(named=_CUT_SHORT) or any("complete message body" in str(e) for e in chain):
        what = "answer cut short (less than its framing announced)"
    elif caught(named=_CLOSED):
        what = "connection closed by the server"
    elif caught(TimeoutError, named=_TIMEOUTS):
        what = "timed out"
    else:
        what = "connection failed"
    cause = chain[-1]
    detail = str(cause).strip()
    return what, f"{type(cause).__name__}{': ' + detail if detail else ''}"


# aiohttp's names, matched by name: aiohttp is imported only with its transport.
_TLS = frozenset({"ClientSSLError", "ClientConnectorSSLError", "ClientConnectorCertificateError"})
_CLOSED = frozenset({"ServerDisconnectedError", "RemoteProtocolError"})
_CUT_SHORT = frozenset({"ContentLengthError", "TransferEncodingError", "ClientPayloadError"})
_TIMEOUTS = frozenset(
    {"ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout", "SocketTimeoutError"}
)


def said_wait(wait: float, said: str | None) -> str:
    """A wait as the server asked it: seconds, or past a year its own digits (a float of
    10**22 reads as 99999999999999991611392, a number the server never sent)."""
    if wait < 366 * 86400 or said is None:
        return f"{wait:.0f}s"
    if ascii_int(said.strip(), max_digits=40) is None:  # an HTTP date: "until" it
        return f"until {said.strip()[:40]}"
    return f"{said.strip()[:40]}s"
