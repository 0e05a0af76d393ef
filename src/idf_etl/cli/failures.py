"""A file-system error, wherever a command meets it, as one line a user can act on.

    except OSError as exc: log.error("idf-etl: %s", file_system_message(exc))

No space, a read-only file system, no permission: the operating system says
which file and why (OSError), SQLite says only why (the raw store's manifest),
DuckDB says both in its message. Each becomes the path, what happened and what
to do. Nothing published is lost: a run builds its warehouse in a copy that is
published by one rename, so a failed write leaves what was published before.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

_ADVICE = {
    errno.ENOSPC: "no space left on that file system: free some (old releases under "
    "clean/releases go with a lower keep_published), or point --data-dir at one with room",
    errno.EDQUOT: "the disk quota is used up: free some space or raise the quota",
    errno.EROFS: "that file system is read-only: remount it read-write, or point --data-dir "
    "at a writable one",
    errno.EACCES: "permission denied: run as the user who owns the data directory, or give "
    "this user access to it (chown/chmod)",
    errno.EPERM: "operation not permitted: run as the user who owns the data directory",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n)",
    errno.ENOENT: "it is not there: check the path (--data-dir, --config)",
    errno.EISDIR: "it is a directory, where a file was expected: check the path",
    errno.ENOTDIR: "a part of the path is a file, where a directory was expected",
    errno.EEXIST: "something that is not a directory is there, where one was expected: move "
    "it away",
    errno.EBUSY: "another process holds it locked for writing (a sqlite3 shell or a backup in a "
    "transaction on the raw store's manifest): let it finish or close it, then run again",
    errno.EIO: "an I/O error: check the free space (df) and the device (dmesg), then run "
    "`idf-etl fsck`",
}
_DONE = "what was published before is unchanged"
# The same causes as SQLite and DuckDB word them.
_WORDED = (
    (re.compile(r"no space left|disk is full|database or disk is full", re.I), errno.ENOSPC),
    (re.compile(r"read-only file system|readonly database", re.I), errno.EROFS),
    (re.compile(r"permission denied|unable to open database file", re.I), errno.EACCES),
    (re.compile(r"quota", re.I), errno.EDQUOT),
    (re.compile(r"disk I/O error|Input/output error", re.I), errno.EIO),
    # SQLite after its busy timeout (5 s): another process holds a write transaction.
    (re.compile(r"database (table )?is locked", re.I), errno.EBUSY),
)
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")


def is_file_system_error(exc: BaseException) -> bool:
    """An OSError, or SQLite's or DuckDB's word for one (matched by name: no import here)."""
    if isinstance(exc, OSError):
        return True
    kind = type(exc).__name__
    if kind in ("OperationalError", "IOException") or kind.endswith("IOException"):
        return any(pattern.search(str(exc)) for pattern, _ in _WORDED)
    return False


def file_system_message(exc: BaseException, where: str | None = None) -> str:
    """'<path>: <what happened>; <what to do>; <nothing lost>' in one line."""
    if isinstance(exc, OSError):
        code = exc.errno
        path = exc.filename if exc.filename is not None else where
        what = exc.strerror or str(exc)
        if exc.filename2 is not None:
            path = f"{exc.filename} -> {exc.filename2}"
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        code = next((c for pattern, c in _WORDED if pattern.search(text)), None)
        quoted = _QUOTED_PATH.search(text)
        if quoted:
            path = quoted.group(1)
        elif type(exc).__name__ == "OperationalError":  # SQLite's: the raw store's manifest
            notes = getattr(exc, "__notes__", None)  # its path, where the store could add it
            path = notes[0] if notes else where or "the raw store's manifest (raw/manifest.sqlite)"
        else:
            path = where
        what = text
    advice = _ADVICE.get(code or 0, "check the path and the file system it is on")
    if code == errno.ENOTDIR and isinstance(path, str) and (file := _file_on_the_way(path)):
        advice = f"{file} is a file, where a directory was expected: move it away"
    shown = f"{path}: " if path else ""
    return f"{shown}{what}; {advice}; {_DONE}"


# Where stdout went decides what to do about a failed write: not the data directory.
_STDOUT_ADVICE = {
    errno.ENOSPC: "no space left where it goes: free some there, or send it elsewhere",
    errno.EDQUOT: "the disk quota where it goes is used up: send it elsewhere",
    errno.EBADF: "stdout is closed (>&-) or not open for writing (1</dev/null): give the "
    "command somewhere to write, such as > /dev/null",
    errno.EIO: "the terminal or device it goes to failed: send it to a file",
}


def stdout_message(exc: OSError) -> str:
    """A failed write to stdout (`> /dev/full`, `>&-`) in one line: what happened, what to
    do. Nothing of the data directory is touched by it; the command's answer is cut short."""
    what = exc.strerror or type(exc).__name__
    advice = _STDOUT_ADVICE.get(exc.errno or 0, "check where it goes")
    return f"<stdout>: {what}; the command's output is incomplete; {advice}"


def _file_on_the_way(path: str) -> str | None:
    """The part of `path` that is a file (ENOTDIR says only that one is)."""
    for parent in reversed(Path(path).parents):
        if parent.exists() and not parent.is_dir():
            return str(parent)
    return None
