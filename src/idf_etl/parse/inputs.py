"""What a parse worker runs: one stored page, or one input of `idf-etl parse`, to its result.

Each job is a module-level function of plain data (it crosses to a worker
process) and this module imports no more than the parser and the raw store (the
fetcher only for a URL given to `idf-etl parse`), so the worker pool (workers.py)
starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path

from idf_etl.errors import ParseError
from idf_etl.parse.decoding import charset_of
from idf_etl.parse.page import parse_page
from idf_etl.rawstore import StoredPage, read_body
from idf_etl.records import OtherPage, ProjectRecord


def parse_stored_page(objects: Path, page: StoredPage) -> ProjectRecord | OtherPage:
    """The record of a stored page, from its stored bytes alone (`run`, `run --from-raw`)."""
    if page.sha256 is None:
        raise ParseError(f"{page.url}: no stored body")
    body = read_body(objects, page.sha256)
    return parse_page(
        body,
        source=page.url,
        url=page.final_url or page.url,
        charset=charset_of(page.content_type or ""),
    )


def parse_input(source: str, jsonl: bool) -> str:
    """One input of `idf-etl parse` (a file or an http(s) URL) as its JSON text."""
    data, url, charset = read_input(source)
    record = parse_page(data, source=source, url=url, charset=charset)
    return json.dumps(
        record.model_dump(mode="json"), ensure_ascii=False, indent=output_indent(jsonl)
    )


def output_indent(jsonl: bool) -> int | None:
    return None if jsonl else 2


def read_input(source: str) -> tuple[bytes, str | None, str | None]:
    """The bytes of a file or URL, the URL they came from, and the charset the server named."""
    if source.startswith(("http://", "https://")):
        from idf_etl.fetch.site import fetch_url

        response = fetch_url(source)
        return response.body, response.url, charset_of(response.headers.get("content-type", ""))
    try:
        return Path(source).read_bytes(), None, None
    except OSError as exc:
        raise ParseError(f"cannot read {source}: {exc.strerror}") from exc
