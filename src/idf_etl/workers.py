"""Parse on every core: an order-keeping map over a process pool, where one input fails alone.

    for item, returned in map_isolated(parse_one, items, workers=4):
        value = returned.unwrap()    # parse_one(item), or the exception it raised, raised here

Parsing is a pure function of bytes, so any process can do it. Inputs go to the
pool in small chunks and come back in input order, with AHEAD chunks per worker
in flight at most, so memory stays flat however many inputs there are. An
exception is the result of its own input. A worker that dies (a crash in a C
extension, the OOM killer) or outlives the time bound takes its whole chunk
down, so that chunk runs again one input at a time in a fresh pool, and only
the input that kills or stalls a worker fails. workers=1 runs everything in
this process: plain tracebacks and pdb for debugging.

A `deadline` (the run's end) bounds every wait here: past it no input is sent, the
pool is ended, and each input not done comes back as OutOfTime, at once.

Workers come from a fork server, which imports the parser once and forks each
worker from itself: a process holding threads (DuckDB's, an HTTP client's)
cannot safely be copied by fork. A caller that knows early it will want a pool
calls `start_fork_server`, so those imports overlap its other work. A caller that holds none (`idf-etl parse`)
asks for `fork=True`: its workers are copies of itself, with the parser already
imported, and start 0.3 s sooner.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from typing import Generic, TypeVar

from idf_etl.errors import OutOfTime, ParseError
from idf_etl.interrupts import deferred

T = TypeVar("T")
R = TypeVar("R")

# A page parses in about 1 ms, and sending a chunk and taking its results back costs the
# parent about 0.5 ms (measured over 10,000 stored pages, issue 12): chunks of 16 keep that
# near 3 %.
CHUNK = 16
# Chunks in flight per worker: enough to keep the workers busy while the caller does
# other work between results (`run` writes a batch of 1,000 pages to DuckDB, 0.2-0.3 s with
# nothing submitted). 10,000 stored pages, two workers: with 4, each waited 1.7-2.3 s for
# its next chunk; with 16 (about 0.5 s of parsing each), 0.7-1.4 s.
AHEAD = 16
# Inputs a worker is worth starting for: below this, starting processes costs more.
MIN_PER_WORKER = 16
# Far beyond any real page (milliseconds); only a parser stuck in a loop gets here.
SECONDS_PER_INPUT = 60.0
# The longest the first `least` inputs of map_isolated are waited for past its deadline.
LEAST_SECONDS = 30.0


def default_workers() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def start_fork_server(fn: Callable[..., object]) -> None:
    """Start the fork server that a pool for `fn` forks its workers from, now: its start
    and imports (0.2-0.3 s) then overlap the caller's other work, such as opening the
    warehouse, instead of delaying the first results."""
    _fork_server(fn)
    multiprocessing.forkserver.ensure_running()


def _fork_server(fn: Callable[..., object]) -> multiprocessing.context.BaseContext:
    """The fork server's context, set to import `fn`'s module (and the main script)."""
    context = multiprocessing.get_context("forkserver")
    module = getattr(fn, "func", fn).__module__  # a partial's function's
    # fork_server first: its hook quiets a worker whose pool went while it started.
    context.set_forkserver_preload(["idf_etl.fork_server", "__main__", module])
    return context


def chunk_size(inputs: int, workers: int) -> int:
    """Inputs sent to a worker at a time: CHUNK where there are enough to fill every worker's
    AHEAD chunks, else one, so that an input that never ends holds back no other (a night's
    few pages would otherwise share one chunk, and the deadline would take them all)."""
    return CHUNK if inputs >= workers * AHEAD * CHUNK else 1


def pool_size(workers: int | None, inputs: int) -> int:
    """Processes worth starting for `inputs` inputs (1: parse in this process)."""
    wanted = default_workers() if workers is None else workers
    return max(1, min(wanted, inputs // MIN_PER_WORKER))


@dataclass(frozen=True, slots=True)
class ItemResult(Generic[R]):
    """What one input gave: a value, or the exception raised for it."""

    value: R | None = None
    error: BaseException | None = None

    def unwrap(self) -> R:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def map_isolated(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    *,
    warm: Callable[[], object] | None = None,
    seconds_per_input: float = SECONDS_PER_INPUT,
    fork: bool = False,
    deadline: float | None = None,
    isolate: bool = False,
    count: int | None = None,
    least: int = 0,
) -> Iterator[tuple[T, ItemResult[R]]]:
    """(item, fn(item)'s result) for each item, in order; `fn` runs in `workers` processes.

    `fn` and the items must pickle (a module-level function, plain data); the
    items are read lazily, a few chunks ahead of what the caller has consumed.
    `warm` runs once in each worker as it starts (load tables `fn` needs). `fork`: this
    process holds no DuckDB connection or open client, so workers may be copies of it
    (on Linux, while it runs one thread; otherwise they come from the fork server). They
    are copied as the first chunk is sent, after `items` has given it: reading `items`
    must not start a thread. (A copy prints nothing twice: multiprocessing flushes
    stdout and stderr before it forks.) `deadline`: a time.monotonic() past which
    nothing is waited for (the inputs not done then are OutOfTime). `isolate`: one
    worker is a process of its own too, so that its time bound and the deadline hold
    (in this process nothing can stop an input that never ends). `count`: how many
    items there are, if known: a few go one at a time (chunk_size). `least`: the first
    items waited for past the deadline (each within its own time bound), so that a stage
    whose time was up before it began still moves the work on.
    """
    if workers <= 1 and not isolate:
        for done, item in enumerate(items):
            late = deadline is not None and done >= least and time.monotonic() >= deadline
            yield item, _too_late() if late else _call(fn, item)
        return
    # The deadline holds once `least` items are back (a pool past it sends nothing more);
    # till then a later one, LEAST_SECONDS from now: an input that never ends among the
    # first held the run for its chunk's bound (minutes) past run_timeout.
    first = deadline
    source, given = iter(items), 0
    rest: Iterator[T] = iter(())
    if least > 0 and deadline is not None:
        first = max(deadline, time.monotonic() + LEAST_SECONDS)
        if time.monotonic() >= deadline:
            # Past it already: only the first `least` are sent, to one worker (more cost a
            # start each, 2-11 s under load; the rest were parsed by the pool and thrown
            # away), one at a time (an input that never ends holds back no other).
            workers, count = 1, 0
            rest, source = source, islice(source, least)
    pool = _Pool(fn, max(1, workers), warm, seconds_per_input, fork, first)
    size = CHUNK if count is None else chunk_size(count, pool.workers)
    pending: deque[tuple[list[T], Future[bytes]]] = deque()
    try:
        while True:
            while (
                not pool.late
                and len(pending) < pool.workers * AHEAD
                and (chunk := list(islice(source, size)))
            ):
                pending.append((chunk, pool.submit(chunk)))
            if not pending:
                break
            chunk, future = pending.popleft()
            results = pool.result(future, len(chunk))
            if results is None and not pool.late:  # the pool broke: find the input that did
                results = [pool.run_alone(item) for item in chunk]
                if not pool.late:
                    pending = deque((c, pool.submit(c)) for c, _ in pending)
            yield from zip(chunk, results or [_too_late() for _ in chunk], strict=True)
            given += len(chunk)
            if given >= least:
                pool.deadline = deadline
        for item in source:  # never sent: the deadline passed
            yield item, _too_late()
        for item in rest:  # past the deadline before any was sent: the floor's were
            yield item, _too_late()
    finally:
        pool.stop(kill=bool(pending) or pool.late)


def _call(fn: Callable[[T], R], item: T) -> ItemResult[R]:
    try:
        return ItemResult(value=fn(item))
    except Exception as exc:
        return ItemResult(error=exc)


def _too_late() -> ItemResult[R]:
    return ItemResult(error=OutOfTime("run_timeout reached before it was parsed"))


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> bytes:
    """In a worker: each input's result, every exception made fit to travel back; pickled
    here, unpickled by the caller (`_Pool.result`). The pool's own thread takes results off
    the pipe and unpickles what it is sent: a chunk's records, made there, would fill that
    thread's malloc arena, which keeps what it held (about 10 MB after 30,000 pages, and
    growing with them, beside the run's own); sent as bytes, it holds one buffer a chunk."""
    results = [_call(fn, item) for item in chunk]
    for i, returned in enumerate(results):
        if returned.error is not None:
            try:
                pickle.dumps(returned.error)
            except Exception:
                error = returned.error
                results[i] = ItemResult(error=ParseError(f"{type(error).__name__}: {error}"))
    return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)


class _Pool(Generic[T, R]):
    """A process pool that can be torn down and started again when a worker dies or stalls."""

    def __init__(
        self,
        fn: Callable[[T], R],
        workers: int,
        warm: Callable[[], object] | None,
        seconds_per_input: float,
        fork: bool,
        deadline: float | None = None,
    ) -> None:
        self.fn = fn
        self.workers = workers
        self.warm = warm
        self.seconds_per_input = seconds_per_input
        self.fork = fork
        self.deadline = deadline
        self.late = False  # the deadline passed: the pool is ended, nothing more is sent
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # A fork copies locks as they are: held by another thread, they stay held in the
        # copy. A pool restarted after a crash may still have the old pool's thread alive.
        fork = self.fork and sys.platform == "linux" and _threads() == 1
        context = multiprocessing.get_context("fork") if fork else _fork_server(self.fn)
        with deferred():  # Ctrl-C waits for the processes' start (interrupts.deferred)
            return ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=worker_setup,
                initargs=(os.getpid(), self.warm),
            )

    def submit(self, chunk: list[T]) -> Future[bytes]:
        try:
            with deferred():  # a submit starts a worker process when one is wanted
                return self.executor.submit(_run_chunk, self.fn, chunk)
        except BrokenProcessPool as exc:  # broken since the last check: seen at this chunk's turn
            broken: Future[bytes] = Future()
            broken.set_exception(exc)
            return broken

    def result(self, future: Future[bytes], inputs: int) -> list[ItemResult[R]] | None:
        """The chunk's results, or None when the pool broke (a worker died or stalled) or
        the deadline passed first (then `late`, and the pool is ended)."""
        if self.late:  # only what had come back before the pool was ended
            done = future.done() and not future.cancelled() and future.exception() is None
            return _unpickled(future.result()) if done else None
        seconds = self.seconds_per_input * inputs
        left = None if self.deadline is None else self.deadline - time.monotonic()
        try:
            wait = seconds if left is None else max(0.0, min(seconds, left))
            return _unpickled(future.result(timeout=wait))
        except FutureTimeout:
            if left is not None and left <= seconds:
                self.late = True
                self.stop(kill=True)
                return None
            self.restart()
            return None
        except BrokenProcessPool:
            self.restart()
            return None

    def run_alone(self, item: T) -> ItemResult[R]:
        """One input with nothing else in flight: if the pool breaks now, this input broke it."""
        results = None if self.late else self.result(self.submit([item]), 1)
        if results is not None:
            return results[0]
        if self.late:
            return _too_late()
        return ItemResult(
            error=ParseError(
                "the parser's worker process died or ran over "
                f"{self.seconds_per_input:.0f}s on this input; the other inputs are unaffected"
            )
        )

    def restart(self) -> None:
        self.stop(kill=True)
        self.executor = self._start()

    def stop(self, kill: bool) -> None:
        """Let idle workers exit, or (kill) end them whatever they are doing: the caller
        has given up on their work (an error, a stalled worker, a consumer that stopped)."""
        if kill:
            kill_pool(self.executor)
        else:
            self.executor.shutdown(wait=True)


def _unpickled(results: bytes) -> list[ItemResult[R]]:
    """A chunk's results as `_run_chunk` sent them, made in the calling thread."""
    return pickle.loads(results)  # type: ignore[no-any-return]


def _threads() -> int:
    """Threads of this process (Linux), native ones (a C library's, execnet's) included."""
    return len(os.listdir("/proc/self/task"))


def kill_pool(executor: ProcessPoolExecutor) -> None:
    """End a pool's processes whatever they are doing, and reap them."""
    processes = list((getattr(executor, "_processes", None) or {}).values())  # None once shut
    manager = getattr(executor, "_executor_manager_thread", None)
    results = getattr(executor, "_result_queue", None)
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
        process.join(timeout=10)
    # A worker killed while it was sending a result leaves the pool's own thread reading
    # the rest of that message for ever (its pipe's write end is still open here), and
    # Python's exit joins that thread: the run printed its summary and never exited (CI,
    # stop 29). With the last write end closed, the read ends and the thread with it.
    writer = getattr(results, "_writer", None)
    if writer is not None:
        writer.close()
    # The pool's own thread waits on the same processes: one it reaped first still looks
    # alive here (no exit code yet) until that thread has stored its exit code.
    if manager is not None:
        manager.join(timeout=10)


def worker_setup(parent: int, warm: Callable[[], object] | None = None) -> None:
    """A pool's initializer: the worker leaves Ctrl-C and SIGTERM to its parent and dies
    with it."""
    # Ctrl-C is the parent's to handle; workers would only print tracebacks. So is SIGTERM
    # sent to the whole group (systemd's stop): a worker it killed first failed its task
    # before the parent had said why it stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    if warm is not None:
        warm()


def _exit_with(parent: int) -> None:
    """Exit when the parent does, even by SIGKILL: a worker holds both ends of its task
    pipe and the fork server lives as long as its workers, so nothing else would end it."""
    try:
        handle = os.pidfd_open(parent)
    except (AttributeError, OSError):  # not Linux 5.3+, or the parent is already gone
        while _alive(parent):
            time.sleep(1)
    else:
        select.select([handle], [], [])
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
