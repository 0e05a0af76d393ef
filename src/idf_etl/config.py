"""Pipeline settings: a TOML file under pipelines/, then IDF_ETL_* variables, then flags.

Later sources win. Everything is validated once, here, so the rest of the code
can trust its settings; a bad value is a ConfigError that names the setting.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from idf_etl.errors import ConfigError
from idf_etl.records import LANGS

DEFAULT_CONFIG = Path("pipelines/iom_idf.toml")
ENV_PREFIX = "IDF_ETL_"
CONTACT_URL = "https://github.com/idf-etl/idf-etl"
DEFAULT_USER_AGENT = f"idf-etl/0.1 (+{CONTACT_URL}; development-fund open data)"


class Settings(BaseModel):
    """Everything a run needs to know. See pipelines/iom_idf.toml for what each setting means."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    start_urls: list[str] = Field(default_factory=list)
    sitemaps: list[str] = Field(default_factory=list)
    listings: list[str] = Field(default_factory=list)
    url_list: Path | None = None
    sitemaps_from_robots: bool = True
    languages: list[str] = Field(default_factory=lambda: [str(lang) for lang in LANGS])
    allowed_hosts: list[str] = Field(default_factory=list)
    page_patterns: list[str] = Field(
        default_factory=lambda: [r"^/(?:(?:fr|es)/)?projects?/[^/]+$", r"^/(?:fr|es)/node/\d+$"]
    )
    rate: float = Field(1.0, ge=0, description="requests per second per host; 0 = no limit")
    concurrency: int = Field(2, ge=1, le=256, description="requests in flight per host")
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    request_timeout: float = Field(120.0, gt=0, description="one request, connect to last byte")
    run_timeout: float = Field(4 * 3600.0, gt=0, description="seconds of fetching per run")
    user_agent: str = DEFAULT_USER_AGENT
    max_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    max_sitemap_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_retries: int = Field(4, ge=0, le=20)
    backoff_base: float = Field(1.0, ge=0)
    backoff_max: float = Field(120.0, ge=0)
    max_redirects: int = Field(5, ge=0, le=20)
    max_listing_pages: int = Field(200, ge=1)
    max_sitemaps: int = Field(1000, ge=1, description="sitemap files read per run")
    max_sitemap_urls: int = Field(2_000_000, ge=1, description="URLs read from sitemaps per run")
    min_discovered_share: float = Field(0.5, ge=0, le=1)
    follow_translations: bool = True
    revalidate_days: float = Field(7.0, ge=0)
    max_pages: int | None = Field(None, ge=1)
    data_dir: Path = Path("data")
    failure_threshold: float = Field(0.05, ge=0, le=1)
    parse_workers: int | None = Field(
        None, ge=1, le=256, description="processes that parse pages; default the cores, 1 = none"
    )
    http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    report: bool = Field(True, description="write clean/report.html after each successful run")

    @field_validator("user_agent")
    @classmethod
    def _identifying(cls, value: str) -> str:
        if "http" not in value and "@" not in value:
            raise ValueError("must identify us with a contact URL or e-mail address")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(LANGS)
        if unknown:
            raise ValueError(f"unknown language(s) {sorted(unknown)}; use {', '.join(LANGS)}")
        return value

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


_LIST_FIELDS = {name for name, f in Settings.model_fields.items() if "list" in str(f.annotation)}


def load_settings(
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Read the pipeline file (default pipelines/iom_idf.toml when present), the
    environment and explicit overrides (flags), in that order of precedence."""
    values: dict[str, Any] = {}
    file = path or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if file is not None:
        try:
            data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {file} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
        values.update(data.get("fetch", {}))
        values.update({k: v for k, v in data.items() if not isinstance(v, dict)})
    for key, raw in (os.environ if environ is None else environ).items():
        if (
            key.startswith(ENV_PREFIX)
            and (name := key[len(ENV_PREFIX) :].lower()) in Settings.model_fields
        ):
            values[name] = (
                [p.strip() for p in raw.split(",") if p.strip()] if name in _LIST_FIELDS else raw
            )
    values.update({k: v for k, v in (overrides or {}).items() if v not in (None, [], ())})
    # Start points given on their own replace the configured ones and bring their hosts.
    if overrides and overrides.get("start_urls"):
        for key in ("sitemaps", "listings"):
            if not overrides.get(key):
                values[key] = []
        if not overrides.get("allowed_hosts") and not _env_has("allowed_hosts", environ):
            values["allowed_hosts"] = []
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings ({file or 'defaults'}): {problems}") from exc


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """['rate=0.5', 'languages=en,fr'] -> {'rate': '0.5', 'languages': ['en', 'fr']}."""
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in Settings.model_fields:
            known = ", ".join(sorted(Settings.model_fields))
            raise ConfigError(f"--set {item!r}: expected NAME=VALUE with NAME one of: {known}")
        values[name] = (
            [p.strip() for p in raw.split(",") if p.strip()] if name in _LIST_FIELDS else raw
        )
    return values


def _env_has(name: str, environ: dict[str, str] | None) -> bool:
    return (ENV_PREFIX + name.upper()) in (os.environ if environ is None else environ)
