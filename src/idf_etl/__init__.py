"""idf-etl: the IOM Development Fund's project pages as a typed DuckDB warehouse.

The public surface is re-exported here; everything else is an implementation
detail that may move between releases (tests/test_public_api.py pins it).
"""

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
)
from idf_etl.parse.page import PARSER_VERSION, parse_page
from idf_etl.records import OtherPage, Problem, ProjectRecord


def __getattr__(name: str) -> typing.Any:
    # Looked up on first use, not on import: reading the installed metadata costs ~10 ms,
    # which `import idf_etl` (a parse worker's start) does not pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("idf-etl")  # pyproject.toml's, the one place it is written
        except PackageNotFoundError:  # a source tree on sys.path, never installed
            value = "0+unknown"
        globals()[name] = value
        return value
    raise AttributeError(f"module 'idf_etl' has no attribute {name!r}")


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
    "StoreError",
    "__version__",
    "parse_page",
]
