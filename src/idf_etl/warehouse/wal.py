"""A warehouse file's write-ahead log: part of the database until DuckDB checkpoints it.

DuckDB commits a change to the log (`idf.duckdb.wal`, beside the file's real path, not
beside a link to it) and writes it into the file at a checkpoint. A writer killed between
the two (an earlier idf-etl's run, which wrote the published file itself; an analyst's
read-write session) leaves committed rows that are only in the log, and every connection,
read-only ones too, replays it on opening. So the file alone is not the database:

    notes = copy_warehouse(published, building / "idf.duckdb")  # the log comes along

copies the file with its log and has DuckDB replay the log into the copy (then checks
the rows are there), so the copy is one whole file. A log DuckDB cannot replay (another
database's log, or bytes it reads no commit from) is never fatal and never costs the
file: it is set aside beside it (`.wal.stray-<time>`), kept and reported, and the file
is read without it.
"""

from __future__ import annotations

import fcntl
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idf_etl.errors import LoadError


class UnreplayableLog(LoadError):
    """The write-ahead log beside a warehouse cannot be replayed; the file may be whole."""

    def __init__(self, message: str, log: Path) -> None:
        super().__init__(message)
        self.log = log


def wal_of(database: Path) -> Path:
    """Where DuckDB keeps `database`'s log (callers give the real path, links resolved)."""
    return database.with_name(database.name + ".wal")


def unreplayable(message: str) -> bool:
    """Whether DuckDB's error says it could not replay a log (the file itself may be fine)."""
    return "replaying WAL" in message


def copy_warehouse(source: Path, target: Path, shown: Path | None = None) -> list[str]:
    """Copy `source` (a link is followed) to `target` with its log replayed into it; notes
    for the run to report. A log that cannot be replayed is set aside beside `source` and
    `target` is the file alone."""
    real = Path(source).resolve()
    shown = shown or Path(source)
    shutil.copyfile(real, target)
    log = wal_of(real)
    try:
        found = log.stat()
        if not stat.S_ISREG(found.st_mode):  # a directory, a pipe: no log, and in the way
            return [set_aside(log, "it is not a file", shown)]
        if found.st_size == 0:  # DuckDB's own empty log: nothing committed in it
            return []
        shutil.copyfile(log, wal_of(target))
    except FileNotFoundError:  # no log (or checkpointed away meanwhile): the file is whole
        return []
    problem = _replay(target)
    if problem is None:
        return [
            f"replayed the write-ahead log beside {shown}: changes committed to it but not yet "
            "written into the file (a run or a read-write connection stopped before its "
            "checkpoint) are in this run's warehouse"
        ]
    wal_of(target).unlink(missing_ok=True)
    shutil.copyfile(real, target)  # the file as it was, whatever the replay left in the copy
    return [set_aside(log, problem, shown)]


def set_aside(log: Path, problem: str, shown: Path) -> str:
    """Move a log DuckDB cannot replay out of the way, kept beside its file; the note."""
    if _held_for_writing(log.with_name(log.name.removesuffix(".wal"))):
        return (
            f"the write-ahead log beside {shown} cannot be replayed ({problem}), and a process "
            "holds the warehouse read-write, so it is left there; this run's warehouse is "
            "built without it"
        )
    aside = log.with_name(f"{log.name}.stray-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
    log.rename(aside)
    return (
        f"set aside the write-ahead log beside {shown} as {aside.name}: DuckDB cannot replay "
        f"it ({problem}); the warehouse is read without it (someone opened it read-write, or "
        "copied files into the data directory: analysts should open it read-only)"
    )


def set_aside_unreplayable(database: Path, shown: Path) -> str | None:
    """The log beside `database` set aside when DuckDB cannot replay it (for restore and
    fsck, which repair); the note, or None when there is nothing to do."""
    real = Path(database).resolve()
    log = wal_of(real)
    if not log.exists() or not real.exists():
        return None
    try:
        with duckdb.connect(str(real), read_only=True):
            return None
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        if not unreplayable(first_line):
            return None  # not the log's fault: check_opens says what it is
    return set_aside(log, first_line, shown)


def _replay(copy: Path) -> str | None:
    """Have DuckDB replay `copy`'s log into it and check that it did; None, else why not."""
    try:
        with duckdb.connect(str(copy), read_only=True) as con:
            expected = _row_counts(con)  # what any reader of the file and its log sees
        with duckdb.connect(str(copy)) as con:
            con.execute("CHECKPOINT")
        if wal_of(copy).exists():
            return "DuckDB reads no committed change from it: cut short, or not a log"
        with duckdb.connect(str(copy), read_only=True) as con:
            if _row_counts(con) != expected:
                return "the rows it holds were not all written into the file"
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()
    return {
        f"{schema}.{table}": con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0]  # type: ignore[index]
        for schema, table in tables
    }


def _held_for_writing(database: Path) -> bool:
    """Whether another process holds `database` read-write (DuckDB's lock on the file)."""
    try:
        with open(database, "rb") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.lockf(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False
