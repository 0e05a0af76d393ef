"""CLI: the `idf-etl` command line, thin wiring over the library.

Start at `app.py` (the app, `main`, and the pipeline's commands).

- `app.py`       the app and `main`; the commands parse, fetch and run
- `endings.py`   how a command ends: errors, Ctrl-C, SIGTERM, a closed or full stdout, as exit codes
- `options.py`   what several commands share: options (one decorator) and exit codes
- `warehouse.py` the commands over a data directory: status, check, sql, restore, fsck, report, schema
- `printing.py`  what those commands print: status's tables, rows as a table, values as JSON
- `progress.py`  what a person (or a log) sees while a run works
- `inputs.py`    what `idf-etl parse` reads: a file, or an http(s) URL fetched politely
- `failures.py`  a file-system error (no space, read-only, no permission) as one line to act on

This `__init__` imports nothing.
"""
