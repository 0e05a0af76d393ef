"""The parse worker pool with real processes: input order kept, one bad input fails alone."""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.errors import OutOfTime, ParseError
from idf_etl.workers import AHEAD, CHUNK, map_isolated, pool_size
from tests.helpers.pace import Pace


def shout(item: str) -> str:
    """A job for the tests: module-level, so worker processes can import it."""
    if item == "crash":
        os._exit(3)  # a worker dying as a segfault or the OOM killer would end it
    if item == "hang":  # an hour: past any bound a test sets, at any load
        time.sleep(3600)
    if item == "raise":
        raise ValueError("no good")
    if item == "parent":
        return str(os.getppid())
    if item == "half-sent":  # a worker stopped (killed) partway through sending its result
        frame = sys._getframe()
        while "result_queue" not in frame.f_locals:  # the pool's worker loop, up the stack
            frame = frame.f_back
        writer = frame.f_locals["result_queue"]._writer
        os.write(writer.fileno(), struct.pack("!i", 1_000_000) + b"x" * 100)
        time.sleep(600)
    if item.startswith("meet:"):  # wait (30 s at most) until another process is here too
        folder = item.removeprefix("meet:")
        open(os.path.join(folder, str(os.getpid())), "w").close()
        deadline = time.monotonic() + 30
        while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    return f"{item.upper()}:{os.getpid()}"


def outcomes(items, workers, **kwargs):
    return [
        (item, o.value.split(":")[0] if o.value else None, o.error)
        for item, o in map_isolated(shout, items, workers, **kwargs)
    ]


def test_many_inputs_come_back_in_input_order_from_several_processes(tmp_path):
    items = [f"page{i}" for i in range(100)]
    # The first two chunks each hold an input that waits for another process: both workers
    # work, however slowly the second one starts on a busy machine.
    items[0] = items[CHUNK] = f"meet:{tmp_path}"
    results = list(map_isolated(shout, items, 2))
    assert [item for item, _ in results] == items
    assert [o.value.rsplit(":", 1)[0] for _, o in results] == [i.upper() for i in items]
    assert len(os.listdir(tmp_path)) == 2
    assert len({o.value.rsplit(":", 1)[1] for _, o in results}) == 2  # two workers did the work
    assert str(os.getpid()) not in {o.value.rsplit(":", 1)[1] for _, o in results}


def test_inputs_are_read_a_bounded_number_ahead_of_the_results_taken():
    """Memory stays flat however many inputs: the pool reads at most its chunks in flight
    beyond what the caller has taken, never the whole input."""
    taken = 0

    def items():
        nonlocal taken
        for i in range(100_000):
            taken += 1
            yield f"page{i}"

    with contextlib.closing(map_isolated(shout, items(), 2)) as results:
        for _ in range(3):
            next(results)
        assert taken <= 2 * AHEAD * CHUNK + CHUNK


def run_alone(script: str) -> dict:
    """Run a script in a fresh process (no fork server yet, no other thread) that can
    import this module; what it printed, read as JSON."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# fork=True in a process of its own: a pytest-xdist worker runs a thread of its own
# (execnet's), so there the pool rightly never forks.
FORKED = """
import json, os, sys, threading
from idf_etl.workers import map_isolated
from test_workers import shout

def parents(items, **kwargs):
    return [(o.value, type(o.error).__name__) for _, o in map_isolated(shout, items, 2, **kwargs)]

out = {"me": str(os.getpid())}
out["fork"] = parents(["parent"] * 40 + ["crash"] + ["parent"] * 40, fork=True)
out["forkserver"] = parents(["parent"] * 40)
stop = threading.Event()
threading.Thread(target=stop.wait).start()
out["threaded"] = parents(["parent"] * 40, fork=True)
stop.set()
print(json.dumps(out))
"""


def test_fork_makes_workers_copies_of_a_process_of_one_thread_and_a_crash_fails_alone():
    out = run_alone(FORKED)
    forked = [tuple(pair) for pair in out["fork"]]
    assert forked[40] == (None, "ParseError")  # the input that killed its worker, alone
    parents = {value for value, _ in forked[:40] + forked[41:]}
    assert out["me"] in parents  # copies of the process, not children of a fork server
    assert all(error == "NoneType" for i, (_, error) in enumerate(forked) if i != 40)
    # Without fork=True, or with a second thread, the workers come from the fork server.
    assert out["me"] not in {value for value, _ in out["forkserver"]}
    assert out["me"] not in {value for value, _ in out["threaded"]}


PRESTARTED = """
import json, multiprocessing.forkserver, os
from idf_etl.workers import map_isolated, start_fork_server
from test_workers import shout

start_fork_server(shout)
server = multiprocessing.forkserver._forkserver._forkserver_pid
os.kill(server, 0)  # running before any pool
values = [o.value for _, o in map_isolated(shout, ["parent"] * 40, 2)]
print(json.dumps({"server": str(server), "parents": sorted(set(values))}))
"""


def test_a_fork_server_started_early_is_the_one_the_pool_forks_its_workers_from():
    out = run_alone(PRESTARTED)
    assert out["parents"] == [out["server"]]


def test_one_worker_means_this_process_and_the_same_outcomes():
    items = ["a", "raise", "b"]
    assert [o.value for _, o in map_isolated(shout, ["a"], 1)] == [f"A:{os.getpid()}"]
    inline = [(i, v, type(e)) for i, v, e in outcomes(items, 1)]
    pooled = [(i, v, type(e)) for i, v, e in outcomes(items, 2)]
    assert (
        inline
        == pooled
        == [("a", "A", type(None)), ("raise", None, ValueError), ("b", "B", type(None))]
    )


@pytest.mark.slow
def test_a_worker_that_dies_fails_only_its_input():
    items = [f"a{i}" for i in range(30)] + ["crash"] + [f"b{i}" for i in range(30)]
    results = outcomes(items, 2)
    assert [i for i, _, _ in results] == items
    failed = [(i, e) for i, _, e in results if e is not None]
    assert [i for i, _ in failed] == ["crash"]
    assert isinstance(failed[0][1], ParseError)
    assert "worker process died" in str(failed[0][1])
    assert all(v == i.upper() for i, v, e in results if i != "crash")


@pytest.mark.slow
def test_a_worker_that_stalls_fails_only_its_input_after_the_bound():
    pace = Pace()  # bounds at the machine's slowness (tests/helpers/pace.py)
    started = time.monotonic()
    results = outcomes(["a", "hang", "b"], 2, seconds_per_input=4)
    took = time.monotonic() - started
    assert pace.allows(took, 60), (took, str(pace))  # not the hang's hour
    assert [(i, v) for i, v, _ in results] == [("a", "A"), ("hang", None), ("b", "B")]
    assert isinstance(results[1][2], ParseError)
    assert "ran over 4s" in str(results[1][2])


def test_a_consumer_that_stops_early_leaves_no_worker_behind():
    results = map_isolated(shout, [f"x{i}" for i in range(200)], 2)
    pids = {next(results)[1].value.split(":")[1] for _ in range(3)}
    results.close()
    # Gone soon after, however busy the machine (a fixed 0.5 s was not always enough under
    # load): the bound says "left behind", not how fast a loaded machine reaps.
    deadline = time.monotonic() + 30
    while (alive := [p for p in pids if _exists(int(p))]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive == [], f"workers {alive} still running 30 s after the consumer stopped"


HALF_SENT = """
import json
from idf_etl.workers import map_isolated
from test_workers import shout

items = ["a", "half-sent", "b"]
results = map_isolated(shout, items, 2, seconds_per_input=2)
print(json.dumps([type(o.error).__name__ for _, o in results]))
"""


@pytest.mark.slow
def test_a_worker_killed_while_it_sends_its_result_leaves_nothing_to_hold_the_exit():
    """The worker is killed as it stalls, its result half written: the pool's own thread
    was left reading the rest for ever, and the process printed everything and never
    exited (Python's exit joins that thread)."""
    errors = run_alone(HALF_SENT)  # its own bound (120 s) is the assertion on the exit
    assert errors == ["NoneType", "ParseError", "NoneType"]


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_pool_size_starts_no_more_workers_than_the_inputs_are_worth():
    assert pool_size(4, 1) == 1
    assert pool_size(4, 40) == 2
    assert pool_size(4, 10_000) == 4
    assert pool_size(1, 10_000) == 1
    assert pool_size(None, 10_000) >= 1


# -- the run's deadline bounds every wait here -------------------------------------------


def test_past_the_deadline_nothing_is_sent_and_no_input_is_waited_for(tmp_path):
    """A stuck input holds nothing past the deadline (its own bound is ten minutes here):
    the pool is ended, and every input not done comes back as OutOfTime, in order."""
    items = [f"a{i}" for i in range(40)] + ["hang"] + [f"b{i}" for i in range(2000)]
    pace = Pace()
    started = time.monotonic()
    results = outcomes(items, 2, seconds_per_input=3600, deadline=started + 3)
    took = time.monotonic() - started
    assert pace.allows(took, 60), (took, str(pace))  # not the hour the input's bound allows
    assert [i for i, _, _ in results] == items
    hang = results[40]
    assert isinstance(hang[2], OutOfTime) and "run_timeout" in str(hang[2])
    for item, value, error in results:
        assert (value, error) == (item.upper(), None) or isinstance(error, OutOfTime)
    assert isinstance(results[-1][2], OutOfTime)  # the inputs never sent, too


def test_in_this_process_no_input_starts_after_the_deadline():
    calls = []

    def job(item):
        calls.append(item)
        return item

    results = list(map_isolated(job, ["a", "b"], 1, deadline=time.monotonic() - 1))
    assert calls == []
    assert all(isinstance(o.error, OutOfTime) for _, o in results)
    results = list(map_isolated(job, ["a", "b"], 1, deadline=time.monotonic() + 600))
    assert [o.value for _, o in results] == ["a", "b"]


@pytest.mark.slow
@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(
    items=st.lists(
        st.sampled_from(["ok", "ok", "ok", "raise", "crash", "hang"]), min_size=1, max_size=80
    ),
    seconds=st.floats(0.5, 3),
)
def test_whatever_the_inputs_do_the_map_ends_by_its_deadline_and_accounts_for_each(items, seconds):
    items = [f"{kind}{i}" if kind == "ok" else kind for i, kind in enumerate(items)]
    pace = Pace()
    started = time.monotonic()
    results = outcomes(items, 2, seconds_per_input=3600, deadline=started + seconds)
    took = time.monotonic() - started
    # The pool's start, and its end once killed, are the only time past the deadline.
    assert pace.allows(took - seconds, 30), (took, str(pace))
    assert [i for i, _, _ in results] == items
    for item, value, error in results:
        if isinstance(error, OutOfTime):
            continue
        if item.startswith("ok"):
            assert (value, error) == (item.upper(), None)
        elif item == "raise":
            assert isinstance(error, ValueError)
        else:  # crash alone fails itself; hang can only ever be OutOfTime here
            assert item == "crash" and isinstance(error, ParseError)


@pytest.mark.slow
def test_one_isolated_worker_bounds_an_input_that_never_ends():
    """In this process nothing could stop `hang`; isolated, its bound and the deadline do."""
    results = outcomes(["a", "hang", "b"], 1, isolate=True, seconds_per_input=3)
    assert [(i, v) for i, v, _ in results] == [("a", "A"), ("hang", None), ("b", "B")]
    assert isinstance(results[1][2], ParseError) and "ran over 3s" in str(results[1][2])
    assert all(r[1] is not None for r in outcomes(["parent"], 1, isolate=True))
    [(_, value, _)] = outcomes(["parent"], 1, isolate=True)
    assert value != str(os.getpid()).upper()  # a process of its own


@settings(max_examples=10, deadline=None)
@given(
    count=st.integers(0, 3 * CHUNK * AHEAD),
    least=st.integers(0, 2 * CHUNK),
    workers=st.integers(1, 2),
    isolate=st.booleans(),
)
def test_the_first_inputs_asked_for_are_done_past_the_deadline_and_no_more(
    count, least, workers, isolate
):
    """A stage whose time was up before it began parsed nothing, night after night (a fetch
    that took its whole share): `least` inputs are done whatever the deadline; past them,
    nothing more is sent."""
    items = [f"a{i}" for i in range(count)]
    mapped = list(
        map_isolated(shout, items, workers, deadline=time.monotonic() - 1, isolate=isolate,
                     least=least, count=count)
    )  # fmt: skip
    assert [i for i, _ in mapped] == items
    done = [i for i, o in mapped if o.error is None and o.value.split(":")[0] == i.upper()]
    # Exactly the first `least`, in order: past the deadline no more is sent (before, a
    # pool sent whole chunks, up to 2 x AHEAD of them, parsed and thrown away).
    assert done == items[: min(least, count)]
    assert all(isinstance(o.error, OutOfTime) for i, o in mapped if i not in done)
    # On one process: a pool started past the deadline starts one worker, not `workers`.
    assert len({o.value.split(":")[1] for _, o in mapped if o.error is None}) <= 1


def test_an_input_that_never_ends_among_the_first_asked_for_holds_no_more_than_least_seconds():
    """The first `least` inputs are waited for past the deadline, but not for their chunk's
    own bound (minutes): an input that never ends among them is cut at LEAST_SECONDS."""
    import idf_etl.workers as workers

    pace = Pace()
    started = time.monotonic()
    saved, workers.LEAST_SECONDS = workers.LEAST_SECONDS, 3.0
    try:
        results = outcomes(["a0", "hang", "a2"], 2, seconds_per_input=3600,
                           deadline=started - 1, least=64)  # fmt: skip
    finally:
        workers.LEAST_SECONDS = saved
    took = time.monotonic() - started
    assert pace.allows(took, 60), (took, str(pace))  # LEAST_SECONDS, not the hour
    assert isinstance(results[1][2], OutOfTime)
