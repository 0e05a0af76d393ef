"""Turn one page (HTML or a plain-text rendering) into an ordered stream of text blocks.

The extractor never looks at markup: it reads `Block`s. Here the page's main
content is found, navigation and page furniture are dropped, and each block
carries what the markup hinted about it (a field label, a field value, a
heading) so the extractor can use structure where there is some and fall back
on value shapes where there is none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from selectolax.lexbor import LexborHTMLParser, LexborNode

from idf_etl.errors import ParseError
from idf_etl.parse.decoding import binary_kind, decode
from idf_etl.parse.head import HeadLink, head_links
from idf_etl.parse.markup import (
    BOILERPLATE_SELECTORS,
    HIDDEN_CLASS_HINTS,
    LABEL_CLASS_HINTS,
    MAIN_SELECTORS,
    VALUE_CLASS_HINTS,
)
from idf_etl.parse.vocabulary import LABELS, fold

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
    problems: list[str] = field(default_factory=list)  # about the input itself (bad bytes)
    links: tuple[HeadLink, ...] = ()


# -- reading one input (its bytes are decoded in decoding.py) -----------------

_HTML_START = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype|html|head|body|div|main|article|meta)\b",
    re.IGNORECASE | re.DOTALL,
)


def looks_like_html(text: str) -> bool:
    """True when the text is markup rather than a plain rendering."""
    return bool(_HTML_START.match(text[:2048])) or "</div>" in text[:65536]


def read_page(data: bytes | str, declared_charset: str | None = None) -> Page:
    """Decode one input and turn it into a `Page`; raise ParseError when there is nothing to read."""
    if isinstance(data, bytes) and (kind := binary_kind(data)) is not None:
        raise ParseError(f"input looks binary ({kind}), not an HTML or text page")
    text, decoding_problem = decode(data, declared_charset)
    if not text.strip():
        raise ParseError("input is empty")
    page = html_page(text) if looks_like_html(text) else text_page(text)
    if not page.blocks:
        raise ParseError("input has no readable text once navigation is removed")
    if decoding_problem:
        page.problems.append(decoding_problem)
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
# Bounds on the work spent on one page. Real project pages have a few thousand
# elements, nested a few dozen deep. Lexbor's parse time grows with the square of
# the nesting depth (20,000 nested elements: 1.2 s; 100,000: a minute), so a page
# with many tags has its depth measured before it is parsed.
MAX_NODES = 200_000
MAX_DEPTH = 10_000
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
# Void elements, and those whose end tag may be left out, say nothing about depth.
_NOT_NESTING = frozenset(
    "area base br col embed hr img input link meta source track wbr p li dt dd option "  # noqa: SIM905
    "optgroup tr td th thead tbody tfoot colgroup caption rp rt html head body".split()
)
_INLINE_LABEL_TAGS = frozenset({"strong", "b", "label", "span", "em", "dfn"})


def html_page(html: str) -> Page:
    """Blocks of an HTML page's main content, furniture removed."""
    _check_size(html)
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


def _check_size(html: str) -> None:
    """Refuse, before parsing, a page whose parse alone would take too long."""
    tags = html.count("<")
    if tags > MAX_NODES:
        raise ParseError(
            f"page has more than {MAX_NODES} tags; not read (a bound on the work spent on one page)"
        )
    if tags <= MAX_DEPTH:
        return  # cannot nest deeper than it has tags: skip the scan
    depth = 0
    for match in _TAG.finditer(html):
        if match.group(2).lower() in _NOT_NESTING:
            continue
        depth += -1 if match.group(1) else 1
        if depth > MAX_DEPTH:
            raise ParseError(
                f"page nests elements more than {MAX_DEPTH} deep; not read "
                "(a bound on the work spent on one page)"
            )


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
    """Collects text in document order, cutting a block at every block-level boundary.

    Iterative, with its own stack: a page nested thousands of elements deep must
    not exhaust Python's recursion limit, and `max_nodes` bounds the work per page.
    """

    def __init__(self, max_nodes: int = MAX_NODES) -> None:
        self.blocks: list[Block] = []
        self._buffer: list[str] = []
        self._budget = max_nodes

    def flush(self, role: Role) -> None:
        if not self._buffer:
            return
        text = _clean("".join(self._buffer))
        self._buffer.clear()
        if text:
            self.blocks.extend(_split_inline_label(Block(text, role)))

    def walk(self, root: LexborNode, role: Role) -> None:
        # Work items, last one first: ("walk", node, role) reads a node's children,
        # ("flush", None, role) cuts a block, ("text", node, None) buffers a text node,
        # ("label", node, None) adds an inline label.
        stack: list[tuple[str, LexborNode | None, Role]] = [("walk", root, role)]
        while stack:
            action, node, role = stack.pop()
            if action == "flush":
                self.flush(role)
            elif action == "text" and node is not None:
                self._buffer.append(node.text_content or "")
            elif action == "label" and node is not None:
                self.blocks.append(Block(_clean(node.text(deep=True)).rstrip(": "), "label"))
            elif node is not None:
                for child in reversed(list(node.iter(include_text=True))):
                    stack.extend(reversed(self._steps(child, role)))

    def _steps(self, child: LexborNode, role: Role) -> list[tuple[str, LexborNode | None, Role]]:
        """What reading one child means, in document order."""
        self._budget -= 1
        if self._budget < 0:
            raise ParseError(
                f"page has more than {MAX_NODES} elements in its main content; "
                "not read (a bound on the work spent on one page)"
            )
        tag = child.tag
        if tag == "-text":
            return [("text", child, None)]
        if tag == "br":
            return [("flush", None, role)]
        if tag == "tr":
            # A two-cell row is a label and its value, whatever the cells are called.
            cells = [c for c in child.iter() if c.tag in ("td", "th")]
            steps: list[tuple[str, LexborNode | None, Role]] = [("flush", None, role)]
            for position, cell in enumerate(cells):
                cell_role: Role = _role_of(cell)
                if len(cells) == 2:
                    cell_role = "label" if position == 0 else "value"
                steps += [("walk", cell, cell_role), ("flush", None, cell_role)]
            return steps
        if tag in _BLOCK_TAGS:
            child_role = _role_of(child) or role
            return [("flush", None, role), ("walk", child, child_role), ("flush", None, child_role)]
        if tag in _INLINE_LABEL_TAGS and self._is_label(child):
            # <li><strong>Start Date:</strong> 2023</li>: the label is its own block.
            return [("flush", None, role), ("label", child, None)]
        if tag in _INLINE_LABEL_TAGS and (child_role := _role_of(child)) is not None:
            return [("flush", None, role), ("walk", child, child_role), ("flush", None, child_role)]
        if tag not in ("-comment", "img", "input", "button", "select"):
            return [("walk", child, role)]
        return []

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
