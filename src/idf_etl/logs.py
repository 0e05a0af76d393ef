"""Where idf-etl's messages go: Rich on a terminal, timestamped lines elsewhere, or JSON lines.

Every module logs to a child of the `idf_etl` logger; `setup_logging` (called
once per command) decides the level (-v/-q) and the form. stdout stays for
results (query rows, --json summaries); everything said to a person goes here.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

ROOT = "idf_etl"
# LogRecord's own attributes; anything else on a record came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def level_for(verbose: int, quiet: int) -> int:
    """-v: debug (every page); default: info; -q: warnings and errors; -qq: errors only."""
    return max(logging.DEBUG, min(logging.ERROR, logging.INFO + 10 * (quiet - verbose)))


def setup_logging(
    verbose: int = 0, quiet: int = 0, json_lines: bool = False, stream: TextIO | None = None
) -> logging.Logger:
    """Configure the `idf_etl` logger for one command and return it."""
    stream = stream or sys.stderr
    handler: logging.Handler
    if json_lines:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonLines())
    elif stream.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        # No file given: the console follows sys.stderr, which a progress display
        # redirects, so log lines print above the bars instead of through them.
        handler = RichHandler(
            console=Console(stderr=True), show_path=False, markup=False, log_time_format="%X"
        )
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
        )
    logger = logging.getLogger(ROOT)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level_for(verbose, quiet))
    logger.propagate = False
    return logger


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 issue', '2 issues', '1 entry', '0 entries'."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"
