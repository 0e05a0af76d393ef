"""A page's `<head>` links, read once for the parser and the crawler: Drupal node ids,
translation links (the key every language of one project shares) and the canonical URL.

The site is Drupal: one project is one node with a translation per language.
Drupal core names the node in `<link rel="shortlink" href="/node/N">`, the
content translation module adds `<link rel="alternate" hreflang="fr" href=...>`
per translation, and translations live at `/fr/node/N`-style URLs. A page may
carry none of these; then it has no node id.

    links = head_links(tree)                      # while parsing (blocks.html_page)
    node_id(links, url)        -> 187686 | None
    translations(links, url)   -> {"fr": "https://.../fr/node/187686", ...}
    canonical(links, url)      -> "https://.../project/x" | None
    read_head(html, url)       -> HeadFacts       # for the crawler: page_head(body) only
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from idf_etl.records import LANGS
from idf_etl.urls import netloc, normalise_url

# "/node/187686", "/fr/node/187686", "/es/node/187686/" (never "/node/187686/edit").
_NODE_PATH = re.compile(
    r"^(?:/[a-z]{2}(?:-[a-z]{2,4})?)?/node/(\d{1,10})/?$", re.IGNORECASE | re.ASCII
)


@dataclass(frozen=True, slots=True)
class HeadLink:
    """One `<link>` of a page's head: rel, hreflang (lower case) and href as written."""

    rel: str
    href: str
    hreflang: str | None = None


@dataclass(frozen=True)
class HeadFacts:
    """What a page's head says: its node id, its translations' URLs by language, its
    canonical URL."""

    node_id: int | None = None
    translations: dict[str, str] = field(default_factory=dict)
    canonical: str | None = None


def head_links(tree: LexborHTMLParser) -> tuple[HeadLink, ...]:
    """The shortlink, canonical and alternate links of a parsed page."""
    out = []
    for node in tree.css("link[href]"):
        rel = (node.attributes.get("rel") or "").lower().strip()
        href = (node.attributes.get("href") or "").strip()
        if href and rel in ("shortlink", "canonical", "alternate"):
            lang = (node.attributes.get("hreflang") or "").lower().strip() or None
            out.append(HeadLink(rel, href, lang))
    return tuple(out)


def node_in_url(url: str) -> int | None:
    """N of a `/node/N` or `/fr/node/N` URL (path only), else None."""
    match = _NODE_PATH.match(urlsplit(url).path)
    return int(match.group(1)) if match else None


def node_id(links: tuple[HeadLink, ...], url: str | None) -> int | None:
    """The page's node: its shortlink, else its canonical link or own URL, else the node
    its same-site translations name (translations of one node share N)."""
    same_site = [link for link in links if _same_site(link.href, url)]
    for rels in (("shortlink",), ("canonical",)):
        for link in same_site:
            if link.rel in rels and (n := node_in_url(link.href)) is not None:
                return n
    if url and (n := node_in_url(url)) is not None:
        return n
    found = {node_in_url(link.href) for link in same_site if link.rel == "alternate"}
    found.discard(None)
    # Two different nodes among the alternates: the page does not say which is its own.
    return found.pop() if len(found) == 1 else None


def translations(links: tuple[HeadLink, ...], url: str | None) -> dict[str, str]:
    """hreflang -> absolute URL of each translation the page names (its own language too)."""
    out: dict[str, str] = {}
    for link in links:
        lang = (link.hreflang or "")[:2]
        if link.rel != "alternate" or lang not in LANGS or lang in out:
            continue
        absolute = normalise_url(link.href, url) if url else normalise_url(link.href)
        if absolute is not None:
            out[lang] = absolute
    return out


def canonical(links: tuple[HeadLink, ...], url: str | None) -> str | None:
    """The page's `<link rel="canonical">` as an absolute, normalised URL, if it has one."""
    for link in links:
        if link.rel == "canonical":
            return normalise_url(link.href, url) if url else normalise_url(link.href)
    return None


def page_head(html: bytes) -> bytes:
    """The bytes before </head> (at most 200 KB): all the crawler reads of a page."""
    # A parse of the head only: it runs on every fetched page, and a parse of the
    # whole (60 KB) page costs more than the rest of storing it.
    end = html.find(b"</head>", 0, 200_000)
    return html[:end] if end >= 0 else html[:200_000]


def read_head(html: str | bytes, url: str | None) -> HeadFacts:
    """Node id, translations and canonical URL straight from (the head of) a page's HTML."""
    links = head_links(LexborHTMLParser(html))
    return HeadFacts(node_id(links, url), translations(links, url), canonical(links, url))


def _same_site(href: str, url: str | None) -> bool:
    """A relative link, or an absolute one on the page's own host (node ids are per site)."""
    if not urlsplit(href).netloc:
        return True
    if url is None:
        return True
    return netloc(urljoin(url, href)) == netloc(url)
