"""What the warehouse commands print for a person: `status`'s tables and verdict, rows as
a table (their text, never markup or a terminal's control characters), values as JSON.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from idf_etl.logs import plural

if TYPE_CHECKING:
    from rich.text import Text


def _print_status(facts: dict[str, Any], problems: int) -> None:
    """Tables first, the verdict last: `status | tail` (what an alert sends) ends with it."""
    open_rows = facts["oldest_open_problems"]
    for title, rows in (
        ("recent runs", facts["recent_runs"]),
        ("open problems, oldest first", open_rows[:problems]),
        ("warehouse", [facts["warehouse"]]),
    ):
        typer.echo(f"\n{title}:")
        _table(list(rows[0]) if rows else ["none"], [tuple(r.values()) for r in rows])
    if len(open_rows) > problems:
        more = len(open_rows) - problems
        typer.echo(f'... and {more:,} more: idf-etl sql "SELECT * FROM open_issues"')
    last, success = facts["last_run"], facts["last_success"]
    typer.echo("")
    if last:
        fetched = (
            "no fetch (a re-parse of stored pages)"
            if last["mode"] == "from-raw"
            else f"{plural(last['fetch_failed'] or 0, 'page')} failed to fetch"
        )
        typer.echo(
            f"last run: {last['run_id']} ({last['mode']}), {last['outcome']}, finished "
            f"{_when(last['finished_at'])}; {fetched}, "
            f"{last['parse_errors'] or 0:,} unreadable"
        )
    if success and facts.get("clock_problem"):
        typer.echo(f"freshness unknown: {facts['clock_problem']}")
    elif success:
        typer.echo(
            f"last successful read of the site: run {success['run_id']}, finished "
            f"{success['finished_at']:%Y-%m-%d %H:%M %Z} ({facts['hours_since_success']:.1f} h ago)"
        )
    else:
        typer.echo("last successful read of the site: none yet")
    counts = facts["open_problems"]
    typer.echo(
        f"open problems: {plural(counts.get('error', 0), 'error')}, "
        f"{plural(counts.get('warning', 0), 'warning')}"
    )
    if facts["warehouse"].get("waiting_for_next_run"):
        # A run stopped by run_timeout while merging: these keep their previous row until then.
        kinds = ", ".join(f"{work} {n:,}" for work, n in facts["waiting"].items())
        typer.echo(
            f"waiting for the next run: {plural(facts['warehouse']['waiting_for_next_run'], 'project')}"
            f" ({kinds}), left by a run that reached run_timeout; the next run takes them first"
        )


def _when(stamp: datetime | None) -> str:
    """A ledger time for a person; a row edited by hand may have none."""
    return "at no recorded time" if stamp is None else f"{stamp:%Y-%m-%d %H:%M %Z}"


def _json_value(value: object) -> str:
    """Timestamps as ISO 8601; anything else JSON lacks (Decimal) as text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _table(names: list[str], rows: list[tuple[object, ...]]) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    table = Table(*(Column(header=_shown(name)) for name in names), show_lines=False)
    for row in rows:
        table.add_row(*(_shown(v) for v in row))
    console = Console()
    # Not a terminal (a pipe, a log): wide enough that nothing is cut.
    width = console.width if console.is_terminal else 200
    Console(width=width, markup=False, emoji=False, highlight=False).print(table)


def _shown(value: object) -> Text:
    """A value as the table shows it: as text, never rich markup (a title "[/]" stopped
    the command, "[bold]x" showed as "x", ":warning:" as an emoji), and a control character
    as its escape (an ESC from a page would drive the terminal: colours, links, its title)."""
    from rich.text import Text

    text = (
        ""
        if value is None
        else f"{value:%Y-%m-%d %H:%M:%S}"
        if isinstance(value, datetime)
        else str(value)
    )
    return Text(_CONTROL.sub(lambda m: repr(m[0])[1:-1], text))


# Control characters but the line break, which a table cell shows as one (C0, DEL, C1).
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
