"""Ctrl-C (or SIGTERM) stops any command within a second, a DuckDB query in the middle included.

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

SIGTERM (`kill`, systemd's stop, a container's stop) is handled the same way, with its
own line and status (143): by default it killed the process on the spot, saying nothing,
and left multiprocessing's resource tracker to warn of leaked semaphores.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

GRACE = 0.7  # seconds between Ctrl-C and the hard exit: "within a second"
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, what shells report
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
# What every interrupted command says last, whether it ended by itself or by the hard exit
# (on a loaded machine, ending by itself can take longer than GRACE: the hard exit said
# only "interrupted", 4 sql runs of 6 under load).
INTERRUPTED = "interrupted; what was published before is unchanged"
TERMINATED = "stopped by SIGTERM; what was published before is unchanged"
_STOPS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM. Not a KeyboardInterrupt, which click would print as 'Aborted!'
    (exit 1)."""


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


_connections: set[Interruptible] = set()
_lock = threading.Lock()
# Set by the watcher on Ctrl-C. DuckDB reports an interrupted query in more than one way
# (InterruptException, or a RuntimeError "Query interrupted" when the interrupt lands while
# results are fetched): whatever a block raises after Ctrl-C is the interruption.
_requested = threading.Event()
_received: list[int] = []  # the signals that stopped the command, first first


def stop_line() -> str:
    """What the stopped command says last: which signal stopped it, nothing lost."""
    return TERMINATED if _received and _received[0] == signal.SIGTERM else INTERRUPTED


def stop_status() -> int:
    """The stopped command's exit status: 128 + the signal, as a shell reports it."""
    return EXIT_TERMINATED if _received and _received[0] == signal.SIGTERM else EXIT_INTERRUPTED


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
    for signum in _STOPS:
        signal.signal(signum, _raise_interrupted)
    threading.Thread(target=_watch, args=(read, grace), name="interrupts", daemon=True).start()
    return True


def _raise_interrupted(signum: int, frame: object) -> None:
    # Set here too, not only by the watcher: DuckDB runs this handler from inside a query
    # (its own check for signals) and turns what it raises into RuntimeError "Query
    # interrupted", which can reach `interruptible` before the watcher thread has woken
    # (a traceback and exit 1 in CI, about 1 run in 26).
    _stopped_by(signum)
    # Raised once: a second signal is the watcher's (the exit without waiting), and one
    # that comes while the command says why it ended must not break that off (a traceback
    # of Interrupted, exit 1, in the middle of the handler that was saying "interrupted").
    if _raised.is_set() or _ended.is_set() or _deferring:
        return
    _raised.set()
    raise Interrupted


_raised = threading.Event()
_ended = threading.Event()
_deferring: list[None] = []  # one entry per `deferred` block the main thread is in


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C or SIGTERM waits for the block's end (the watcher's GRACE still bounds the
    wait): what it does must not be cut in two. A worker process whose start was cut
    (the pool's semaphores unlinked at the exit before it had read them) printed a
    FileNotFoundError traceback after the command's own line."""
    _deferring.append(None)
    try:
        yield
    finally:
        _deferring.pop()
    if _requested.is_set() and not (_raised.is_set() or _ended.is_set() or _deferring):
        _raised.set()
        raise Interrupted


def command_ended() -> None:
    """The command has ended and its exit is under way: a signal now only hurries it (the
    watcher's exit after GRACE), it raises nothing into the exit."""
    _ended.set()


def _stopped_by(signum: int) -> None:
    if not _received:
        _received.append(signum)
    _requested.set()


def _watch(read: int, grace: float) -> None:
    deadline: threading.Timer | None = None
    while True:
        try:
            data = os.read(read, 64)
        except OSError:
            return
        if not data:
            return
        stops = [s for s in data if s in _STOPS]
        if not stops:  # another signal woke the pipe
            continue
        _stopped_by(stops[0])
        interrupt_all()
        if deadline is not None:  # a second Ctrl-C (or SIGTERM): no more waiting
            _exit()
        deadline = threading.Timer(grace, _exit)
        deadline.daemon = True
        deadline.start()


def said_interrupted() -> None:
    """The command has said its stop_line() itself: the hard exit, if it comes, says nothing
    more (the line came twice when the command's own exit took longer than GRACE)."""
    _said.set()


_said = threading.Event()


def _exit() -> None:
    with contextlib.suppress(Exception):
        if not _said.is_set():
            sys.stderr.write(f"idf-etl: {stop_line()}\n")
            sys.stderr.flush()
    # What multiprocessing does at a normal exit: a process pool's queues' semaphores are
    # unlinked and their names taken back from the resource tracker. Left registered, the
    # tracker cleaned them up after us with a "There appear to be 5 leaked semaphore
    # objects" warning on stderr (adversary, issue 22).
    with contextlib.suppress(Exception):
        import multiprocessing
        from multiprocessing import forkserver, util

        # Its workers first: one still starting would read the semaphores after they are
        # unlinked, and print a traceback after our line. A worker whose start the exit cut
        # short is not among our children yet: it is the fork server's, or about to be (the
        # server is stopped first, so that it forks nothing more, then ended).
        server = getattr(forkserver._forkserver, "_forkserver_pid", None)
        _signal(server, signal.SIGSTOP)
        for child in multiprocessing.active_children():
            child.kill()
        _kill_children_of(server)
        _signal(server, signal.SIGKILL)
        util._run_finalizers(0)  # type: ignore[attr-defined]
    os._exit(stop_status())


def _kill_children_of(parent: int | None) -> None:
    """SIGKILL the processes whose parent is `parent` (Linux's /proc; elsewhere nothing)."""
    if parent is None:
        return
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # pid (comm) state ppid ...: comm may hold spaces and brackets, so after the last ')'
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                os.kill(int(stat.parent.name), signal.SIGKILL)


def _signal(pid: int | None, signum: int) -> None:
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)
