"""What the load takes and gives: a stored page after parsing, and what a load counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from idf_etl.records import OtherPage, ProjectRecord


@dataclass
class ParsedPage:
    """One stored page after parsing (or failing to), with what the raw store knows of it."""

    url: str
    sha256: str | None
    fetched_at: datetime | None
    checked_at: datetime | None
    gone: bool
    record: ProjectRecord | OtherPage | None = None
    error: str | None = None


@dataclass
class LoadStats:
    pages_parsed: int = 0
    parse_errors: int = 0
    parse_left: int = 0  # stale pages not parsed (or not loaded): the run's time was up
    merge_left: int = 0  # projects not merged or rebuilt: the run's time was up (pending.py)
    states_left: int = 0  # stored pages whose gone flag was not refreshed: the same
    halts: list[str] = field(default_factory=list)  # why the load did not do its job
    projects_total: int = 0
    projects_new: int = 0
    field_changes: int = 0
    issues: int = 0
    rows_written: int = 0


# url -> (gone, checked_at) of a stored page, as the raw store knows it
PageStates = dict[str, tuple[bool, datetime | None]]
