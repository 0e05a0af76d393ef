"""What a person (or a log) sees while a run works: bars on a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from idf_etl.fetch.outcomes import QUIET, Progress
from idf_etl.logs import plural

log = logging.getLogger("idf_etl.progress")

# Outcomes too common to log at info level (fetch: nothing new; parse: what is expected).
_QUIET_OUTCOMES = {*QUIET, "project", "other"}


@contextmanager
def progress_by_stage(
    *stages: str, stream: TextIO = sys.stderr, bars: bool | None = None, every: int = 100
) -> Iterator[dict[str, Progress]]:
    """One Progress per stage: one Rich progress display with a bar per stage (by default
    when `stream` is a terminal), log lines otherwise."""
    if stream.isatty() if bars is None else bars:
        with _bars(stages, stream) as shown:
            yield shown
        return
    yield {stage: _plain(stage, every) for stage in stages}


@contextmanager
def stage_progress(
    stage: str, stream: TextIO = sys.stderr, *, bars: bool | None = None
) -> Iterator[Progress]:
    """A Progress for a single stage."""
    with progress_by_stage(stage, stream=stream, bars=bars) as one:
        yield one[stage]


def _plain(stage: str, every: int) -> Progress:
    done = 0

    def plain(event: str, url: str, detail: str) -> None:
        nonlocal done
        if event == "discovered":
            log.info("%s: %s to check", stage, plural(int(detail), "page"), extra={"stage": stage})
        elif event == "page":
            done += 1
            level = logging.DEBUG if detail in _QUIET_OUTCOMES else logging.INFO
            log.log(level, "%s: %s %s", stage, detail, url, extra={"stage": stage, "url": url})
            if done % every == 0:
                log.info("%s: %s done", stage, plural(done, "page"), extra={"stage": stage})
        elif event == "problem":
            log.warning("%s: %s: %s", stage, url, detail, extra={"stage": stage, "url": url})

    return plain


@contextmanager
def _bars(stages: tuple[str, ...], stream: TextIO) -> Iterator[dict[str, Progress]]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Display

    with Display(
        TextColumn("[bold]{task.fields[stage]}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(file=stream),
    ) as display:

        def bar(stage: str) -> Progress:
            task = display.add_task("waiting", total=None, stage=stage)

            def on_event(event: str, url: str, detail: str) -> None:
                if event == "discovered":
                    display.update(task, total=int(detail), description="")
                elif event == "page":
                    display.update(task, advance=1, description=detail)
                elif event == "problem":
                    log.warning(
                        "%s: %s: %s", stage, url, detail, extra={"stage": stage, "url": url}
                    )

            return on_event

        yield {stage: bar(stage) for stage in stages}
