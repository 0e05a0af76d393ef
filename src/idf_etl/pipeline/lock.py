"""One run at a time per data directory: an advisory lock the OS drops when the process dies.

A run that finds the lock held exits 3 (LockError): the run before it is still going.
One that finds it held for longer than a healthy run can take (holder.py) raises
StuckLockError instead, exit 4, which the schedule's alerting reports: a stuck run
would otherwise keep every later night at exit 3, which is not alerted. The lock is
flock(2) on DATA_DIR/.idf-etl.lock, so a holder that dies (even by SIGKILL) lets go of
it whatever its file says.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from pathlib import Path
from types import TracebackType

from idf_etl.errors import IdfEtlError, LockError, StuckLockError
from idf_etl.pipeline.holder import Here, Holder, Look, duration, flock_holder, judge, this_process

_MAX_RECORD = 4096  # what is read of a lock file: anything longer is not a record
# A run that has just taken the lock writes its record a moment later; a record that
# does not match the kernel's holder is read again for this long before it is doubted.
_SETTLE = 1.0

_held_fd: int | None = None  # the lock this process holds, closed in forked children


def _close_in_child() -> None:
    """A forked child shares the lock; closed in it, the lock still dies with the run
    (flock lasts while any copy of the descriptor is open)."""
    if _held_fd is not None:
        with contextlib.suppress(OSError):
            os.close(_held_fd)


os.register_at_fork(after_in_child=_close_in_child)


class RunLock:
    """`with RunLock(data_dir, run_timeout):` holds DATA_DIR/.idf-etl.lock or raises
    LockError (StuckLockError past 2 x the holder's run_timeout) at once."""

    def __init__(self, data_dir: Path, run_timeout: float | None = None) -> None:
        self.path = Path(data_dir) / ".idf-etl.lock"
        self.run_timeout = run_timeout
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        global _held_fd
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                look = look_at(self.path, fd, self.run_timeout)
            finally:
                os.close(fd)
            raise lock_error(self.path, look) from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the record first, then cut what a longer earlier one left after it
            record = this_process(self.run_timeout).to_text().encode()
            os.pwrite(fd, record, 0)
            os.ftruncate(fd, len(record))
        except OSError:
            pass  # the lock holds without it; a waiting run then says it cannot tell how long
        self._fd = _held_fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _held_fd
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            if _held_fd == self._fd:
                _held_fd = None
            self._fd = None


def look_at(path: Path, fd: int, run_timeout: float | None) -> Look:
    """Who holds the lock on `path` (open as `fd`), read until the record matches the
    kernel's holder or _SETTLE passes."""
    deadline = time.monotonic() + _SETTLE
    while True:
        holder = Holder.from_text(os.pread(fd, _MAX_RECORD, 0).decode(errors="replace"))
        kernel = flock_holder(path)
        locker = kernel[1] if kernel else None
        settled = holder is not None and holder.boot_id and (not locker or locker == holder.pid)
        if settled or time.monotonic() >= deadline:
            return judge(holder, locker, run_timeout, Here.now_())
        time.sleep(0.05)


def held(data_dir: Path, run_timeout: float | None) -> Look | None:
    """Who holds DATA_DIR's lock now, or None when nobody does; for `idf-etl status`.
    Never takes the lock where the kernel lists locks, so a run starting at this moment
    cannot be refused because of it."""
    path = Path(data_dir) / ".idf-etl.lock"
    try:
        fd = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None  # no lock file: no run has been here (a run creates it)
    try:
        kernel = flock_holder(path)
        if kernel is None:  # no /proc/locks: a shared lock, let go at once, tells
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return look_at(path, fd, run_timeout)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        return look_at(path, fd, run_timeout) if kernel[0] else None
    finally:
        os.close(fd)


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
            f"a healthy run takes (twice run_timeout: {duration(look.stuck_after)}): the run "
            f"holding it is probably stuck ({look.who()}). Check it ({check}); if it is stuck, "
            f"stop it (kill {pid}) and the next run takes the lock. The published warehouse "
            "is unchanged."
        )
    return LockError(
        f"another idf-etl run is using {where} ({look.who()}); wait for it to finish, or point "
        "--data-dir elsewhere"
    )
