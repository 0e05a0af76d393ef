"""idf-etl: the IOM Development Fund's project pages as a typed DuckDB warehouse.

The public surface is re-exported here; everything else is an implementation
detail that may move between releases (tests/test_public_api.py pins it).

    import idf_etl
    con = idf_etl.open_warehouse()                 # the published warehouse, read-only
    result = idf_etl.run_pipeline(idf_etl.load_settings())   # a scheduler's nightly run
    record = idf_etl.parse_page(html_bytes)        # one page, no I/O

`import idf_etl` stays light (no DuckDB, no HTTP client, no pipeline): a parse
worker imports it. The names that need those are imported on first use.
"""

import importlib
import logging
import typing

from idf_etl.errors import (
    ConfigError,
    FetchError,
    FetchRefused,
    HostUnavailable,
    IdfEtlError,
    LoadError,
    LockError,
    OutOfTime,
    ParseError,
    ReportError,
    StoreError,
    StuckLockError,
)
from idf_etl.parse.page import PARSER_VERSION, parse_page
from idf_etl.records import OtherPage, Problem, ProjectRecord

if typing.TYPE_CHECKING:  # what type checkers and IDEs see; imported on first use below
    from idf_etl.config import Settings
    from idf_etl.pipeline.run import run_pipeline
    from idf_etl.settings_sources import load_settings
    from idf_etl.warehouse.readers import open_warehouse


# A library leaves its messages' handling to the application: nothing is printed unless
# the application configures logging (the CLI does, in logs.py).
logging.getLogger("idf_etl").addHandler(logging.NullHandler())

# name -> the module that holds it, imported on first use (DuckDB, httpx, pydantic models).
_LAZY = {
    "Settings": "idf_etl.config",
    "load_settings": "idf_etl.settings_sources",
    "open_warehouse": "idf_etl.warehouse.readers",
    "run_pipeline": "idf_etl.pipeline.run",
}


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    # Looked up on first use, not on import: reading the installed metadata costs ~10 ms,
    # which `import idf_etl` (a parse worker's start) does not pay.
    if name == "__version__":
        from idf_etl.version import package_version

        globals()[name] = package_version()
        return globals()[name]
    raise AttributeError(f"module 'idf_etl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "PARSER_VERSION",
    "ConfigError",
    "FetchError",
    "FetchRefused",
    "HostUnavailable",
    "IdfEtlError",
    "LoadError",
    "LockError",
    "OtherPage",
    "OutOfTime",
    "ParseError",
    "Problem",
    "ProjectRecord",
    "ReportError",
    "Settings",
    "StoreError",
    "StuckLockError",
    "__version__",
    "load_settings",
    "open_warehouse",
    "parse_page",
    "run_pipeline",
]
