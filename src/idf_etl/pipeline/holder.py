"""Who holds the run lock, since when, and whether a healthy run could have taken that long.

A run that takes the lock writes one JSON object into the lock file:

    {"pid": 4242, "command": "idf-etl run --config pipelines/iom_idf.toml", "host": "etl1",
     "started": "2026-12-06T02:30:00Z", "boot_id": "6c1f...", "since_boot": 86400.25,
     "pid_start": 8640012, "run_timeout": 14400.0, "tail": 64.2}

`started` is the wall clock, for people. The age is measured on `since_boot`, the
kernel's seconds since boot when the lock was taken (read from /proc/uptime, a file:
no clock change, NTP step or faketime moves it), against the same count now. So a
clock set back or forward, or a holder whose clock said another year, can neither
make a healthy run look stuck nor a stuck one healthy. It compares only within one
boot (`boot_id`). `pid_start` (the process's start, in ticks since boot, from
/proc/PID/stat) tells the holder from a process that got its pid later. The kernel's
own list of locks (/proc/locks) says which process holds the lock, so a lock file
that says something else (garbage, a previous holder's record, a holder in another
PID namespace) is not believed. A holder on another machine (a shared file system)
can only be timed by the two wall clocks: a clock error there delays or advances the
verdict by that error, never forever.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from idf_etl.rawformat import stored_time
from idf_etl.rawstore import CLOCK_SLACK as STORED_TIME_SLACK

# run_timeout bounds a whole run: the fetch stops at 75 % of it and every wait after it
# ends by it; what is not a wait (merging, exporting, publishing what was parsed) goes
# on a little past it. Twice run_timeout is room for that on a loaded machine, ...
STUCK_FACTOR = 2
# ... plus the run's tail, which does not shrink with run_timeout: preparing the building
# copy, the first pages a run parses whatever its time (up to 30 s), a merge batch, the
# export and the publish. A run at run_timeout=0.5 took 6-7 s on 2,000 pages and was called
# stuck at 1 s (adversary #25). The tail is TAIL_FLOOR plus STUCK_FACTOR times the raw store's
# last export and publish (written into the record once the store is open: tail_seconds).
TAIL_FLOOR = 60.0
# The most of the last export's seconds counted in the tail where run_timeout is shorter.
LONGEST_EXPORT = 3600.0
# A holder on another machine whose clock is ahead by less than this is "just now" (the
# one slack of every stored time compared with now), in seconds.
CLOCK_SLACK = STORED_TIME_SLACK.total_seconds()
_MAX_COMMAND = 300


@dataclass(frozen=True)
class Holder:
    """What the lock file says about the run holding it (any field may be missing)."""

    pid: int | None = None
    command: str = ""
    host: str = ""
    started: datetime | None = None
    boot_id: str = ""
    since_boot: float | None = None
    pid_start: int | None = None
    run_timeout: float | None = None
    tail: float | None = None  # seconds a healthy run may take past its run_timeouts

    def to_text(self) -> str:
        out = asdict(self)
        out["started"] = self.started.strftime("%Y-%m-%dT%H:%M:%SZ") if self.started else None
        return json.dumps(out) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Holder | None:
        """The record, or None for anything else (empty, garbage, half written). A bare
        number is a pid, as releases before this one wrote it."""
        text = text.strip()
        if text.isascii() and text.isdigit() and len(text) <= 9:
            return cls(pid=int(text))
        try:
            raw, _ = json.JSONDecoder().raw_decode(text)
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        return cls(
            pid=_int(raw.get("pid"), 1, 2**22),
            command=_one_line(raw.get("command")),
            host=_one_line(raw.get("host"))[:100],
            started=stored_time(raw.get("started")),
            boot_id=_one_line(raw.get("boot_id"))[:64],
            since_boot=_float(raw.get("since_boot"), 0, 1e10),
            pid_start=_int(raw.get("pid_start"), 0, 2**62),
            run_timeout=_float(raw.get("run_timeout"), 1e-6, 1e10),
            tail=_float(raw.get("tail"), 0, 1e10),
        )


def tail_seconds(export: float | None, run_timeout: float) -> float:
    """The tail of a run whose last export and publish took `export` seconds (None: not
    known): TAIL_FLOOR, plus STUCK_FACTOR times that export, as the machine may be slower.
    The export counts for run_timeout (an hour, for a shorter one) at most: a hand-edited
    1e9 made a run that hangs never stuck."""
    return TAIL_FLOOR + STUCK_FACTOR * min(export or 0.0, max(run_timeout, LONGEST_EXPORT))


def this_process(run_timeout: float | None, tail: float = TAIL_FLOOR) -> Holder:
    """The record this process writes when it takes the lock."""
    pid = os.getpid()
    return Holder(
        pid=pid,
        command=_one_line(_command_line()),
        host=socket.gethostname(),
        started=datetime.now(UTC).replace(microsecond=0),
        boot_id=boot_id(),
        since_boot=since_boot(),
        pid_start=process_start(pid),
        run_timeout=run_timeout,
        tail=tail,
    )


@dataclass(frozen=True)
class Look:
    """What a look at a held lock found: who, how long, and whether that is too long."""

    pid: int | None  # the holder's pid, as this machine numbers it, when known
    command: str
    host: str  # another machine's name, or "" for this one
    seconds: float | None  # how long it has held the lock; None: cannot be told
    started: datetime | None  # by its record (its clock), else now minus `seconds`
    stuck_after: float  # STUCK_FACTOR x the holder's run_timeout (else this run's) + tail
    running: bool | None  # the pid is running here and is the holder; None: cannot tell
    unknown: str = ""  # why `seconds` cannot be told
    notes: list[str] = field(default_factory=list)
    tail: float = TAIL_FLOOR  # the part of stuck_after that is the run's tail

    @property
    def stuck(self) -> bool:
        return self.seconds is not None and self.seconds > self.stuck_after

    def who(self) -> str:
        """'pid 4242 (`idf-etl run ...`), started 2026-12-06 02:30 UTC, 3h 5m ago'."""
        parts = [f"pid {self.pid}" if self.pid else "pid unknown"]
        if self.host:
            parts[0] += f" on {self.host}"
        if self.command:
            parts[0] += f" (`{self.command}`)"
        if self.started is not None:
            parts.append(f"started {self.started:%Y-%m-%d %H:%M:%S} UTC")
        if self.seconds is not None:
            parts.append(f"{duration(self.seconds)} ago")
        else:
            parts.append(f"how long ago cannot be told: {self.unknown}")
        return ", ".join(parts + self.notes)

    def healthy(self) -> str:
        """How long a healthy run takes at most, as the messages say it: 'twice run_timeout
        (1s) and 1m 0s for its tail (preparing, exporting, publishing): 1m 1s'."""
        return (
            f"twice run_timeout ({duration(self.stuck_after - self.tail)}) and "
            f"{duration(self.tail)} for preparing, exporting and publishing: "
            f"{duration(self.stuck_after)}"
        )

    def status_line(self) -> str:
        """What `idf-etl status` says last: a run going, or a stuck one to deal with."""
        if self.stuck:
            return (
                "STUCK: a run has held the lock for longer than a healthy run takes "
                f"({self.healthy()}): {self.who()}. Check it, and stop "
                f"it if it is stuck (kill {self.pid or 'PID'}): the published warehouse is "
                "unchanged"
            )
        return f"run in progress: {self.who()}"

    def as_dict(self) -> dict[str, object]:
        started = self.started.strftime("%Y-%m-%dT%H:%M:%SZ") if self.started else None
        return {
            "pid": self.pid,
            "command": self.command or None,
            "host": self.host or None,
            "started": started,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
            "stuck": self.stuck,
            "stuck_after_seconds": self.stuck_after,
            "tail_seconds": self.tail,
        }


@dataclass(frozen=True)
class Here:
    """This machine, now: what a holder's record is compared with."""

    host: str
    boot_id: str
    since_boot: float | None
    now: datetime

    @classmethod
    def now_(cls) -> Here:
        return cls(socket.gethostname(), boot_id(), since_boot(), datetime.now(UTC))


def judge(
    holder: Holder | None,
    locker: int | None,
    run_timeout: float | None,
    here: Here,
) -> Look:
    """How long the lock has been held and by whom, from the record (`holder`), the pid the
    kernel says holds it (`locker`, None when it does not say) and this machine's counts."""
    record = holder
    if holder and locker and holder.pid != locker:
        # A process here holds it (the kernel says which) and the record names another: a
        # previous holder's record (from this machine or another), or a holder in another
        # PID namespace. The kernel is believed, on its process's own age.
        record = None
    timeout = (record.run_timeout if record else None) or run_timeout or 4 * 3600.0
    # A record without one (an earlier release's, or none believed): the floor.
    tail = record.tail if record and record.tail is not None else TAIL_FLOOR
    stuck_after = STUCK_FACTOR * timeout + tail
    this_boot = bool(record and record.boot_id and record.boot_id == here.boot_id)
    elsewhere = bool(record and record.host and record.host != here.host and not this_boot)
    pid = record.pid if record else locker
    running = _is_holder(record) if record and not elsewhere else None
    command = record.command if record else ""
    if pid and running is not False and not command:
        command = process_command(pid) or ""
    seconds, unknown = _held_for(record, locker, this_boot, elsewhere, running, here)
    notes = []
    started = record.started if record else None
    if seconds is not None:
        by_here = here.now - timedelta(seconds=seconds)
        if started and abs((started - by_here).total_seconds()) > CLOCK_SLACK:
            notes.append(  # both are said: which clock is wrong is for a person to see
                f"by this machine's clock it started {by_here:%Y-%m-%d %H:%M:%S} UTC"
            )
        started = started or by_here.replace(microsecond=0)
    if running is False and pid:
        notes.append(
            f"pid {pid} is not running here, yet the lock is held "
            "(by a process it left, or one in another PID namespace)"
        )
    return Look(
        pid=pid,
        command=command,
        host=record.host if elsewhere and record else "",
        seconds=seconds,
        started=started,
        stuck_after=stuck_after,
        running=running,
        unknown=unknown,
        notes=notes,
        tail=tail,
    )


def _held_for(
    record: Holder | None,
    locker: int | None,
    this_boot: bool,
    elsewhere: bool,
    running: bool | None,
    here: Here,
) -> tuple[float | None, str]:
    """Seconds held, by the best count there is: the kernel's when it can, else the clocks."""
    if record and this_boot and record.since_boot is not None and here.since_boot is not None:
        seconds = here.since_boot - record.since_boot
        if running and record.pid and (age := process_age(record.pid, here)) is not None:
            seconds = min(seconds, age)  # a lock is never older than its holder
        if seconds >= -1:  # /proc/uptime's 10 ms steps
            return max(seconds, 0.0), ""
    if locker and not elsewhere and (age := process_age(locker, here)) is not None:
        return age, ""  # the kernel's count of the process that holds the lock
    legacy = record and record.pid and not record.boot_id and running
    if legacy and record and record.pid and (age := process_age(record.pid, here)) is not None:
        return age, ""  # a release before this one wrote only its pid
    if record and record.boot_id and here.boot_id and not elsewhere:
        # not this boot, yet on this machine: a lock never outlives a boot, so the record is
        # not the holder's
        return None, "the lock file's record is from before this machine last started"
    if record and record.started and (elsewhere or not here.boot_id):
        seconds = (here.now - record.started).total_seconds()
        if seconds >= -CLOCK_SLACK:
            return max(seconds, 0.0), ""
        return None, (
            f"it started {record.started:%Y-%m-%d %H:%M} UTC by its clock, which is in the "
            "future by this machine's: the two clocks disagree"
        )
    return None, "the lock file does not say when it was taken"


def _is_holder(record: Holder) -> bool | None:
    """Whether the record's pid runs here and is the process that wrote it."""
    if not record.pid:
        return None
    start = process_start(record.pid)
    if start is None:
        return False if Path("/proc/self/stat").exists() else None
    return record.pid_start is None or record.pid_start == start


def duration(seconds: float) -> str:
    """'45s', '12m 5s', '3h 5m', '2d 4h'."""
    s = int(seconds)
    if s < 60:
        return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.1f}s"
    for unit, size, sub, subsize in (("d", 86400, "h", 3600), ("h", 3600, "m", 60)):
        if s >= size:
            return f"{s // size}{unit} {s % size // subsize}{sub}"
    return f"{s // 60}m {s % 60}s"


# --- what the kernel says (Linux; elsewhere each is None and the clocks are all there is)


def _proc(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read(65536)
    except OSError:
        return None


def boot_id() -> str:
    return (_proc("/proc/sys/kernel/random/boot_id") or "").strip()


def since_boot() -> float | None:
    """The kernel's seconds since boot: no clock setting (or faketime) moves it."""
    text = _proc("/proc/uptime")
    try:
        return float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def process_start(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (/proc/PID/stat field 22)."""
    text = _proc(f"/proc/{pid}/stat")
    try:
        return int(text.rsplit(")", 1)[1].split()[19]) if text else None
    except (ValueError, IndexError):
        return None


def process_age(pid: int, here: Here) -> float | None:
    start = process_start(pid)
    if start is None or here.since_boot is None:
        return None
    return max(0.0, here.since_boot - start / os.sysconf("SC_CLK_TCK"))


def process_command(pid: int) -> str | None:
    text = _proc(f"/proc/{pid}/cmdline")
    return _one_line(shlex.join(text.rstrip("\0").split("\0"))) if text else None


def flock_holder(path: Path) -> tuple[bool, int | None] | None:
    """(held, pid) from the kernel's list of locks for the file at `path`; None when the
    list cannot be read. The pid is None when the holder is in another PID namespace."""
    text = _proc("/proc/locks")
    if text is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return (False, None)
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in text.splitlines():
        fields = line.split()
        if "->" in fields:  # a request waiting for this lock, not a holder
            continue
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == key:
            pid = int(fields[4]) if fields[4].lstrip("-").isdigit() else 0
            return (True, pid if pid > 0 else None)
    return (False, None)


def _command_line() -> str:
    """This command as a person typed it: `idf-etl run ...` also under `python -m idf_etl`."""
    argv = list(sys.argv) or ["?"]
    first = Path(argv[0]).name
    prog = "idf-etl" if first in ("idf-etl", "__main__.py", "idf_etl") else first
    return shlex.join([prog, *argv[1:]])


def _one_line(value: object) -> str:
    """Printable, one line, capped: a record's text goes into a one-line message."""
    if not isinstance(value, str):
        return ""
    text = "".join(c if c.isprintable() else " " for c in value).strip()
    return text if len(text) <= _MAX_COMMAND else text[: _MAX_COMMAND - 1] + "…"


def _int(value: object, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def _float(value: object, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if low <= value <= high else None  # also drops nan
