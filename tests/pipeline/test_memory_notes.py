"""What a run's `built with` note says about the memory its build took
(pipeline/memory.build_within_memory): only what this run found."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from idf_etl.config import memory_bytes
from idf_etl.load.parsed import LoadStats
from idf_etl.pipeline.memory import OutOfMemory, build_within_memory, twice
from idf_etl.pipeline.summary import RunResult

AMOUNTS = ["1MB", "2MB", "3MB", "16MB", "24MB", "33MB", "64MB", "1000KB", "0.05GB", "1GiB"]


def _result() -> RunResult:
    return RunResult(1, "from-raw", "success", None, LoadStats(), "", 0.0)


@given(
    memory=st.sampled_from(AMOUNTS),
    needed=st.one_of(st.none(), st.sampled_from(AMOUNTS)),
    fits=st.sampled_from(AMOUNTS),
)
def test_the_note_says_whether_this_run_found_it_needed_more(memory, needed, fits):
    """A build that fits at `fits` or more, started where the last one ended (`needed`) or
    at warehouse_memory: a note only where it was built above warehouse_memory; "the last
    build needed it" exactly where this run never tried below what it was built with, and
    never where it found that itself."""
    tried: list[str] = []

    def build(limit: str) -> RunResult:
        tried.append(limit)
        if memory_bytes(limit) < memory_bytes(fits):
            error = OutOfMemory(f"needed more than {limit}")
            error.reason, error.memory = f"DuckDB needed more than {limit}", limit
            raise error
        return _result()

    try:
        result, built = build_within_memory(build, memory, "8GB", needed)
    except OutOfMemory:
        return  # (not reached: 8GB is past every amount drawn)
    assert built == tried[-1]
    notes = [n for n in result.notes if "built with" in n]
    if built == memory:
        assert notes == []
        return
    (note,) = notes
    assert f"warehouse_memory = {memory}: built with {built}" in note
    inherited = len(tried) == 1  # started above warehouse_memory, and fitted there
    assert ("where the last build needed it" in note) == inherited
    if not inherited:
        assert tried[-1] == twice(tried[-2])  # this run found it: raised by itself
