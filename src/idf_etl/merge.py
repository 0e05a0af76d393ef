"""One project row from its pages (one per language), and where those pages disagree.

The rule (README): pages still on the site before gone ones, then English,
French, Spanish; each field from the first page that has it. Values read as
written in each language (the type's label, the title) are expected to
differ; canonical ones are not.

The merge is SQL, built here from the field list and run by projects.py inside
DuckDB: merging in Python read every page of every project back out of the
warehouse, most of a load's time (bench/bench_load.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from idf_etl.records import LANGS, MERGED_FIELDS, STORED_FIELDS

# Merged fields written in the page's own language: languages differ by nature.
AS_WRITTEN = frozenset({"project_type"})


# The merge order in SQL: pages on the site first, then English, French, Spanish, then URL.
_ORDER = f"gone, list_position([{', '.join(repr(lang) for lang in LANGS)}], lang::VARCHAR), url"
_UNTITLED = "(title IS NULL OR title = '')"


def _is_list(name: str) -> bool:
    return STORED_FIELDS[name].sql.endswith("[]")


def _given(name: str) -> str:
    """SQL: the page gives this field (a value, a list with an item)."""
    return f"len({name}) > 0" if _is_list(name) else f"{name} IS NOT NULL"


def merge_query(pages: str) -> str:
    """SQL: the `projects` row of each project key among `pages` (a table or subquery of
    project_pages rows), bookkeeping columns (first_seen, last_changed) left out, and
    whether its languages disagree (`disagree`, worded by `disagreements`).

    Each merged field is the first page's that has it, in merge order; the title (and its
    language and, when it has one, description) comes from the first page with a title.
    Done by DuckDB: a merge in Python reads every page back, a third of a load's time."""
    merged = []
    for name in MERGED_FIELDS:
        first = f"first({name} ORDER BY {_ORDER}) FILTER (WHERE {_given(name)})"
        merged.append(
            f"coalesce({first}, []) AS {name}" if _is_list(name) else f"{first} AS {name}"
        )
    return f"""SELECT project_key,
        first(project_id ORDER BY {_ORDER}) FILTER (WHERE project_id <> '') AS project_id,
        first(title ORDER BY {_UNTITLED}, {_ORDER}) AS title,
        first(lang ORDER BY {_UNTITLED}, {_ORDER}) AS title_lang,
        coalesce(
            nullif(first(description ORDER BY {_UNTITLED}, {_ORDER}), ''),
            first(description ORDER BY {_ORDER}) FILTER (WHERE description <> '')
        ) AS description,
        {", ".join(merged)},
        coalesce(list_sort(list(DISTINCT lang) FILTER (WHERE lang IS NOT NULL)), [])::VARCHAR[]
            AS languages,
        list_sort(list(url)) AS urls,
        max(last_seen) AS last_seen,
        bool_and(gone) AS missing_from_site,
        {_disagree()} AS disagree
    FROM {pages} GROUP BY project_key"""


def _disagree() -> str:
    """SQL aggregate: the project's pages still on the site give different values for a
    merged field (what `disagreements_query` words)."""
    return f"coalesce({' OR '.join(_differ(name) for name in _COMPARED)}, false)"


# Merged fields whose values should agree across languages: not those read as written.
_COMPARED = tuple(name for name in MERGED_FIELDS if name not in AS_WRITTEN)


def _differ(name: str) -> str:
    """SQL aggregate: two live pages give different values for this field. Two values
    differ exactly when the least and the greatest do (DISTINCT aggregates would each hold a
    hash table, out of memory under the run's limit)."""
    # The same countries in another order are the same states.
    value = f"list_sort(list_distinct({name}))" if _is_list(name) else name
    given = f"FILTER (WHERE NOT gone AND {_given(name)})"
    return f"min({value}) {given} <> max({value}) {given}"


def disagreements_query(pages: str, merged: str) -> str:
    """SQL: one `languages_disagree` issue (project_key, project_id, field, url, message) per
    project of `merged` flagged `disagree` and field its pages on the site disagree on,
    naming each page's value, the kept one (the first page's) first."""
    parts = []
    for position, name in enumerate(_COMPARED):
        value = text_sql(name, STORED_FIELDS[name].sql)
        parts.append(
            f"""SELECT project_key, {position} AS position, '{name}' AS field,
                first(url ORDER BY {_ORDER}) AS url,
                'the languages disagree on {name}: '
                || string_agg(url || ' says ' || {value}, '; ' ORDER BY {_ORDER})
                || '. Kept ' || first({value} ORDER BY {_ORDER})
                || ' (English first, then French, then Spanish)' AS message
            FROM {pages} WHERE NOT gone AND {_given(name)}
              AND project_key IN (SELECT project_key FROM {merged} WHERE disagree)
            GROUP BY project_key HAVING {_differ(name)}"""
        )
    return f"""SELECT d.project_key, m.project_id, d.field, d.url, d.message
        FROM ({" UNION ALL ".join(parts)}) d JOIN {merged} m ON m.project_key = d.project_key
        ORDER BY d.project_key, d.position"""


def text_sql(name: str, sql_type: str) -> str:
    """SQL: a column's value as project_changes and issues write it (lists comma-separated)."""
    if sql_type.endswith("[]"):
        return f"array_to_string({name}, ', ')"
    if sql_type.startswith("BOOLEAN"):
        return f"CASE WHEN {name} THEN 'True' WHEN NOT {name} THEN 'False' END"
    return f"{name}::VARCHAR"  # a decimal keeps its two places: 450000.00


def norm(value: Any) -> Any:
    """Compare values as the warehouse stores them (Decimal scale, lists, enums as text)."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, list | tuple):
        return tuple(value)
    return value
