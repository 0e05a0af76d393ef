"""Report: the warehouse as one self-contained HTML page of charts and tables.

Start at `build.py` (`write_report`: what `idf-etl report` and the pipeline call).

- `build.py`   `write_report`: runs the queries, renders the page in a child process
- `queries.py` every query the report runs, in one place
- `charts.py`  the charts: Vega-Lite specifications rendered to static SVG
- `worldmap.py` the world map: budget by country over an embedded 1:110m topology
- `page.py`    the page: sections of chart and table, rendered through Jinja2
- `templates/` the page's HTML
- `world/`     the map's shapes (world-atlas countries-110m.json) and small countries' points

No stage of the pipeline depends on this package. This `__init__` imports nothing.
"""
