"""The `idf-etl` command line: thin wiring over the library, errors mapped to exit codes.

Exit codes: 0 success; 1 finished, but some inputs failed; 2 bad usage or
configuration; 3 another run holds the lock.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from idf_etl.config import Settings, load_settings
from idf_etl.errors import ConfigError, IdfEtlError, LockError, ParseError
from idf_etl.fetch import Crawler
from idf_etl.lock import RunLock
from idf_etl.parse import parse_page
from idf_etl.progress import reporter
from idf_etl.rawstore import RawStore

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
            where = "" if source in str(exc) else f"{source}: "
            typer.echo(f"idf-etl: {where}{exc}", err=True)
        typer.echo(json.dumps(out, ensure_ascii=False, indent=None if jsonl else 2))
    raise typer.Exit(EXIT_FAILURES if failed else EXIT_OK)


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Pipeline file (default pipelines/iom_idf.toml).")
]
StartOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--start-url",
        help="Start point (sitemap, listing or page); repeatable. "
        "Replaces the configured ones; their hosts become the allowed hosts.",
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Raw pages under DIR/raw, warehouse under DIR/clean."),
]
RateOpt = Annotated[
    float | None, typer.Option("--rate", help="Requests per second per host (0: no limit).")
]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", help="Requests in flight per host.")
]
MaxPagesOpt = Annotated[int | None, typer.Option("--max-pages", help="Request at most N pages.")]
AllowHostOpt = Annotated[
    list[str] | None, typer.Option("--allow-host", help="Host (or host:port) to crawl; repeatable.")
]
UrlListOpt = Annotated[
    Path | None, typer.Option("--url-list", help="File of page URLs, one a line.")
]
RevalidateOpt = Annotated[
    bool | None,
    typer.Option(
        "--revalidate/--no-revalidate",
        help="Ask for every known page again (conditionally), whatever the sitemaps say. "
        "Default: when the last such pass is older than revalidate_days.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON summary line on stdout.")]


def _settings(config: Path | None, **overrides: object) -> Settings:
    return load_settings(config, overrides)


@app.command()
def fetch(
    config: ConfigOpt = None,
    start_url: StartOpt = None,
    data_dir: DataDirOpt = None,
    rate: RateOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_pages: MaxPagesOpt = None,
    allow_host: AllowHostOpt = None,
    url_list: UrlListOpt = None,
    revalidate: RevalidateOpt = None,
    json_summary: JsonOpt = False,
) -> None:
    """Discover project pages and download new or changed ones into DATA_DIR/raw.

    Example: idf-etl fetch --start-url http://127.0.0.1:8000/sitemap.xml --data-dir /tmp/idf
    """
    settings = _settings(
        config,
        start_urls=start_url,
        data_dir=data_dir,
        rate=rate,
        concurrency=concurrency,
        max_pages=max_pages,
        allowed_hosts=allow_host,
        url_list=url_list,
    )
    with (
        RunLock(settings.data_dir),
        RawStore(settings.raw_dir) as store,
        reporter("fetch") as report,
    ):
        summary = asyncio.run(Crawler(settings, store, report).run(revalidate))
    typer.echo(f"fetch: {summary.line()}", err=True)
    if json_summary:
        typer.echo(json.dumps(summary.as_dict()))
    checked = (
        summary.fetched + summary.unchanged + summary.not_modified + summary.gone + summary.failed
    )
    if summary.failed and summary.failed > settings.failure_threshold * max(1, checked):
        raise typer.Exit(EXIT_FAILURES)


def _read_input(source: str) -> tuple[bytes, str | None, str | None]:
    if source.startswith(("http://", "https://")):
        from idf_etl.fetch import charset_of, fetch_one

        response = fetch_one(source)
        return response.body, response.url, charset_of(response.headers.get("content-type", ""))
    try:
        return Path(source).read_bytes(), None, None
    except OSError as exc:
        raise ParseError(f"cannot read {source}: {exc.strerror}") from exc


def main() -> None:
    """Console-script entry point."""
    try:
        app(standalone_mode=True)
    except LockError as exc:
        typer.echo(f"idf-etl: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except ConfigError as exc:
        typer.echo(f"idf-etl: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except IdfEtlError as exc:  # a stage failed as a whole
        typer.echo(f"idf-etl: {exc}", err=True)
        sys.exit(EXIT_FAILURES)
