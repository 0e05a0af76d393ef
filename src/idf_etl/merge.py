"""One project row from its pages (one per language), and where those pages disagree.

Pure functions over project_pages rows. The rule (README): pages still on the
site before gone ones, then English, French, Spanish; each field from the
first page that has it. Values read as written in each language (the type's
label, the title) are expected to differ; canonical ones are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from idf_etl.records import LANGS, MERGED_FIELDS, STORED_FIELDS

Row = dict[str, Any]
_LANG_ORDER: dict[str | None, int] = {lang: i for i, lang in enumerate(LANGS)}
# Merged fields written in the page's own language: languages differ by nature.
AS_WRITTEN = frozenset({"project_type"})


@dataclass(frozen=True)
class Disagreement:
    """Pages of one project that give different values for one field."""

    field: str
    values: dict[str, str]  # url -> value as text, in merge order (the winner first)

    def message(self) -> str:
        shown = "; ".join(f"{url} says {value}" for url, value in self.values.items())
        winner = next(iter(self.values.values()))
        return f"the languages disagree on {self.field}: {shown}. Kept {winner} (English first, then French, then Spanish)"


def ordered_pages(pages: list[Row]) -> list[Row]:
    return sorted(
        pages, key=lambda p: (bool(p["gone"]), _LANG_ORDER.get(p["lang"], len(LANGS)), p["url"])
    )


def merge_project(key: str, pages: list[Row]) -> Row | None:
    """The `projects` row of project `key` from its pages (None when it has none)."""
    if not pages:
        return None
    ordered = ordered_pages(pages)
    titled = next((p for p in ordered if p["title"]), ordered[0])
    row: Row = {
        "project_key": key,
        "project_id": next((p["project_id"] for p in ordered if p["project_id"]), None),
        "title": titled["title"],
        "title_lang": titled["lang"],
        "description": titled["description"]
        or next((p["description"] for p in ordered if p["description"]), None),
    }
    for name in MERGED_FIELDS:
        empty: list[str] | None = [] if STORED_FIELDS[name].sql.endswith("[]") else None
        row[name] = next((p[name] for p in ordered if p[name] not in (None, [])), empty)
    row["languages"] = sorted({p["lang"] for p in pages if p["lang"]}, key=_LANG_ORDER.__getitem__)
    row["urls"] = sorted(p["url"] for p in pages)
    seen = [p["last_seen"] for p in pages if p["last_seen"] is not None]
    row["last_seen"] = max(seen) if seen else None
    row["missing_from_site"] = all(p["gone"] for p in pages)
    return row


def disagreements(pages: list[Row]) -> list[Disagreement]:
    """Merged fields on which the project's pages still on the site give different values."""
    live = ordered_pages([p for p in pages if not p["gone"]])
    out = []
    for name in MERGED_FIELDS:
        if name in AS_WRITTEN:
            continue
        given = {p["url"]: p[name] for p in live if p[name] not in (None, [])}
        if len({_comparable(v) for v in given.values()}) > 1:
            out.append(Disagreement(name, {u: str(text(v)) for u, v in given.items()}))
    return out


def _comparable(value: Any) -> Any:
    # The same countries in another order are the same states.
    return frozenset(value) if isinstance(value, list | tuple) else norm(value)


def norm(value: Any) -> Any:
    """Compare values as the warehouse stores them (Decimal scale, lists, enums as text)."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def text(value: Any) -> str | None:
    """A value as project_changes and issues write it."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)
