"""The commands over a data directory's published warehouse and store: status, check,
sql, restore, fsck, report, schema.

They are registered on `cli.app` (app.py adds this Typer without a name, so they
are top-level commands listed after parse, fetch and run). Each opens what it
needs, calls the library once and prints the result. Each imports the part of
the library it calls (DuckDB with it) in its body, as app.py's commands do: any
command, `idf-etl parse` the most often, starts without loading the others'.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from idf_etl.cli.options import (
    EXIT_FAILURES,
    ConfigOpt,
    DataDirOpt,
    Verdict,
    settings_for,
    warehouse_log_options,
)
from idf_etl.cli.printing import _json_value, _print_status, _table
from idf_etl.errors import ConfigError, IdfEtlError, LoadError
from idf_etl.interrupts import Interrupted, interruptible
from idf_etl.pipeline.lock import RunLock

# The logger the commands had in cli.py (now cli/app.py): --log-json lines name it, and stay the same.
log = logging.getLogger("idf_etl.cli")

commands = typer.Typer()


@commands.command()
@warehouse_log_options
def status(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    runs: Annotated[
        int, typer.Option("--runs", metavar="N", min=1, help="How many recent runs to show.")
    ] = 5,
    problems: Annotated[
        int,
        typer.Option("--problems", metavar="N", min=0, help="How many open problems to list."),
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
    from idf_etl.pipeline.lock import held
    from idf_etl.warehouse.readers import open_published
    from idf_etl.warehouse.status import status_facts

    settings = settings_for(config, data_dir)
    running = held(settings.data_dir, settings.run_timeout)
    try:
        con = open_published(settings.clean_dir)
    except IdfEtlError:
        if running:  # a first run still going (or stuck) is what there is to say
            log.error("idf-etl: %s", running.status_line())
        raise
    try:
        facts = status_facts(con, runs)
    finally:
        con.close()
    facts["run_in_progress"] = running.as_dict() if running else None
    if as_json:
        typer.echo(json.dumps(facts, default=_json_value, ensure_ascii=False))
        return
    _print_status(facts, problems)
    if running:
        typer.echo(running.status_line())


@commands.command()
@warehouse_log_options
def check(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    warn_hours: Annotated[
        float,
        typer.Option(
            "--warn-hours",
            metavar="HOURS",
            min=0,
            help="WARNING when the last successful read of the site is older.",
        ),
    ] = 30,
    critical_hours: Annotated[
        float,
        typer.Option(
            "--critical-hours",
            metavar="HOURS",
            min=0,
            help="CRITICAL when the last successful read of the site is older.",
        ),
    ] = 54,
) -> None:
    """Nagios-style check: one line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    OK while the site was read successfully within --warn-hours; WARNING past it, when the
    last run failed or a run holds the lock past twice its run_timeout and its tail; CRITICAL past
    --critical-hours or when analysts cannot open the published warehouse; UNKNOWN when it
    cannot tell (bad arguments, the warehouse held by another process).

    Example: idf-etl check --data-dir /srv/idf-etl/data --warn-hours 30 --critical-hours 54
    """
    from idf_etl.pipeline.check import check_verdict
    from idf_etl.warehouse.status import CHECK_UNKNOWN

    if warn_hours > critical_hours:
        typer.echo(
            f"IDF-ETL UNKNOWN - --warn-hours ({warn_hours:g}) is over --critical-hours "
            f"({critical_hours:g}): WARNING must come first"
        )
        raise typer.Exit(CHECK_UNKNOWN)
    try:
        settings = settings_for(config, data_dir)
    except ConfigError as exc:  # bad arguments are UNKNOWN to a monitor, never CRITICAL (2)
        typer.echo(f"IDF-ETL UNKNOWN - invalid arguments: {exc}")
        raise typer.Exit(CHECK_UNKNOWN) from exc
    verdict = check_verdict(settings, warn_hours, critical_hours)
    typer.echo(verdict.line)
    raise Verdict(verdict.code)


@commands.command()
@warehouse_log_options
def sql(
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="A read-only SQL query; - reads it from stdin.")
    ],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    csv_out: Annotated[
        bool,
        typer.Option(
            "--csv",
            metavar="",
            help="CSV with a header row, as the exports write it: safe in a spreadsheet.",
        ),
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", metavar="", help="One JSON object per row.")
    ] = False,
) -> None:
    """Query the published warehouse read-only; a table on a terminal, CSV or JSON with a flag.

    A window on the warehouse only: queries cannot write, read other files or load extensions.

    Example: idf-etl sql "SELECT idf_region, sum(budget_usd) FROM projects GROUP BY ALL"
    """
    import duckdb

    from idf_etl.pipeline.memory import ceiling
    from idf_etl.warehouse.readers import open_sandboxed

    if csv_out and json_out:
        raise ConfigError("--csv and --json: choose one output format")
    if query == "-":
        query = sys.stdin.read()
    if not query.strip():
        raise ConfigError('the query is empty: give one, e.g. idf-etl sql "SELECT * FROM runs"')
    settings = settings_for(config, data_dir)
    clean_dir = settings.clean_dir
    # A query's memory bounded as a run's may grow to: DuckDB's own default is 80 % of
    # the machine, on a machine the nightly run shares (adversary: 2.4 GB for one count).
    memory = ceiling(settings.max_warehouse_memory)
    if csv_out:
        _sql_csv(clean_dir, query, memory)
        return
    con = open_sandboxed(clean_dir, memory=memory)
    try:
        with interruptible(con):  # Ctrl-C ends a long query at once
            try:
                relation = con.execute(query)
                names = [d[0] for d in relation.description or []]
                rows = relation.fetchall()
            except duckdb.InterruptException:
                raise Interrupted from None
            except duckdb.Error as exc:
                raise ConfigError(f"query failed: {exc}") from exc
    finally:
        con.close()
    if json_out:
        for row in rows:
            typer.echo(
                json.dumps(
                    dict(zip(names, row, strict=True)), default=_json_value, ensure_ascii=False
                )
            )
    else:
        _table(names, rows)


def _sql_csv(clean_dir: Path, query: str, memory: int) -> None:
    """The answer written by the exports' own CSV writer (one dialect), through a file the
    sandbox may write and nothing else, then to stdout."""
    import shutil
    import tempfile

    import duckdb

    from idf_etl.warehouse.export import write_csv
    from idf_etl.warehouse.readers import open_sandboxed

    with tempfile.TemporaryDirectory(prefix="idf-etl-sql-") as tmp:
        out = Path(tmp) / "answer.csv"
        con = open_sandboxed(clean_dir, writable=out, memory=memory)
        try:
            try:
                relation = con.sql(query)
                if relation is not None:  # a statement that answers nothing prints nothing
                    write_csv(relation, out)
            except duckdb.Error as exc:
                raise ConfigError(f"query failed: {exc}") from exc
        finally:
            con.close()
        if out.exists():
            sys.stdout.flush()
            with out.open("rb") as answer:
                shutil.copyfileobj(answer, sys.stdout.buffer)
            sys.stdout.buffer.flush()


@commands.command()
@warehouse_log_options
def restore(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    release: Annotated[
        str | None,
        typer.Option("--release", metavar="NAME", help="The kept release to publish (see --list)."),
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
    from idf_etl.warehouse.publish import Publisher

    chosen_modes = [
        flag
        for flag, on in (
            ("--list", list_only),
            ("--empty", empty),
            ("--release", release is not None),
        )
        if on
    ]
    if len(chosen_modes) > 1:
        raise ConfigError(f"{' and '.join(chosen_modes)}: choose one")
    settings = settings_for(config, data_dir)
    _something_there(settings.data_dir, settings.clean_dir)
    if list_only:  # only reads: no lock taken, nothing written
        publisher = Publisher(settings.clean_dir, keep=settings.keep_published)
        current, kept = publisher.current_release(), publisher.kept()
        if not kept:
            raise LoadError(f"no kept releases under {publisher.releases.absolute()}")
        for release_dir in kept:
            typer.echo(f"{'*' if release_dir == current else ' '} {release_dir.name}")
        return
    with RunLock(settings.data_dir, settings.run_timeout):
        publisher = Publisher(settings.clean_dir, keep=settings.keep_published)
        current = publisher.current_release()
        if empty:
            publisher.unpublish()
            typer.echo(
                "restore: nothing is published now; `idf-etl run --from-raw` rebuilds "
                "pages and projects from the raw store",
                err=True,
            )
            return
        # A log DuckDB cannot replay makes a whole file look damaged: aside first.
        for note in publisher.set_aside_unreplayable_logs():
            typer.echo(f"restore: note: {note}", err=True)
        chosen = publisher.to_restore(release)
        was = current.name if current else "nothing"
        # Said before it is done: a restore of a healthy warehouse is a choice to undo runs.
        healthy = " (which opens: it is not damaged)" if publisher.current_opens() else ""
        typer.echo(f"restore: replacing {was}{healthy} with {chosen.name}", err=True)
        publisher.restore(chosen.name)
    typer.echo(
        f"restore: published {chosen.name} (was {was}); `idf-etl restore --release {was}` goes back"
        if current
        else f"restore: published {chosen.name}",
        err=True,
    )


@commands.command()
@warehouse_log_options
def fsck(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Check the raw store, its manifest and the published warehouse; repair what can be.

    Damaged bodies are set aside and downloaded again by the next fetch; a damaged
    manifest is rebuilt from the published warehouse. Exit 0: nothing wrong; 1: damage
    was found (what was repaired and what was not is printed).

    Example: idf-etl fsck --data-dir data
    """
    from idf_etl.pipeline.fsck import check_data_dir

    settings = settings_for(config, data_dir)
    _something_there(settings.data_dir, settings.raw_dir, settings.clean_dir)
    with RunLock(settings.data_dir, settings.run_timeout):
        findings = check_data_dir(settings.data_dir)
    for line in findings.lines():
        typer.echo(f"fsck: {line}", err=True)
    if findings.damaged:
        raise typer.Exit(EXIT_FAILURES)


@commands.command()
@warehouse_log_options
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
    from idf_etl.report.build import REPORT_NAME, write_report
    from idf_etl.warehouse.readers import open_published

    settings = settings_for(config, data_dir)
    con = open_published(settings.clean_dir)
    try:
        info = write_report(con, out or settings.clean_dir / REPORT_NAME)
    finally:
        con.close()
    log.info(
        "report: wrote %s (%s KB) in %.1fs", info.path, f"{info.size / 1024:,.0f}", info.seconds
    )


@commands.command()
def schema() -> None:
    """Print the warehouse's data dictionary (tables, columns, types, meanings) as Markdown.

    Example: idf-etl schema > docs/data-dictionary.md
    """
    from idf_etl.warehouse.schema import data_dictionary_markdown

    typer.echo(data_dictionary_markdown(), nl=False)


def _something_there(data_dir: Path, *parts: Path) -> None:
    """LoadError (exit 1) before anything is created when none of `parts` (the raw store, the
    clean directory) exists: a command pointed at the wrong place says so and writes nothing."""
    if any(part.is_dir() for part in parts):
        return
    looked = ", ".join(str(part.absolute()) for part in parts)
    raise LoadError(
        f"nothing here to work on: no {looked}. Run `idf-etl run` first, or point at the data "
        "directory with --data-dir (`make demo` writes demo/data), IDF_ETL_DATA_DIR or the "
        "pipeline file's data_dir (--config, IDF_ETL_CONFIG)"
    )
