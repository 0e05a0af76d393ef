"""idf-etl: the IOM Development Fund's project pages as a typed DuckDB warehouse.

The public surface is re-exported here; everything else is an implementation
detail that may move between releases (tests/test_public_api.py pins it).
"""

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

__version__ = "0.1.0"

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
