"""How a command ends: its exit status, and at most one line saying why.

    run_command(partial(app, prog_name="idf-etl", standalone_mode=True))

An error a user can act on is one `idf-etl: ...` line and its exit code (options.py);
Ctrl-C or SIGTERM is one line and 128 + the signal (interrupts.py); a reader that went
away (`| head -1`) is silence and 141, as `cat` gives; a bug is its traceback and 1.

Standard output is where the commands' answers go, so a failure to write it is said as
one: `<stdout>: No space left on device; ...` (`> /dev/full`), and a stdout that was
closed (`>&-`) fails the first write with "Bad file descriptor", as `cat` does, where the
answer silently went nowhere (exit 0). Every write reaches the file through one writer
here that names the stream; a closed stdin, stdout or stderr is given /dev/null first,
so no file the command opens later takes its number (and its prints).
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeGuard

from idf_etl.cli.failures import file_system_message, is_file_system_error, stdout_message
from idf_etl.cli.options import (
    EXIT_FAILURES,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_STUCK,
    EXIT_USAGE,
    Verdict,
)
from idf_etl.errors import ConfigError, IdfEtlError, LockError, StuckLockError
from idf_etl.interrupts import (
    Interrupted,
    command_ended,
    said_interrupted,
    stop_line,
    stop_status,
    watch_interrupts,
)
from idf_etl.logs import setup_logging

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger("idf_etl.cli")

STDOUT = "<stdout>"


def run_command(command: Callable[[], object]) -> None:
    """Run the command line (`command` ends by SystemExit, as click's standalone mode
    does) and exit with its status: nothing it raises reaches Python as a traceback but
    a bug."""
    try:
        code = _status(command)
    except (Interrupted, KeyboardInterrupt):  # while the command's end was being said
        code = _stopped()
    command_ended()
    exit_unheld(code)
    sys.exit(code)


def _status(command: Callable[[], object]) -> str | int | None:
    """The exit status of `command`, its line (if any) said."""
    try:
        _run(command)
    except SystemExit as exc:
        if exc.code == EXIT_FAILURES and _reader_gone(exc):
            _quiet_stdout()
            return EXIT_PIPE
        return _flushed(exc.code)
    except (Interrupted, KeyboardInterrupt):
        raise
    except BaseException as exc:
        if _from_stdout(exc):  # a write after the command's end (check's UNKNOWN line)
            _say(stdout_message(exc))
            _quiet_stdout()
            return EXIT_FAILURES
        # A bug: its traceback is printed now, as Python would at exit, and the exit is
        # bounded like any other (a thread left stuck by the failed command held it for
        # ever: adversary, issue 22). Python's own exit status for it is 1.
        sys.excepthook(*sys.exc_info())
        return EXIT_FAILURES
    return EXIT_OK


def _run(command: Callable[[], object]) -> None:
    try:
        guard_standard_streams()
        watch_interrupts()  # in here: a signal that comes while it starts is a stop too
        command()
    except SystemExit as exc:
        # A monitor reads `check`'s exit status the Nagios way, where 2 is CRITICAL: a usage
        # error there (a mistyped option) is UNKNOWN (3), with its one line on stdout.
        usage = exc.code == EXIT_USAGE and not isinstance(exc, Verdict)
        if usage and _command(sys.argv[1:]) == "check":
            print("IDF-ETL UNKNOWN - invalid arguments (see stderr; idf-etl check --help)")
            sys.exit(3)
        raise
    except (Interrupted, KeyboardInterrupt):
        sys.exit(_stopped())
    except StuckLockError as exc:
        _say(str(exc))
        sys.exit(EXIT_STUCK)
    except LockError as exc:
        _say(str(exc))
        sys.exit(EXIT_LOCKED)
    except ConfigError as exc:
        _say(str(exc))
        sys.exit(EXIT_USAGE)
    except IdfEtlError as exc:  # a stage failed as a whole
        _say(str(exc))
        sys.exit(EXIT_FAILURES)
    except Exception as exc:
        if type(exc).__name__ == "InterruptException":  # DuckDB's, after Ctrl-C
            sys.exit(_stopped())
        if _from_stdout(exc):
            _say(stdout_message(exc))
            _quiet_stdout()  # what is still buffered would fail again at Python's exit
            sys.exit(EXIT_FAILURES)
        if not is_file_system_error(exc):
            raise  # a bug: its traceback is what to report
        _say(file_system_message(exc))
        sys.exit(EXIT_FAILURES)


def _command(args: list[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    return next((a for a in args if not a.startswith("-")), None)


def _stopped() -> int:
    """Ctrl-C or SIGTERM: its line said, its status."""
    _say(stop_line())
    said_interrupted()
    return stop_status()


def _say(message: str) -> None:
    """One `idf-etl:` line on stderr, whether or not the command set up its logging
    (`schema`, `--version`: the line went to the NullHandler, and the exit said nothing)."""
    if not _logging_set_up():
        setup_logging()
    log.error("idf-etl: %s", message)


def _flushed(code: str | int | None) -> str | int | None:
    """`code`, after what the command left in stdout's buffer is written; when that write
    fails, the failure is said, and the exit is 1 where it was 0."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _quiet_stdout()
            return EXIT_PIPE
        _say(stdout_message(exc))
        _quiet_stdout()
        return code or EXIT_FAILURES
    return code


# -- standard streams ---------------------------------------------------------------------


class _NamedStdout(io.FileIO):
    """File descriptor 1, whose write errors say they came from stdout (an OSError from a
    write has no file name: the message gave the data directory's advice for it)."""

    closed_before = False  # stdout was closed when the command started (`>&-`)

    def write(self, data: ReadableBuffer, /) -> int:
        if self.closed_before and len(memoryview(data)):
            raise OSError(errno.EBADF, "Bad file descriptor", STDOUT)
        try:
            return super().write(data)
        except OSError as exc:
            if exc.errno == errno.EPIPE or exc.filename is not None:
                raise  # a closed pipe keeps its own way out (141, quietly)
            raise OSError(exc.errno, exc.strerror, STDOUT) from exc


def guard_standard_streams() -> None:
    """/dev/null on a closed stdin, stdout or stderr, and stdout's writes named."""
    closed = [fd for fd in (0, 1, 2) if not _open(fd)]
    for fd in closed:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if sys.stdout is not None and sys.stdout is not sys.__stdout__:
        return  # a test's capture, or a caller's own stream: not the process's stdout
    old = sys.stdout
    raw = _NamedStdout(1, "w", closefd=False)
    raw.closed_before = 1 in closed
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=old.encoding if old is not None else "utf-8",
        errors=old.errors if old is not None else "strict",
        line_buffering=old.line_buffering if old is not None else False,
        # python -u, PYTHONUNBUFFERED: each write reaches the file at once, as before
        write_through=getattr(old, "write_through", False),
    )
    if sys.stderr is None:  # closed: Python gave it no stream, and logging needs one
        sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # noqa: SIM115


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _from_stdout(exc: BaseException) -> TypeGuard[OSError]:
    return isinstance(exc, OSError) and exc.filename == STDOUT


def _reader_gone(exc: BaseException) -> bool:
    """Whether the command ended because what read its stdout went away (`| head -1`).
    click (typer's copy) and rich each catch the BrokenPipeError and exit 1 saying nothing,
    inside their `except`: the error is the exit's context."""
    seen = exc.__context__
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.EPIPE:
            return True
        seen = seen.__context__
    return False


def _quiet_stdout() -> None:
    """Nothing more goes to stdout: what is still buffered would fail again at Python's
    last flush, which says so on stderr ("Exception ignored") and exits 120."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    raw = getattr(getattr(sys.stdout, "buffer", None), "raw", None)
    if isinstance(raw, _NamedStdout):
        raw.closed_before = False  # /dev/null takes the rest
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()


# -- the exit -----------------------------------------------------------------------------

# Python's exit waits for every thread without a bound: one stuck in a library (a process
# pool's reader, stop 29) held a run that had printed its summary for as long as CI let it.
EXIT_GRACE = 30.0


def exit_unheld(code: object, grace: float = EXIT_GRACE) -> None:
    """Let the threads still running end within `grace` seconds; past it, exit without
    them, with `code`, saying which were left."""
    main_thread = threading.main_thread()
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is not main_thread and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    left = [t.name for t in threading.enumerate() if t is not main_thread and not t.daemon]
    if left:
        if not _logging_set_up():  # `schema`, a bug: the warning would go to the NullHandler
            setup_logging()
        log.warning(
            "idf-etl: done, but %s still ran %.0fs later: exiting without waiting for it",
            ", ".join(left),
            grace,
        )
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(code if isinstance(code, int) else EXIT_FAILURES if code else EXIT_OK)


def _logging_set_up() -> bool:
    handlers = logging.getLogger("idf_etl").handlers
    return any(not isinstance(h, logging.NullHandler) for h in handlers)
