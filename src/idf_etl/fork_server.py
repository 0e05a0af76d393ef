"""What the parse workers' fork server runs first: a worker whose pool went before it
started exits without a word.

Ctrl-C while a pool is starting its workers (a second or more where the machine is
shared) ends the run at once, and the run's exit removes the pool's semaphores. A worker
the fork server was still starting then finds them gone while it reads its orders, and
the fork server printed that as a traceback under the run's one "interrupted" line (3 runs
in 10 at load 15, Ctrl-C within a second of the parse's start). Nobody waits for that
worker: its pool, and the run that asked for it, are gone. Any other failure is printed as
before.

workers.py names this module among the fork server's preloads, which is the only code of
ours the fork server runs: importing it sets the hook, in that process only.
"""

from __future__ import annotations

import sys
from types import TracebackType


def _pool_gone(kind: type[BaseException], trace: TracebackType | None) -> bool:
    """A semaphore missing while a worker read its orders (multiprocessing's SemLock)."""
    if not issubclass(kind, FileNotFoundError):
        return False
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_name == "__setstate__" and code.co_filename.endswith("synchronize.py"):
            return True
        trace = trace.tb_next
    return False


def _quiet_when_pool_gone(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    if not _pool_gone(kind, trace):
        sys.__excepthook__(kind, error, trace)


sys.excepthook = _quiet_when_pool_gone
