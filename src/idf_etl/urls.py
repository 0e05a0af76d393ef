"""URL normalisation, the host allow-list and a URL path's language: one page, one URL, on
hosts we were told to crawl."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from idf_etl.records import LANGS

_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl|ref|share)$", re.IGNORECASE
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str, base: str | None = None) -> str | None:
    """Canonical form of an http(s) URL, or None for anything else (mailto:, javascript:, ...).

    Lower-case scheme and host, no default port, no fragment, no tracking
    parameters, remaining parameters sorted, no trailing slash (except the root).
    """
    url = url.strip()
    if base is not None:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        )
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def netloc(url: str) -> str:
    """host[:port] of a URL, lower-case, default port dropped ('' when it has none)."""
    normal = normalise_url(url)
    return urlsplit(normal).netloc if normal else ""


def host_allowed(url: str, allowed: Iterable[str]) -> bool:
    """True for http(s) URLs on an allowed host. An entry with a port matches that port only."""
    normal = normalise_url(url)
    if normal is None:
        return False
    parts = urlsplit(normal)
    for entry in allowed:
        entry = entry.lower()
        if entry == parts.netloc or (":" not in entry and entry == parts.hostname):
            return True
    return False


def with_page(url: str, page: int) -> str:
    """The same listing URL with ?page=N set."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", str(page)))
    return normalise_url(urlunsplit((*parts[:3], urlencode(query), ""))) or url


def page_number(url: str) -> int | None:
    """The ?page=N of a listing URL, if any."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "page" and value.isdigit():
            return int(value)
    return None


def url_language(url: str) -> str:
    """The language a URL's path names: its first segment (`/fr/...`, `/es/...`), else the
    site's default language, which has no prefix (`/project/x` is English)."""
    first = urlsplit(url).path.strip("/").split("/", 1)[0]
    return first if first in LANGS else LANGS[0]
