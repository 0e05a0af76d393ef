"""URL normalisation, the host allow-list and a URL path's language: one page, one URL, on
hosts we were told to crawl."""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from idf_etl.numerals import ascii_int
from idf_etl.records import LANGS

_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl|ref|share)$", re.IGNORECASE
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
URL_LIMIT = 2048
"""Characters a URL may have, normalised: the sitemap protocol's cap (a <loc> is under 2,048),
about twenty times the site's own. A longer one is no page of the site's and is not read:
a URL is a key of several warehouse rows (pages, project_pages, projects.urls, issues), and
a sitemap of 60,000-character URLs made each of them that wide."""
# Paths of project pages on the site (the `page_patterns` setting's default): a
# project's own page in each language, and Drupal's node URLs of its translations.
PROJECT_PAGE_PATTERNS: tuple[str, ...] = (
    r"^/(?:(?:fr|es)/)?projects?/[^/]+$",
    r"^/(?:fr|es)/node/\d+$",
)


def normalise_url(url: str, base: str | None = None, *, limited: bool = True) -> str | None:
    """Canonical form of an http(s) URL, or None for anything else (mailto:, javascript:,
    a host that cannot be written in ASCII, longer than URL_LIMIT).

    Lower-case scheme and host (an international host in its ASCII form, "xn--..."),
    no default port, no fragment, no tracking parameters, remaining parameters sorted,
    no trailing slash (except the root), and one spelling of each character (RFC 3986,
    6.2.2, as browsers and w3lib do): what need not be escaped is not ("%7E" -> "~"),
    what must be is, as UTF-8 ("/proyecto/migración" -> "/proyecto/migraci%C3%B3n"), in
    upper-case hex ("%c3%b3" -> "%C3%B3"); "%2F" and the like stay escaped (they mean
    something else unescaped).
    """
    url = url.strip()
    try:
        # urljoin raises on some odd URLs too ('http://[::1' in a Location header).
        if base is not None:
            url = urljoin(base, url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = _ascii_host(parts.hostname.rstrip("."))
    if host is None:
        return None
    if ":" in host:  # an IPv6 address keeps its brackets ('http://::1:8000/' is no URL)
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _without_dots(_escapes(re.sub(r"/{2,}", "/", parts.path or "/"), _PATH_SAFE))
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    pairs = []
    for pair in filter(None, parts.query.split("&")):
        key, _, value = pair.partition("=")
        if not _TRACKING.match(unquote(key)):
            pairs.append((_query_part(key), _query_part(value)))
    query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    normal = urlunsplit((scheme, netloc, path, query, ""))
    return normal if len(normal) <= URL_LIMIT or not limited else None


def url_refusal(url: str, base: str | None = None) -> str:
    """Why `normalise_url` gives None for `url`, in words for a message."""
    normal = normalise_url(url, base, limited=False)
    if normal is None:
        return "not an http(s) URL"
    return f"{len(normal):,} characters, longer than the {URL_LIMIT:,} a URL may have"


# Characters a URL may hold unescaped (RFC 3986, 2.2 and 2.3); a query's parameters are
# split at "&" and "=", so those stay escaped inside a key or value.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _UNRESERVED | frozenset("!$'()*+,;:@/?")
_HEX = frozenset(string.hexdigits)


def _escapes(text: str, safe: frozenset[str]) -> str:
    """One spelling of each byte: unreserved bytes unescaped, other escapes in upper-case
    hex, every byte outside `safe` escaped (UTF-8), a "%" that starts no escape escaped."""
    if text.isascii() and "%" not in text and all(c in safe for c in text):
        return text  # the common case, already canonical
    raw = text.encode("utf-8", "surrogatepass")
    out: list[str] = []
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == 0x25 and raw[i + 1 : i + 3].isascii() and _is_hex(raw[i + 1 : i + 3]):
            value = int(raw[i + 1 : i + 3], 16)
            out.append(chr(value) if chr(value) in _UNRESERVED else f"%{value:02X}")
            i += 3
            continue
        char = chr(byte)
        out.append(char if byte < 0x80 and char in safe else f"%{byte:02X}")
        i += 1
    return "".join(out)


def _without_dots(path: str) -> str:
    """The path with "." and ".." segments resolved (RFC 3986, 5.2.4), as a browser does;
    after unescaping, so "%2e%2e" is ".." too."""
    segments = path.split("/")
    if not any(s in (".", "..") for s in segments):
        return path
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." is the folder "/a/"
    return "/" + "/".join(out)


def _query_part(text: str) -> str:
    """A query key or value in one spelling; a space is "+" (form encoding, as the stored
    URLs and w3lib write it)."""
    return _escapes(text, _QUERY_SAFE).replace("%20", "+")


def _ascii_host(host: str, strict: bool = False) -> str | None:
    """The host in lower case and ASCII (IDNA: "bücher.example" -> "xn--bcher-kva.example");
    None when it cannot be written so (no request could reach it). `strict`: an ASCII name
    goes through IDNA too, which refuses an empty or over-long label ('a..example')."""
    host = host.lower()
    if host.isascii() and not strict:
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


# A DNS name's label (RFC 1123): letters, digits and hyphens, neither first nor last a hyphen.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_DIGITS = re.compile(r"[0-9]+")  # not str.isdigit, which takes '²' and '٣' (test_numerals)


def read_host(text: str) -> str:
    """A host as a setting names one ('Bücher.example:8080', '[::1]:8000', '127.0.0.1') in
    the form `netloc` gives for its URLs ('xn--bcher-kva.example:8080'): a DNS name of
    labels of letters, digits and hyphens (other letters through IDNA), an IPv4 address or
    a bracketed IPv6 one, then a port 1-65535 if any. A ValueError says what is wrong,
    for the setting's message: the one reader of every setting that names a host or URL
    (allowed_hosts took '.', '-' and port 99999999, start_urls an empty host: adversary)."""
    if not text or any(not c.isprintable() or c.isspace() for c in text):
        raise ValueError("it is empty, or has a space or control character")
    if "/" in text or "@" in text:
        raise ValueError("a host is written without a scheme, user or path")
    name, port = _name_and_port(text)
    if port is not None:
        number = ascii_int(port, max_digits=5)
        if number is None or not 1 <= number <= 65535:
            raise ValueError(f"its port {port!r} is not a number from 1 to 65535")
    try:
        host = f"[{ipaddress.IPv6Address(name[1:-1]).compressed}]" if name[:1] == "[" else ""
    except ValueError:
        raise ValueError(f"{name} is no IPv6 address") from None
    if not host:
        host = _ascii_host(name.removesuffix("."), strict=True) or ""
        labels = host.split(".")
        if not host or len(host) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
            raise ValueError(
                "a host is a name of dot-separated labels of letters, digits and hyphens "
                "(not first or last), or an IP address"
            )
        if all(_DIGITS.fullmatch(x) for x in labels) and _not_ipv4(host):
            raise ValueError(f"{name} is no IPv4 address")
    return host if port is None else f"{host}:{number}"


def _name_and_port(text: str) -> tuple[str, str | None]:
    """'a.example:80' -> ('a.example', '80'); '[::1]:80' -> ('[::1]', '80')."""
    if text.startswith("["):
        name, bracket, rest = text.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("an IPv6 address is written [address] or [address]:port")
        return name + bracket, rest[1:] if rest else None
    if text.count(":") > 1:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError("it has more than one ':' (host:port has one)") from None
        raise ValueError("an IPv6 address goes in brackets, e.g. [::1]:8000")
    name, colon, port = text.partition(":")
    return name, port if colon else None


def _not_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


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
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    host = parts.netloc.removesuffix(f":{parts.port}") if parts.port else parts.netloc
    # An entry names the host alone (any port) or with its port, the default one too
    # ('a.example:443' for https://a.example/, whose normal form drops the 443).
    return any(entry.lower() in (host, f"{host}:{port}") for entry in allowed)


def with_page(url: str, page: int) -> str:
    """The same listing URL with ?page=N set."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", str(page)))
    return normalise_url(urlunsplit((*parts[:3], urlencode(query), ""))) or url


def page_number(url: str) -> int | None:
    """The ?page=N of a listing URL, if any."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "page":
            return ascii_int(value, max_digits=9)
    return None


def at_project_path(url: str | None, patterns: Iterable[str] = PROJECT_PAGE_PATTERNS) -> bool:
    """True when the URL's path matches one of the page patterns (a project page's place)."""
    if not url:
        return False
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return any(re.search(pattern, path) for pattern in patterns)


def url_language(url: str) -> str:
    """The language a URL's path names: its first segment (`/fr/...`, `/es/...`), else the
    site's default language, which has no prefix (`/project/x` is English)."""
    first = urlsplit(url).path.strip("/").split("/", 1)[0]
    return first if first in LANGS else LANGS[0]


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(chr(b) in _HEX for b in pair)
