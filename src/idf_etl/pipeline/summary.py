"""What a run did, for a person and for a machine: its summary line, where its time
went, and the object `idf-etl run --json` prints.

    clock = StageClock()
    clock.start("fetch"); ...; clock.start("prepare"); ...; clock.stop()
    result.stages = clock.stages            # seconds a stage, in the order they ran
    result.line(); result.stages_line(); result.as_dict()
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from idf_etl.fetch.outcomes import FetchSummary
from idf_etl.load.parsed import LoadStats
from idf_etl.load.problems import ProblemCounts
from idf_etl.logs import plural


@dataclass
class RunResult:
    """What a run did, for the CLI's summary line and exit status."""

    run_id: int
    mode: str
    outcome: str
    fetch: FetchSummary | None
    load: LoadStats
    published: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    problems: ProblemCounts = field(default_factory=ProblemCounts)
    # Seconds each stage took, in the order they ran, and the processes that parsed.
    stages: dict[str, float] = field(default_factory=dict)
    parse_workers: int = 1

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "outcome": self.outcome,
            "fetch": None
            if self.fetch is None
            else {
                k: v
                for k, v in self.fetch.as_dict().items()
                if k not in ("failures", "refusals", "left")
            },
            "pages_parsed": self.load.pages_parsed,
            "parse_errors": self.load.parse_errors,
            "parse_left": self.load.parse_left,
            "merge_left": self.load.merge_left,
            "states_left": self.load.states_left,
            "projects_total": self.load.projects_total,
            "projects_new": self.load.projects_new,
            "field_changes": self.load.field_changes,
            "issues": self.load.issues,
            "published": self.published,
            "seconds": round(self.seconds, 2),
            "notes": self.notes,
            "problems": asdict(self.problems),
            "stage_seconds": {k: round(v, 2) for k, v in self.stages.items()},
            "parse_workers": self.parse_workers,
        }

    def halts(self) -> list[str]:
        """Why the run did not do its whole job, a line each (the fetch's, then the parse's)."""
        reasons = list(self.fetch.halts) if self.fetch else []
        if self.load.parse_left:
            reasons.append(
                f"run_timeout reached while parsing: {plural(self.load.parse_left, 'stored page')} "
                "left for the next run, with their previous data kept"
            )
        if self.load.merge_left:
            reasons.append(
                f"run_timeout reached while merging: {plural(self.load.merge_left, 'project')} "
                "left for the next run, with their previous rows kept"
            )
        if self.load.states_left:
            reasons.append(
                "run_timeout reached while refreshing gone flags: "
                f"{plural(self.load.states_left, 'stored page')} left for the next run"
            )
        return reasons + self.load.halts

    def line(self) -> str:
        """One line for a person: what the run did and where it published."""
        load = self.load
        return (
            f"{self.run_id} ({self.mode}): {self.outcome}; parsed {plural(load.pages_parsed, 'page')} "
            f"({load.parse_errors:,} unreadable), {plural(load.projects_total, 'project')} "
            f"({load.projects_new:,} new), {plural(load.field_changes, 'field change')}, "
            f"{plural(load.issues, 'issue')}; {plural(self.problems.still_open, 'problem')} open "
            f"({self.problems.opened:,} new, {self.problems.resolved:,} resolved); "
            f"published {self.published} in {self.seconds:.1f}s"
        )

    def stages_line(self) -> str:
        """Where the time went: seconds a stage, and the parse stage's rate."""
        parts = []
        for stage, seconds in self.stages.items():
            part = f"{stage} {seconds:.1f}s"
            if stage == "parse" and seconds and self.load.pages_parsed:
                rate = self.load.pages_parsed / seconds
                part += f" ({rate:,.0f} pages/s on {plural(self.parse_workers, 'process', 'processes')})"
            parts.append(part)
        return ", ".join(parts)


class StageClock:
    """Seconds by stage, where each stage runs until the next starts: no moment of a run
    is left out of every stage, so the stages add up to the run.

    Durations come from the monotonic clock, never from the wall clock: an NTP step or a
    virtual machine restored from a snapshot moves the wall clock, and a run whose clock
    stepped back two days mid-run took seconds, not minus two days. The run's one wall
    time is when it began (`began_at`); its end is `began_at` plus the monotonic seconds
    since (`now()`), so a ledger row never finishes before it started."""

    def __init__(self) -> None:
        self.began_at = datetime.now(UTC)
        self._origin = time.monotonic()
        self.stages: dict[str, float] = {}
        self._stage: str | None = None
        self._since = self._origin
        self._stopped: float | None = None  # when the last stage stopped, none running

    def start(self, stage: str) -> None:
        """End the stage running (if any) and start `stage`."""
        self.stop()
        self._stage, self._since, self._stopped = stage, time.monotonic(), None

    def stop(self) -> None:
        if self._stage is not None:
            self._stopped = time.monotonic()
            elapsed = max(0.0, self._stopped - self._since)
            self.stages[self._stage] = self.stages.get(self._stage, 0.0) + elapsed
            self._stage = None

    def elapsed(self) -> float:
        """Seconds from the clock's start to now, or to the stop once stopped (never below 0)."""
        end = self._stopped if self._stopped is not None else time.monotonic()
        return max(0.0, end - self._origin)

    def now(self) -> datetime:
        """The wall time now as this run counts it: when it began plus the seconds since."""
        return self.began_at + timedelta(seconds=self.elapsed())
