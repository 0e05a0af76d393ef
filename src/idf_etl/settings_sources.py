"""Where settings come from: the pipeline file (--config, else $IDF_ETL_CONFIG, else
pipelines/iom_idf.toml when present), then IDF_ETL_* variables, then flags; later sources
win. A bad value or an unknown name is a ConfigError that says where it was written.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from idf_etl.config import Settings, without_user
from idf_etl.errors import ConfigError

DEFAULT_CONFIG = Path("pipelines/iom_idf.toml")
ENV_PREFIX = "IDF_ETL_"
# Not a setting: the pipeline file itself, for schedulers and for status/sql run elsewhere.
CONFIG_ENV = ENV_PREFIX + "CONFIG"
SECTIONS = ("fetch",)

_LIST_FIELDS = {name for name, f in Settings.model_fields.items() if "list" in str(f.annotation)}


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    origins: dict[str, str] | None = None,
) -> Settings:
    """Read the pipeline file (--config, else $IDF_ETL_CONFIG, else pipelines/iom_idf.toml when
    present), the environment and explicit overrides (flags), in that order of precedence.

    `origins` names the flag each override came from ("--rate"), for error messages."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    file = _config_path(path, env)
    if file is not None:
        for name, (value, where) in read_config_file(file).items():
            values[name], source[name] = value, where
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in Settings.model_fields:
            close = [ENV_PREFIX + c.upper() for c in close_names(name, Settings.model_fields)]
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ConfigError(
                f"unknown environment variable {key}: {hint}(IDF_ETL_<NAME> sets the setting "
                f"<name>, one of: {', '.join(sorted(Settings.model_fields))})"
            )
        if raw.strip() == "" and name not in _LIST_FIELDS:
            raise ConfigError(f"environment variable {key} is empty: unset it or give a value")
        source[name] = f"environment variable {key}"
        values[name] = _split(raw, source[name]) if name in _LIST_FIELDS else raw
    for name, value in (overrides or {}).items():
        # An empty list from a flag is a flag not given; from `--set NAME=` it is meant.
        said = (origins or {}).get(name, f"--set {name}").startswith("--set")
        if value is not None and (said or value not in ([], ())):
            values[name] = value
            source[name] = (origins or {}).get(name, f"--set {name}")
    # Start points given on their own replace the configured ones and bring their hosts.
    if overrides and overrides.get("start_urls"):
        for key in ("sitemaps", "listings"):
            if not overrides.get(key):
                values[key] = []
        if not overrides.get("allowed_hosts") and source.get("allowed_hosts", "").startswith(
            str(file)
        ):
            values["allowed_hosts"] = []
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, values, source)) from exc


def read_config_file(file: Path) -> dict[str, tuple[Any, str]]:
    """name -> (value, where) from a pipeline file: top-level keys and the [fetch] section."""
    try:
        # utf-8-sig: Windows editors start a file with a BOM, which TOML does not allow.
        text = Path(file).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {file} does not exist") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {file} is a directory; give the .toml file in it") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {file} is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError(f"config file {file} cannot be read: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc
    found: dict[str, tuple[Any, str]] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in SECTIONS:
                raise ConfigError(
                    f"config file {file}: "
                    + unknown_name("section", f"[{key}]", [f"[{s}]" for s in SECTIONS], quote=False)
                )
            found.update({k: (v, f"{file} [{key}]") for k, v in value.items()})
        else:
            found[key] = (value, str(file))
    for key, (_, where) in found.items():
        if key not in Settings.model_fields:
            raise ConfigError(f"{where}: " + unknown_name("setting", key, Settings.model_fields))
    return found


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """['rate=0.5', 'languages=en,fr'] -> {'rate': '0.5', 'languages': ['en', 'fr']}."""
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        name = name.strip().lower().replace("-", "_")  # as IDF_ETL_<NAME>: case does not matter
        if not sep or not name:
            raise ConfigError(f"--set {item!r}: expected NAME=VALUE, e.g. --set rate=0.5")
        if name not in Settings.model_fields:
            raise ConfigError(
                f"--set {item!r}: " + unknown_name("setting", name, Settings.model_fields)
            )
        values[name] = _split(raw, f"--set {name}") if name in _LIST_FIELDS else raw
    return values


def unknown_name(kind: str, name: str, known: Any, quote: bool = True) -> str:
    """ "unknown setting 'rat'; did you mean 'rate'?", else the names there are."""
    names = sorted(known)
    said = repr(name) if quote else name
    close = close_names(name, names)
    if close:
        return f"unknown {kind} {said}; did you mean {' or '.join(map(repr if quote else str, close))}?"
    return f"unknown {kind} {said} (known: {', '.join(names)})"


def close_names(name: str, known: Any) -> list[str]:
    """The known names `name` may be a slip of (difflib), closest first; case and dashes
    forgiven (`Read-Timeout`)."""
    folded = name.strip().lower().replace("-", "_")
    return difflib.get_close_matches(folded, sorted(known), n=3, cutoff=0.6)


def _config_path(path: str | os.PathLike[str] | None, env: Any) -> Path | None:
    if path is not None:
        return Path(path)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def _split(raw: str, where: str) -> list[str]:
    """'en,fr' -> ['en', 'fr']; a list written as in the pipeline file (TOML: '["en", "fr"]')
    is read as one too, not cut at its commas into '["en"' and '"fr"]'. A value written as
    such a list that TOML does not read (a regular expression's backslash in double quotes,
    '["/project/\\d+"]') or whose items are not text is refused, with `where` it came from:
    cut at its commas it became one pattern, a character class matching nearly every path
    (adversary, issue 22)."""
    text = raw.strip()
    if text.startswith("["):
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError as exc:
            if '"' in text or "'" in text:
                raise ConfigError(
                    f"{where}: {raw!r} is not a list as the pipeline file writes one "
                    f"({str(exc).split(' (at line')[0]}): "
                    'write ["a", "b"], a regular expression in single quotes (TOML reads a '
                    "backslash in double quotes as an escape): ['^/project/\\d+$']"
                ) from None
            value = None
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise ConfigError(
                    f"{where}: {raw!r}: every item of the list must be text in quotes, "
                    'e.g. ["a", "b"]'
                )
            return [v.strip() for v in value if v.strip()]
    return [p.strip() for p in _TOP_COMMA.split(raw) if p.strip()]


# A comma outside any brackets: a regular expression's '\d{1,3}' or '(a,b)' is one item, not
# two ('/project/\d{1' and '3}': adversary, issue 22).
_TOP_COMMA = re.compile(r",(?![^{(\[]*[})\]])")


def _explain(exc: ValidationError, values: dict[str, Any], source: dict[str, str]) -> str:
    """'invalid setting rate = 'abc' (from environment variable IDF_ETL_RATE): ...' per error."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "settings"
        where = source.get(name, "the defaults")
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"invalid setting {name}{_shown(name, values)} (from {where}): {message}")
    return "; ".join(problems)


# A value shown in a message is cut here: 5,000 digits of max_pages filled the screen.
SHOWN_LIMIT = 200


def _shown(name: str, values: dict[str, Any]) -> str:
    """' = VALUE' as the message shows it: as Python writes it (quotes, escapes: a control
    character never breaks the one line), a path as text."""
    if name not in values:
        return ""
    value = values[name]
    text = repr(str(value) if isinstance(value, Path) else value)
    text = without_user(text)  # a password is not echoed to a terminal or a cron mail
    if len(text) > SHOWN_LIMIT:
        text = f"{text[: SHOWN_LIMIT - 30]}... ({len(text):,} characters)"
    return f" = {text}"
