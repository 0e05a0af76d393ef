"""One run at a time per data directory: an advisory lock the OS drops when the process dies.

A run that finds the lock held exits 3 (LockError): the run before it is still going.
One that finds it held for longer than a healthy run can take (holder.py) raises
StuckLockError instead, exit 4, which the schedule's alerting reports: a stuck run
would otherwise keep every later night at exit 3, which is not alerted. The lock is
flock(2) on DATA_DIR/.idf-etl.lock, so a holder that dies (even by SIGKILL) lets go of
it whatever its file says.

The data directory itself is flocked too: a lock file deleted or moved while a run
holds it (an operator clearing what looks like a stale lock, a clean-up job) took the
lock with it, and the next run created a new file, locked that and ran beside the
first, both building the same release. A directory cannot be swapped from under its
path that way. Where a file system cannot flock a directory (NFS emulates flock with
POSIX locks, which a directory cannot take), the file's lock is all there is, as before.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from idf_etl.errors import IdfEtlError, LockError, StuckLockError
from idf_etl.pipeline.holder import (
    TAIL_FLOOR,
    Here,
    Holder,
    Look,
    duration,
    flock_holder,
    judge,
    this_process,
)

_MAX_RECORD = 4096  # what is read of a lock file: anything longer is not a record
# A run that has just taken the lock writes its record a moment later; a record that
# does not match the kernel's holder is read again for this long before it is doubted.
_SETTLE = 1.0

_held_fds: list[int] = []  # the locks this process holds, closed in forked children


def _close_in_child() -> None:
    """A forked child shares the lock; closed in it, the lock still dies with the run
    (flock lasts while any copy of the descriptor is open)."""
    for fd in _held_fds:
        with contextlib.suppress(OSError):
            os.close(fd)


os.register_at_fork(after_in_child=_close_in_child)


class RunLock:
    """`with RunLock(data_dir, run_timeout):` holds DATA_DIR/.idf-etl.lock or raises
    LockError (StuckLockError past 2 x the holder's run_timeout and its tail) at once."""

    def __init__(
        self, data_dir: Path, run_timeout: float | None = None, tail: float = TAIL_FLOOR
    ) -> None:
        self.path = Path(data_dir) / ".idf-etl.lock"
        self.run_timeout = run_timeout
        self.tail = tail
        self._fds: list[int] = []

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        folder = _lock_folder(self.path.parent)
        try:
            fd = _open(self.path, os.O_RDWR | os.O_CREAT)
        except BaseException:
            _release(folder)
            raise
        try:
            if folder == _HELD:
                raise BlockingIOError  # a run holds the directory: its file may be another
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _release(folder)
            try:
                look = look_at(self.path, fd, self.run_timeout)
            finally:
                os.close(fd)
            raise lock_error(self.path, look) from None
        except BaseException:
            _release(folder)
            os.close(fd)
            raise
        self._fds = [fd] + ([folder] if folder is not None and folder >= 0 else [])
        _held_fds.extend(self._fds)
        self._record = this_process(self.run_timeout, self.tail)
        self._write(self._record)
        return self

    def expect_tail(self, seconds: float) -> None:
        """Say in the record how long this run may take past its run_timeouts (holder.py's
        tail_seconds), once it knows (the raw store is open after the lock is taken)."""
        if self._fds:
            self._record = replace(self._record, tail=seconds)
            self._write(self._record)

    def _write(self, record: Holder) -> None:
        """The record first, then cut what a longer earlier one left after it."""
        text = record.to_text().encode()
        try:
            os.pwrite(self._fds[0], text, 0)
            os.ftruncate(self._fds[0], len(text))
        except OSError:
            pass  # the lock holds without it; a waiting run then says it cannot tell how long

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for fd in self._fds:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            with contextlib.suppress(ValueError):
                _held_fds.remove(fd)
        self._fds = []


_HELD = -1  # what _lock_folder answers when another process holds the directory


def _lock_folder(folder: Path) -> int | None:
    """The data directory flocked (its descriptor); _HELD when another process holds it;
    None where the file system cannot lock a directory (or it cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return _HELD
    except OSError:  # NFS and the like: EBADF, ENOLCK
        os.close(fd)
        return None
    return fd


def _release(folder: int | None) -> None:
    if folder is not None and folder >= 0:
        with contextlib.suppress(OSError):
            fcntl.flock(folder, fcntl.LOCK_UN)
            os.close(folder)


def look_at(path: Path, fd: int | None, run_timeout: float | None) -> Look:
    """Who holds the lock on `path` (open as `fd`, None when there is no such file), read
    until the record matches the kernel's holder or _SETTLE passes. The kernel is asked of
    the file, else of its directory (the file may not be the one the holder locked)."""
    deadline = time.monotonic() + _SETTLE
    while True:
        text = os.pread(fd, _MAX_RECORD, 0).decode(errors="replace") if fd is not None else ""
        holder = Holder.from_text(text)
        kernel = flock_holder(path) if fd is not None else None
        if not kernel or not kernel[0]:
            kernel = flock_holder(path.parent) or kernel
        locker = kernel[1] if kernel else None
        settled = holder is not None and holder.boot_id and (not locker or locker == holder.pid)
        if settled or time.monotonic() >= deadline or fd is None:
            return judge(holder, locker, run_timeout, Here.now_())
        time.sleep(0.05)


def held(data_dir: Path, run_timeout: float | None) -> Look | None:
    """Who holds DATA_DIR's lock now, or None when nobody does; for `idf-etl status`.
    Never takes the lock where the kernel lists locks, so a run starting at this moment
    cannot be refused because of it."""
    path = Path(data_dir) / ".idf-etl.lock"
    try:
        fd: int | None = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        fd = None  # no lock file: no run has been here, or it was deleted under one
    try:
        kernel = flock_holder(path) if fd is not None else (False, None)
        folder = flock_holder(Path(data_dir))
        if kernel is None or folder is None:  # no /proc/locks: a shared lock, let go, tells
            return look_at(path, fd, run_timeout) if _probe(path, fd) else None
        return look_at(path, fd, run_timeout) if kernel[0] or folder[0] else None
    finally:
        if fd is not None:
            os.close(fd)


def _probe(path: Path, fd: int | None) -> bool:
    """Whether the lock file or its directory is held, by taking a shared lock on each and
    letting go at once (where the kernel's list of locks cannot be read)."""
    if fd is not None and not _shared(fd):
        return True
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return not _shared(folder)
    finally:
        os.close(folder)


def _shared(fd: int) -> bool:
    """A shared lock taken and let go at once: False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True  # a file system that cannot lock it: nothing held there
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def _open(path: Path, flags: int) -> int:
    """The lock file, never through a symbolic link (a run would write its record into
    whatever file the link names) and never blocking (a FIFO there would hang `status`)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IdfEtlError(  # not LockError: exit 1, alerted, where 3 is not
                f"{path} is a symbolic link: remove it (`rm {path}`); idf-etl creates the "
                "lock file itself"
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IdfEtlError(f"{path} is not a regular file: remove it; idf-etl creates it itself")
    return fd


def lock_error(path: Path, look: Look) -> LockError:
    """The one line for a refused run: wait (3), or a stuck holder to deal with (4)."""
    where = path.parent
    if look.stuck:
        pid = look.pid or "PID"
        check = f"ps -o pid,etime,args -p {pid}" if not look.host else f"on {look.host}"
        return StuckLockError(
            f"the lock on {where} has been held for {duration(look.seconds or 0)}, longer than "
            f"a healthy run takes ({look.healthy()}): the run "
            f"holding it is probably stuck ({look.who()}). Check it ({check}); if it is stuck, "
            f"stop it (kill {pid}) and the next run takes the lock. The published warehouse "
            "is unchanged."
        )
    return LockError(
        f"another idf-etl run is using {where} ({look.who()}); wait for it to finish, or point "
        "--data-dir elsewhere"
    )
