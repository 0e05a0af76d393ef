"""Ctrl-C stops any command within a second, a DuckDB query in the middle included.

    watch_interrupts()              # once, in the CLI's main
    with interruptible(con): ...    # a DuckDB connection whose queries Ctrl-C interrupts

Python runs its SIGINT handler only between bytecodes of the main thread, and a
DuckDB query runs in C for as long as it takes: Ctrl-C would wait for it. The C
handler also writes the signal's number to a wake-up pipe, which a watcher
thread reads at once: it interrupts the registered connections (the query ends
with duckdb.InterruptException, then Python's handler raises Interrupted), and if
the process is still there GRACE seconds later, it exits. That is safe here by
design: a run builds its warehouse in a copy that is published by one rename,
the raw store's manifest is SQLite (journaled), and the run lock is dropped by
the OS with the process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Protocol

GRACE = 0.7  # seconds between Ctrl-C and the hard exit: "within a second"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report
# What every interrupted command says last, whether it ended by itself or by the hard exit
# (on a loaded machine, ending by itself can take longer than GRACE: the hard exit said
# only "interrupted", 4 sql runs of 6 under load).
INTERRUPTED = "interrupted; what was published before is unchanged"


class Interrupted(BaseException):
    """Ctrl-C. Not a KeyboardInterrupt, which click would print as 'Aborted!' (exit 1)."""


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


_connections: set[Interruptible] = set()
_lock = threading.Lock()
# Set by the watcher on Ctrl-C. DuckDB reports an interrupted query in more than one way
# (InterruptException, or a RuntimeError "Query interrupted" when the interrupt lands while
# results are fetched): whatever a block raises after Ctrl-C is the interruption.
_requested = threading.Event()


@contextlib.contextmanager
def interruptible(con: Interruptible) -> Iterator[None]:
    """Ctrl-C interrupts `con`'s running query while the block runs."""
    with _lock:
        _connections.add(con)
    try:
        yield
    except Exception:
        if _requested.is_set():
            raise Interrupted from None
        raise
    finally:
        with _lock:
            _connections.discard(con)


def interrupt_all() -> None:
    with _lock:
        connections = list(_connections)
    for con in connections:
        with contextlib.suppress(Exception):  # closed meanwhile: nothing to interrupt
            con.interrupt()


def watch_interrupts(grace: float = GRACE) -> bool:
    """Start the watcher (main thread only; once). False when it cannot be started."""
    if threading.current_thread() is not threading.main_thread():
        return False
    read, write = os.pipe()
    os.set_blocking(write, False)  # the C handler must never block on a full pipe
    try:
        signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:
        os.close(read)
        os.close(write)
        return False
    signal.signal(signal.SIGINT, _raise_interrupted)
    threading.Thread(target=_watch, args=(read, grace), name="interrupts", daemon=True).start()
    return True


def _raise_interrupted(signum: int, frame: object) -> None:
    # Set here too, not only by the watcher: DuckDB runs this handler from inside a query
    # (its own check for signals) and turns what it raises into RuntimeError "Query
    # interrupted", which can reach `interruptible` before the watcher thread has woken
    # (a traceback and exit 1 in CI, about 1 run in 26).
    _requested.set()
    raise Interrupted


def _watch(read: int, grace: float) -> None:
    deadline: threading.Timer | None = None
    while True:
        try:
            data = os.read(read, 64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT not in data:  # another signal woke the pipe
            continue
        _requested.set()
        interrupt_all()
        if deadline is not None:  # a second Ctrl-C: no more waiting
            _exit()
        deadline = threading.Timer(grace, _exit)
        deadline.daemon = True
        deadline.start()


def said_interrupted() -> None:
    """The command has said INTERRUPTED itself: the hard exit, if it comes, says nothing
    more (the line came twice when the command's own exit took longer than GRACE)."""
    _said.set()


_said = threading.Event()


def _exit() -> None:
    with contextlib.suppress(Exception):
        if not _said.is_set():
            sys.stderr.write(f"idf-etl: {INTERRUPTED}\n")
            sys.stderr.flush()
    # What multiprocessing does at a normal exit: a process pool's queues' semaphores are
    # unlinked and their names taken back from the resource tracker. Left registered, the
    # tracker cleaned them up after us with a "There appear to be 5 leaked semaphore
    # objects" warning on stderr (adversary, issue 22).
    with contextlib.suppress(Exception):
        from multiprocessing import util

        util._run_finalizers(0)  # type: ignore[attr-defined]
    os._exit(EXIT_INTERRUPTED)
