"""Pipeline settings: a TOML file under pipelines/, then IDF_ETL_* variables, then flags.

Later sources win. Everything is validated once, here, so the rest of the code
can trust its settings; a bad value is a ConfigError that names the setting and
where its value came from (the file and section, the environment variable, or
the flag), because that is where the person has to go to fix it.

Here: `Settings`, every setting with its default, bounds and validation. Its sources
are read, in that order, by `settings_sources.py` (`load_settings`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from idf_etl.rawformat import MAX_BYTES_CEILING
from idf_etl.records import LANGS
from idf_etl.setting_numbers import NUMBER_TYPES, read_number
from idf_etl.urls import PROJECT_PAGE_PATTERNS, read_host
from idf_etl.version import package_version

CONTACT_URL = "https://github.com/idf-etl/idf-etl"
ARCHIVE_CDX = "https://web.archive.org/cdx/search/cdx"
ARCHIVE_REPLAY = "https://web.archive.org/web"
# The longest wait or time a setting may give, in seconds: longer is a slip of a digit, and
# revalidate_days=1e300 overflowed the clock's arithmetic (a traceback, adversary).
LONGEST = 365 * 24 * 3600.0
# The fetch may use this share of run_timeout; the rest is for parsing, loading and
# publishing what it stored (seconds for a night's pages, minutes after a first crawl), so
# that a run which fetched until its time was up still ends within run_timeout.
FETCH_SHARE = 0.75
# And of the time the fetch left (pipeline/deadlines.py): the parse leaves MERGE_SHARE to
# the merge, which leaves REPORT_SHARE to the problems and the report, which leaves EXPORT_SHARE to the export
# and the publish (more where the last run's took more, up to MOST_EXPORT_SHARE).
MERGE_SHARE, REPORT_SHARE, EXPORT_SHARE, MOST_EXPORT_SHARE = 0.1, 0.05, 0.05, 0.5
# The fetch stops earlier where the last export and publish took more than their share, so
# that the parse, merge and report keep theirs; never before this share of run_timeout (an
# export as long as the run cannot stop the fetch altogether).
LEAST_FETCH_SHARE = FETCH_SHARE / 2
PARSE_SHARE = 1 - MERGE_SHARE - REPORT_SHARE - EXPORT_SHARE
# A memory amount DuckDB reads as its memory_limit (pipeline/memory.py reads it too).
MEMORY_PATTERN = r"([0-9]+(?:\.[0-9]+)?)\s*([KMG]i?B)"
MEMORY_UNITS = {
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
# Below this DuckDB cannot create the schema, and doubling 0 never gets anywhere.
LEAST_MEMORY = 1000**2
# Beyond it DuckDB refuses the amount ("Memory value out of range"), as a traceback.
MOST_MEMORY = 1000**5


def memory_amount(memory: str) -> tuple[float, str]:
    """'64MB' -> (64.0, 'MB'): an amount MEMORY_PATTERN allows, and its unit."""
    number, unit = re.fullmatch(MEMORY_PATTERN, memory.strip()).groups()  # type: ignore[union-attr]
    return float(number), unit


def memory_bytes(memory: str) -> int:
    """'64MB' -> 64,000,000."""
    number, unit = memory_amount(memory)
    return int(number * MEMORY_UNITS[unit])


def default_user_agent() -> str:
    """Who we are (with the version we run), and how to reach us."""
    return f"idf-etl/{package_version()} (+{CONTACT_URL}; development-fund open data)"


class Settings(BaseModel):
    """Everything a run needs to know. See pipelines/iom_idf.toml for what each setting means."""

    # allow_inf_nan: a rate or timeout of inf/nan is never what someone meant.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    start_urls: list[str] = Field(default_factory=list)
    sitemaps: list[str] = Field(default_factory=list)
    listings: list[str] = Field(default_factory=list)
    url_list: Path | None = None
    sitemaps_from_robots: bool = True
    languages: list[str] = Field(default_factory=lambda: [str(lang) for lang in LANGS])
    allowed_hosts: list[str] = Field(default_factory=list)
    page_patterns: list[str] = Field(default_factory=lambda: list(PROJECT_PAGE_PATTERNS))
    rate: float = Field(1.0, ge=0, description="requests per second per host; 0 = no limit")
    concurrency: int = Field(2, ge=1, le=256, description="requests in flight per host")
    connect_timeout: float = Field(10.0, gt=0, le=LONGEST)
    read_timeout: float = Field(30.0, gt=0, le=LONGEST)
    request_timeout: float = Field(
        120.0, gt=0, le=LONGEST, description="one request, connect to last byte"
    )
    run_timeout: float = Field(
        4 * 3600.0,
        gt=0,
        le=LONGEST,
        description=f"seconds a run may take: the fetch stops at {FETCH_SHARE:.0%} of it, the "
        f"parse at {PARSE_SHARE:.0%} of what the fetch left, the merge at "
        f"{PARSE_SHARE + MERGE_SHARE:.0%} (earlier where the last export and publish took "
        f"more than {EXPORT_SHARE:.0%}); what a stage does not reach is the next run's",
    )
    user_agent: str = Field(default_factory=default_user_agent)
    max_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=MAX_BYTES_CEILING)
    max_sitemap_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_retries: int = Field(4, ge=0, le=20)
    backoff_base: float = Field(1.0, ge=0, le=LONGEST)
    backoff_max: float = Field(120.0, ge=0, le=LONGEST)
    max_redirects: int = Field(5, ge=0, le=20)
    max_listing_pages: int = Field(200, ge=1)
    max_sitemaps: int = Field(1000, ge=1, description="sitemap files read per run")
    max_sitemap_urls: int = Field(2_000_000, ge=1, description="URLs read from sitemaps per run")
    min_discovered_share: float = Field(0.5, ge=0, le=1)
    follow_translations: bool = True
    revalidate_days: float = Field(7.0, ge=0, le=LONGEST / 86400)
    max_pages: int | None = Field(None, ge=1)
    data_dir: Path = Path("data")
    failure_threshold: float = Field(0.05, ge=0, le=1)
    keep_published: int = Field(
        7, ge=0, description="earlier published warehouses kept for `idf-etl restore`"
    )
    parse_workers: int | None = Field(
        None,
        ge=1,
        le=256,
        description="processes that parse pages, then threads that write the exports; "
        "default the cores, 1 = all in the run's own process, one at a time",
    )
    load_batch: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="pages parsed and loaded at a time in `run`, a commit each: small batches "
        "load far fewer pages in run_timeout (at 1, a few a second)",
    )
    warehouse_memory: str = Field(
        "64MB",
        description="memory DuckDB may use while a run builds the warehouse (beyond it, disk)",
    )
    max_warehouse_memory: str | None = Field(
        None,
        description="the most warehouse_memory is raised to where DuckDB needs more at once; "
        "default a quarter of the machine's memory",
    )
    http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    # `idf-etl backfill`: a Wayback-compatible archive's two interfaces (DESIGN.md)
    archive_cdx: str = Field(ARCHIVE_CDX, description="CDX server listing an archive's captures")
    archive_replay: str = Field(
        ARCHIVE_REPLAY, description="replay endpoint: {replay}/{timestamp}id_/{url}"
    )
    archive_rate: float = Field(
        1.0, ge=0, description="requests per second to the archive; 0 = no limit"
    )
    archive_paths: list[str] = Field(
        default_factory=lambda: ["/project", "/fr/project", "/es/project"],
        description="path prefixes whose captures a backfill lists, on every allowed host",
    )
    archive_page_size: int = Field(
        5000, ge=1, le=150_000, description="captures asked of the CDX server per request"
    )
    report: bool = Field(True, description="write clean/report.html after each successful run")

    @field_validator("*", mode="before")
    @classmethod
    def _numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # TOML's true/false are Python's bools, which are ints: `keep_published = false`
        # kept no earlier release, `max_retries = true` one retry, silently (adversary).
        name = info.field_name or ""
        field = cls.model_fields[name]
        default = field.get_default(call_default_factory=True)
        if isinstance(value, bool) and field.annotation is not bool:
            shown = repr(str(default) if isinstance(default, Path) else default)
            raise ValueError(
                f"{str(value).lower()} is a yes/no where this setting wants a value like "
                f"{shown} (its default)"
            )
        if isinstance(value, str) and field.annotation in NUMBER_TYPES:
            return read_number(name, value, field.annotation in (int, int | None), default)
        return value

    @field_validator("warehouse_memory", "max_warehouse_memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is None:
            return None
        units = {unit.lower(): unit for unit in MEMORY_UNITS}
        m = re.fullmatch(MEMORY_PATTERN, value.strip(), re.IGNORECASE)
        if not m:
            raise ValueError(
                f"is not an amount of memory like 64MB (units {', '.join(MEMORY_UNITS)})"
            )
        value = m[1] + units[m[2].lower()]  # '64 mb' -> '64MB', the form DuckDB reads
        if memory_bytes(value) < LEAST_MEMORY:
            raise ValueError("is below 1MB, too little for DuckDB to build anything; e.g. 64MB")
        if memory_bytes(value) > MOST_MEMORY:
            raise ValueError("is more than DuckDB can be given (at most 1000000GB); e.g. 64MB")
        return value

    @field_validator("rate", "archive_rate")
    @classmethod
    def _rate(cls, value: float) -> float:
        if 0 < value < 1 / LONGEST:
            raise ValueError(
                "is less than one request a year: give 0 (no limit) or a rate such as 0.5"
            )
        return value

    @field_validator("user_agent")
    @classmethod
    def _identifying(cls, value: str) -> str:
        # Sent as an HTTP header: other characters stopped every request with a traceback.
        if not value.isascii() or not value.isprintable():
            raise ValueError(
                "has a character an HTTP header cannot carry: give printable ASCII text"
            )
        if "http" not in value and "@" not in value:
            raise ValueError("must identify us with a contact URL or e-mail address")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"is empty: no page would be read; give some of {', '.join(LANGS)}")
        unknown = set(value) - set(LANGS)
        if unknown:
            raise ValueError(f"unknown language(s) {sorted(unknown)}; use {', '.join(LANGS)}")
        return value

    @field_validator("start_urls", "sitemaps", "listings")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            _http_url(url, "https://developmentfund.iom.int/sitemap.xml")
        return value

    @field_validator("archive_cdx", "archive_replay")
    @classmethod
    def _archive_url(cls, value: str) -> str:
        _http_url(value, ARCHIVE_CDX)
        if re.search(r"[?#]", value):
            raise ValueError(
                f"{value!r} is not an http(s) URL without a query (e.g. {ARCHIVE_CDX})"
            )
        return value.strip().rstrip("/")

    @field_validator("archive_paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/") or any(c in path for c in "*?# ") or _unprintable(path):
                raise ValueError(
                    f"{path!r} is not a URL path prefix like '/project' (a '/', then no space, "
                    "control character, '*', '?' or '#')"
                )
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        hosts = []
        for host in value:
            try:
                hosts.append(read_host(host))
            except ValueError as exc:
                raise ValueError(
                    f"{host!r} is not a host: {exc}; give host or host:port, "
                    f"e.g. {_host_example(host)}"
                ) from None
        # As the fetch's URLs write them (lower case, ASCII): 'Bücher.example' matched none.
        return hosts

    @field_validator("page_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return value

    @field_validator("data_dir", "url_list", mode="before")
    @classmethod
    def _printable_path(cls, value: Any) -> Any:
        # A NUL byte passed for no directory at all, and stopped the run with a traceback.
        if value is not None and _unprintable(str(value)):
            raise ValueError("has a control character (a tab, newline, NUL...): give a plain path")
        return value

    @field_validator("data_dir", "url_list")
    @classmethod
    def _home(cls, value: Path | None) -> Path | None:
        # `~/data` from a pipeline file, a variable or a notebook: no shell expanded it.
        return value.expanduser() if value is not None else None

    @field_validator("url_list")
    @classmethod
    def _url_list(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value.absolute()}")
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir(cls, value: Any) -> Any:
        if not isinstance(value, str | os.PathLike):  # `data_dir = 5` was a traceback
            raise ValueError("is not a path: give the directory as text in quotes, e.g. 'data'")
        if str(value).strip() == "":
            raise ValueError("is empty; give a directory (raw pages go in DIR/raw)")
        if Path(value).exists() and not Path(value).is_dir():
            raise ValueError(
                "is a file, not a directory; give the data directory (DIR/raw, DIR/clean)"
            )
        try:  # DuckDB opens files by UTF-8 names only (else a C++ `std::bad_cast`)
            str(Path(value).absolute()).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "has a path that is not UTF-8 (a directory named in another encoding): the "
                "warehouse cannot be opened there; rename it, or give another directory"
            ) from None
        return value

    @property
    def fetch_seconds(self) -> float:
        """The fetch's share of run_timeout (FETCH_SHARE)."""
        return self.run_timeout * FETCH_SHARE

    def fetch_budget(self, seconds: float | None = None) -> str:
        """The fetch's time, as messages say it; `seconds`: a run's fetch cut shorter than its
        share, to leave the export the time the last one took (pipeline/deadlines.py)."""
        if seconds is None or seconds >= self.fetch_seconds:
            return (
                f"{self.fetch_seconds:g}s: {FETCH_SHARE:.0%} of run_timeout {self.run_timeout:g}s"
            )
        # No seconds said: they move with the last export's, and a stored problem's identity
        # is its message (one problem a night, opened and resolved, otherwise).
        return (
            f"less than {FETCH_SHARE:.0%} of run_timeout {self.run_timeout:g}s, to leave the "
            "export and publish as long as the last run's took"
        )

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def clean_dir(self) -> Path:
        return self.data_dir / "clean"

    def hosts(self) -> list[str]:
        """The allowed hosts, or, when none are set, the hosts of the start points."""
        if self.allowed_hosts:
            return self.allowed_hosts
        from idf_etl.urls import netloc

        return sorted({netloc(u) for u in self.start_points() if netloc(u)})

    def start_points(self) -> list[str]:
        """Every configured start URL, sitemap and listing: where the data comes from."""
        return [*self.start_urls, *self.sitemaps, *self.listings]


def _unprintable(text: str) -> bool:
    """True when `text` has a control character or a space other than ' ' (a tab, a newline)."""
    return not text.replace(" ", "x").isprintable()


def _http_url(url: str, example: str) -> None:
    """Refuses (ValueError) what is no http(s) URL on a host `read_host` reads."""
    parts = re.fullmatch(r"(?i)https?://([^/?#]*)[^\s]*", url.strip())
    if parts is None or _unprintable(url.strip(" ")):
        raise ValueError(f"{url!r} is not an http(s) URL (e.g. {example})")
    if "@" in parts[1]:
        # The fetch never sent them (normalise_url drops them), yet datapackage.json
        # published the URL whole: a password in a public file (adversary, issue 22).
        raise ValueError(
            f"{without_user(url)!r} names a user or password ('...@'): the fetch sends none "
            "(the site is public) and the URL is published in datapackage.json; give it "
            "without them"
        )
    try:
        read_host(parts[1])
    except ValueError as exc:
        raise ValueError(f"{url!r} has no usable host: {exc}") from None


def without_user(text: str) -> str:
    """`text` with the user and password of each http(s) URL in it written '***'."""
    return re.sub(r"(?i)(https?://)[^/?#\s]*@", r"\1***@", text)


def _host_example(given: str) -> str:
    """The host inside a bad allowed_hosts entry ('http://a.example/x' -> 'a.example'), or a
    plain one: never the bad value again."""
    bare = re.sub(r"^\w+://|/.*$", "", given.strip())
    try:
        return repr(read_host(bare))
    except ValueError:
        return "'127.0.0.1:8000'"
