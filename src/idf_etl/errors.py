"""The exceptions idf-etl raises: one root, one child per stage of the flow."""


class IdfEtlError(Exception):
    """Root of every error idf-etl raises on purpose; catch this to catch them all."""


class ConfigError(IdfEtlError):
    """A pipeline configuration file or command-line setting is missing or invalid."""


class FetchError(IdfEtlError):
    """A page could not be fetched (network failure, refused URL, bad status or body)."""


class FetchRefused(FetchError):
    """We chose not to request a URL: host not allowed, robots.txt, a redirect off the site."""


class HostUnavailable(FetchError):
    """Nothing more is asked of a host in this run: its robots.txt could not be read,
    or it asked for a pause longer than backoff_max. `origin` names the host (scheme://host),
    so that two hosts down are two problems, not one."""

    def __init__(self, message: str, origin: str | None = None) -> None:
        super().__init__(message)
        self.origin = origin


class OutOfTime(FetchError):
    """The run's run_timeout passed: the request was not sent, or was cut short."""


class ParseError(IdfEtlError):
    """An input cannot be read as a page at all (empty, binary, undecodable)."""


class StoreError(IdfEtlError):
    """The raw store holds a damaged or missing body, or its manifest cannot be read."""


class LoadError(IdfEtlError):
    """The warehouse could not be written or published."""


class ReportError(IdfEtlError):
    """The HTML report could not be built; the warehouse is not affected."""


class LockError(IdfEtlError):
    """Another idf-etl run holds the data directory's lock."""


class StuckLockError(LockError):
    """Another run has held the lock for longer than a healthy run takes: probably stuck."""
