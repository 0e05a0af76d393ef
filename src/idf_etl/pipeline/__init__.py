"""Pipeline: the stages run together as one locked, all-or-nothing run.

Start at `run.py` (`run_pipeline`: what `idf-etl run` and a scheduler call).

- `run.py`     fetch (or the raw store), parse on every core, load, publish
- `build.py`   the warehouse built in a copy, its report and exports staged, all published
- `deadlines.py` the run's time shared by its stages: when the parse, merge and report stop
- `parsing.py` the parse stage: the stale stored pages, a batch at a time, parsed on every core
- `outcome.py` a run's outcome (success or failures) and the issues it records of itself
- `memory.py`  the memory a build may use: warehouse_memory, raised where DuckDB needs more;
  batches cut by their text
- `backfill.py` `idf-etl backfill`'s load: a web archive's captures as dated observations
- `ledger.py`  the runs ledger: a `runs` row opened when a load starts, closed with its counts
- `summary.py` what a run did, for a person (its summary line) and a machine (`--json`)
- `lock.py`    one run at a time per data directory (exit 3; 4 when the holder is stuck)
- `holder.py`  who holds the lock, since when (the kernel's count, not the clock), stuck or not
- `provenance.py` one data directory, one site: a run that would read another is refused
- `fsck.py`    `idf-etl fsck`: check the raw store, its manifest and the published warehouse
- `check.py`   `idf-etl check`: the published warehouse and the run lock as one Nagios state

This `__init__` imports nothing.
"""
