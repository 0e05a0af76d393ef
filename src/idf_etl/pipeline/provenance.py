"""Which site a data directory holds: one directory, one site.

`make demo` and the live job once shared data/: the demo's 127.0.0.1 pages were
re-parsed into the live warehouse every night, and its problems mailed. The
data directory records the site it was read from in what it holds, the URLs of
its stored pages (the raw store's manifest, else the published warehouse's
pages), so a run that would read a site sharing no host with them is refused
before anything is fetched or written (`check_same_site`). A site that gains a
host (one host shared) is the same site. The exports name their source from
the same URLs (`sources`), so a re-parse under another pipeline file does not
name the wrong site either.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from idf_etl.config import Settings
from idf_etl.errors import ConfigError, LoadError
from idf_etl.rawstore import RawStore
from idf_etl.warehouse.readers import open_published


def hostname(host_or_url: str) -> str:
    """The host name of 'host[:port]' or a URL, lower-case, without the port: the demo on
    another port is still the demo."""
    text = host_or_url if "//" in host_or_url else f"//{host_or_url}"
    return (urlsplit(text).hostname or "").lower()


def check_same_site(settings: Settings, store: RawStore) -> None:
    """ConfigError when the data directory holds pages of hosts none of which this run reads."""
    wanted = {hostname(h) for h in settings.hosts()} - {""}
    if not wanted:
        return
    held = _hostnames(store.urls()) or warehouse_hosts(settings.clean_dir)
    if held and not held & wanted:
        raise ConfigError(
            f"the data directory {settings.data_dir} holds pages of {', '.join(sorted(held))}, "
            f"and this run reads {', '.join(sorted(wanted))}: one data directory holds one "
            "site (the demo's is demo/data). Give this run its own --data-dir (or "
            f"IDF_ETL_DATA_DIR, or data_dir in the pipeline file), or move {settings.data_dir} "
            "away to start afresh; nothing was fetched or written"
        )


def warehouse_hosts(clean_dir: Path) -> set[str]:
    """The host names of the published warehouse's pages (none when there is none)."""
    if not (Path(clean_dir) / "idf.duckdb").exists():
        return set()
    try:
        con = open_published(clean_dir)
    except LoadError:
        return set()  # a damaged warehouse is fsck's and restore's to report
    try:
        return _hostnames(url for (url,) in con.execute("SELECT url FROM pages").fetchall())
    finally:
        con.close()


def sources(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """Where the warehouse on `con` was read from, for datapackage.json: the configured start
    points on its pages' hosts, else the origins of its pages (a re-parse of the demo's pages
    under the live pipeline file names the demo, not iom.int)."""
    urls = [url for (url,) in con.execute("SELECT url FROM pages").fetchall()]
    held = _hostnames(urls)
    named = [s for s in settings.start_points() if hostname(s) in held]
    if named or not urls:
        return named or settings.start_points()
    origins = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}/" for u in urls}
    return sorted(origins)


def _hostnames(urls: Iterable[str]) -> set[str]:
    return {hostname(u) for u in urls} - {""}
