"""Warehouse: the DuckDB file analysts open, its declared shape, and how it is published.

Start at `schema.py` (create or upgrade a warehouse) and `tables.py` (the data dictionary).

- `tables.py`     every table and column with its type and meaning, as data
- `views.py`      every view's query and the meaning of its columns, as data
- `schema.py`     create or upgrade a warehouse from that shape; the docs' data dictionary
- `migrations.py` numbered changes that bring an older warehouse up to this release
- `rows.py`       rows in and out: bulk upsert by key, rows as dicts, issue rows
- `publish.py`    the built warehouse and its exports published atomically; releases kept
- `compact.py`    a warehouse whose rows are mostly deleted ones rewritten without them
- `pointer.py`    where `current` leads, what is wrong with it, the run number of a release
- `wal.py`        a file's write-ahead log: copied along and replayed, or set aside
- `readers.py`    read-only connections to the published warehouse; why one does not open
- `export.py`     every table and view as CSV and Parquet, and datapackage.json
- `lean.py`       a stage's memory limit kept lean, stepped up where DuckDB needs more
- `datapackage.py` that datapackage.json: a Table Schema field a column, a resource a file
- `formulas.py`   a text a spreadsheet would run as a formula: the one guard of every output
- `status.py`     what an operator asks each morning: is the data fresh, what is open

This `__init__` imports nothing.
"""
