"""Publish the warehouse atomically: build a copy, checkpoint and close it, then rename it over.

Analysts never see a half-written database: they hold the published file, we
never open it read-write. DuckDB finds its write-ahead log by path, so the
building copy is checkpointed and closed before the rename (no WAL may follow
it), leftovers of a killed run are cleared first, and a stray WAL beside the
published file is moved aside (kept, reported), never left to break it.

The file is written in an older DuckDB storage format (STORAGE_VERSION) so the
clients analysts have open it: DuckDB 2.0's own format is refused by every 1.x
client (the CLI from pip, DBeaver, R). DuckDB keeps writing a file in the
format it was created with, so only a new file, or one a DuckDB 2 release of
idf-etl wrote, needs it set: the latter is converted once, whole.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idf_etl.errors import LoadError

WAREHOUSE_NAME = "idf.duckdb"
# The oldest DuckDB that opens the published file (tests/test_old_clients.py opens it with
# this one and with 1.5); 1.0 cannot read the catalog DuckDB 2 writes for primary keys.
OLDEST_READER = "1.1.0"
STORAGE_VERSION = f"v{OLDEST_READER}"
# The storage format number in such a file's header (DuckDB 1.1 reads only this one).
_READABLE_FORMAT = 64


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


class Publisher:
    """Where the warehouse is built and where it is published."""

    def __init__(self, clean_dir: Path, name: str = WAREHOUSE_NAME) -> None:
        self.clean_dir = Path(clean_dir)
        self.published = self.clean_dir / name
        self.building = self.clean_dir / f".{name}.building"
        # A copy of a DuckDB 2 format warehouse, converted from (see prepare).
        self.source = self.clean_dir / f".{name}.source"
        self.notes: list[str] = []

    def prepare(self) -> Path:
        """A fresh building copy of the published warehouse (or nothing, on a first run)."""
        self.clean_dir.mkdir(parents=True, exist_ok=True)
        for leftover in (self.building, _wal(self.building), self.source):
            if leftover.exists():
                leftover.unlink()
                self.notes.append(f"removed {leftover.name} left by an interrupted run")
        stray = _wal(self.published)
        if stray.exists():
            aside = stray.with_name(f"{stray.name}.stray-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
            stray.rename(aside)
            self.notes.append(
                f"moved a stray write-ahead log beside {self.published.name} to {aside.name}: "
                "someone opened the warehouse read-write and did not close it cleanly; "
                "analysts should open it read-only"
            )
        if not self.published.exists():
            create_warehouse(self.building)
        elif readable_by_oldest_reader(self.published):
            shutil.copyfile(self.published, self.building)
        else:
            # Converted from a copy: an analyst may hold the published file, even read-write.
            shutil.copyfile(self.published, self.source)
            try:
                convert_warehouse(self.source, self.building)
            finally:
                self.source.unlink()
            self.notes.append(
                f"rewrote the warehouse in DuckDB storage format {STORAGE_VERSION} "
                f"so that DuckDB {OLDEST_READER} and later clients open it"
            )
        return self.building

    def publish(self, con: duckdb.DuckDBPyConnection) -> Path:
        """Checkpoint and close the building copy, then rename it over the published file."""
        con.execute("CHECKPOINT")
        con.close()
        if _wal(self.building).exists():
            raise LoadError(
                f"{_wal(self.building)} is still there after CHECKPOINT; not publishing"
            )
        with open(self.building, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self.building, self.published)
        directory = os.open(self.clean_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return self.published


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


def open_published(clean_dir: Path, name: str = WAREHOUSE_NAME) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, for status, sql and analysts."""
    path = Path(clean_dir) / name
    if not path.exists():
        raise LoadError(f"no warehouse at {path} yet: run `idf-etl run` (or `make demo`) first")
    return duckdb.connect(str(path), read_only=True)
