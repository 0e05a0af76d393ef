"""Load: parsed pages into the warehouse being built, merged into projects, with history and problems.

Start at `loader.py` (`Loader`: the pipeline feeds it parsed pages a batch at a time).

- `loader.py`   pages, project pages, merged projects, changes and issues, written in batches
- `parsed.py`   what the load takes and gives: parsed pages, and what a load counted
- `page_rows.py` a parsed page as rows, and what the warehouse may refuse of them
- `page_states.py` stored pages' gone flags and last sightings, moved without a new body
- `batches.py`  batches cut by what they hold in memory: rows, and their text
- `batch_memory.py` the merge's batches within a lean memory limit, redone where they need more
- `grouping.py` which pages are one project: by project id, else by Drupal node
- `merge.py`    one project row from its pages (one per language), and where they disagree
- `projects.py` the projects table rebuilt from project_pages for the projects a run touched
- `work.py`     the run's work (projects to merge, histories to rebuild) in DuckDB, in batches
- `pending.py`  projects a run's time left unmerged, for the next run to merge first
- `problems.py` problems as a lifecycle: opened, re-confirmed, resolved across runs
- `history.py`  observations, and project versions and changes rebuilt from them in time order

This `__init__` imports nothing.
"""
