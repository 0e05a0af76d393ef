"""What a fetch did: one FetchOutcome per page, and the FetchSummary of a whole crawl.

Shared by the crawler, the pipeline, the CLI and the progress display, so each
outcome is named once, here, and nobody matches its words by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from idf_etl.logs import plural


class FetchOutcome(StrEnum):
    """What happened to one page URL in a crawl."""

    NEW = "new"  # downloaded, first body we hold
    CHANGED = "changed"  # downloaded, the body differs from the stored one
    UNCHANGED = "unchanged"  # downloaded (200), the same body as stored
    NOT_MODIFIED = "not-modified"  # 304 to a conditional request
    SKIPPED = "skipped"  # not requested: the sitemap <lastmod> (or the page naming it) did not move
    GONE = "gone"  # 404 or 410
    FAILED = "failed"  # could not be fetched; the stored body stays
    REFUSED = "refused"  # not requested on purpose: robots.txt, a foreign host
    DUPLICATE = "duplicate"  # already handled in this run (a second listing)
    NOT_REQUESTED = "not-requested"  # left for another run: max_pages, run_timeout, host paused


# Outcomes too common to log a line each: nothing new happened.
QUIET = frozenset(
    {
        FetchOutcome.SKIPPED,
        FetchOutcome.UNCHANGED,
        FetchOutcome.NOT_MODIFIED,
        FetchOutcome.DUPLICATE,
    }
)

Progress = Callable[[str, str, str], None]
"""progress(event, url, detail): event is 'discovered', 'page' or 'problem'."""


def no_progress(event: str, url: str, detail: str) -> None:
    pass


@dataclass
class FetchSummary:
    """What a fetch did; printed at the end and stored in the run ledger."""

    discovered: int = 0
    translations: int = 0  # pages found only through another page's hreflang links
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    not_modified: int = 0
    skipped: int = 0
    gone: int = 0
    not_requested: int = 0
    requests: int = 0
    bytes: int = 0
    seconds: float = 0.0
    revalidation: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)
    halts: list[str] = field(default_factory=list)
    # reason -> the origin (scheme://host) it concerns, for the halts that are one host's.
    halt_origins: dict[str, str] = field(default_factory=dict)

    def count(self, outcome: FetchOutcome) -> None:
        """Count a page's outcome (failures and refusals count through their lists)."""
        name = outcome.name.lower()
        if name in _COUNTED:
            setattr(self, name, getattr(self, name) + 1)

    def halt(self, reason: str, origin: str | None = None) -> None:
        """The crawl as a whole did not do its job: the run must not read as a success.
        `origin`: the host it concerns, when it is one host's (its problem is that host's)."""
        if reason not in self.halts:
            self.halts.append(reason)
            if origin is not None:
                self.halt_origins[reason] = origin

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def refused(self) -> int:
        return len(self.refusals)

    @property
    def fetched(self) -> int:
        return self.new + self.changed

    @property
    def checked(self) -> int:
        """Pages whose state this run knows (the base of the failure threshold)."""
        return (
            self.fetched
            + self.unchanged
            + self.not_modified
            + self.skipped
            + self.gone
            + self.failed
        )

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        del data["halt_origins"]  # `--json` keeps its keys; the issues carry the hosts
        data.update(fetched=self.fetched, failed=self.failed, refused=self.refused)
        return data

    def line(self) -> str:
        return (
            f"discovered {self.discovered} (+{self.translations} translations), "
            f"fetched {self.fetched} ({self.new} new, {self.changed} changed), "
            f"unchanged {self.unchanged + self.not_modified + self.skipped} "
            f"({self.skipped} not requested, {self.not_modified} 304), gone {self.gone}, "
            f"failed {self.failed}, refused {self.refused}, left for later {self.not_requested}; "
            f"{plural(self.requests, 'request')}, {self.bytes / 1e6:.1f} MB, {self.seconds:.1f}s"
        )


_COUNTED = {
    "new",
    "changed",
    "unchanged",
    "not_modified",
    "skipped",
    "gone",
    "not_requested",
}
