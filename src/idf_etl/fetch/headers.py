"""What we send back of what a server said: validators, and never its cookies.

    kept, dropped = sendable_headers({"If-None-Match": stored.etag})

A server's ETag or Last-Modified is stored as it came (decoded as Latin-1 by
httpx when it is not ASCII) and sent back on the next run as If-None-Match /
If-Modified-Since. A value that cannot go on the wire (not ASCII, a control
character, too long) failed that request before it was sent, every night, for
ever. A value that cannot be sent is dropped instead: the page is asked for
unconditionally, which costs one full answer, never the page.

Cookies are the same kind of value (stored from Set-Cookie, sent back on every
later request to the host): the crawl keeps none, as search engines' crawlers
do; a project page needs no session.
"""

from __future__ import annotations

import re
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

MAX_SENT_VALUE = 1024  # characters; validators are short, a longer one is not one we trust
_SENDABLE = re.compile(r"[\x21-\x7e](?:[\x20\x21-\x7e\t]*[\x21-\x7e])?")  # RFC 9110 5.5, ASCII


def sendable(value: str) -> bool:
    """Visible ASCII with spaces or tabs inside, at most MAX_SENT_VALUE characters."""
    return len(value) <= MAX_SENT_VALUE and _SENDABLE.fullmatch(value) is not None


def sendable_headers(headers: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The headers that can be sent, and the names of those that cannot (dropped)."""
    kept = {name: value for name, value in headers.items() if sendable(value)}
    return kept, [name for name in headers if name not in kept]


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: no Set-Cookie value is ever sent back."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def cookieless_aiohttp(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """aiohttp's transport, its session keeping no cookies either (aiohttp has a jar of its own)."""
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    class Transport(AiohttpTransport):
        def get_client(self) -> Any:
            made = super().get_client()
            if not isinstance(made, aiohttp.ClientSession):
                return made
            connector = made.connector
            made.detach()  # keeps the connector (its limits, TLS context) open for the new session
            if connector is not None:
                from idf_etl.fetch.framing import skip_spoiled_connections

                skip_spoiled_connections(connector)
            return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return Transport(limits=limits)
