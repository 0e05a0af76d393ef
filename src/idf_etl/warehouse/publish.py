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
has its own. A copy takes the log along and replays it (wal.py): committed rows
that only a log holds are kept; a log DuckDB cannot replay is moved aside, kept
and reported, never left to break a later open.

The file is written in an older DuckDB storage format (STORAGE_VERSION) so the
clients analysts have open it: DuckDB 2.0's own format is refused by every 1.x
client (the CLI from pip, DBeaver, R). DuckDB keeps writing a file in the
format it was created with, so only a new file, or one a DuckDB 2 release of
idf-etl wrote, needs it set: the latter is converted once, whole.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idf_etl.errors import LoadError
from idf_etl.warehouse.compact import DEAD_SHARE, compact, dead_share
from idf_etl.warehouse.pointer import (
    UNPUBLISHED,
    WAREHOUSE_NAME,
    pointer_problem,
    resolved,
    run_number,
    what_to_do,
)
from idf_etl.warehouse.readers import check_opens
from idf_etl.warehouse.wal import copy_warehouse, set_aside_unreplayable, wal_of

EXPORTS = ("csv", "parquet", "datapackage.json")
PUBLISHED = (WAREHOUSE_NAME, *EXPORTS)
# The oldest DuckDB that opens the published file (tests/test_old_clients.py opens it with
# this one and with 1.5); 1.0 cannot read the catalog DuckDB 2 writes for primary keys.
OLDEST_READER = "1.1.0"
STORAGE_VERSION = f"v{OLDEST_READER}"
# The storage format number in such a file's header (DuckDB 1.1 reads only this one).
_READABLE_FORMAT = 64
# Rows a row group of the building warehouse holds: DuckDB's least. A checkpoint rewrites
# the row group a batch appended to, and at the default 122,880 rows that is the whole table
# so far (30,000 pages of 2 KB asked 16-48 MiB at once, out of 64MB and 128MB alike).
BUILD_ROW_GROUP = 2048


def refuse_broken_pointer(clean_dir: Path) -> None:
    """LoadError when `current` or the warehouse link leads nowhere good (pointer.py): a run
    would otherwise start the history again at run 1 over the releases kept. Called before
    anything is fetched, and again where the building copy is made."""
    if (problem := pointer_problem(clean_dir)) is not None:
        raise LoadError(
            f"{problem}; not starting a new warehouse over it, nothing was fetched or "
            f"written. {what_to_do(clean_dir)}"
        )


class Publisher:
    """Where the warehouse is built, published and kept."""

    def __init__(self, clean_dir: Path, keep: int = 7) -> None:
        # Resolved: every release is compared with where `current` leads, a resolved path.
        # Given as the user typed it (`-d data`, a symlinked disk), the current release
        # never matched one listed, and the prune deleted it (#22).
        self.clean_dir = Path(clean_dir).resolve()
        self.published = self.clean_dir / WAREHOUSE_NAME
        self.current = self.clean_dir / "current"
        self.releases = self.clean_dir / "releases"
        self.building = self.releases / ".building"
        self.keep = keep
        self.notes: list[str] = []
        # (share of the rows deleted, bytes before, after) when publish rewrote the file.
        self.compacted: tuple[float, int, int] | None = None

    def prepare(self) -> Path:
        """A fresh building copy of the published warehouse (none on a first run); its path."""
        self.releases.mkdir(parents=True, exist_ok=True)
        if self.building.exists():
            shutil.rmtree(self.building)
            self.notes.append("removed a release left half-built by an interrupted run")
        refuse_broken_pointer(self.clean_dir)
        self._adopt_old_layout()
        self._set_aside_stray_wals()
        self.building.mkdir()
        target = self.building / WAREHOUSE_NAME
        # Through `current`, not the fixed link: a link changed by hand is put back at publish.
        published = self.current / WAREHOUSE_NAME if self.current.is_symlink() else self.published
        if not published.exists():  # a first run, or after `restore --empty`
            create_warehouse(target)
            return target
        # Always work on a copy: an analyst may hold the published file, even read-write.
        source = self.building / f"{WAREHOUSE_NAME}.source"
        self.notes += copy_warehouse(published, source)
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

    def publish(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: int | None = None,
        config: dict[str, object] | None = None,
        compact_until: float | None = None,
    ) -> Path:
        """Checkpoint and close the building database, then make its release the current one.

        The exports must already be in the building directory (export_tables). `config`:
        the building connection's; given, a database whose rows are mostly deleted ones is
        rewritten with that configuration first (compact.py, `self.compacted` says how),
        unless time.monotonic() has reached `compact_until` (the run's end): a rewrite takes
        as long as the whole file, and the next run rewrites it instead."""
        share = dead_share(con) if config is not None else 0.0
        con.execute("CHECKPOINT")
        con.close()
        database = self.building / WAREHOUSE_NAME
        if wal_of(database).exists():
            raise LoadError(f"{wal_of(database)} is still there after CHECKPOINT; not publishing")
        late = compact_until is not None and time.monotonic() >= compact_until
        if config is not None and share >= DEAD_SHARE and late:
            self.notes.append(
                f"the warehouse was not rewritten without its deleted rows ({share:.0%} of "
                "those it stores): run_timeout reached; the next run rewrites it"
            )
        elif config is not None and share >= DEAD_SHARE:
            before = database.stat().st_size
            try:
                compact(
                    database, config, row_group=BUILD_ROW_GROUP, storage_version=STORAGE_VERSION
                )
            except duckdb.Error as exc:  # the file as built is whole: published as it is
                self.notes.append(
                    f"the warehouse was not rewritten without its deleted rows ({exc}); "
                    "published as built, and the next run tries again"
                )
            else:
                self.compacted = (share, before, database.stat().st_size)
        _fsync_tree(self.building)
        # The run number first and zero-padded: `ls` lists releases in the order they are
        # kept in. The time only tells people when (and keeps two names apart).
        name = f"run{run_id or 0:06d}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
        release = self.releases / name
        while release.exists():  # the same run published twice in one clock tick
            release = release.with_name(release.name + "x")
        os.replace(self.building, release)
        try:
            _fsync_dir(self.releases)
            self._point_current_at(release)
        except BaseException as exc:
            # Stopped (Ctrl-C, a full disk) before `current` moved: never published, so it
            # goes back to being built, for the run's clean-up or the next run to remove.
            # Left a release, restore would offer a run that said "interrupted" (adversary).
            if self.current_release() != release:
                os.replace(release, self.building)
                raise
            if not isinstance(exc, OSError):
                raise
            # After `current` moved (the fixed names' links, a flush): published all the
            # same, and the run ends by what it published (the next publish redoes the links).
            self.notes.append(f"published, but the published names were not all made ({exc})")
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
            # `current` leading to no kept release (gone, a loop, elsewhere): any kept one.
            below = run_number(current) if current is not None and current in kept else None
            candidates = [r for r in kept if below is None or run_number(r) < below]
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
        # Says "on purpose": a `current` missing without it is a pointer lost (pointer.py).
        (self.clean_dir / UNPUBLISHED).write_text(
            "nothing is published: `idf-etl restore --empty` chose it; the next run starts a "
            "new warehouse\n"
        )
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
        """The release `current` names (it may be gone); None when there is no link, or a loop."""
        return resolved(self.current) if self.current.is_symlink() else None

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
        if self.current.exists() and not self.current.is_symlink():
            # A directory or file made by hand where the pointer goes: kept, set aside.
            aside = self.clean_dir / f"current.stray-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
            os.replace(self.current, aside)
            self.notes.append(f"moved {self.current} (not a link) aside to {aside.name}")
        os.replace(pointer, self.current)  # the one atomic step that publishes
        (self.clean_dir / UNPUBLISHED).unlink(missing_ok=True)
        _fsync_dir(self.clean_dir)
        self._link_published_names()

    def _link_published_names(self) -> None:
        """data/clean/idf.duckdb etc. as links through `current` (once; they never change)."""
        for name in PUBLISHED:
            path = self.clean_dir / name
            shutil.rmtree(self.clean_dir / f".{name}.old", ignore_errors=True)
            if path.is_symlink() and os.readlink(path) == os.path.join("current", name):
                continue
            link = self.clean_dir / f".{name}.link"
            link.unlink(missing_ok=True)
            link.symlink_to(Path("current") / name)
            if path.is_symlink():  # a link made by hand to elsewhere: replaced
                os.replace(link, path)
                self.notes.append(f"{path.name} led elsewhere; it leads to current/{name} again")
            elif path.is_dir():  # exports of the old layout: set aside, then removed
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
        # The file with its log: an earlier idf-etl wrote this file itself, and a run of it
        # killed between its commit and its checkpoint left that run's rows in the log.
        self.notes += copy_warehouse(self.published, staging / WAREHOUSE_NAME)
        old_log = wal_of(self.published)
        for folder in ("csv", "parquet"):
            if (self.clean_dir / folder).is_dir():
                shutil.copytree(self.clean_dir / folder, staging / folder)
        if (self.clean_dir / "datapackage.json").is_file():
            shutil.copyfile(self.clean_dir / "datapackage.json", staging / "datapackage.json")
        _fsync_tree(staging)
        os.replace(staging, release)
        self._point_current_at(release)
        # The plain file is a link now, and its log's rows are in the release (a log that
        # could not be replayed was set aside): nothing reads it any more.
        old_log.unlink(missing_ok=True)
        self.notes.append(
            f"moved the published warehouse into {release.relative_to(self.clean_dir)}"
        )

    def _set_aside_stray_wals(self) -> None:
        """A log beside the link data/clean/idf.duckdb: DuckDB never reads it (it looks beside
        the release's file), so it is left from the layout before releases, or written by
        a client that did not follow the link. Kept aside, reported."""
        stray = wal_of(self.published)
        if not stray.exists():
            return
        aside = stray.with_name(f"{stray.name}.stray-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        stray.rename(aside)
        self.notes.append(
            f"moved a stray write-ahead log beside {self.published.name} to {aside.name}: "
            "someone opened the warehouse read-write and did not close it cleanly; "
            "analysts should open it read-only"
        )

    def set_aside_unreplayable_logs(self) -> list[str]:
        """Every kept release's log that DuckDB cannot replay set aside (restore, fsck)."""
        notes = []
        for release in self.kept():
            note = set_aside_unreplayable(release / WAREHOUSE_NAME, release / WAREHOUSE_NAME)
            notes += [note] if note else []
        return notes

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
