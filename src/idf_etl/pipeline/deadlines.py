"""The run's time (run_timeout) shared by its stages, so that the run ends within it.

    times = Deadlines.of(settings.run_timeout, began, export=seconds, now=time.monotonic())
    times.parse    # the parse and the load stop here (the pages not parsed are left)
    times.merge    # the gone flags and the merge stop here (pending_projects)
    times.report   # the report's drawing ends here
    times.end      # run_timeout: the export and the publish end by then

The stages after the parse used to start at run_timeout: a run of run_timeout=30 counted 43
seconds (merge, problems, export, publish after the deadline; adversary H7). Each stage now
stops early enough for those after it, as the fetch does at FETCH_SHARE. The export and the
publish cannot stop half-way (a release is whole or not at all), so they get the time the
last run's took (the raw store's meta EXPORT_SECONDS), with a margin; the stages before
them are cut between batches and what they leave is the next run's (nothing is lost).

A stage whose time was up before it began still does one batch (load/pending.Clock), so
that every run moves the work on: a run ends within run_timeout plus, at worst, one load
batch, one merge batch and one history batch, and an export and publish slower than
the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from idf_etl.config import (
    EXPORT_SHARE,
    FETCH_SHARE,
    LEAST_FETCH_SHARE,
    MERGE_SHARE,
    MOST_EXPORT_SHARE,
    REPORT_SHARE,
)

# The raw store's meta: seconds the last run's export and publish took (build.py writes it).
EXPORT_SECONDS = "export_seconds"
# The shares of run_timeout each stage leaves to those after it are config.py's (the setting's
# description says them). The export's reserve is EXPORT_MARGIN times the last run's export
# and publish where more than its share, never more than MOST_EXPORT_SHARE: the parse keeps
# the rest, so that a warehouse slower to export than run_timeout allows is still parsed,
# then published late.
EXPORT_MARGIN = 1.25


@dataclass(frozen=True)
class Deadlines:
    """When each stage of a run stops, as time.monotonic() values."""

    parse: float
    merge: float
    report: float
    end: float

    @classmethod
    def of(
        cls,
        run_timeout: float,
        began: float,
        export: float | None = None,
        now: float | None = None,
    ) -> Deadlines:
        """The stages' deadlines of a run that began at `began` (time.monotonic()), whose
        export and publish are expected to take `export` seconds (None: not known). The
        shares are of the time left at `now` (after the fetch; None: `began`): a fetch that
        used its whole share (75 %) left the parse the rest, not 5 % of run_timeout."""
        end = began + run_timeout
        left = max(0.0, end - (began if now is None else now))
        reserve = max(EXPORT_SHARE * left, EXPORT_MARGIN * (export or 0.0))
        reserve = min(reserve, MOST_EXPORT_SHARE * left)
        report = end - reserve
        merge = report - REPORT_SHARE * left
        return cls(parse=merge - MERGE_SHARE * left, merge=merge, report=report, end=end)


def fetch_deadline(run_timeout: float, began: float, export: float | None = None) -> float:
    """When a run's fetch stops (time.monotonic()): at FETCH_SHARE of run_timeout, or earlier
    where the last export and publish (`export` seconds) took more than their share of what
    the fetch leaves, by as much, so that the parse, merge and report keep their shares
    (Deadlines.of) and the run still ends within run_timeout. Never before LEAST_FETCH_SHARE.
    Before, the fetch took its 75 % whatever the export's reserve (up to half of the rest)."""
    after = (1 - FETCH_SHARE) * run_timeout  # what the fetch leaves the stages after it
    reserve = EXPORT_MARGIN * (export or 0.0)
    # Left L, Deadlines.of gives the parse L - MERGE_SHARE L - REPORT_SHARE L - the reserve
    # (the parse's usual share of `after` at this L), and the reserve whole while it is at
    # most MOST_EXPORT_SHARE of L.
    parse = (1 - MERGE_SHARE - REPORT_SHARE - EXPORT_SHARE) * after
    needed = max(
        after,
        (parse + reserve) / (1 - MERGE_SHARE - REPORT_SHARE),
        reserve / MOST_EXPORT_SHARE,
    )
    return began + run_timeout - min(needed, (1 - LEAST_FETCH_SHARE) * run_timeout)


def export_seconds(stored: str | None) -> float | None:
    """The last run's export and publish seconds as the raw store's meta keeps them; None
    where there is none, or it does not read as a number of seconds (edited by hand)."""
    try:
        seconds = float(stored) if stored is not None else None
    except ValueError:
        return None
    if seconds is None or not 0.0 <= seconds < float("inf"):  # nan and inf too
        return None
    return seconds
