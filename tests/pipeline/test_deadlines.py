"""The run's time shared by its stages (pipeline/deadlines.py): each stage stops early enough
for those after it, and the export keeps the time the last run's took."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from idf_etl.config import (
    EXPORT_SHARE,
    FETCH_SHARE,
    LEAST_FETCH_SHARE,
    MERGE_SHARE,
    MOST_EXPORT_SHARE,
    PARSE_SHARE,
    REPORT_SHARE,
)
from idf_etl.pipeline.deadlines import EXPORT_MARGIN, Deadlines, export_seconds, fetch_deadline

timeouts = st.floats(0.001, 1e7, allow_nan=False)
exports = st.one_of(st.none(), st.floats(0, 1e8, allow_nan=False))


@given(run_timeout=timeouts, began=st.floats(0, 1e6), export=exports)
def test_the_stages_stop_in_order_within_run_timeout_and_the_parse_always_has_time(
    run_timeout, began, export
):
    d = Deadlines.of(run_timeout, began, export)
    assert d.parse <= d.merge <= d.report <= d.end
    assert math.isclose(d.end, began + run_timeout)
    # The parse keeps at least what the largest export reserve leaves it.
    least = 1 - MOST_EXPORT_SHARE - REPORT_SHARE - MERGE_SHARE
    assert d.parse - began >= least * run_timeout - 1e-6 * max(1.0, began)
    assert d.merge - d.parse >= MERGE_SHARE * run_timeout * (1 - 1e-9) - 1e-6
    # The export's reserve: its share, or the last export's with a margin, up to its cap.
    reserve = d.end - d.report
    wanted = max(EXPORT_SHARE * run_timeout, EXPORT_MARGIN * (export or 0.0))
    assert math.isclose(
        reserve, min(wanted, MOST_EXPORT_SHARE * run_timeout), rel_tol=1e-6, abs_tol=1e-6
    )


def test_with_nothing_measured_the_parse_stops_at_80_percent():
    d = Deadlines.of(100, began=0)
    assert (d.parse, d.merge, d.report, d.end) == (80, 90, 95, 100)


def test_an_export_slower_than_its_share_moves_every_stage_before_it_earlier():
    # The last export and publish took 20 s of a 100 s run: 25 s are kept for them.
    d = Deadlines.of(100, began=0, export=20)
    assert (d.parse, d.merge, d.report) == (60, 70, 75)
    # One slower than the run can give: capped, the parse still has 35 %.
    assert Deadlines.of(100, began=0, export=1000).parse == 35


@given(st.one_of(st.none(), st.text(max_size=20), st.floats().map(repr)))
def test_the_stored_export_seconds_are_a_finite_number_or_not_used(stored):
    seconds = export_seconds(stored)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    if seconds is not None:
        assert seconds == float(stored)  # read as written, never made up


def test_a_hand_edited_value_is_not_used():
    for stored in ("", "abc", "nan", "inf", "-1", "1e400", "--1"):
        assert export_seconds(stored) is None, stored
    assert export_seconds("2.5") == 2.5


@given(run_timeout=timeouts, fetched=st.floats(0, 1), export=exports)
def test_the_shares_are_of_what_the_fetch_left(run_timeout, fetched, export):
    """A fetch that used its whole share (75 %) left the parse 5 % of run_timeout when the
    shares were of run_timeout: 3 pages fetched in 15 s of run_timeout=20 were never parsed
    (tests/cli/test_cli_faults.py). The shares are of the time left after it."""
    now = fetched * run_timeout
    d = Deadlines.of(run_timeout, 0.0, export, now=now)
    left = run_timeout - now
    assert now <= d.parse + 1e-9 * run_timeout or left == 0
    assert d.parse <= d.merge <= d.report <= d.end
    least = 1 - MOST_EXPORT_SHARE - REPORT_SHARE - MERGE_SHARE
    assert d.parse - now >= least * left - 1e-6 * run_timeout


def test_after_a_fetch_of_75_percent_the_parse_has_80_percent_of_the_rest():
    d = Deadlines.of(20, began=0, now=15)
    assert (d.parse, d.merge, d.report, d.end) == (19, 19.5, 19.75, 20)


@given(run_timeout=timeouts, began=st.floats(0, 1e6), export=exports)
@example(run_timeout=100, began=0, export=24)  # 30 s reserved: more than half of 25 + 30/0.85
def test_the_fetch_leaves_the_export_its_reserve_and_the_parse_its_share(
    run_timeout, began, export
):
    """The fetch stops at its share, earlier by what the last export took past its own
    share, never before LEAST_FETCH_SHARE; a run whose fetch used all of that time still
    gives the parse, merge and report what they have with no slow export (before: the
    export's reserve came out of the parse's time, and the parse could get nothing)."""
    eps = 1e-6 * max(1.0, began, run_timeout)
    stop = fetch_deadline(run_timeout, began, export)
    assert began + LEAST_FETCH_SHARE * run_timeout - eps <= stop
    assert stop <= began + FETCH_SHARE * run_timeout + eps
    after = (1 - FETCH_SHARE) * run_timeout
    reserve = EXPORT_MARGIN * (export or 0.0)
    if reserve <= EXPORT_SHARE * after:  # an export within its share: the fetch keeps 75 %
        assert math.isclose(stop, began + FETCH_SHARE * run_timeout, abs_tol=eps)
    d = Deadlines.of(run_timeout, began, export, now=stop)
    if stop > began + LEAST_FETCH_SHARE * run_timeout + eps:  # not cut at the fetch's floor
        # What the fetch leaves: the parse's share as with no slow export, and the export
        # as long as the last one took (with its margin).
        assert d.parse - stop >= PARSE_SHARE * after - eps
        assert d.end - d.report >= reserve - eps


def test_a_slow_last_export_stops_the_fetch_early_by_as_much():
    # 100 s: the fetch's 75, but the last export took 8 s (10 s with its margin) of the
    # 25 s left, where its share is 1.25 s: the fetch stops about 10 s earlier, so the parse
    # keeps its 20 s and the merge and report their shares of what is left.
    assert fetch_deadline(100, 0, None) == fetch_deadline(100, 0, 1.0) == 75
    stop = fetch_deadline(100, 0, 8.0)
    assert math.isclose(stop, 100 - 30 / 0.85)
    d = Deadlines.of(100, 0, 8.0, now=stop)
    assert math.isclose(d.parse - stop, 20) and d.end - d.report == 10
    # As slow as the whole run: the fetch still has half its share.
    assert fetch_deadline(100, 0, 1000.0) == 100 * LEAST_FETCH_SHARE
