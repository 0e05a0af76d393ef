"""What a person (or a log file) sees while a run works: a bar on a terminal, lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from idf_etl.fetch import Reporter

# Outcomes too common to log a line each (fetch: nothing new; parse: what is expected).
_QUIET_OUTCOMES = {"skipped", "unchanged", "not-modified", "duplicate", "project", "other"}


@contextmanager
def reporter(
    stage: str, stream: TextIO = sys.stderr, *, force_plain: bool = False, every: int = 100
) -> Iterator[Reporter]:
    """A Reporter for one stage: a Rich progress bar when `stream` is a terminal."""
    if stream.isatty() and not force_plain:
        with _bar(stage, stream) as report:
            yield report
        return
    done = 0

    def plain(event: str, url: str, detail: str) -> None:
        nonlocal done
        if event == "discovered":
            print(f"{stage}: {detail} pages to check", file=stream, flush=True)
        elif event == "page":
            done += 1
            if detail not in _QUIET_OUTCOMES:
                print(f"{stage}: {detail} {url}", file=stream, flush=True)
            if done % every == 0:
                print(f"{stage}: {done} pages done", file=stream, flush=True)
        elif event == "problem":
            print(f"{stage}: {url}: {detail}", file=stream, flush=True)

    yield plain


@contextmanager
def _bar(stage: str, stream: TextIO) -> Iterator[Reporter]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=stream)
    with Progress(
        TextColumn(f"[bold]{stage}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("discovering", total=None)

        def report(event: str, url: str, detail: str) -> None:
            if event == "discovered":
                progress.update(task, total=int(detail), description="")
            elif event == "page":
                progress.update(task, advance=1, description=detail)
            elif event == "problem":
                progress.console.print(f"[yellow]{url}[/yellow]: {detail}")

        yield report
