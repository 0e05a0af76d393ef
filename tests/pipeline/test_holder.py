"""How long a lock has been held, whatever the clocks say: judge() with drawn clocks.

The kernel's count (seconds since boot) decides on this machine; the wall clocks only for
a holder on another one, where their disagreement shifts the verdict by as much, and a
start "in the future" beyond a few minutes is said to be unknowable rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from idf_etl.pipeline.holder import (
    CLOCK_SLACK,
    LONGEST_EXPORT,
    STUCK_FACTOR,
    TAIL_FLOOR,
    Here,
    Holder,
    judge,
    tail_seconds,
)

BOOT = "6c1f0000-0000-4000-8000-000000000000"
EPOCH = datetime(2026, 12, 6, 2, 30, tzinfo=UTC)
clock_error = st.floats(-20 * 365 * 86400.0, 20 * 365 * 86400.0)  # twenty years either way
ages = st.floats(0, 30 * 86400.0)
timeouts = st.floats(1.0, 86400.0)
tails = st.none() | st.floats(0, 30 * 86400.0)  # None: a record without one (older release)


@given(age=ages, timeout=timeouts, holder_clock=clock_error, our_clock=clock_error, tail=tails)
def test_on_this_machine_only_the_kernels_count_decides(
    age, timeout, holder_clock, our_clock, tail
):
    taken_at_uptime = 1000.0
    record = Holder(
        pid=None,  # no pid: nothing is read from /proc; the count alone decides
        host="etl1",
        boot_id=BOOT,
        since_boot=taken_at_uptime,
        started=EPOCH + timedelta(seconds=holder_clock),
        run_timeout=timeout,
        tail=tail,
    )
    here = Here("etl1", BOOT, taken_at_uptime + age, EPOCH + timedelta(seconds=age + our_clock))
    look = judge(record, None, None, here)
    assert look.seconds is not None and abs(look.seconds - age) < 1e-6
    assert look.stuck == (age > 2 * timeout + (TAIL_FLOOR if tail is None else tail))
    assert look.stuck_after >= 2 * timeout  # never sooner than before the tail was counted


@given(
    timeout=st.floats(1e-6, 1e10),
    export=st.none() | st.floats(0, 1e8),
    age=st.floats(0, 1e6),
)
def test_a_run_is_stuck_only_past_twice_run_timeout_and_its_tail_as_written(timeout, export, age):
    """The tail a run writes (from its last export) survives the record's round trip, and a
    holder younger than twice run_timeout plus a minute is never stuck, however short
    run_timeout (adversary #25: 0.5 s, a healthy 7 s run called stuck)."""
    tail = tail_seconds(export, timeout)
    most = max(timeout, LONGEST_EXPORT)
    assert tail >= TAIL_FLOOR and tail >= STUCK_FACTOR * min(export or 0, most)
    assert tail <= TAIL_FLOOR + STUCK_FACTOR * most  # a hand-edited 1e9 cannot hide a stuck run
    record = Holder.from_text(
        Holder(boot_id=BOOT, host="etl1", since_boot=10.0, run_timeout=timeout, tail=tail).to_text()
    )
    assert record is not None and record.tail == tail
    look = judge(record, None, None, Here("etl1", BOOT, 10.0 + age, EPOCH))
    assert look.stuck == (age > STUCK_FACTOR * timeout + tail)
    if age <= STUCK_FACTOR * timeout + TAIL_FLOOR:
        assert not look.stuck
    said = look.healthy()
    assert (
        said.startswith("twice run_timeout (") and "for preparing, exporting and publishing" in said
    )


@given(age=ages, timeout=timeouts, skew=st.floats(-CLOCK_SLACK, 30 * 86400.0))
def test_on_another_machine_the_clocks_decide_shifted_by_their_disagreement(age, timeout, skew):
    """`skew`: how far our clock is ahead of the holder's."""
    record = Holder(
        pid=4242, host="etl-other", boot_id="another boot", started=EPOCH, run_timeout=timeout
    )
    here = Here("etl1", BOOT, 50.0, EPOCH + timedelta(seconds=age + skew))
    look = judge(record, None, None, here)
    assert look.seconds is not None
    assert abs(look.seconds - max(0.0, age + skew)) < 1e-3
    assert look.host == "etl-other" and look.pid == 4242


@given(ahead=st.floats(CLOCK_SLACK + 1, 20 * 365 * 86400.0))
def test_a_holder_elsewhere_that_started_in_our_future_is_unknown_not_fresh(ahead):
    record = Holder(pid=4242, host="etl-other", boot_id="x", started=EPOCH, run_timeout=10)
    here = Here("etl1", BOOT, 50.0, EPOCH - timedelta(seconds=ahead))
    look = judge(record, None, None, here)
    assert look.seconds is None and not look.stuck
    assert "the two clocks disagree" in look.who()


def test_a_record_from_an_earlier_boot_of_this_machine_is_not_the_holders():
    record = Holder(pid=4242, host="etl1", boot_id="earlier", since_boot=5.0, started=EPOCH)
    look = judge(record, None, 10, Here("etl1", BOOT, 50.0, EPOCH + timedelta(days=3)))
    assert look.seconds is None and not look.stuck
    assert "from before this machine last started" in look.who()


@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_any_lock_file_text_is_read_or_refused_never_raised(raw):
    holder = Holder.from_text(raw.decode(errors="replace"))
    if holder is not None:
        assert "\n" not in holder.command and len(holder.command) <= 300
