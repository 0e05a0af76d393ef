"""Read-only connections to the published warehouse (status, check, sql, notebooks), and
why one does not open, said truthfully: held read-write by another process, a log that
cannot be replayed, the file system, or damage (only then a restore).

    con = open_published(settings.clean_dir)       # status, check, report
    con = open_sandboxed(clean_dir, writable=out)  # sql: no file but `out` can be touched
    con = idf_etl.open_warehouse("data")            # a notebook (the public API)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from idf_etl.errors import LoadError
from idf_etl.warehouse.pointer import WAREHOUSE_NAME, link_problem, pointer_problem, what_to_do
from idf_etl.warehouse.wal import UnreplayableLog, unreplayable, wal_of

__all__ = [
    "WAREHOUSE_NAME",
    "Unopenable",
    "check_opens",
    "open_published",
    "open_sandboxed",
    "open_warehouse",
]


class Unopenable(LoadError):
    """A warehouse was published and analysts cannot open it: the published pointer broken,
    or the file damaged. `idf-etl check` says CRITICAL for it, where a warehouse held by
    another process or a path leading to none is only "cannot tell" (UNKNOWN)."""


def check_opens(path: Path, shown: Path) -> None:
    """LoadError, saying what to do, unless `path` opens as a DuckDB database with our tables."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("SELECT count(*) FROM runs").fetchall()
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        if (held := _lock_holder(str(exc))) is not None:
            raise LoadError(
                f"the warehouse {shown} is open read-write in another process ({held}), "
                "which locks it; it is not damaged. Close that connection and try again "
                "(analysts: open it read-only, `duckdb -readonly` or read_only=True)"
            ) from exc
        if "same database file with a different configuration" in first_line:
            # This process already holds a connection to it opened otherwise (read-write).
            raise LoadError(
                f"the warehouse {shown} is already open in this process with another "
                "configuration (a read-write connection?); it is not damaged. Close that "
                "connection, or use it, and try again"
            ) from exc
        if unreplayable(first_line):
            raise UnreplayableLog(
                f"the write-ahead log beside the warehouse {shown} cannot be replayed "
                f"({first_line}); the file itself is not damaged. `idf-etl fsck` or the next "
                "`idf-etl run` sets the log aside (kept beside it)",
                wal_of(path.resolve()),
            ) from exc
        if _FILE_SYSTEM.search(first_line):
            raise LoadError(
                f"cannot open the warehouse {shown}: {first_line}; it is not damaged. "
                "Check the file's permissions and the file system it is on"
            ) from exc
        raise Unopenable(
            f"the warehouse {shown} is damaged ({first_line}); nothing was changed. "
            "`idf-etl restore` puts back the newest earlier warehouse that opens (kept under "
            "clean/releases/); `idf-etl restore --empty` then `idf-etl run --from-raw` "
            "rebuilds pages and projects from the raw store instead"
        ) from exc


# DuckDB's words for a file another process holds ('Could not set lock on file "...":
# Conflicting lock is held in /usr/bin/python3 (PID 4242)'), and for a file it may not open.
_LOCKED = re.compile(
    r"Could not set lock on file.*?Conflicting lock is held in (.+?) \(PID (\d+)\)"
)
_FILE_SYSTEM = re.compile(r"Permission denied|Read-only file system|No space left", re.I)


def _lock_holder(message: str) -> str | None:
    """'python3.11, PID 4242' when DuckDB says another process holds the file's lock."""
    if (match := _LOCKED.search(message)) is not None:
        return f"{Path(match.group(1)).name}, PID {match.group(2)}"
    if "Could not set lock on file" in message:
        return "DuckDB did not say which"
    return None


# How a command points at another data directory; open_warehouse names its own arguments.
POINT_CLI = (
    "--data-dir (`make demo` writes demo/data), IDF_ETL_DATA_DIR or the pipeline file's "
    "data_dir (--config, IDF_ETL_CONFIG)"
)
POINT_API = (
    "open_warehouse(data_dir=...) (`make demo` writes demo/data), IDF_ETL_DATA_DIR or the "
    "pipeline file's data_dir (open_warehouse(config=...), IDF_ETL_CONFIG)"
)


def open_published(clean_dir: Path, point: str = POINT_CLI) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, for status and analysts."""
    path = Path(clean_dir) / WAREHOUSE_NAME
    if (problem := pointer_problem(Path(clean_dir))) is not None:
        # Never "no warehouse, run `idf-etl run` first" while releases are kept: that run
        # would start the history again (it refuses now).
        raise Unopenable(f"{problem}; nothing was changed. {what_to_do(Path(clean_dir))}")
    if (problem := link_problem(Path(clean_dir))) is not None:
        raise Unopenable(problem)  # they would open another file than the one published
    if not path.exists():
        raise LoadError(
            f"no warehouse at {path.absolute()}: run `idf-etl run` first, or point at the data "
            f"directory with {point}"
        )
    check_opens(path, path.absolute())
    return duckdb.connect(str(path), read_only=True)


def open_warehouse(
    data_dir: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the published warehouse, for a notebook or a script.

    It is found the way `idf-etl status` and `sql` find it: `data_dir`, else the
    IDF_ETL_DATA_DIR variable, else the pipeline file's data_dir (`config`, else
    IDF_ETL_CONFIG, else pipelines/iom_idf.toml under the current directory). The
    connection sees one release; a run publishing meanwhile does not disturb it.

        con = idf_etl.open_warehouse("data")
        con.sql("SELECT project_id, title FROM projects").fetchall()
    """
    from idf_etl.settings_sources import load_settings

    settings = load_settings(
        config,
        {"data_dir": Path(data_dir) if data_dir is not None else None},
        origins={"data_dir": "open_warehouse(data_dir=...)"},
    )
    return open_published(settings.clean_dir, POINT_API)


def open_sandboxed(
    clean_dir: Path, writable: Path | None = None, memory: int | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only window on the published warehouse that cannot touch any other file:
    no COPY, no reading files, no ATTACH, no extensions, and no setting that undoes this.
    `writable`: the one file it may write (where `sql --csv` has DuckDB write its answer);
    `memory`: bytes its queries may hold (beyond: spilled, or an out-of-memory error)."""
    open_published(clean_dir).close()
    con = duckdb.connect(
        str(Path(clean_dir) / WAREHOUSE_NAME),
        read_only=True,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    # allowed_paths can only be set once the database is started, before access is shut.
    if writable is not None:
        con.execute("SET allowed_paths = ?", [[str(writable)]])
    if memory is not None:
        con.execute(f"SET memory_limit = '{int(memory)}B'")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
