"""What one parsed page writes, as rows: its project_pages row, whether a reading differs
from the last, and what the warehouse may refuse of them (the load's error boundary)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from idf_etl.load.grouping import PageKeys, project_keys
from idf_etl.load.parsed import ParsedPage
from idf_etl.records import STORED_FIELDS, ProjectRecord
from idf_etl.warehouse.rows import Row


def project_page_row(
    page: ParsedPage, rec: ProjectRecord, old: Row | None, now: datetime, parser_version: str
) -> Row:
    """A project page's project_pages row: its record's fields, its first and last
    sightings (kept from `old`, its row as stored), and the project key it keeps or takes."""
    row: Row = {
        "url": page.url,
        **{name: _copy(getattr(rec, name)) for name in STORED_FIELDS},
        "content_sha256": page.sha256,
        "fetched_at": page.fetched_at,
        "parser_version": parser_version,
        "first_seen": old["first_seen"] if old else now,
        "last_seen": _later(
            old["last_seen"] if old else None,
            page.fetched_at if page.gone else page.checked_at or page.fetched_at,
        ),
        "gone": page.gone,
    }
    # The key the page had while what decides it is unchanged (it may have joined its
    # node's project), else the page's own; `finish` regroups every page either way.
    same = old is not None and all(old[k] == row[k] for k in ("project_id", "node_id"))
    row["project_key"] = old["project_key"] if same and old else _own_key(row)
    return row


# What the warehouse raises for a value it cannot hold (out of a column's range, text that
# is no UTF-8): a page's values, not the warehouse or the machine (I/O, memory go on up).
REFUSED = (
    duckdb.DataError,
    duckdb.InvalidInputException,
    duckdb.ConstraintException,
    ValueError,
    TypeError,
    OverflowError,
)


def refused_reason(exc: BaseException) -> str:
    """An exception in one line of at most 300 characters, for an issue's message."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 300 else text[:297] + "..."


def _own_key(row: Row) -> str:
    keys, _ = project_keys([PageKeys(row["url"], row["project_id"], row["node_id"], row["lang"])])
    return keys[row["url"]]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


# What makes a reading an observation: a page's fields or its being gone.
OBSERVED = (*STORED_FIELDS, "gone")


def differs(new: Row, old: Row | None, names: Iterable[str] | None = None) -> bool:
    if old is None:
        return True
    return any(_norm(old.get(k)) != _norm(new.get(k)) for k in names or new)


def _norm(value: Any) -> Any:
    """Compare values as the warehouse stores them (Decimal scale, lists, enums as text)."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, list | tuple):
        return tuple(value)
    return value
