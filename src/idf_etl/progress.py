"""What a person (or a log file) sees while a run works: bars on a terminal, lines otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from idf_etl.outcomes import QUIET, Reporter

# Outcomes too common to log a line each (fetch: nothing new; parse: what is expected).
_QUIET_OUTCOMES = {*QUIET, "project", "other"}


@contextmanager
def reporters(
    *stages: str, stream: TextIO = sys.stderr, force_plain: bool = False, every: int = 100
) -> Iterator[dict[str, Reporter]]:
    """One Reporter per stage: one Rich progress display with a bar per stage on a
    terminal, plain lines otherwise."""
    if stream.isatty() and not force_plain:
        with _bars(stages, stream) as bars:
            yield bars
        return
    yield {stage: _plain(stage, stream, every) for stage in stages}


@contextmanager
def reporter(
    stage: str, stream: TextIO = sys.stderr, *, force_plain: bool = False, every: int = 100
) -> Iterator[Reporter]:
    """A Reporter for a single stage."""
    with reporters(stage, stream=stream, force_plain=force_plain, every=every) as one:
        yield one[stage]


def _plain(stage: str, stream: TextIO, every: int) -> Reporter:
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

    return plain


@contextmanager
def _bars(stages: tuple[str, ...], stream: TextIO) -> Iterator[dict[str, Reporter]]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("[bold]{task.fields[stage]}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(file=stream),
    ) as progress:

        def bar(stage: str) -> Reporter:
            task = progress.add_task("waiting", total=None, stage=stage)

            def report(event: str, url: str, detail: str) -> None:
                if event == "discovered":
                    progress.update(task, total=int(detail), description="")
                elif event == "page":
                    progress.update(task, advance=1, description=detail)
                elif event == "problem":
                    progress.console.print(f"[yellow]{url}[/yellow]: {detail}")

            return report

        yield {stage: bar(stage) for stage in stages}
