"""Turn one page (HTML or a plain-text rendering) into an ordered stream of text blocks.

The extractor never looks at markup: it reads `Block`s. Here the page's main
content is found, navigation and page furniture are dropped, and each block
carries what the markup hinted about it (a field label, a field value, a
heading) so the extractor can use structure where there is some and fall back
on value shapes where there is none.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

from selectolax.lexbor import LexborHTMLParser, LexborNode

from idf_etl.errors import ParseError
from idf_etl.nodes import HeadLink, head_links
from idf_etl.vocabulary import (
    BOILERPLATE_SELECTORS,
    HIDDEN_CLASS_HINTS,
    LABEL_CLASS_HINTS,
    LABELS,
    MAIN_SELECTORS,
    VALUE_CLASS_HINTS,
    fold,
)

Role = Literal["label", "value", "heading", "separator"] | None


@dataclass(frozen=True, slots=True)
class Block:
    """One run of text the page shows as a unit, with the structural hint it came with."""

    text: str
    role: Role = None
    indent: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """A page reduced to what extraction needs."""

    blocks: list[Block]
    is_html: bool
    html_lang: str | None = None
    title_hint: str | None = None
    links: tuple[HeadLink, ...] = ()


# -- decoding ---------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes | str, declared: str | None = None) -> str:
    """Bytes to text: BOM, then the declared charset, then <meta charset>, then UTF-8, then cp1252."""
    if isinstance(data, str):
        return data
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    candidates = [declared] if declared else []
    if match := _META_CHARSET.search(data[:4096]):
        candidates.append(match.group(1).decode("ascii", "replace"))
    for encoding in [*candidates, "utf-8"]:
        try:
            return data.decode(_canonical_encoding(encoding))
        except (LookupError, UnicodeDecodeError):
            continue
    # cp1252 maps almost every byte, so it reads legacy pages; the rest are replaced.
    return data.decode("cp1252", errors="replace")


def _canonical_encoding(name: str) -> str:
    # Browsers read "iso-8859-1" as windows-1252; so do we.
    name = codecs.lookup(name).name
    return "cp1252" if name in {"latin-1", "iso8859-1", "ascii"} else name


_HTML_START = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype|html|head|body|div|main|article|meta)\b",
    re.IGNORECASE | re.DOTALL,
)


def looks_like_html(text: str) -> bool:
    """True when the text is markup rather than a plain rendering."""
    return bool(_HTML_START.match(text[:2048])) or "</div>" in text[:65536]


def read_page(data: bytes | str, declared_charset: str | None = None) -> Page:
    """Decode one input and turn it into a `Page`; raise ParseError when there is nothing to read."""
    if (
        isinstance(data, bytes)
        and b"\x00" in data[:1024]
        and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    ):
        raise ParseError("input looks binary (NUL bytes), not an HTML or text page")
    text = decode(data, declared_charset)
    if not text.strip():
        raise ParseError("input is empty")
    page = html_page(text) if looks_like_html(text) else text_page(text)
    if not page.blocks:
        raise ParseError("input has no readable text once navigation is removed")
    return page


# -- plain-text renderings ---------------------------------------------------

_BULLET = re.compile(r"^([-•*·▪◦‣]|\d+[.)])\s+")


def text_page(text: str) -> Page:
    """Blocks of a plain-text rendering: one per line, bullets off, indentation kept."""
    blocks: list[Block] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _clean(raw)
        if not line:
            continue
        indent = len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())
        if line in {"-", "•", "*", "·"}:
            blocks.append(Block("", "separator", indent))
            continue
        stripped = _BULLET.sub("", line)
        # A bullet in front of a field label is a structural hint, like a <dt>.
        role: Role = "label" if stripped != line and fold(stripped.rstrip(":")) in LABELS else None
        blocks.extend(_split_inline_label(Block(stripped, role, indent)))
    return Page(blocks=blocks, is_html=False)


# -- HTML --------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_HEADINGS = frozenset({"h1", "h2", "h3"})
_INLINE_LABEL_TAGS = frozenset({"strong", "b", "label", "span", "em", "dfn"})


def html_page(html: str) -> Page:
    """Blocks of an HTML page's main content, furniture removed."""
    tree = LexborHTMLParser(html)
    html_node = tree.css_first("html")
    lang = (html_node.attributes.get("lang") or None) if html_node is not None else None
    links = head_links(tree)
    main = _main_content(tree)
    if main is None:
        return Page(blocks=[], is_html=True, html_lang=lang, links=links)
    # Furniture is removed inside the main content only: the site's mega-menu
    # usually lies outside it, and matching selectors over it costs more than parsing.
    for node in main.css(BOILERPLATE_SELECTORS):
        if not _is_hidden_label(node):
            node.decompose()
    walker = _Walker()
    walker.walk(main, None)
    walker.flush(None)
    title_hint = None
    if (h1 := main.css_first("h1")) is not None:
        title_hint = _clean(h1.text(deep=True, separator=" "))
    if not title_hint:
        title_hint = _meta_title(tree)
    return Page(
        blocks=walker.blocks,
        is_html=True,
        html_lang=lang,
        title_hint=title_hint or None,
        links=links,
    )


def _is_hidden_label(node: LexborNode) -> bool:
    """A field label hidden from sight only (Drupal's `visually-hidden` label display):
    screen readers read it, and so do we. Hidden menus and links still go."""
    classes = (node.attributes.get("class") or "").lower()
    if not any(hint in classes for hint in HIDDEN_CLASS_HINTS):
        return False
    text = node.text(deep=True)
    return len(text) < 120 and fold(_clean(text).rstrip(": ")) in LABELS


def _main_content(tree: LexborHTMLParser) -> LexborNode | None:
    for selector in MAIN_SELECTORS:
        node = tree.css_first(selector)
        if node is not None and (node.text(deep=True).strip() or selector == "body"):
            return node
    return None


def _meta_title(tree: LexborHTMLParser) -> str | None:
    meta = tree.css_first('meta[property="og:title"]')
    if meta is not None and meta.attributes.get("content"):
        return _clean(meta.attributes["content"] or "")
    title = tree.css_first("title")
    if title is None:
        return None
    # "Project name | IOM Development Fund" -> "Project name"
    return re.split(r"\s+[|–—-]\s+", _clean(title.text()), maxsplit=1)[0] or None


def _role_of(node: LexborNode) -> Role:
    tag = node.tag
    if tag in ("dt", "th"):
        return "label"
    if tag == "dd":
        return "value"
    if tag in _HEADINGS:
        return "heading"
    classes = (node.attributes.get("class") or "").lower().split()
    if any(c.endswith(LABEL_CLASS_HINTS) for c in classes):
        return "label"
    if any(c.endswith(VALUE_CLASS_HINTS) for c in classes):
        return "value"
    return None


class _Walker:
    """Collects text in document order, cutting a block at every block-level boundary."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._buffer: list[str] = []

    def flush(self, role: Role) -> None:
        if not self._buffer:
            return
        text = _clean("".join(self._buffer))
        self._buffer.clear()
        if text:
            self.blocks.extend(_split_inline_label(Block(text, role)))

    def walk(self, node: LexborNode, role: Role) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self._buffer.append(child.text_content or "")
            elif tag == "br":
                self.flush(role)
            elif tag == "tr":
                self.flush(role)
                self._walk_row(child)
            elif tag in _BLOCK_TAGS:
                self.flush(role)
                child_role = _role_of(child) or role
                self.walk(child, child_role)
                self.flush(child_role)
            elif tag in _INLINE_LABEL_TAGS and self._is_label(child):
                # <li><strong>Start Date:</strong> 2023</li>: the label is its own block.
                self.flush(role)
                self.blocks.append(Block(_clean(child.text(deep=True)).rstrip(": "), "label"))
            elif tag in _INLINE_LABEL_TAGS and (child_role := _role_of(child)) is not None:
                self.flush(role)
                self.walk(child, child_role)
                self.flush(child_role)
            elif tag not in ("-comment", "img", "input", "button", "select"):
                self.walk(child, role)

    def _walk_row(self, row: LexborNode) -> None:
        cells = [c for c in row.iter() if c.tag in ("td", "th")]
        # A two-cell row is a label and its value, whatever the cells are called.
        for position, cell in enumerate(cells):
            role: Role = _role_of(cell)
            if len(cells) == 2:
                role = "label" if position == 0 else "value"
            self.walk(cell, role)
            self.flush(role)

    @staticmethod
    def _is_label(node: LexborNode) -> bool:
        text = node.text(deep=True)
        return len(text) < 120 and fold(text.strip().rstrip(":")) in LABELS


# -- shared helpers ------------------------------------------------------------


def _clean(text: str) -> str:
    """Whitespace runs (non-breaking and thin spaces included) to one space; zero-width marks out."""
    if "\u200b" in text or "\ufeff" in text:
        text = text.replace("\u200b", "").replace("\ufeff", "")
    return " ".join(text.split())


def _split_inline_label(block: Block) -> list[Block]:
    """`Label: value` on one line becomes a label block and a value block."""
    if ":" not in block.text or block.role == "value":
        return [block]
    head, _, tail = block.text.partition(":")
    if len(head) < 90 and fold(head) in LABELS:
        tail = tail.strip()
        label = Block(head.strip(), "label", block.indent)
        return [label, Block(tail, "value", block.indent + 1)] if tail else [label]
    return [block]
