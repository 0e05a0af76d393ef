"""What a parse worker runs: one stored page, or one input of `idf-etl parse`, to its result.

Each job is a module-level function of plain data (it crosses to a worker
process) and this module imports no more than the parser and the raw store, so
the worker pool (workers.py) starts fast. Reading an input is the caller's: a
file by default, and `idf-etl parse` passes a reader that also fetches http(s)
URLs (cli/inputs.py), so the parse stage never imports the fetcher.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from idf_etl.config import Settings
from idf_etl.errors import ParseError
from idf_etl.parse.decoding import charset_of
from idf_etl.parse.page import parse_page
from idf_etl.rawformat import StoredPage, read_body
from idf_etl.records import OtherPage, ProjectRecord
from idf_etl.urls import PROJECT_PAGE_PATTERNS

Reader = Callable[[str], tuple[bytes, str | None, str | None]]
"""read(source) -> (bytes, the URL they came from, the charset the server named)."""


def parse_stored_page(
    objects: Path, page: StoredPage, patterns: tuple[str, ...] = PROJECT_PAGE_PATTERNS
) -> ProjectRecord | OtherPage:
    """The record of a stored page, from its stored bytes alone (`run`, `run --from-raw`);
    `patterns`: the run's page_patterns, the paths where a page is a project's."""
    if page.sha256 is None:
        raise ParseError(f"{page.url}: no stored body")
    body = read_body(objects, page.sha256)
    return parse_page(
        body,
        source=page.url,
        url=page.final_url or page.url,
        charset=charset_of(page.content_type or ""),
        patterns=patterns,
    )


def parse_input(source: str, jsonl: bool, read: Reader | None = None) -> str:
    """One input of `idf-etl parse` as its JSON text; `read` gets its bytes (a file by default)."""
    data, url, charset = (read or read_file)(source)
    record = parse_page(data, source=source, url=url, charset=charset)
    return json.dumps(
        record.model_dump(mode="json"), ensure_ascii=False, indent=output_indent(jsonl)
    )


def output_indent(jsonl: bool) -> int | None:
    return None if jsonl else 2


# The cap on a page's size is the fetch's (`max_bytes`): a file, a pipe or /dev/zero is
# read no further than a fetched page, never until memory runs out.
MAX_BYTES: int = Settings.model_fields["max_bytes"].default


def read_file(source: str, limit: int = MAX_BYTES) -> tuple[bytes, str | None, str | None]:
    """The bytes of a file (no URL, no charset named), at most `limit` of them."""
    try:
        with Path(source).open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise ParseError(f"cannot read {source}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise ParseError(
            f"cannot read {source}: larger than max_bytes ({limit:,} bytes, the cap on a "
            "fetched page); not parsed"
        )
    return data, None, None
