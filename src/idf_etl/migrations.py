"""Numbered schema changes that bring an older warehouse up to this release's schema, in place.

The history in `runs` and `project_changes` exists only in the warehouse file,
so a new release never rebuilds it: `warehouse.create_schema` reads the
file's version from `schema_info` and applies every newer migration here, in
order, in one transaction, then rewrites comments and views (they hold no
data). A new warehouse is created at the latest version directly, so each
migration must leave an old file with exactly the columns the declarations in
warehouse.py / records.py give a new one: tests/test_upgrade.py checks it on
a file the previous release wrote.

Adding a column: declare it (a record field with `Stored`, or a `Column` in
warehouse.TABLES), then append a Migration with the next number and its
`ALTER TABLE ... ADD COLUMN` (nullable: DuckDB cannot add a NOT NULL column).
A new table needs no statement (declared tables are created when missing),
only the migration's number. Never edit a migration that has been released.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    why: str
    statements: tuple[str, ...] = ()


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the first release's schema (created whole, never migrated to)"),
    Migration(
        2,
        "runs records the schema version each run wrote",
        ("ALTER TABLE runs ADD COLUMN schema_version INTEGER",),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def pending(version: int) -> list[Migration]:
    """The migrations a warehouse at `version` still needs, in order."""
    return [m for m in MIGRATIONS if m.version > version]
