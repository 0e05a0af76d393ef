"""Publish the warehouse atomically: build a copy, checkpoint and close it, then rename it over.

Analysts never see a half-written database: they hold the published file, we
never open it read-write. DuckDB finds its write-ahead log by path, so the
building copy is checkpointed and closed before the rename (no WAL may follow
it), leftovers of a killed run are cleared first, and a stray WAL beside the
published file is moved aside (kept, reported), never left to break it.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idf_etl.errors import LoadError

WAREHOUSE_NAME = "idf.duckdb"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


class Publisher:
    """Where the warehouse is built and where it is published."""

    def __init__(self, clean_dir: Path, name: str = WAREHOUSE_NAME) -> None:
        self.clean_dir = Path(clean_dir)
        self.published = self.clean_dir / name
        self.building = self.clean_dir / f".{name}.building"
        self.notes: list[str] = []

    def prepare(self) -> Path:
        """A fresh building copy of the published warehouse (or nothing, on a first run)."""
        self.clean_dir.mkdir(parents=True, exist_ok=True)
        for leftover in (self.building, _wal(self.building)):
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
        if self.published.exists():
            shutil.copyfile(self.published, self.building)
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


def open_published(clean_dir: Path, name: str = WAREHOUSE_NAME) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, for status, sql and analysts."""
    path = Path(clean_dir) / name
    if not path.exists():
        raise LoadError(
            f"no warehouse at {path.absolute()}: run `idf-etl run` (or `make demo`) first, or "
            "point at the data directory with --data-dir, IDF_ETL_DATA_DIR or the pipeline "
            "file's data_dir (--config, IDF_ETL_CONFIG)"
        )
    return duckdb.connect(str(path), read_only=True)
