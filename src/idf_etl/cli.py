"""The `idf-etl` command line: thin wiring over the library, errors mapped to exit codes.

Exit codes: 0 success; 1 finished, but some inputs failed; 2 bad usage or
configuration; 3 another run holds the lock.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from idf_etl.errors import IdfEtlError, ParseError
from idf_etl.parse import parse_page

app = typer.Typer(
    help="Scrape the IOM Development Fund's project pages into a DuckDB warehouse.",
    no_args_is_help=True,
    add_completion=False,
)

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


@app.callback()
def _root() -> None:
    """Scrape the IOM Development Fund's project pages into a DuckDB warehouse."""


@app.command()
def parse(
    inputs: Annotated[list[str], typer.Argument(help="Files (HTML or text) or http(s) URLs.")],
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="One compact JSON object per line.")
    ] = False,
) -> None:
    """Parse pages into project records, one JSON object per input, in input order.

    Example: idf-etl parse --jsonl data/page.html https://www.iom.int/project/some-project
    """
    failed = 0
    for source in inputs:
        try:
            data, url, charset = _read_input(source)
            record = parse_page(data, source=source, url=url, charset=charset)
            out = record.model_dump(mode="json")
        except IdfEtlError as exc:
            failed += 1
            out = {"source": source, "kind": "error", "error": str(exc)}
            typer.echo(f"idf-etl: {source}: {exc}", err=True)
        typer.echo(json.dumps(out, ensure_ascii=False, indent=None if jsonl else 2))
    raise typer.Exit(EXIT_FAILURES if failed else EXIT_OK)


def _read_input(source: str) -> tuple[bytes, str | None, str | None]:
    if source.startswith(("http://", "https://")):
        from idf_etl.fetch import fetch_one

        response = fetch_one(source)
        return response.body, response.url, response.charset
    try:
        return Path(source).read_bytes(), None, None
    except OSError as exc:
        raise ParseError(f"cannot read {source}: {exc.strerror}") from exc


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except IdfEtlError as exc:  # errors outside a command's own handling
        typer.echo(f"idf-etl: {exc}", err=True)
        sys.exit(EXIT_USAGE)
