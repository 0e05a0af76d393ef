"""The `idf-etl` command line: thin wiring over the library, errors mapped to exit codes.

Exit codes: 0 success; 1 finished, but some inputs failed; 2 bad usage or
configuration; 3 another run holds the lock. (`check` uses Nagios' codes.)
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer

from idf_etl import __version__
from idf_etl.cli_options import (
    ConfigOpt,
    CrawlOptions,
    DataDirOpt,
    crawl_options,
    log_options,
    settings_for,
)
from idf_etl.errors import ConfigError, IdfEtlError, LockError
from idf_etl.fetch import fetch_site
from idf_etl.jobs import output_indent, parse_input
from idf_etl.lock import RunLock
from idf_etl.logs import plural
from idf_etl.monitor import CHECK_UNKNOWN, status_report
from idf_etl.monitor import check as check_report
from idf_etl.outcomes import FetchSummary, no_report
from idf_etl.pipeline import run_pipeline, too_many_failures
from idf_etl.progress import reporter, reporters
from idf_etl.publish import Publisher, open_published, open_sandboxed
from idf_etl.rawstore import RawStore
from idf_etl.workers import map_isolated, pool_size

log = logging.getLogger("idf_etl.cli")

app = typer.Typer(
    help="Scrape the IOM Development Fund's project pages into a DuckDB warehouse.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def _version(value: bool) -> None:
    if value:
        typer.echo(f"idf-etl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Scrape the IOM Development Fund's project pages into a DuckDB warehouse."""


def _bars() -> bool:
    """Progress bars only for a person at a terminal who asked for the usual amount of output."""
    root = logging.getLogger("idf_etl")
    plain = any(type(h) is logging.StreamHandler for h in root.handlers)
    return sys.stderr.isatty() and not plain and root.level <= logging.INFO


@app.command()
@log_options
def parse(
    inputs: Annotated[
        list[str],
        typer.Argument(metavar="FILE_OR_URL", help="Files (HTML or text) or http(s) URLs."),
    ],
    jsonl: Annotated[
        bool, typer.Option("--jsonl", metavar="", help="One compact JSON object per line.")
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
        except Exception as exc:  # any failure stays with its input; the others still print
            failed += 1
            message = str(exc) if isinstance(exc, IdfEtlError) else f"{type(exc).__name__}: {exc}"
            out = {"source": source, "kind": "error", "error": message}
            text = json.dumps(out, ensure_ascii=False, indent=output_indent(jsonl))
            where = "" if source in message else f"{source}: "
            log.error("idf-etl: %s%s", where, message)
        typer.echo(text)
    raise typer.Exit(EXIT_FAILURES if failed else EXIT_OK)


JsonOpt = Annotated[
    bool, typer.Option("--json", metavar="", help="Print one JSON summary line on stdout.")
]


@app.command()
@log_options
@crawl_options
def fetch(crawl: CrawlOptions, json_summary: JsonOpt = False) -> None:
    """Discover project pages and download new or changed ones into DATA_DIR/raw.

    Example: idf-etl fetch --start-url http://127.0.0.1:8000/sitemap.xml --data-dir /tmp/idf
    """
    settings = crawl.settings()
    with (
        RunLock(settings.data_dir),
        RawStore(settings.raw_dir) as store,
        reporter("fetch", bars=_bars()) as report,
    ):
        summary = fetch_site(settings, store, report, crawl.revalidate)
    log.info("fetch: %s", summary.line())
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
        log.error("idf-etl: %s", reason)


@app.command()
@log_options
@crawl_options
def run(
    crawl: CrawlOptions,
    from_raw: Annotated[
        bool,
        typer.Option(
            "--from-raw", metavar="", help="No network: re-parse every stored page and reload."
        ),
    ] = False,
    json_summary: JsonOpt = False,
) -> None:
    """Fetch, parse, load and publish DATA_DIR/clean/idf.duckdb (the nightly job).

    Exit status: 0 success; 1 finished, but more pages failed than failure_threshold
    allows; 2 bad configuration or usage; 3 another run holds the lock.

    Example: idf-etl run --start-url http://127.0.0.1:8000/sitemap.xml --data-dir /tmp/idf
    """
    settings = crawl.settings()
    stages = ("parse",) if from_raw else ("fetch", "parse")
    with reporters(*stages, bars=_bars()) as report:
        result = run_pipeline(
            settings,
            from_raw=from_raw,
            revalidate=crawl.revalidate,
            fetch_reporter=report.get("fetch", no_report),
            parse_reporter=report["parse"],
        )
    log.info("run %s", result.line())
    _echo_halts(result.fetch)
    if json_summary:
        typer.echo(json.dumps(result.as_dict()))
    if result.outcome != "success":
        raise typer.Exit(EXIT_FAILURES)


@app.command()
@log_options
def status(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    runs: Annotated[
        int, typer.Option("--runs", metavar="N", help="How many recent runs to show.")
    ] = 5,
    problems: Annotated[
        int, typer.Option("--problems", metavar="N", help="How many open problems to list.")
    ] = 20,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", metavar="", help="One JSON object (for monitoring) instead of tables."
        ),
    ] = False,
) -> None:
    """Show the last runs, the problems still open (oldest first), and how fresh the data is.

    Example: idf-etl status --data-dir data
    """
    con = open_published(settings_for(config, data_dir).clean_dir)
    try:
        report = status_report(con, runs)
    finally:
        con.close()
    if as_json:
        typer.echo(json.dumps(report, default=_json_value, ensure_ascii=False))
        return
    _print_status(report, problems)


@app.command()
@log_options
def check(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    warn_hours: Annotated[
        float,
        typer.Option(
            "--warn-hours", metavar="HOURS", help="WARNING when the last successful run is older."
        ),
    ] = 30,
    critical_hours: Annotated[
        float,
        typer.Option(
            "--critical-hours",
            metavar="HOURS",
            help="CRITICAL when the last successful run is older.",
        ),
    ] = 54,
) -> None:
    """Nagios-style freshness check: one line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    Example: idf-etl check --data-dir /srv/idf-etl/data --warn-hours 30 --critical-hours 54
    """
    try:
        con = open_published(settings_for(config, data_dir).clean_dir)
    except IdfEtlError as exc:
        typer.echo(f"IDF-ETL UNKNOWN - {exc}")
        raise typer.Exit(CHECK_UNKNOWN) from exc
    try:
        verdict = check_report(status_report(con), warn_hours, critical_hours)
    finally:
        con.close()
    typer.echo(verdict.line)
    raise typer.Exit(verdict.code)


@app.command()
@log_options
def sql(
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="A read-only SQL query; - reads it from stdin.")
    ],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    csv_out: Annotated[
        bool, typer.Option("--csv", metavar="", help="CSV with a header row.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", metavar="", help="One JSON object per row.")
    ] = False,
) -> None:
    """Query the published warehouse read-only; a table on a terminal, CSV or JSON with a flag.

    A window on the warehouse only: queries cannot write, read other files or load extensions.

    Example: idf-etl sql "SELECT idf_region, sum(budget_usd) FROM projects GROUP BY ALL"
    """
    if csv_out and json_out:
        raise ConfigError("--csv and --json: choose one output format")
    if query == "-":
        query = sys.stdin.read()
    con = open_sandboxed(settings_for(config, data_dir).clean_dir)
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
                json.dumps(
                    dict(zip(names, row, strict=True)), default=_json_value, ensure_ascii=False
                )
            )
    else:
        _table(names, rows)


@app.command()
@log_options
def restore(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    release: Annotated[
        str | None, typer.Option("--release", help="The kept release to publish (a name).")
    ] = None,
    empty: Annotated[
        bool,
        typer.Option(
            "--empty",
            help="Publish nothing: the next run (--from-raw) rebuilds from the raw store.",
        ),
    ] = False,
    list_only: Annotated[bool, typer.Option("--list", help="Only list the kept releases.")] = False,
) -> None:
    """Put back an earlier published warehouse (with its exports) when the current one is damaged.

    Without --release: the newest kept release older than the current one that opens.

    Example: idf-etl restore --data-dir data && idf-etl run --data-dir data
    """
    settings = settings_for(config, data_dir)
    with RunLock(settings.data_dir):
        publisher = Publisher(settings.clean_dir, keep=settings.keep_published)
        current = publisher.current_release()
        if list_only:
            for kept in publisher.kept():
                mark = "*" if kept == current else " "
                typer.echo(f"{mark} {kept.name}")
            return
        if empty:
            publisher.unpublish()
            typer.echo(
                "restore: nothing is published now; `idf-etl run --from-raw` rebuilds "
                "pages and projects from the raw store",
                err=True,
            )
            return
        chosen = publisher.restore(release)
    was = current.name if current else "nothing"
    typer.echo(f"restore: published {chosen.name} (was {was})", err=True)


@app.command()
@log_options
def fsck(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Check the raw store, its manifest and the published warehouse; repair what can be.

    Damaged bodies are set aside and downloaded again by the next fetch; a damaged
    manifest is rebuilt from the published warehouse. Exit 0: nothing wrong; 1: damage
    was found (what was repaired and what was not is printed).

    Example: idf-etl fsck --data-dir data
    """
    from idf_etl.fsck import check_data_dir

    settings = settings_for(config, data_dir)
    with RunLock(settings.data_dir):
        report = check_data_dir(settings.data_dir)
    for line in report.lines():
        typer.echo(f"fsck: {line}", err=True)
    if report.damaged:
        raise typer.Exit(EXIT_FAILURES)


@app.command()
@log_options
def report(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Where to write the page.",
            show_default="DATA_DIR/clean/report.html",
        ),
    ] = None,
) -> None:
    """Write the warehouse as one self-contained HTML page of charts and tables (opens offline).

    `idf-etl run` refreshes DATA_DIR/clean/report.html itself after each successful run.

    Example: idf-etl report --out /tmp/idf-report.html
    """
    from idf_etl.report import REPORT_NAME, write_report

    settings = settings_for(config, data_dir)
    con = open_published(settings.clean_dir)
    try:
        info = write_report(con, out or settings.clean_dir / REPORT_NAME)
    finally:
        con.close()
    log.info(
        "report: wrote %s (%s KB) in %.1fs", info.path, f"{info.size / 1024:,.0f}", info.seconds
    )


@app.command()
def schema() -> None:
    """Print the warehouse's data dictionary (tables, columns, types, meanings) as Markdown.

    Example: idf-etl schema > docs/data-dictionary.md
    """
    from idf_etl.warehouse import data_dictionary_markdown

    typer.echo(data_dictionary_markdown(), nl=False)


def _print_status(report: dict[str, Any], problems: int) -> None:
    """Tables first, the verdict last: `status | tail` (what an alert sends) ends with it."""
    open_rows = report["oldest_open_problems"]
    for title, rows in (
        ("recent runs", report["recent_runs"]),
        ("open problems, oldest first", open_rows[:problems]),
        ("warehouse", [report["warehouse"]]),
    ):
        typer.echo(f"\n{title}:")
        _table(list(rows[0]) if rows else ["none"], [tuple(r.values()) for r in rows])
    if len(open_rows) > problems:
        more = len(open_rows) - problems
        typer.echo(f'... and {more:,} more: idf-etl sql "SELECT * FROM open_issues"')
    last, success = report["last_run"], report["last_success"]
    typer.echo("")
    if last:
        typer.echo(
            f"last run: {last['run_id']} ({last['mode']}), {last['outcome']}, finished "
            f"{last['finished_at']:%Y-%m-%d %H:%M %Z}; {plural(last['fetch_failed'] or 0, 'page')} "
            f"failed to fetch, {last['parse_errors'] or 0:,} unreadable"
        )
    if success:
        typer.echo(
            f"last successful run: {success['run_id']}, finished "
            f"{success['finished_at']:%Y-%m-%d %H:%M %Z} ({report['hours_since_success']:.1f} h ago)"
        )
    else:
        typer.echo("last successful run: none yet")
    counts = report["open_problems"]
    typer.echo(
        f"open problems: {plural(counts.get('error', 0), 'error')}, "
        f"{plural(counts.get('warning', 0), 'warning')}"
    )


def _json_value(value: object) -> str:
    """Timestamps as ISO 8601; anything else JSON lacks (Decimal) as text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _table(names: list[str], rows: list[tuple[object, ...]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*names, show_lines=False)
    for row in rows:
        table.add_row(
            *(
                "" if v is None else f"{v:%Y-%m-%d %H:%M:%S}" if isinstance(v, datetime) else str(v)
                for v in row
            )
        )
    console = Console()
    # Not a terminal (a pipe, a log): wide enough that nothing is cut.
    Console(width=console.width if console.is_terminal else 200).print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="idf-etl", standalone_mode=True)
    except LockError as exc:
        log.error("idf-etl: %s", exc)
        sys.exit(EXIT_LOCKED)
    except ConfigError as exc:
        log.error("idf-etl: %s", exc)
        sys.exit(EXIT_USAGE)
    except IdfEtlError as exc:  # a stage failed as a whole
        log.error("idf-etl: %s", exc)
        sys.exit(EXIT_FAILURES)
