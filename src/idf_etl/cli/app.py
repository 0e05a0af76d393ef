"""The `idf-etl` command line: thin wiring over the library.

Here: the app, the pipeline's commands (parse, fetch, run) and `main`; the
commands over a published warehouse are in warehouse.py, the shared options
in options.py, errors mapped to exit codes in endings.py.

Each command imports the stage it runs in its body: `idf-etl parse` starts in
0.33 s instead of 0.55 without DuckDB, httpx and the pipeline, and so does the
fork server of `run`'s parse workers, which loads this module when the command
runs as `idf-etl` (workers.py).

Exit codes (options.py): 0 success; 1 finished, but some inputs failed; 2 bad
usage or configuration; 3 another run holds the lock; 4 another run has held it
for longer than twice run_timeout and its tail, probably stuck (alerted, where 3 is not).
(`check` uses Nagios' codes.)
"""

from __future__ import annotations

import json
import logging
import sys
from functools import partial
from typing import Annotated

import typer

from idf_etl.cli.endings import run_command
from idf_etl.cli.inputs import read_file_or_url
from idf_etl.cli.options import (
    EXIT_FAILURES,
    EXIT_OK,
    CrawlOptions,
    crawl_options,
    log_options,
)
from idf_etl.cli.progress import progress_by_stage, stage_progress
from idf_etl.cli.warehouse import commands as warehouse_commands
from idf_etl.errors import ConfigError, IdfEtlError
from idf_etl.fetch.outcomes import no_progress
from idf_etl.parse.inputs import output_indent, parse_input
from idf_etl.pipeline.lock import RunLock
from idf_etl.rawstore import RawStore
from idf_etl.workers import map_isolated, pool_size

log = logging.getLogger("idf_etl.cli")

app = typer.Typer(
    help="Scrape the IOM Development Fund's project pages into a DuckDB warehouse.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from idf_etl.version import package_version

        typer.echo(f"idf-etl {package_version()}")
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
            metavar="N",
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
    job = partial(parse_input, jsonl=jsonl, read=read_file_or_url)
    workers = pool_size(workers, len(inputs))
    for source, returned in map_isolated(job, inputs, workers, fork=True):
        try:
            text = returned.unwrap()
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
    from idf_etl.fetch.site import fetch_site
    from idf_etl.pipeline.outcome import too_many_failures
    from idf_etl.pipeline.provenance import check_same_site

    settings = crawl.settings()
    with (
        RunLock(settings.data_dir, settings.run_timeout),
        RawStore(settings.raw_dir) as store,
        stage_progress("fetch", bars=_bars()) as progress,
    ):
        check_same_site(settings, store)
        summary = fetch_site(settings, store, progress, crawl.revalidate)
    log.info("fetch: %s", summary.line())
    _echo_halts(summary.halts)
    if json_summary:
        typer.echo(json.dumps(summary.as_dict()))
    if summary.halts or too_many_failures(
        summary.failed, summary.checked, settings.failure_threshold
    ):
        raise typer.Exit(EXIT_FAILURES)


def _echo_halts(halts: list[str]) -> None:
    """One line per reason the run did not do its job, last, where a reader looks."""
    for reason in halts:
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
    allows; 2 bad configuration or usage; 3 another run holds the lock; 4 it has held it
    for longer than twice run_timeout and a run's tail (probably stuck: the message says which
    process).

    Example: idf-etl run --start-url http://127.0.0.1:8000/sitemap.xml --data-dir /tmp/idf
    """
    from idf_etl.pipeline.run import run_pipeline

    settings = crawl.settings()
    stages = ("parse",) if from_raw else ("fetch", "parse")
    with progress_by_stage(*stages, bars=_bars()) as progress:
        result = run_pipeline(
            settings,
            from_raw=from_raw,
            revalidate=crawl.revalidate,
            fetch_progress=progress.get("fetch", no_progress),
            parse_progress=progress["parse"],
        )
    log.info("run %s", result.line())
    log.info("run: seconds by stage: %s", result.stages_line())
    _echo_halts(result.halts())
    if json_summary:
        typer.echo(json.dumps(result.as_dict()))
    if result.outcome != "success":
        raise typer.Exit(EXIT_FAILURES)


@app.command()
@log_options
@crawl_options
def backfill(
    crawl: CrawlOptions,
    cdx: Annotated[
        str | None,
        typer.Option(
            "--cdx",
            metavar="URL",
            help="The archive's CDX server (pywb: http://HOST/COLL/cdx).",
            show_default="archive_cdx of the pipeline file; built in: the Internet Archive's",
        ),
    ] = None,
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            metavar="URL",
            help="The archive's replay endpoint, {replay}/{timestamp}id_/{url} (pywb: "
            "http://HOST/COLL).",
            show_default="archive_replay of the pipeline file; built in: the Internet Archive's",
        ),
    ] = None,
    from_year: Annotated[
        int | None,
        typer.Option("--from", metavar="YEAR", min=1990, max=2100, help="First year of captures."),
    ] = None,
    to_year: Annotated[
        int | None,
        typer.Option("--to", metavar="YEAR", min=1990, max=2100, help="Last year of captures."),
    ] = None,
    json_summary: JsonOpt = False,
) -> None:
    """Read a web archive's captures of the project pages into the warehouse's history.

    Each capture new to us is fetched (politely: archive_rate, default one request a
    second), parsed and loaded as an observation dated by its capture; the live site's
    values stay today's. Killed, the next backfill goes on where it stopped.

    Example: idf-etl backfill --from 2015 --to 2020 --data-dir data
    """
    from idf_etl.pipeline.run import run_pipeline

    if from_year is not None and to_year is not None and from_year > to_year:
        raise ConfigError(
            f"--from {from_year} is after --to {to_year}: give the earlier year to --from"
        )
    settings = crawl.settings(
        {"archive_cdx": (cdx, "--cdx"), "archive_replay": (replay, "--replay")}
    )
    with progress_by_stage("archive", "parse", bars=_bars()) as progress:
        result = run_pipeline(
            settings,
            backfill=(from_year, to_year),
            fetch_progress=progress["archive"],
            parse_progress=progress["parse"],
        )
    log.info("backfill %s", result.line())
    log.info("backfill: seconds by stage: %s", result.stages_line())
    _echo_halts(result.halts())
    if json_summary:
        typer.echo(json.dumps(result.as_dict()))
    if result.outcome != "success":
        raise typer.Exit(EXIT_FAILURES)


# status, check, sql, restore, fsck, report and schema (cli/warehouse.py): merged in
# without a name, so they are top-level commands listed after the three above.
app.add_typer(warehouse_commands)


def main() -> None:
    """Console-script entry point: the app, and how it ends (endings.py)."""
    run_command(partial(app, prog_name="idf-etl", standalone_mode=True))
