"""The `idf-etl` command line: thin wiring over the library, errors mapped to exit codes.

Exit codes: 0 success; 1 finished, but some inputs failed; 2 bad usage or
configuration; 3 another run holds the lock.
"""

from __future__ import annotations

import csv
import json
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import duckdb
import typer

from idf_etl.config import Settings, load_settings, parse_assignments
from idf_etl.errors import ConfigError, IdfEtlError, LockError
from idf_etl.fetch import fetch_site
from idf_etl.jobs import output_indent, parse_input
from idf_etl.lock import RunLock
from idf_etl.outcomes import FetchSummary, no_report
from idf_etl.pipeline import run_pipeline, too_many_failures
from idf_etl.progress import reporter, reporters
from idf_etl.publish import open_published
from idf_etl.rawstore import RawStore
from idf_etl.workers import map_isolated, pool_size

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
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            envvar="IDF_ETL_PARSE_WORKERS",
            help="Processes that read and parse the inputs, a few at a time each "
            "(default: the cores; 1: this process only).",
        ),
    ] = None,
) -> None:
    """Parse pages into project records, one JSON object per input, in input order.

    Example: idf-etl parse --jsonl data/page.html https://www.iom.int/project/some-project
    """
    failed = 0
    job = partial(parse_input, jsonl=jsonl)
    for source, outcome in map_isolated(job, inputs, pool_size(workers, len(inputs))):
        try:
            text = outcome.unwrap()
        except IdfEtlError as exc:
            failed += 1
            out = {"source": source, "kind": "error", "error": str(exc)}
            text = json.dumps(out, ensure_ascii=False, indent=output_indent(jsonl))
            where = "" if source in str(exc) else f"{source}: "
            typer.echo(f"idf-etl: {where}{exc}", err=True)
        typer.echo(text)
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
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Any setting of the pipeline file, NAME=VALUE (lists comma-separated); "
        "repeatable. Example: --set read_timeout=60 --set languages=en,fr",
    ),
]


def _settings(config: Path | None, **overrides: object) -> Settings:
    return load_settings(config, overrides)


def _crawl_settings(
    config: Path | None,
    start_url: list[str] | None,
    data_dir: Path | None,
    rate: float | None,
    concurrency: int | None,
    max_pages: int | None,
    allow_host: list[str] | None,
    url_list: Path | None,
    assignments: list[str] | None,
) -> Settings:
    """Settings for `fetch` and `run`: the file, the environment, --set, then the named flags."""
    flags = {
        "start_urls": start_url,
        "data_dir": data_dir,
        "rate": rate,
        "concurrency": concurrency,
        "max_pages": max_pages,
        "allowed_hosts": allow_host,
        "url_list": url_list,
    }
    overrides = {
        **parse_assignments(assignments or []),
        **{k: v for k, v in flags.items() if v not in (None, [])},
    }
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
    assign: SetOpt = None,
    json_summary: JsonOpt = False,
) -> None:
    """Discover project pages and download new or changed ones into DATA_DIR/raw.

    Example: idf-etl fetch --start-url http://127.0.0.1:8000/sitemap.xml --data-dir /tmp/idf
    """
    settings = _crawl_settings(
        config, start_url, data_dir, rate, concurrency, max_pages, allow_host, url_list, assign
    )
    with (
        RunLock(settings.data_dir),
        RawStore(settings.raw_dir) as store,
        reporter("fetch") as report,
    ):
        summary = fetch_site(settings, store, report, revalidate)
    typer.echo(f"fetch: {summary.line()}", err=True)
    _echo_halts(summary)
    if json_summary:
        typer.echo(json.dumps(summary.as_dict()))
    if summary.halts or too_many_failures(
        summary.failed, summary.checked, settings.failure_threshold
    ):
        raise typer.Exit(EXIT_FAILURES)


def _echo_halts(summary: FetchSummary | None) -> None:
    """One line per reason the crawl did not do its job, last, where a reader looks."""
    for reason in summary.halts if summary else []:
        typer.echo(f"idf-etl: {reason}", err=True)


@app.command()
def run(
    config: ConfigOpt = None,
    start_url: StartOpt = None,
    data_dir: DataDirOpt = None,
    rate: RateOpt = None,
    concurrency: ConcurrencyOpt = None,
    max_pages: MaxPagesOpt = None,
    allow_host: AllowHostOpt = None,
    url_list: UrlListOpt = None,
    revalidate: RevalidateOpt = None,
    assign: SetOpt = None,
    from_raw: Annotated[
        bool, typer.Option("--from-raw", help="No network: re-parse every stored page and reload.")
    ] = False,
    json_summary: JsonOpt = False,
) -> None:
    """Fetch, parse, load and publish DATA_DIR/clean/idf.duckdb (the nightly job).

    Exit status: 0 success; 1 finished, but more pages failed than failure_threshold
    allows; 2 bad configuration or usage; 3 another run holds the lock.

    Example: idf-etl run --start-url http://127.0.0.1:8000/sitemap.xml --data-dir /tmp/idf
    """
    settings = _crawl_settings(
        config, start_url, data_dir, rate, concurrency, max_pages, allow_host, url_list, assign
    )
    stages = ("parse",) if from_raw else ("fetch", "parse")
    with reporters(*stages) as report:
        result = run_pipeline(
            settings,
            from_raw=from_raw,
            revalidate=revalidate,
            fetch_reporter=report.get("fetch", no_report),
            parse_reporter=report["parse"],
        )
    for note in result.notes:
        typer.echo(f"run: note: {note}", err=True)
    if result.fetch is not None:
        typer.echo(f"fetch: {result.fetch.line()}", err=True)
    load = result.load
    typer.echo(
        f"run {result.run_id} ({result.mode}): {result.outcome}; parsed {load.pages_parsed} pages "
        f"({load.parse_errors} unreadable), {load.projects_total} projects ({load.projects_new} new), "
        f"{load.field_changes} field changes, {load.issues} issues; published {result.published} "
        f"in {result.seconds:.1f}s",
        err=True,
    )
    _echo_halts(result.fetch)
    if json_summary:
        typer.echo(json.dumps(result.as_dict()))
    if result.outcome != "success":
        raise typer.Exit(EXIT_FAILURES)


@app.command()
def status(
    data_dir: DataDirOpt = None,
    runs: Annotated[int, typer.Option("--runs", help="How many recent runs to show.")] = 5,
) -> None:
    """Show the last runs, what failed in the latest one, and when the data last changed.

    Example: idf-etl status --data-dir data
    """
    settings = _settings(None, data_dir=data_dir)
    con = open_published(settings.clean_dir)
    try:
        _print_rows(
            con,
            f"""SELECT run_id, started_at::TIMESTAMP(0) AS started, mode, outcome,
                            pages_fetched AS fetched, fetch_failed, parse_errors, field_changes,
                            issues FROM runs ORDER BY run_id DESC LIMIT {int(runs)}""",
            "recent runs",
        )
        _print_rows(
            con,
            """SELECT severity, stage, code, count(*) AS n, any_value(url) AS example
                           FROM issues WHERE run_id = (SELECT max(run_id) FROM runs)
                           GROUP BY ALL ORDER BY severity, n DESC""",
            "issues in the latest run",
        )
        _print_rows(
            con,
            """SELECT count(*) AS projects, count(*) FILTER (status = 'active') AS active,
                                   count(*) FILTER (missing_from_site) AS missing_from_site,
                                   max(last_changed)::TIMESTAMP(0) AS data_last_changed
                            FROM projects""",
            "warehouse",
        )
    finally:
        con.close()


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query.")],
    data_dir: DataDirOpt = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV with a header row.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
) -> None:
    """Query the published warehouse read-only; a table on a terminal, CSV or JSON with a flag.

    Example: idf-etl sql "SELECT idf_region, sum(budget_usd) FROM projects GROUP BY ALL"
    """
    settings = _settings(None, data_dir=data_dir)
    con = open_published(settings.clean_dir)
    try:
        try:
            relation = con.execute(query)
        except duckdb.Error as exc:
            raise ConfigError(f"query failed: {exc}") from exc
        names = [d[0] for d in relation.description or []]
        rows = relation.fetchall()
    finally:
        con.close()
    if csv_out:
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows(rows)
    elif json_out:
        for row in rows:
            typer.echo(
                json.dumps(dict(zip(names, row, strict=True)), default=str, ensure_ascii=False)
            )
    else:
        _table(names, rows)


@app.command()
def report(
    data_dir: DataDirOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the page (default DATA_DIR/clean/report.html)."),
    ] = None,
) -> None:
    """Write the warehouse as one self-contained HTML page of charts and tables (opens offline).

    `idf-etl run` refreshes DATA_DIR/clean/report.html itself after each successful run.

    Example: idf-etl report --out /tmp/idf-report.html
    """
    from idf_etl.report import REPORT_NAME, write_report

    settings = _settings(None, data_dir=data_dir)
    con = open_published(settings.clean_dir)
    try:
        info = write_report(con, out or settings.clean_dir / REPORT_NAME)
    finally:
        con.close()
    typer.echo(
        f"report: wrote {info.path} ({info.size / 1024:,.0f} KB) in {info.seconds:.1f}s", err=True
    )


@app.command()
def schema() -> None:
    """Print the warehouse's data dictionary (tables, columns, types, meanings) as Markdown.

    Example: idf-etl schema > docs/data-dictionary.md
    """
    from idf_etl.warehouse import data_dictionary_markdown

    typer.echo(data_dictionary_markdown(), nl=False)


def _print_rows(con: duckdb.DuckDBPyConnection, query: str, title: str) -> None:
    relation = con.execute(query)
    names = [d[0] for d in relation.description or []]
    typer.echo(f"\n{title}:")
    _table(names, relation.fetchall())


def _table(names: list[str], rows: list[tuple[object, ...]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*names, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console = Console()
    # Not a terminal (a pipe, a log): wide enough that nothing is cut.
    Console(width=console.width if console.is_terminal else 200).print(table)


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
