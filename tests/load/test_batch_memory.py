"""The merge's batches within a lean memory limit (load/batch_memory.py): a batch DuckDB
needs more memory for is undone alone and done again at the whole limit."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.config import memory_bytes
from idf_etl.load.batch_memory import MERGE_SHARE, LeanBatches

FULL = "64MB"


@dataclass
class Counts:
    rows: int = 0


@settings(max_examples=40)
@given(needs=st.lists(st.sampled_from([0.3, MERGE_SHARE, 0.8, 1.0]), min_size=1, max_size=6))
def test_a_batch_that_needs_more_is_undone_alone_and_the_batches_after_keep_the_limit(needs):
    """Batches of drawn needs (a share of the limit below which DuckDB runs out): each
    batch's rows are written once, whatever it wrote before running out is undone, the
    counts are as if each had run once, what came before a batch is kept, and the limit
    only rises: the whole one from the first batch that needed more."""
    con = duckdb.connect(config={"memory_limit": FULL})
    con.execute("CREATE TABLE t (batch INTEGER, half BOOLEAN)")
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO t VALUES (-1, false)")  # before the batches, not committed yet
    lean = LeanBatches(con, FULL, rollback=True)
    counts = Counts()
    shares: list[float] = []

    def batch(i: int, need: float) -> int:
        share = memory_bytes(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        shares.append(share / memory_bytes(FULL))
        counts.rows += 1
        con.execute("INSERT INTO t VALUES (?, true)", [i])  # half done when it runs out
        if shares[-1] < need - 0.01:
            # As DuckDB runs out: the statement fails, and with it the transaction.
            with pytest.raises(duckdb.Error):
                con.execute("SELECT error('Out of Memory Error: could not allocate block')")
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        con.execute("UPDATE t SET half = false WHERE batch = ?", [i])
        return i

    done = [lean.run(batch, i, need, counts=counts, what="merge") for i, need in enumerate(needs)]
    con.execute("COMMIT")
    assert done == list(range(len(needs)))
    rows = con.execute("SELECT batch, half FROM t ORDER BY batch").fetchall()
    assert rows == [(-1, False)] + [(i, False) for i in range(len(needs))]
    assert counts.rows == len(needs)
    assert shares == sorted(shares)  # never lower again
    first_more = next((i for i, need in enumerate(needs) if need > MERGE_SHARE + 0.01), None)
    tries = len(needs) + (first_more is not None)
    assert len(shares) == tries  # one batch done twice at most: the first that needed more
    assert abs(shares[0] - MERGE_SHARE) < 0.01  # lean from the first
    lean.restore()  # the limit as set, not as DuckDB rounds it when read
    fresh = duckdb.connect(config={"memory_limit": FULL})
    setting = "SELECT current_setting('memory_limit')"
    assert con.execute(setting).fetchone() == fresh.execute(setting).fetchone()
    fresh.close()
    con.close()


def test_without_a_commit_a_batch_the_whole_limit_from_the_first():
    """A load that commits once cannot undo one batch: it runs at the whole limit, and a
    batch that runs out there fails as it did."""
    con = duckdb.connect(config={"memory_limit": FULL})
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()
    lean = LeanBatches(con, FULL, rollback=False)
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == before
    calls = []

    def runs_out() -> None:
        calls.append(1)
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    try:
        lean.run(runs_out)
    except duckdb.OutOfMemoryException:
        pass
    else:
        raise AssertionError("a batch that ran out at the whole limit must fail")
    assert calls == [1]
    con.close()
