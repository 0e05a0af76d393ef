"""A run's outcome ('failures' when it halted or more pages failed than the threshold
allows, else 'success'), and the issues a run records of itself: what its fetch halted on,
left or failed, and a parse its time cut short.
"""

from __future__ import annotations

from collections.abc import Iterator

from idf_etl.config import Settings
from idf_etl.fetch.outcomes import FetchSummary
from idf_etl.load.parsed import LoadStats
from idf_etl.warehouse.rows import Issue


def run_outcome(summary: FetchSummary | None, stats: LoadStats, threshold: float) -> str:
    """'failures' when the crawl or the load halted (project pages lost in bulk among them)
    or more pages failed than `threshold` allows."""
    failed = (summary.failed if summary else 0) + stats.parse_errors
    checked = (summary.checked if summary else 0) + stats.pages_parsed
    late = stats.parse_left > 0 or stats.merge_left > 0 or stats.states_left > 0
    halted = bool(summary and summary.halts) or late or bool(stats.halts)
    return "failures" if halted or too_many_failures(failed, checked, threshold) else "success"


def fetch_issues(summary: FetchSummary) -> Iterator[Issue]:
    for reason in summary.halts:
        # A host's halt is that host's problem: two hosts down are two open problems.
        yield Issue("fetch", "error", "crawl_incomplete", reason, summary.halt_origins.get(reason))
    for url, reason in summary.left:
        yield Issue("fetch", "warning", "not_fetched", f"left for the next run: {reason}", url)
    for url, reason in summary.failures:
        yield Issue(
            "fetch", "error", "fetch_failed", f"{reason}; the stored copy (if any) is kept", url
        )
    for url, reason in summary.refusals:
        yield Issue("fetch", "warning", "fetch_refused", f"not requested: {reason}", url)


def parse_incomplete(settings: Settings) -> Issue:
    """The run's time ran out while parsing (the count is in the run's note: a problem is
    known by its message, and this one stays the same problem from night to night)."""
    return Issue(
        "parse",
        "error",
        "parse_incomplete",
        f"run_timeout ({settings.run_timeout:g}s) reached while parsing: the stored pages not "
        "parsed yet keep their previous data and are parsed by the next run",
    )


def too_many_failures(failed: int, checked: int, threshold: float) -> bool:
    """More failures than `threshold` (a share) of the pages checked allows."""
    return failed > threshold * max(1, checked)
