"""`idf-etl fsck`: check every stored body, the manifest and the published warehouse.

What can be repaired here is: a damaged or missing body is set aside and its
page made to download again on the next fetch; a damaged manifest is moved
aside and rebuilt from the published warehouse's `pages` table; a write-ahead log
DuckDB cannot replay is set aside beside its file. A damaged warehouse is reported
with the command that puts back an earlier one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from idf_etl.errors import LoadError, StoreError
from idf_etl.rawstore import RawStore
from idf_etl.warehouse.publish import Publisher
from idf_etl.warehouse.readers import WAREHOUSE_NAME, check_opens


@dataclass
class FsckFindings:
    checked: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unrepaired: list[str] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return bool(self.repaired or self.unrepaired)

    def lines(self) -> list[str]:
        verdict = (
            "nothing wrong"
            if not self.damaged
            else f"damage found: {len(self.repaired)} repaired, {len(self.unrepaired)} not"
        )
        return [
            *(f"checked {c}" for c in self.checked),
            *(f"repaired: {r}" for r in self.repaired),
            *(f"NOT repaired: {u}" for u in self.unrepaired),
            verdict,
        ]


def check_data_dir(data_dir: Path) -> FsckFindings:
    """Check (and repair what can be repaired in) one data directory."""
    findings = FsckFindings()
    raw, clean = Path(data_dir) / "raw", Path(data_dir) / "clean"
    published = clean / WAREHOUSE_NAME
    warehouse_ok = _check_warehouse(clean, findings)
    store: RawStore | None
    try:
        store = RawStore(raw)
    except StoreError as exc:
        findings.checked.append(f"manifest: {exc}")
        store = _rebuild_manifest(raw, published if warehouse_ok else None, findings)
    if store is None:
        return findings
    with store:
        _check_bodies(store, findings)
    return findings


def _check_warehouse(clean: Path, findings: FsckFindings) -> bool:
    published = clean / WAREHOUSE_NAME
    publisher = Publisher(clean)
    # A log DuckDB cannot replay stops every open of its file, which is itself whole.
    findings.repaired += publisher.set_aside_unreplayable_logs()
    for release in publisher.kept():
        try:
            check_opens(release / WAREHOUSE_NAME, release / WAREHOUSE_NAME)
        except LoadError:
            findings.checked.append(f"kept release {release.name}: damaged (not usable by restore)")
    if not published.exists():
        findings.checked.append(f"warehouse: none published at {published}")
        return False
    try:
        check_opens(published, published)
    except LoadError as exc:
        findings.unrepaired.append(str(exc))
        return False
    findings.checked.append(f"warehouse {published}: opens")
    return True


def _rebuild_manifest(raw: Path, warehouse: Path | None, findings: FsckFindings) -> RawStore | None:
    manifest = raw / "manifest.sqlite"
    if warehouse is None:
        findings.unrepaired.append(
            f"the manifest {manifest} is damaged and there is no readable warehouse to rebuild "
            "it from: restore a warehouse first (`idf-etl restore`), then run fsck again"
        )
        return None
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    for suffix in ("", "-wal", "-shm"):
        part = raw / f"manifest.sqlite{suffix}"
        if part.exists():
            os.replace(part, raw / f"manifest.sqlite{suffix}.damaged-{stamp}")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT url, content_sha256, fetched_at::VARCHAR, gone FROM pages "
            "WHERE content_sha256 IS NOT NULL ORDER BY url"
        ).fetchall()
    store = RawStore(raw)
    store.restore_rows(rows)
    findings.repaired.append(
        f"the manifest was damaged: moved aside to manifest.sqlite.damaged-{stamp} and rebuilt "
        f"from the warehouse ({len(rows)} pages; their validators are lost, so the next fetch "
        "downloads each page once)"
    )
    return store


def _check_bodies(store: RawStore, findings: FsckFindings) -> None:
    leftovers = list(store.objects.glob("*/.tmp-*"))
    for tmp in leftovers:
        tmp.unlink()
    on_disk = {p.name.removesuffix(".gz") for p in store.objects.glob("*/*.gz")}
    wanted = {p.sha256 for p in store.pages() if p.sha256} | store.capture_bodies()
    bad: dict[str, str] = {}
    waiting = {sha for sha in wanted - on_disk if store.awaiting_download(sha)}
    for sha in sorted((on_disk | wanted) - waiting):
        try:
            store.get_body(sha)  # sets a damaged or missing body aside itself
        except StoreError as exc:
            bad[sha] = str(exc)
    findings.checked.append(
        f"{len(on_disk | wanted)} stored bodies against their sha256, "
        f"{len(wanted)} referenced by the manifest"
    )
    if waiting:
        findings.checked.append(
            f"{len(waiting)} bodies set aside earlier wait for the next fetch to download them"
        )
    if leftovers:
        findings.checked.append(f"removed {len(leftovers)} temporary files of interrupted runs")
    for sha, reason in bad.items():
        pages = store.urls_of(sha)
        if pages:
            findings.repaired.append(
                f"{reason}: set aside under {store.damaged.name}/; the next fetch downloads "
                f"{', '.join(pages)} again (its previous data stays in the warehouse)"
            )
        else:
            findings.repaired.append(
                f"{reason}: no page of the site uses it; set aside (a web archive's capture "
                "of it, if any, is fetched again by the next backfill)"
            )
