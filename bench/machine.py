"""The machine itself: how much two processes at once get from its cores, and how busy
it was during a run (bench_load.py prints both beside the workers comparison).

A 2-core cloud VM gives two processes anywhere between 1.6 and 2.6 times one's
pages/s from one minute to the next (issue 12): its cores are shared with
other tenants' work. /proc/stat says how much of a run's wall time the cores
spent busy, idle, and stolen by the hypervisor.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any, NamedTuple

from idf_etl.workers import default_workers
from pages import project_page


class Cores(NamedTuple):
    """CPU seconds the whole machine spent, summed over its cores (Linux; zeros elsewhere)."""

    busy: float  # user + nice + system + irq + softirq
    idle: float  # idle + iowait
    steal: float  # taken by the hypervisor for other guests

    def __sub__(self, other: tuple[Any, ...]) -> Cores:
        return Cores(*(a - b for a, b in zip(self, other, strict=True)))


def cores_now() -> Cores:
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) / os.sysconf("SC_CLK_TCK") for x in stat.readline().split()[1:9]]
    except OSError:
        return Cores(0.0, 0.0, 0.0)
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return Cores(user + nice + system + irq + softirq, idle + iowait, steal)


def generated(pages: int) -> list[bytes]:
    """Bodies for the ceiling: generated project pages, at least one a core."""
    return [project_page(i).encode() for i in range(max(pages, default_workers()))]


def ceiling(bodies: list[bytes]) -> float:
    """One measurement of the machine's ceiling: one process's seconds over one per core's."""
    return _parse_on(1, bodies) / _parse_on(default_workers(), bodies)


def bench_machine(pages: int, rounds: int) -> None:
    """Pages/s of one parser process alone and of one per core at once, interleaved."""
    cores = default_workers()
    bodies = generated(pages)
    best: dict[int, float] = {}
    for _ in range(rounds):
        for processes in (1, cores):
            seconds = _parse_on(processes, bodies)
            best[processes] = min(best.get(processes, seconds), seconds)
    print(
        f"machine ceiling: {pages:,} pages parsed by 1 process alone {pages / best[1]:,.0f} "
        f"pages/s, by {cores} at once {pages / best[cores]:,.0f} pages/s: "
        f"{best[1] / best[cores]:.2f}x (best of {rounds}; no IPC, no loading)"
    )


def _parse_on(processes: int, bodies: list[bytes]) -> float:
    """Seconds for `processes` forked processes to parse `bodies`, each its share, from
    the moment all are ready (imports and country names loaded) until the last is done."""
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(processes + 1, timeout=120)  # a child that died breaks it
    done = []
    children = []
    for i in range(processes):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_parse_share, args=(bodies[i::processes], ready, send))
        child.start()
        send.close()  # the child's copy is the only one: its death ends recv() with EOFError
        done.append(receive)
        children.append(child)
    try:
        ready.wait()
        start = time.perf_counter()
        for receive in done:
            receive.recv()
        return time.perf_counter() - start
    finally:
        for child in children:
            child.join(timeout=10)
            child.kill()


def _parse_share(bodies: list[bytes], ready: Any, done: Any) -> None:
    from idf_etl.parse.countries import country_index
    from idf_etl.parse.page import parse_page

    country_index()
    parse_page(project_page(0).encode(), source="warm-up", url="https://www.iom.int/project/w")
    ready.wait()
    for i, body in enumerate(bodies):
        parse_page(body, source=str(i), url=f"https://www.iom.int/project/p{i:05d}")
    done.send(True)
