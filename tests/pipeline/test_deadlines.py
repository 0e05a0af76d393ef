"""The run's time shared by its stages (pipeline/deadlines.py): each stage stops early enough
for those after it, and the export keeps the time the last run's took."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from idf_etl.config import EXPORT_SHARE, MERGE_SHARE, MOST_EXPORT_SHARE, REPORT_SHARE
from idf_etl.pipeline.deadlines import EXPORT_MARGIN, Deadlines, export_seconds

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
