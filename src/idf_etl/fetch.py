"""Fetching pages over HTTP: one place where httpx's errors become our FetchError."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from idf_etl import __version__
from idf_etl.errors import FetchError

USER_AGENT = (
    f"idf-etl/{__version__} (+https://github.com/idf-etl/idf-etl; open-data research crawler)"
)
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
ACCEPTED_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


@dataclass(frozen=True)
class FetchedPage:
    """A response body and what we keep about it."""

    url: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def charset(self) -> str | None:
        content_type = self.headers.get("content-type", "")
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"'")
        return None


def fetch_one(
    url: str,
    *,
    user_agent: str = USER_AGENT,
    timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> FetchedPage:
    """GET one page, streamed with a size cap; raise FetchError with a reason a person can act on."""
    try:
        with (
            httpx.Client(
                headers={"User-Agent": user_agent},
                timeout=timeout,
                follow_redirects=True,
                max_redirects=5,
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise FetchError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
            check_content_type(url, response.headers.get("content-type", ""))
            body = read_capped(url, response, max_bytes)
            return FetchedPage(
                str(response.url), response.status_code, body, dict(response.headers)
            )
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"{url}: too many redirects ({exc})") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"{url}: timed out after {timeout:g}s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc


def check_content_type(url: str, content_type: str) -> None:
    """Refuse bodies that are not pages (PDFs, images) before downloading them."""
    media = content_type.split(";")[0].strip().lower()
    if media and media not in ACCEPTED_TYPES:
        raise FetchError(f"{url}: content type {media!r} is not a web page")


def read_capped(url: str, response: httpx.Response, max_bytes: int) -> bytes:
    """Read a streamed body, refusing it as soon as it passes `max_bytes`."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            f"{url}: body of {int(declared):,} bytes exceeds the {max_bytes:,}-byte limit"
        )
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url}: body exceeds the {max_bytes:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
