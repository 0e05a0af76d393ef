"""One project row from its pages (one per language), and where those pages disagree.

The rule (docs/warehouse.md): pages still on the site before gone ones, then English,
French, Spanish; each field from the first page that has it. Values read as
written in each language (the type's label, the title) are expected to
differ; canonical ones are not.

The merge is SQL, built here from the field list and run by projects.py inside
DuckDB: merging in Python read every page of every project back out of the
warehouse, most of a load's time (bench/bench_load.py).
"""

from __future__ import annotations

from idf_etl.records import LANGS, MERGED_FIELDS, STORED_FIELDS

# Merged fields written in the page's own language: languages differ by nature.
AS_WRITTEN = frozenset({"project_type"})
# Merged fields whose values should agree across languages: not those read as written.
_COMPARED = tuple(name for name in MERGED_FIELDS if name not in AS_WRITTEN)


# The merge order in SQL: pages on the site first, then English, French, Spanish, then URL.
_ORDER = (
    f"gone, list_position([{', '.join(repr(lang) for lang in LANGS)}], lang::VARCHAR) "
    "NULLS LAST, url"
)
_UNTITLED = "(title IS NULL OR title = '')"


def _is_list(name: str) -> bool:
    return STORED_FIELDS[name].sql.endswith("[]")


def _given(name: str) -> str:
    """SQL: the page gives this field (a value, a list with an item)."""
    return f"len({name}) > 0" if _is_list(name) else f"{name} IS NOT NULL"


def merge_query(pages: str) -> str:
    """SQL: the `projects` row of each project key among `pages` (a table or subquery of
    project_pages rows), bookkeeping columns (first_seen, last_changed) left out, and
    whether its languages disagree (`disagree`, worded by `disagreement_queries`).

    Each merged field is the first page's that has it, in merge order; the title (and its
    language and, when it has one, description) comes from the first page with a title.
    The pages are numbered in merge order once (n), and each field takes the value of
    the least n: an ORDER BY inside each aggregate would sort (and hold) the pages once a
    field, out of the run's memory limit at 30,000 pages."""
    merged = []
    for name in MERGED_FIELDS:
        first = f"arg_min({name}, n) FILTER (WHERE {_given(name)})"
        merged.append(
            f"coalesce({first}, []) AS {name}" if _is_list(name) else f"{first} AS {name}"
        )
    # Pages with a title first, then merge order (a project has far fewer pages than this);
    # arg_min_null: the first page's value even when null, as arg_min would skip it.
    titled = f"n + CASE WHEN {_UNTITLED} THEN 1000000 ELSE 0 END"
    return f"""SELECT project_key,
        arg_min(project_id, n) FILTER (WHERE project_id <> '') AS project_id,
        arg_min_null(title, {titled}) AS title,
        arg_min_null(lang, {titled}) AS title_lang,
        coalesce(
            nullif(arg_min_null(description, {titled}), ''),
            arg_min(description, n) FILTER (WHERE description <> '')
        ) AS description,
        {", ".join(merged)},
        coalesce(list_sort(list_distinct(list(lang))), [])::VARCHAR[] AS languages,
        list_sort(list(url)) AS urls,
        max(last_seen) AS last_seen,
        bool_and(gone) AS missing_from_site,
        {_disagree()} AS disagree,
        count(*) FILTER (WHERE NOT gone)
            > len(list_distinct(list(lang) FILTER (WHERE NOT gone))) AS shared_language
    FROM {numbered(pages)} GROUP BY project_key"""


def _disagree() -> str:
    """SQL aggregate: the project's pages still on the site give different values for a
    merged field (what `disagreement_queries` words)."""
    return f"coalesce({' OR '.join(_differ(name) for name in _COMPARED)}, false)"


def _differ(name: str) -> str:
    """SQL aggregate: two live pages give different values for this field. Two values
    differ exactly when the least and the greatest do (DISTINCT aggregates would each hold a
    hash table, out of memory under the run's limit)."""
    # The same countries in another order are the same states.
    value = f"list_sort(list_distinct({name}))" if _is_list(name) else name
    given = f"FILTER (WHERE NOT gone AND {_given(name)})"
    return f"min({value}) {given} <> max({value}) {given}"


# Pages a disagreement names, at most; the message says how many more there are.
_NAMED = 5


def disagreement_queries(pages: str) -> list[str]:
    """SQL, a query a compared field: the projects among `pages` (`numbered` project_pages
    rows of projects flagged `disagree`) whose pages on the site disagree on it, as
    (project_key, field, url, message): each page's value named, the kept one (the
    first page's) first. A query each: in one UNION, DuckDB holds every field's hash
    table at once (out of memory at 64MB). The values are joined in merge order by
    sorting (n, text) pairs: an ORDER BY inside the aggregate holds far more."""
    queries = []
    for name in _COMPARED:
        value = text_sql(name, STORED_FIELDS[name].sql)
        said = f"list_sort(list({{'n': n, 'said': url || ' says ' || {value}}}))"
        # The first few pages named, and how many more: 1,500 pages printing one id gave a
        # message of 78,483 characters. Pages of one language are not "the languages".
        queries.append(
            f"""SELECT project_key, '{name}' AS field, arg_min(url, n) AS url,
                CASE WHEN count(*) > len(list_distinct(list(lang)))
                     THEN 'pages of the same language disagree on {name}: '
                     ELSE 'the languages disagree on {name}: ' END
                || array_to_string(
                       list_transform(list_slice({said}, 1, {_NAMED}), lambda x: x.said), '; ')
                || CASE WHEN count(*) > {_NAMED}
                        THEN '; and ' || (count(*) - {_NAMED}) || ' more pages' ELSE '' END
                || '. Kept ' || arg_min({value}, n)
                || ' (English first, then French, then Spanish)' AS message
            FROM {pages} WHERE NOT gone AND {_given(name)}
            GROUP BY project_key HAVING {_differ(name)}"""
        )
    return queries


def disputed_pages(pages: str) -> str:
    """SQL: `pages` (project_pages rows) narrowed to what `disagreement_queries` reads, and
    `numbered`. Narrow: numbered whole, a batch's descriptions are sorted and held again
    (a batch of 1,000 pages of long descriptions, every project disagreeing, needed more
    than 64MB)."""
    columns = ", ".join(("project_key", "url", "lang", "gone", *_COMPARED))
    return numbered(f"(SELECT {columns} FROM {pages})")


def numbered(pages: str) -> str:
    """SQL: `pages` (project_pages rows) with n, each page's place in its project's merge
    order (1 first)."""
    return f"""(SELECT *, row_number() OVER (PARTITION BY project_key ORDER BY {_ORDER}) AS n
        FROM {pages})"""


def text_sql(name: str, sql_type: str) -> str:
    """SQL: a column's value as project_changes and issues write it (lists comma-separated)."""
    if sql_type.endswith("[]"):
        return f"array_to_string({name}, ', ')"
    if sql_type.startswith("BOOLEAN"):
        return f"CASE WHEN {name} THEN 'True' WHEN NOT {name} THEN 'False' END"
    return f"{name}::VARCHAR"  # a decimal keeps its two places: 450000.00
