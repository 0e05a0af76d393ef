"""When the crawl's client lets each request go, as measured where it decides.

A pace (rate, Crawl-delay, archive_rate) spaces the moments the client lets requests go.
A server's arrival times add the delivery's jitter (the in-process server is one more
thread on a busy machine): requests let go 0.30 s apart were seen arriving 0.19 s apart
under load. So spacing is measured here; the server still says what was asked.
Waits that start from an answer (Retry-After, backoff) can be measured on the server:
the arrival of the request is noted before its answer exists, so the next one cannot
arrive sooner than the wait after it.
"""

from __future__ import annotations

import itertools
import time

import pytest


def note_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str]]:
    """(time.monotonic(), url) of every request the client sends from now on. A spy: the
    real request is sent; only the moment is noted, first thing once the pace lets it go."""
    from idf_etl.fetch.client import PoliteClient

    sent: list[tuple[float, str]] = []
    attempt = PoliteClient._attempt

    async def noted(self, url, *args):  # type: ignore[no-untyped-def]
        sent.append((time.monotonic(), url))
        return await attempt(self, url, *args)

    monkeypatch.setattr(PoliteClient, "_attempt", noted)
    return sent


# A wait ends late, never early; this much for the event loop's clock resolution.
RESOLUTION = 0.001


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]
