"""MkDocs hook: the warehouse page's data dictionary must be the schema's.

The dictionary between the `data-dictionary` markers in warehouse.md is pasted from
`idf-etl schema`; a build (`make docs`, CI) whose copy differs from what the installed
schema renders fails, naming the command that brings it up to date.
"""

from __future__ import annotations

from typing import Any

from mkdocs.exceptions import PluginError

START = "<!-- data-dictionary:start -->\n"
END = "<!-- data-dictionary:end -->"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != "warehouse.md":
        return markdown
    from idf_etl.warehouse.schema import data_dictionary_markdown

    if START not in markdown or END not in markdown:
        raise PluginError("docs/warehouse.md has lost its data-dictionary markers")
    section = markdown.split(START, 1)[1].split(END, 1)[0]
    if section != data_dictionary_markdown():
        raise PluginError(
            "docs/warehouse.md: the data dictionary is stale; paste the output of "
            "`idf-etl schema` between its data-dictionary markers"
        )
    return markdown
