"""robots.txt (RFC 9309) as pure functions: its answer to rules, its Crawl-delay to a pace.

The client (`client.py`) fetches /robots.txt and acts on what these say. RFC 9309: a
robots.txt that cannot be read (5xx, over the size cap, unparseable) puts the host off
limits for the run, which is not the same as a Disallow: the host is "blocked", and
every request to it says why; one that is not there (4xx) means no rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

from idf_etl.fetch.encoding import decode_text

ROBOTS_TYPES = ("text/plain", "text/html", "")
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
_DISALLOW_ALL = "User-agent: *\nDisallow: /"


def disallow_all() -> Protego:
    """The rules of a host whose robots.txt could not be read."""
    return Protego.parse(_DISALLOW_ALL)


@dataclass(frozen=True)
class RobotsRules:
    """What one robots.txt answer means: its rules (None: no robots.txt, no rules), why
    the host is off limits when it is, and a problem to record when there is one."""

    rules: Protego | None
    blocked: str | None = None
    problem: str | None = None


def read_robots(host: str, status: int, body: bytes, truncated: bool) -> RobotsRules:
    """The rules a robots.txt answer gives (its last hop, redirects followed)."""
    if status == 200:
        problem = None
        if truncated:  # RFC 9309 2.5: parse at least the first 500 KiB, obey that
            body = body[: body.rfind(b"\n") + 1]  # never half a rule
            problem = (
                f"robots.txt of {host} is larger than {ROBOTS_MAX_BYTES:,} bytes: obeying "
                f"its first {len(body):,} bytes (RFC 9309 2.5)"
            )
        try:
            return RobotsRules(Protego.parse(decode_text(body)), problem=problem)
        except Exception as exc:  # RFC 9309: unparseable is unreadable, not 'no rules'
            return unreadable(host, named(exc), problem)
    if 400 <= status < 500:
        return RobotsRules(None)  # no robots.txt: no rules
    return unreadable(host, f"HTTP {status}")


def unreadable(host: str, why: str, problem: str | None = None) -> RobotsRules:
    return RobotsRules(
        disallow_all(), blocked=f"robots.txt of {host} could not be read ({why})", problem=problem
    )


def crawl_delay(
    robots: Protego, user_agent: str, host: str, left: float | None, budget: str
) -> tuple[float, str | None]:
    """The Crawl-delay to pace the host by (0: none), and why the host is paused for the
    run instead when the delay is longer than the `left` seconds the fetch has (`budget`
    says how that time was set)."""
    try:
        delay = float(robots.crawl_delay(user_agent) or 0)
    except (TypeError, ValueError, OverflowError):
        return 0.0, None  # Protego reads the number; anything else there is no delay
    if delay <= 0 or delay != delay:
        return 0.0, None
    if left is not None and delay >= left:
        return 0.0, (
            f"robots.txt of {host} asks for Crawl-delay {delay:g}s, more than the "
            f"{max(0.0, left):.0f}s the fetch has left ({budget})"
        )
    return delay, None


def named(exc: BaseException) -> str:
    """An exception as a problem names it: its type, and what it said."""
    detail = str(exc).strip()
    return f"{type(exc).__name__}{': ' + detail if detail else ''}"
