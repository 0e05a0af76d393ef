"""Which project each project page belongs to: one key per project, every page in one.

Pages are grouped by their project id when they show one, otherwise by the
Drupal node they belong to (translations of one node share its id, see
parse/head.py), otherwise each page is a project of its own. The key:

- `TK.0035`: the project id, when any page of the project shows it;
- `node:www.iom.int/187686`: host and node id, when no page of the node shows
  a project id (node ids are per site, so the host is part of the key);
- `page:https://www.iom.int/project/slug`: the page's URL, when the page
  shows neither (it stays a project of its own; it joins its translations
  once it names its node).

An id-less page joins the project of the id its node's other pages show (the
English page without an id and its French translation with one are one
project). A node whose pages show two different ids keeps one project per id;
its id-less pages go with the id of the best-ranked page (English first) and
the conflict is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from idf_etl.records import LANGS

_LANG_ORDER: dict[str | None, int] = {lang: i for i, lang in enumerate(LANGS)}


@dataclass(frozen=True)
class PageKeys:
    """What grouping needs to know of one project page."""

    url: str
    project_id: str | None
    node_id: int | None
    lang: str | None = None


@dataclass(frozen=True)
class IdConflict:
    """Pages of one node that show different project ids."""

    node_key: str
    ids: dict[str, list[str]]  # project id -> its pages' URLs

    def message(self) -> str:
        shown = "; ".join(f"{pid} on {', '.join(urls)}" for pid, urls in self.ids.items())
        return (
            f"pages of one Drupal node ({self.node_key}) show different project ids: {shown}; "
            "each id stays a project of its own"
        )


def node_key(url: str, node_id: int | None) -> str | None:
    """`node:host/N` for a page of node N on the page's site, or None."""
    if node_id is None:
        return None
    return f"node:{urlsplit(url).netloc.lower()}/{node_id}"


def page_key(url: str) -> str:
    return f"page:{url}"


def project_keys(pages: Iterable[PageKeys]) -> tuple[dict[str, str], list[IdConflict]]:
    """url -> project key for every page, and the nodes whose pages disagree on the id."""
    pages = list(pages)
    by_node: dict[str, list[PageKeys]] = {}
    for page in pages:
        if (key := node_key(page.url, page.node_id)) is not None:
            by_node.setdefault(key, []).append(page)
    node_ids: dict[str, str] = {}
    conflicts: list[IdConflict] = []
    for key, members in by_node.items():
        with_id = sorted(
            (p for p in members if p.project_id),
            key=lambda p: (_LANG_ORDER.get(p.lang, len(LANGS)), p.url),
        )
        if not with_id:
            continue
        node_ids[key] = str(with_id[0].project_id)
        ids: dict[str, list[str]] = {}
        for p in with_id:
            ids.setdefault(str(p.project_id), []).append(p.url)
        if len(ids) > 1:
            conflicts.append(IdConflict(key, ids))
    keys: dict[str, str] = {}
    for page in pages:
        nkey = node_key(page.url, page.node_id)
        if page.project_id:
            keys[page.url] = page.project_id
        elif nkey is not None:
            keys[page.url] = node_ids.get(nkey, nkey)
        else:
            keys[page.url] = page_key(page.url)
    return keys, conflicts
