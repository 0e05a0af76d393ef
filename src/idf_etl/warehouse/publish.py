"""Publish the warehouse and its exports together, atomically, keeping the last few.

    data/clean/idf.duckdb        -> current/idf.duckdb         (fixed links, made once)
    data/clean/parquet           -> current/parquet
    data/clean/csv               -> current/csv
    data/clean/datapackage.json  -> current/datapackage.json
    data/clean/current           -> releases/run000012-20261123T093000Z   (the one pointer)
    data/clean/releases/<name>/  idf.duckdb, parquet/, datapackage.json of one run

A run builds its release in releases/.building, checkpoints and closes the
database, then renames the directory into place and swaps `current` with one
rename: after a kill at any moment the three published names point into the
same release. Analysts keep opening data/clean/idf.duckdb; a reader already
connected keeps its old snapshot (its release stays on disk until pruned).

Releases are ordered by run number, never by the clock: the name's time is for people
(a clock set back or forward names a release wrongly, and decides nothing). Names an
earlier idf-etl gave (`20261123T093000Z-run12`) are read the same way.

DuckDB finds its write-ahead log beside the file's real path, so each release
has its own; a stray WAL (someone opened the warehouse read-write and died) is
moved aside, kept and reported, never left to break a later open.

The file is written in an older DuckDB storage format (STORAGE_VERSION) so the
clients analysts have open it: DuckDB 2.0's own format is refused by every 1.x
client (the CLI from pip, DBeaver, R). DuckDB keeps writing a file in the
format it was created with, so only a new file, or one a DuckDB 2 release of
idf-etl wrote, needs it set: the latter is converted once, whole.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idf_etl.errors import LoadError

WAREHOUSE_NAME = "idf.duckdb"
EXPORTS = ("csv", "parquet", "datapackage.json")
PUBLISHED = (WAREHOUSE_NAME, *EXPORTS)
# The oldest DuckDB that opens the published file (tests/test_old_clients.py opens it with
# this one and with 1.5); 1.0 cannot read the catalog DuckDB 2 writes for primary keys.
OLDEST_READER = "1.1.0"
STORAGE_VERSION = f"v{OLDEST_READER}"
# The storage format number in such a file's header (DuckDB 1.1 reads only this one).
_READABLE_FORMAT = 64


# The run number in a release's name: run000012-<time> now, <time>-run12 before.
_RUN_NUMBER = re.compile(r"^run(\d+)-|-run(\d+)$")


def run_number(release: Path) -> int:
    """The run that published `release`, from its name; 0 when it names none (a warehouse
    adopted from the layout before releases, or published outside a run)."""
    match = _RUN_NUMBER.search(release.name)
    return int(match[1] or match[2]) if match else 0


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


class Publisher:
    """Where the warehouse is built, published and kept."""

    def __init__(self, clean_dir: Path, keep: int = 7) -> None:
        self.clean_dir = Path(clean_dir)
        self.published = self.clean_dir / WAREHOUSE_NAME
        self.current = self.clean_dir / "current"
        self.releases = self.clean_dir / "releases"
        self.building = self.releases / ".building"
        self.keep = keep
        self.notes: list[str] = []

    def prepare(self) -> Path:
        """A fresh building copy of the published warehouse (none on a first run); its path."""
        self.releases.mkdir(parents=True, exist_ok=True)
        if self.building.exists():
            shutil.rmtree(self.building)
            self.notes.append("removed a release left half-built by an interrupted run")
        self._adopt_old_layout()
        self._set_aside_stray_wals()
        self.building.mkdir()
        target = self.building / WAREHOUSE_NAME
        if not self.published.exists():
            create_warehouse(target)
            return target
        # Always work on a copy: an analyst may hold the published file, even read-write.
        source = self.building / f"{WAREHOUSE_NAME}.source"
        shutil.copyfile(self.published, source)
        check_opens(source, self.published)
        if readable_by_oldest_reader(source):
            os.replace(source, target)
            return target
        convert_warehouse(source, target)
        source.unlink()
        self.notes.append(
            f"rewrote the warehouse in DuckDB storage format {STORAGE_VERSION} "
            f"so that DuckDB {OLDEST_READER} and later clients open it"
        )
        return target

    def publish(self, con: duckdb.DuckDBPyConnection, run_id: int | None = None) -> Path:
        """Checkpoint and close the building database, then make its release the current one.

        The exports must already be in the building directory (export_tables)."""
        con.execute("CHECKPOINT")
        con.close()
        database = self.building / WAREHOUSE_NAME
        if _wal(database).exists():
            raise LoadError(f"{_wal(database)} is still there after CHECKPOINT; not publishing")
        _fsync_tree(self.building)
        # The run number first and zero-padded: `ls` lists releases in the order they are
        # kept in. The time only tells people when (and keeps two names apart).
        name = f"run{run_id or 0:06d}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        release = self.releases / name
        while release.exists():  # the same run published twice in one clock tick
            release = release.with_name(release.name + "x")
        os.replace(self.building, release)
        _fsync_dir(self.releases)
        self._point_current_at(release)
        self._prune()
        return self.published

    def restore(self, name: str | None = None) -> Path:
        """Point `current` at a kept release: `name`, or the newest older one that opens."""
        release = self.to_restore(name)
        self._point_current_at(release)
        return release

    def to_restore(self, name: str | None = None) -> Path:
        """The kept release `restore(name)` would publish (it opens); nothing changed yet."""
        current = self.current_release()
        kept = self.kept()
        if name is not None:
            candidates = [r for r in kept if r.name == name]
            if not candidates:
                known = ", ".join(r.name for r in kept) or "none"
                raise LoadError(f"no kept release named {name!r} (kept: {known})")
        else:
            candidates = [r for r in kept if current is None or run_number(r) < run_number(current)]
        problems = []
        for release in candidates:
            try:
                check_opens(release / WAREHOUSE_NAME, release / WAREHOUSE_NAME)
            except LoadError as exc:
                problems.append(str(exc))
                continue
            return release
        raise LoadError(
            "no kept release to go back to opens"
            + (f" ({'; '.join(problems)})" if problems else "")
            + ". Rebuild pages and projects from the raw store with `idf-etl restore --empty` "
            "then `idf-etl run --from-raw` (the change history starts again)"
        )

    def unpublish(self) -> None:
        """Publish nothing: the next run starts from an empty warehouse (kept releases stay)."""
        self.current.unlink(missing_ok=True)
        _fsync_dir(self.clean_dir)

    def current_opens(self) -> bool:
        """Whether the published warehouse opens (a restore would replace a healthy one)."""
        current = self.current_release()
        try:
            check_opens(current / WAREHOUSE_NAME, current) if current else None
        except LoadError:
            return False
        return current is not None

    def current_release(self) -> Path | None:
        return self.current.resolve() if self.current.is_symlink() else None

    def kept(self) -> list[Path]:
        """Kept releases, newest (highest run number) first, and last those a `restore`
        went back past: a release of a run number the current one has reached but is not
        (after a restore to run 3, the next run is run 4 again) is on a line given up."""
        if not self.releases.exists():
            return []
        found = [p for p in self.releases.iterdir() if p.is_dir() and not p.name.startswith(".")]
        current = self.current_release()
        reached = run_number(current) if current is not None else None

        def order(release: Path) -> tuple[bool, int, bool, str]:
            given_up = reached is not None and release != current and run_number(release) >= reached
            return (not given_up, run_number(release), release == current, release.name)

        return sorted(found, key=order, reverse=True)

    # -- the pointer and the fixed links --

    def _point_current_at(self, release: Path) -> None:
        pointer = self.clean_dir / ".current.tmp"
        pointer.unlink(missing_ok=True)
        pointer.symlink_to(release.relative_to(self.clean_dir))
        os.replace(pointer, self.current)  # the one atomic step that publishes
        _fsync_dir(self.clean_dir)
        self._link_published_names()

    def _link_published_names(self) -> None:
        """data/clean/idf.duckdb etc. as links through `current` (once; they never change)."""
        for name in PUBLISHED:
            path = self.clean_dir / name
            shutil.rmtree(self.clean_dir / f".{name}.old", ignore_errors=True)
            if path.is_symlink():
                continue
            link = self.clean_dir / f".{name}.link"
            link.unlink(missing_ok=True)
            link.symlink_to(Path("current") / name)
            if path.is_dir():  # exports of the old layout: set aside, then removed
                aside = self.clean_dir / f".{name}.old"
                os.replace(path, aside)
                os.replace(link, path)
                shutil.rmtree(aside)
            else:
                os.replace(link, path)
        _fsync_dir(self.clean_dir)

    def _adopt_old_layout(self) -> None:
        """A warehouse published as plain files (before releases) becomes the first release.

        Copies first, then the pointer, then the links: a kill in between leaves the
        same data under both layouts, so the published names never disagree."""
        if not self.published.exists() or self.published.is_symlink():
            return
        release = self.releases / "00000000T000000000000Z-adopted"
        shutil.rmtree(release, ignore_errors=True)
        staging = self.releases / ".adopting"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        shutil.copyfile(self.published, staging / WAREHOUSE_NAME)
        for folder in ("csv", "parquet"):
            if (self.clean_dir / folder).is_dir():
                shutil.copytree(self.clean_dir / folder, staging / folder)
        if (self.clean_dir / "datapackage.json").is_file():
            shutil.copyfile(self.clean_dir / "datapackage.json", staging / "datapackage.json")
        _fsync_tree(staging)
        os.replace(staging, release)
        self._point_current_at(release)
        self.notes.append(
            f"moved the published warehouse into {release.relative_to(self.clean_dir)}"
        )

    def _set_aside_stray_wals(self) -> None:
        release = self.current_release()
        beside = [self.published] + ([release / WAREHOUSE_NAME] if release else [])
        for database in beside:
            stray = _wal(database)
            if not stray.exists():
                continue
            aside = stray.with_name(f"{stray.name}.stray-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
            stray.rename(aside)
            self.notes.append(
                f"moved a stray write-ahead log beside {database.name} to {aside.name}: "
                "someone opened the warehouse read-write and did not close it cleanly; "
                "analysts should open it read-only"
            )

    def _prune(self) -> None:
        current = self.current_release()
        for old in self.kept()[self.keep + 1 :]:  # the newest one and `keep` before it
            if old != current:
                shutil.rmtree(old, ignore_errors=True)


def readable_by_oldest_reader(path: Path) -> bool:
    """Whether the file's storage format is one DuckDB OLDEST_READER reads (from its header:
    opening the file would wait for an analyst holding it read-write)."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    return header[8:12] == b"DUCK" and int.from_bytes(header[12:20], "little") == _READABLE_FORMAT


def create_warehouse(path: Path) -> None:
    """An empty database file in STORAGE_VERSION's format."""
    with duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION}):
        pass


def convert_warehouse(source: Path, target: Path) -> None:
    """Copy every table, type, view and comment of `source` into a new file at STORAGE_VERSION."""
    with duckdb.connect() as con:
        con.execute("ATTACH ? AS source (READ_ONLY)", [str(source)])
        con.execute(f"ATTACH ? AS target (STORAGE_VERSION '{STORAGE_VERSION}')", [str(target)])
        con.execute("COPY FROM DATABASE source TO target")
        con.execute("DETACH target")


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
        if _FILE_SYSTEM.search(first_line):
            raise LoadError(
                f"cannot open the warehouse {shown}: {first_line}; it is not damaged. "
                "Check the file's permissions and the file system it is on"
            ) from exc
        raise LoadError(
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
    from idf_etl.config import load_settings

    settings = load_settings(
        config,
        {"data_dir": Path(data_dir) if data_dir is not None else None},
        origins={"data_dir": "open_warehouse(data_dir=...)"},
    )
    return open_published(settings.clean_dir, POINT_API)


def open_sandboxed(clean_dir: Path, writable: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only window on the published warehouse that cannot touch any other file:
    no COPY, no reading files, no ATTACH, no extensions, and no setting that undoes this.
    `writable`: the one file it may write (where `sql --csv` has DuckDB write its answer)."""
    open_published(clean_dir).close()
    con = duckdb.connect(
        str(Path(clean_dir) / WAREHOUSE_NAME),
        read_only=True,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    # allowed_paths can only be set once the database is started, before access is shut.
    if writable is not None:
        con.execute("SET allowed_paths = ?", [[str(writable)]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Every file and directory under root on disk before it is renamed into place."""
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            _fsync_dir(path)
    _fsync_dir(root)
