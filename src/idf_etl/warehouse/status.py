"""What an operator or a monitor asks every morning: is the data fresh, and what is open?

`status_facts` reads the published warehouse once and returns plain data:
`idf-etl status` prints it as tables, `status --json` as one JSON object, and
`idf-etl check` turns it into a Nagios-style verdict (OK, WARNING, CRITICAL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from idf_etl.logs import plural
from idf_etl.rawstore import CLOCK_SLACK
from idf_etl.warehouse.rows import query_dicts
from idf_etl.warehouse.schema import PENDING_TABLE

# How fresh the data is: the last successful read of the site, a run that fetched (mode
# 'network') and succeeded. A re-parse of stored pages (`run --from-raw`) reads nothing from
# the site, so it never makes the data fresher. `status`, `check`, the report's "data as
# of" and datapackage.json all read it here.
SITE_READ = "mode = 'network' AND outcome = 'success'"
LAST_SITE_READ = f"""SELECT run_id, finished_at FROM runs WHERE {SITE_READ}
    ORDER BY run_id DESC LIMIT 1"""


# Nagios plugin exit codes (also understood by Icinga, Sensu, Zabbix's plugin runner).
CHECK_OK, CHECK_WARNING, CHECK_CRITICAL, CHECK_UNKNOWN = 0, 1, 2, 3


def status_facts(
    con: duckdb.DuckDBPyConnection, runs: int = 5, now: datetime | None = None
) -> dict[str, Any]:
    """Last runs, the last successful read of the site (`last_success`) and its age, the last
    run that tried to read it, open problems, the warehouse's size."""
    now = now or datetime.now(UTC)
    recent = query_dicts(
        con,
        """SELECT run_id, started_at, finished_at, mode, outcome, pages_fetched, fetch_failed,
                  parse_errors, field_changes, issues FROM runs ORDER BY run_id DESC LIMIT ?""",
        [runs],
    )
    success = query_dicts(con, LAST_SITE_READ)
    last_success = success[0] if success else None
    network = query_dicts(
        con,
        """SELECT run_id, finished_at, outcome FROM runs WHERE mode = 'network'
           ORDER BY run_id DESC LIMIT 1""",
    )
    age, clock = _freshness(last_success, now)
    open_rows = query_dicts(
        con,
        """SELECT severity, stage, code, url, message, first_seen, last_seen, runs
           FROM open_issues""",
    )
    by_severity = {"error": 0, "warning": 0}
    for row in open_rows:
        by_severity[row["severity"]] = by_severity.get(row["severity"], 0) + 1
    (projects,) = query_dicts(
        con,
        """SELECT count(*) AS projects, count(*) FILTER (status = 'active') AS active,
                  count(*) FILTER (missing_from_site) AS missing_from_site,
                  max(last_changed) AS data_last_changed FROM projects""",
    )
    projects["waiting_for_next_run"], waiting = _waiting(con)
    return {
        "checked_at": now,
        "last_run": recent[0] if recent else None,
        "last_success": last_success,
        "last_network_run": network[0] if network else None,
        "hours_since_success": None if age is None else round(age, 4),
        "clock_problem": clock,
        "open_problems": by_severity,
        "oldest_open_problems": open_rows,
        "recent_runs": recent,
        "warehouse": projects,
        "waiting": waiting,
    }


def _waiting(con: duckdb.DuckDBPyConnection) -> tuple[int, dict[str, int]]:
    """Projects a run's time left for the next run to take first (load/pending.py): how many,
    and how many for each kind of work ('merge', 'history'). A warehouse published before the
    table existed has none."""
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name = ?", [PENDING_TABLE]
    ).fetchall()
    if not tables:
        return 0, {}
    by_work = con.execute(
        f"SELECT work, count(DISTINCT project_key) FROM {PENDING_TABLE} GROUP BY work ORDER BY work"
    ).fetchall()
    total = con.execute(f"SELECT count(DISTINCT project_key) FROM {PENDING_TABLE}").fetchall()
    return int(total[0][0]), {str(work): int(n) for work, n in by_work}


def _freshness(success: dict[str, Any] | None, now: datetime) -> tuple[float | None, str | None]:
    """Hours since the last successful read of the site, or why they cannot be told."""
    if success is None:
        return None, None
    finished = success["finished_at"]
    name = f"the last successful read of the site (run {success['run_id']})"
    if finished is None:  # a ledger row edited by hand: a success with no end
        return (
            None,
            f"{name} has no finished_at in the runs ledger, so how fresh the data is cannot be told",
        )
    if in_future(finished, now):
        # A success "in the future" says nothing about freshness: it would read as fresh
        # for as long as the clock was ahead (a year ahead: a year of OK with no runs).
        ahead = (finished - now).total_seconds() / 3600
        return None, (
            f"{name} finished at {finished:%Y-%m-%d %H:%M %Z}, {ahead:,.1f} h after this "
            f"machine's clock ({now:%Y-%m-%d %H:%M %Z}): the clock was ahead then or is behind "
            "now, so how fresh the data is cannot be told; check the clock (timedatectl)"
        )
    # Within CLOCK_SLACK ahead: fresh, just now (never a negative age)
    return max(0.0, (now - finished).total_seconds() / 3600), None


_LABELS = {
    CHECK_OK: "OK",
    CHECK_WARNING: "WARNING",
    CHECK_CRITICAL: "CRITICAL",
    CHECK_UNKNOWN: "UNKNOWN",
}
# Which of two states is worse, as the Monitoring Plugins order them (max_state_alt): a
# CRITICAL outweighs a WARNING, which outweighs "cannot tell", which outweighs OK.
_WEIGHT = {CHECK_OK: 0, CHECK_UNKNOWN: 1, CHECK_WARNING: 2, CHECK_CRITICAL: 3}


@dataclass(frozen=True)
class Verdict:
    """A Nagios plugin's answer: its exit status and its one line (text | performance data)."""

    code: int
    text: str
    perf: str = ""

    @property
    def line(self) -> str:
        return f"IDF-ETL {_LABELS[self.code]} - {self.text}" + (
            f" | {self.perf}" if self.perf else ""
        )

    def add(self, code: int, note: str) -> Verdict:
        """This verdict with `note` said too, and `code`'s state when that is worse: then the
        note comes first, being why (a monitor shows the start of the line)."""
        if _WEIGHT[code] > _WEIGHT[self.code]:
            return Verdict(code, f"{note}; {self.text}", self.perf)
        return Verdict(self.code, f"{self.text}; {note}", self.perf)


def check_freshness(facts: dict[str, Any], warn_hours: float, critical_hours: float) -> Verdict:
    """OK while the last successful read of the site is recent; WARNING past `warn_hours`, or
    when the last run, or the last run that read the site, failed; CRITICAL past
    `critical_hours` or when the site was never read successfully."""
    age = facts["hours_since_success"]
    errors = facts["open_problems"].get("error", 0)
    perf = f"hours_since_success={age if age is not None else 'U'};{warn_hours};{critical_hours} open_errors={errors}"
    if facts.get("clock_problem"):
        return Verdict(CHECK_WARNING, facts["clock_problem"], perf)
    if age is None:
        return Verdict(CHECK_CRITICAL, "no successful read of the site yet", perf)
    said = (
        f"last successful read of the site (run {last_success_id(facts)}) finished {age:.1f} h "
        f"ago; {plural(errors, 'open error')}"
    )
    if age > critical_hours:
        return Verdict(CHECK_CRITICAL, f"{said} (over {critical_hours:g} h)", perf)
    if age > warn_hours:
        return Verdict(CHECK_WARNING, f"{said} (over {warn_hours:g} h)", perf)
    for failed in (facts["last_run"], facts.get("last_network_run")):
        if failed and failed["outcome"] != "success":
            return Verdict(
                CHECK_WARNING,
                f"run {failed['run_id']} ({failed.get('mode', 'network')}) "
                f"ended with {failed['outcome']}; {said}",
                perf,
            )
    return Verdict(CHECK_OK, said, perf)


def in_future(stamp: datetime | None, now: datetime) -> bool:
    """Whether a stored wall-clock time is later than `now` by more than CLOCK_SLACK."""
    return stamp is not None and stamp - now > CLOCK_SLACK


def last_success_id(facts: dict[str, Any]) -> int | None:
    success = facts["last_success"]
    return None if success is None else int(success["run_id"])
