"""`idf-etl check`'s verdict: the published warehouse and the run lock, as one Nagios answer.

    verdict = check_verdict(settings, warn_hours=30, critical_hours=54)
    print(verdict.line); sys.exit(verdict.code)

The states follow the Nagios plugin guidelines: CRITICAL when the service is
down or past the critical threshold, WARNING when it is past the warning one or
not working properly, UNKNOWN only when the check cannot tell (bad arguments, a
failure of its own); a problem of the thing checked is never UNKNOWN.

| what the check finds | state |
|---|---|
| the last successful read of the site within --warn-hours, the last runs succeeded | OK |
| ...past --warn-hours, a last run that failed, the clock behind a stored time | WARNING |
| ...past --critical-hours, or the site never read | CRITICAL |
| a published warehouse analysts cannot open: the pointer broken (dangling, a loop, outside releases/, the link changed by hand), the file damaged, its log unreplayable | CRITICAL, with the command that repairs it |
| the warehouse held read-write by another process; no warehouse at that path; a file the check may not read | UNKNOWN |
| a run in progress (the lock held, for less than twice its run_timeout and its tail) | said; the state unchanged |
| a run holding the lock past twice its run_timeout and its tail (stuck) | at least WARNING, naming its pid |
| a lock file a run cannot take (a link, not a regular file) | at least WARNING |

The worse of the warehouse's state and the lock's is the answer (CRITICAL over
WARNING over UNKNOWN over OK, as the Monitoring Plugins combine states).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from idf_etl.config import Settings
from idf_etl.errors import IdfEtlError
from idf_etl.pipeline.lock import held
from idf_etl.warehouse.readers import Unopenable, open_published
from idf_etl.warehouse.status import (
    CHECK_CRITICAL,
    CHECK_OK,
    CHECK_UNKNOWN,
    CHECK_WARNING,
    Verdict,
    check_freshness,
    status_facts,
)
from idf_etl.warehouse.wal import UnreplayableLog


def check_verdict(settings: Settings, warn_hours: float, critical_hours: float) -> Verdict:
    """The published warehouse's verdict, with what the run lock says added to it."""
    verdict = warehouse_verdict(settings.clean_dir, warn_hours, critical_hours)
    code, note = lock_verdict(settings.data_dir, settings.run_timeout)
    return verdict.add(code, note) if note else verdict


def warehouse_verdict(clean_dir: Path, warn_hours: float, critical_hours: float) -> Verdict:
    """How fresh the published data is, or why it cannot be read."""
    try:
        con = open_published(clean_dir)
    except (Unopenable, UnreplayableLog) as exc:
        # Published, and no analyst can open it: the service is down, whatever its age.
        return Verdict(CHECK_CRITICAL, f"analysts cannot open the published warehouse: {exc}")
    except IdfEtlError as exc:  # held by another process, or none at this path: cannot tell
        return Verdict(CHECK_UNKNOWN, str(exc))
    except OSError as exc:  # the monitor's own access: cannot tell
        return Verdict(CHECK_UNKNOWN, f"cannot read {exc.filename or clean_dir}: {exc.strerror}")
    try:
        facts = status_facts(con)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Verdict(
            CHECK_UNKNOWN,
            f"the warehouse opens but its runs and problems cannot be read ({first}): "
            "`idf-etl status` says more, the next `idf-etl run` upgrades an older warehouse",
        )
    finally:
        con.close()
    return check_freshness(facts, warn_hours, critical_hours)


def lock_verdict(data_dir: Path, run_timeout: float) -> tuple[int, str]:
    """(state, what to say) of the data directory's run lock: ("", nothing) when free."""
    try:
        look = held(data_dir, run_timeout)
    except IdfEtlError as exc:  # the lock file is a link or not a file: every run refuses
        return CHECK_WARNING, f"the next run cannot take its lock: {exc}"
    except OSError as exc:
        return CHECK_OK, f"whether a run is going cannot be told ({exc.filename}: {exc.strerror})"
    if look is None:
        return CHECK_OK, ""
    return (CHECK_WARNING if look.stuck else CHECK_OK), look.status_line()
