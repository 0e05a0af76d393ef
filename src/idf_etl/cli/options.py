"""What several commands share, defined once: options (added by a decorator) and exit codes.

    @app.command()
    @log_options
    @crawl_options
    def run(crawl: CrawlOptions, from_raw: bool = False) -> None: ...

`crawl_options` adds --config, --start-url, --data-dir, ... to a command and
hands them to it as one CrawlOptions; `log_options` (`warehouse_log_options` on the
commands that read no pages) adds -v/-q/--log-json and
sets logging up before the command's body runs (sqlite-utils does the same
with click decorators; typer reads the signature we give the wrapper).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer
import typer.core

from idf_etl.config import Settings
from idf_etl.logs import setup_logging
from idf_etl.settings_sources import load_settings, parse_assignments

F = TypeVar("F", bound=Callable[..., Any])


def _no_type_label(display: Callable[..., str | None]) -> Callable[..., str | None]:
    """Typer (0.29) writes `<bool>` after every flag in --help (-h and --revalidate included),
    though a flag takes no value, and `<list[str]>` after an argument already named by its
    metavar: shown as nothing, as click does. For every parameter at once, so a new one cannot
    bring it back (tests/cli/test_cli_conventions.py reads every command's help)."""

    @functools.wraps(display)
    def shown(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "param_type_name", "") == "argument":
            return None
        return display(self, ctx)

    return shown


for _kind in ("TyperOption", "TyperArgument"):
    if hasattr(getattr(typer.core, _kind, None), "display_type_rich"):
        _cls = getattr(typer.core, _kind)
        _cls.display_type_rich = _no_type_label(_cls.display_type_rich)

# 0 success; 1 finished, but some inputs failed; 2 bad usage or configuration;
# 3 another run holds the lock; 4 it has held it longer than a healthy run takes (stuck:
# the schedule alerts on it, never on 3) (cli.main maps errors to them).
EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_LOCKED, EXIT_STUCK = 0, 1, 2, 3, 4
# What read stdout went away (`idf-etl parse ... | head -1`): the command ends quietly with
# 128 + SIGPIPE, as `cat` does (a shell's `set -o pipefail` sees it as cat's).
EXIT_PIPE = 141


class Verdict(SystemExit):
    """An exit status that is the command's answer (`check`'s CRITICAL is 2), which `main`
    must never take for a usage error (also 2)."""


def _default(name: str) -> str:
    value = Settings.model_fields[name].get_default(call_default_factory=True)
    shown = (
        "none"
        if value in (None, [])
        else ",".join(map(str, value))
        if isinstance(value, list)
        else value
    )
    return f"{name} of the pipeline file; built in: {shown}"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="Pipeline file.",
        show_default="$IDF_ETL_CONFIG, else pipelines/iom_idf.toml when present",
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        "-d",
        metavar="DIR",
        help="Raw pages under DIR/raw, warehouse under DIR/clean.",
        show_default=_default("data_dir") + ", or $IDF_ETL_DATA_DIR",
    ),
]


@dataclass
class CrawlOptions:
    """What `run` and `fetch` were told on the command line; `settings()` layers it."""

    config: ConfigOpt = None
    start_url: Annotated[
        list[str] | None,
        typer.Option(
            "--start-url",
            metavar="URL",
            help="Start point (sitemap, listing or page); repeatable. "
            "Replaces the configured ones; their hosts become the allowed hosts.",
            show_default=_default("start_urls"),
        ),
    ] = None
    data_dir: DataDirOpt = None
    rate: Annotated[
        float | None,
        typer.Option(
            metavar="PER_SECOND",
            help="Requests per second per host (0: no limit).",
            show_default=_default("rate"),
        ),
    ] = None
    concurrency: Annotated[
        int | None,
        typer.Option(
            metavar="N", help="Requests in flight per host.", show_default=_default("concurrency")
        ),
    ] = None
    max_pages: Annotated[
        int | None,
        typer.Option(
            metavar="N", help="Request at most N pages.", show_default=_default("max_pages")
        ),
    ] = None
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            metavar="HOST[:PORT]",
            help="Host to crawl (not a URL); repeatable.",
            show_default="allowed_hosts of the pipeline file, else the start points' hosts",
        ),
    ] = None
    url_list: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="File of page URLs, one a line.", show_default=_default("url_list")
        ),
    ] = None
    revalidate: Annotated[
        bool | None,
        typer.Option(
            "--revalidate/--no-revalidate",
            help="Ask for every known page again (conditionally), whatever the sitemaps say.",
            show_default="when the last such pass is older than revalidate_days",
        ),
    ] = None
    assign: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=VALUE",
            help="Any setting of the pipeline file (lists comma-separated, or as in the file: "
            '["en", "fr"]); repeatable. '
            "Example: --set read_timeout=60 --set languages=en,fr",
        ),
    ] = None

    def settings(self, more: dict[str, tuple[Any, str]] | None = None) -> Settings:
        """The file, the environment, --set, then the named flags (later wins); `more`:
        a command's own flags, setting -> (value, flag)."""
        flags = {
            **(more or {}),
            "start_urls": (self.start_url, "--start-url"),
            "data_dir": (self.data_dir, "--data-dir"),
            "rate": (self.rate, "--rate"),
            "concurrency": (self.concurrency, "--concurrency"),
            "max_pages": (self.max_pages, "--max-pages"),
            "allowed_hosts": (self.allow_host, "--allow-host"),
            "url_list": (self.url_list, "--url-list"),
        }
        assigned = parse_assignments(self.assign or [])
        origins = {name: f"--set {name}" for name in assigned}
        overrides = dict(assigned)
        for name, (value, flag) in flags.items():
            if value not in (None, []):
                overrides[name], origins[name] = value, flag
        return load_settings(self.config, overrides, origins=origins)


def settings_for(config: Path | None, data_dir: Path | None) -> Settings:
    """Settings for commands that only read the warehouse (status, sql, check)."""
    return load_settings(config, {"data_dir": data_dir}, origins={"data_dir": "--data-dir"})


def crawl_options(command: F) -> F:
    """Add CrawlOptions' fields as options; the command receives them as `crawl`."""
    hints = get_type_hints(CrawlOptions, include_extras=True)
    params = [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]
        )
        for f in fields(CrawlOptions)
    ]
    return _with_params(command, params, lambda **given: CrawlOptions(**given), into="crawl")


def _setup(verbose: int, quiet: int, log_json: bool) -> None:
    setup_logging(verbose, quiet, log_json)


def _verbose_option(help_text: str) -> Any:
    return Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, metavar="", show_default=False, help=help_text),
    ]


QuietOpt = Annotated[
    int,
    typer.Option(
        "--quiet",
        "-q",
        count=True,
        metavar="",
        show_default=False,
        help="Less: -q warnings and errors, -qq errors.",
    ),
]
LogJsonOpt = Annotated[
    bool,
    typer.Option(
        "--log-json", metavar="", help="Log JSON lines (for journald, Loki, ELK); no bars."
    ),
]


def _log_options(verbose_help: str) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        params = [
            inspect.Parameter(
                "verbose",
                inspect.Parameter.KEYWORD_ONLY,
                default=0,
                annotation=_verbose_option(verbose_help),
            ),
            inspect.Parameter(
                "quiet", inspect.Parameter.KEYWORD_ONLY, default=0, annotation=QuietOpt
            ),
            inspect.Parameter(
                "log_json", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=LogJsonOpt
            ),
        ]
        return _with_params(command, params, _setup, into=None)

    return decorate


# Add -v/--verbose, -q/--quiet and --log-json; logging is set up before the body runs.
# The commands that read pages (parse, fetch, run) log each one at -v; the others do not.
log_options = _log_options("More detail: -v logs every page.")
warehouse_log_options = _log_options("More detail: -v adds debug messages.")


def _with_params(
    command: F, params: list[inspect.Parameter], make: Callable[..., Any], into: str | None
) -> F:
    """A wrapper of `command` whose signature has `params` too: their values go to `make`,
    and what it returns is passed on as `into` (when given)."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != into]
    names = [p.name for p in params]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        made = make(**{name: kwargs.pop(name) for name in names})
        if into is not None:
            kwargs[into] = made
        return command(**kwargs)

    del wrapper.__wrapped__  # typer must see the new signature, not the wrapped one
    new = signature.replace(parameters=[*own, *params])
    wrapper.__signature__ = new  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in new.parameters.values()}
    return wrapper  # type: ignore[return-value]
