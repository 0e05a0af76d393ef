"""One field list and one home per vocabulary: everything else is derived from records.py."""

from __future__ import annotations

import duckdb

from idf_etl.load.projects import Merger
from idf_etl.parse import vocabulary
from idf_etl.records import (
    COVERAGES,
    LANGS,
    MERGED_FIELDS,
    REGIONS,
    STATUSES,
    STORED_FIELDS,
    ProjectRecord,
)
from idf_etl.warehouse.schema import create_schema, table


def test_the_parser_vocabularies_map_onto_the_canonical_values():
    assert set(vocabulary.STATUS.values()) == set(STATUSES)
    assert set(vocabulary.COVERAGE.values()) == set(COVERAGES)
    assert set(vocabulary.REGIONS.values()) == set(REGIONS)
    assert set(vocabulary.STOPWORDS) == set(LANGS)
    assert set(vocabulary.LABEL_LANG.values()) == set(LANGS)


def test_every_stored_field_is_a_page_column_and_every_merged_one_is_history():
    page_columns = [c.name for c in table("project_pages").columns]
    assert page_columns[1 : 1 + len(STORED_FIELDS)] == list(STORED_FIELDS)
    project_columns = {c.name for c in table("projects").columns}
    assert set(MERGED_FIELDS) <= project_columns
    tracked = {c.name for c in table("projects").columns if c.tracked}
    assert set(MERGED_FIELDS) <= tracked
    assert {"title", "description", "missing_from_site"} <= tracked


def test_enum_columns_accept_exactly_the_canonical_values():
    con = duckdb.connect()
    create_schema(con)
    enums = dict(
        con.execute("SELECT type_name, labels FROM duckdb_types() WHERE NOT internal").fetchall()
    )
    assert enums == {
        "status_t": list(STATUSES),
        "coverage_t": list(COVERAGES),
        "lang_t": list(LANGS),
    }


def test_merge_takes_each_merged_field_from_the_first_language_that_has_it():
    from datetime import UTC, datetime

    from idf_etl.warehouse.rows import query_dicts, upsert

    def page(lang, **values):
        record = ProjectRecord(
            source=f"https://x/{lang}", project_id="CD.0085", lang=lang, **values
        )
        row = {name: getattr(record, name) for name in STORED_FIELDS}
        return {**row, "url": record.source, "project_key": "CD.0085", "gone": False}

    con = duckdb.connect()
    create_schema(con)
    pages = [page("es", year=2019, states=["AM"]), page("fr", prima_id="GE10P0527"), page("en")]
    upsert(con, "project_pages", pages)
    merger = Merger(con, 1, datetime.now(UTC))
    assert merger.merge(["CD.0085"]) == []  # no field given twice: nothing to disagree on
    [merged] = query_dicts(con, "SELECT * FROM projects")
    assert (merged["prima_id"], merged["year"], merged["states"]) == ("GE10P0527", 2019, ["AM"])
    assert merged["languages"] == list(LANGS)
    assert merged["budget_usd"] is None
    assert (merger.projects_new, merger.field_changes) == (1, 0)


def test_merge_takes_title_language_and_description_from_the_first_titled_page():
    """The title, its language and (when it has one) the description come together from the
    first page with a title; without any, from the first page, whatever it holds."""
    from datetime import UTC, datetime

    from idf_etl.warehouse.rows import query_dicts, upsert

    def page(url, lang, title, description, gone=False):
        return {
            "url": url,
            "lang": lang,
            "title": title,
            "description": description,
            "project_key": url[:1],
            "gone": gone,
            "states": [],
            "state_names": [],
        }

    con = duckdb.connect()
    create_schema(con)
    pages = [
        page("a/en", "en", "", "English text"),  # untitled: passed over for the title
        page("a/fr", "fr", "Titre", ""),  # titled, no description: the next one's
        page("a/es", "es", "Título", "Texto"),
        page("b/en", "en", None, None, gone=True),  # gone: after the page still on the site
        page("b/x", None, "", "Text of an unknown language"),
    ]
    upsert(con, "project_pages", pages)
    Merger(con, 1, datetime.now(UTC)).merge(["a", "b"])
    merged = {
        r["project_key"]: (r["title"], r["title_lang"], r["description"], r["languages"])
        for r in query_dicts(con, "SELECT * FROM projects")
    }
    assert merged == {
        "a": ("Titre", "fr", "English text", ["en", "fr", "es"]),
        "b": ("", None, "Text of an unknown language", ["en"]),
    }
