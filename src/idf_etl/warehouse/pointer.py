"""Where the published pointer leads, and what is wrong with it, said once for every command.

    clean/current      -> releases/run000012-<time>   (the one pointer, publish.py)
    clean/idf.duckdb   -> current/idf.duckdb           (a fixed link, made once)

`current` can be left pointing nowhere by hand or by the disk: a release directory
deleted in a clean-up, a link made by hand to a directory without a warehouse, a loop.
While releases are kept, that is never "no warehouse": `status`, `sql`, `check` say what
is wrong and name `idf-etl restore`, and `run` refuses rather than start the history
again from run 1 (the kept releases hold it). Publishing nothing on purpose is
`idf-etl restore --empty`, which leaves UNPUBLISHED behind to say so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

WAREHOUSE_NAME = "idf.duckdb"
# Left by `restore --empty` (nothing published, on purpose); removed when a release is.
UNPUBLISHED = ".unpublished"

# The run number in a release's name: run000012-<time> now, <time>-run12 before.
_RUN_NUMBER = re.compile(r"^run(\d+)-|-run(\d+)$")


def run_number(release: Path) -> int:
    """The run that published `release`, from its name; 0 when it names none (a warehouse
    adopted from the layout before releases, or published outside a run)."""
    match = _RUN_NUMBER.search(release.name)
    return int(match[1] or match[2]) if match else 0


def kept_releases(clean_dir: Path) -> list[Path]:
    """Release directories under clean/releases (any order; not those being built)."""
    releases = Path(clean_dir) / "releases"
    try:
        return [p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []


def resolved(link: Path) -> Path | None:
    """Where a link finally leads (its target need not exist); None for a link loop."""
    try:
        return link.resolve()
    except (RuntimeError, OSError):  # a loop: RuntimeError up to Python 3.12, OSError after
        return None


def pointer_problem(clean_dir: Path) -> str | None:
    """What is wrong with `current` and the warehouse link, in words; None when they lead to
    a release's warehouse, or nothing is published on purpose (or ever was)."""
    clean = Path(clean_dir)
    current, published = clean / "current", clean / WAREHOUSE_NAME
    if current.is_symlink():
        shown = f"{current} (-> {os.readlink(current)})"
        target = resolved(current)
        if target is None:
            return f"the published pointer {shown} is a link loop"
        if not target.exists():
            return f"the published pointer {shown} leads to nothing: {target} is gone"
        if not target.is_dir():
            return f"the published pointer {shown} leads to a file, not a release directory"
        database = target / WAREHOUSE_NAME
        if not database.is_file():
            return f"the published pointer {shown} leads to a directory with no {WAREHOUSE_NAME}"
        if database.stat().st_size == 0:
            return f"the published warehouse {database} is empty (0 bytes)"
        releases = resolved(clean / "releases")
        if releases is None or target.parent != releases:
            return f"the published pointer {shown} leads outside {clean / 'releases'}"
        if target.name.startswith("."):  # .building, .adopting: never published, removed
            return f"the published pointer {shown} leads to a release still being built"
        # (A kill during the adoption of the layout before releases leaves the plain file
        # and `current` to its copy, "-adopted": the same data, and the next run finishes.)
        adopting = target.name.endswith("-adopted")
        if published.exists() and not published.is_symlink() and not adopting:
            return (
                f"{published} is a file, not the link to current/{WAREHOUSE_NAME} (a copy put "
                f"there by hand?), while {shown} leads to a release: move the file aside and "
                "the next run makes the link again"
            )
    elif current.exists():
        kind = "a directory" if current.is_dir() else "a file"
        return f"{current} is {kind}, not the link to a release that idf-etl makes"
    elif published.is_symlink() and not (clean / UNPUBLISHED).exists() and kept_releases(clean):
        return f"the published pointer {current} is missing"
    return None


def link_problem(clean_dir: Path) -> str | None:
    """The fixed link clean/idf.duckdb made by hand to lead elsewhere than current/ (readers
    would read that other file), or deleted while `current` leads to a release (readers
    would find no warehouse, and be told to start one); the next publish or restore makes it
    lead to current/ again."""
    published = Path(clean_dir) / WAREHOUSE_NAME
    current = Path(clean_dir) / "current"
    if not published.is_symlink() and not published.exists() and current.is_symlink():
        return (
            f"{published}, the link to current/{WAREHOUSE_NAME} analysts open, is missing "
            "(deleted by hand?); nothing was changed. The next `idf-etl run` makes it again; "
            f"read the published release at {current / WAREHOUSE_NAME} meanwhile"
        )
    if published.is_symlink() and os.readlink(published) != os.path.join("current", WAREHOUSE_NAME):
        return (
            f"{published} leads to {os.readlink(published)}, not to current/{WAREHOUSE_NAME} "
            "(changed by hand?); nothing was changed. The next `idf-etl run` makes it lead to "
            "current/ again; read the published release at "
            f"{Path(clean_dir) / 'current' / WAREHOUSE_NAME} meanwhile"
        )
    return None


def what_to_do(clean_dir: Path) -> str:
    """The way out of a pointer_problem, with the kept releases to go back to."""
    kept = sorted(kept_releases(clean_dir), key=lambda r: (run_number(r), r.name), reverse=True)
    if not kept:
        return (
            "no release is kept to go back to: `idf-etl restore --empty` then `idf-etl run` "
            "starts a new warehouse (the change history starts again)"
        )
    names = ", ".join(r.name for r in kept[:3]) + (", ..." if len(kept) > 3 else "")
    return (
        f"{len(kept)} release(s) kept ({names}): `idf-etl restore` publishes the newest that "
        "opens, `idf-etl restore --list` lists them; `idf-etl restore --empty` starts a new "
        "warehouse on purpose (the change history starts again)"
    )
