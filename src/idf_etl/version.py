"""The installed package's version: written once, in pyproject.toml, and read here from the
package metadata (for `--version`, the User-Agent, the runs ledger and the report).

Modules inside the package take it from here, never from the package's `__init__`
(the public facade, which imports the parser): a shared module stays below the stages.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def package_version() -> str:
    """'0.1.0'; '0+unknown' for a source tree on sys.path that was never installed."""
    try:
        return version("idf-etl")
    except PackageNotFoundError:
        return "0+unknown"
