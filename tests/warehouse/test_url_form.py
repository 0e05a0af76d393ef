"""URLs stored before percent-encoding had one spelling (#23) still match their pages: the
raw store's manifest and the warehouse rewrite them once, keeping the later download."""

from __future__ import annotations

import duckdb

from idf_etl.rawformat import URL_FORM
from idf_etl.rawstore import RawStore
from idf_etl.warehouse.migrations import MIGRATIONS, renormalise_urls
from idf_etl.warehouse.schema import create_schema

LOWER = "https://www.iom.int/es/proyecto/migraci%c3%b3n"
RAW = "https://www.iom.int/es/proyecto/migración"
ONE = "https://www.iom.int/es/proyecto/migraci%C3%B3n"
PLAIN = "https://www.iom.int/project/ok"


def test_an_old_manifest_is_rewritten_once_keeping_the_later_download(tmp_path):
    with RawStore(tmp_path) as store:
        store._db.executemany(
            "INSERT INTO pages (url, sha256, fetched_at) VALUES (?, ?, ?)",
            [
                (LOWER, "a" * 64, "2024-01-01"),
                (RAW, "b" * 64, "2024-02-01"),
                (PLAIN, "c" * 64, "2024-01-01"),
            ],
        )
        store.set_translations(PLAIN, {"es": LOWER})
        store._db.execute("DELETE FROM meta WHERE key = 'url_form'")  # as an older release left it
    with RawStore(tmp_path) as store:
        assert {p.url: p.sha256 for p in store.pages()} == {ONE: "b" * 64, PLAIN: "c" * 64}
        assert store.translations(PLAIN) == {"es": ONE}
        assert store.get_meta("url_form") == URL_FORM


def test_an_old_warehouse_has_its_page_urls_rewritten(tmp_path):
    file = tmp_path / "idf.duckdb"
    with duckdb.connect(str(file)) as con:
        create_schema(con)
        for url, fetched in [(LOWER, "2024-01-01"), (RAW, "2024-02-01"), (PLAIN, "2024-01-01")]:
            con.execute(
                "INSERT INTO pages (url, kind, gone, fetched_at) VALUES (?, 'project', false, ?)",
                [url, fetched],
            )
            con.execute(
                "INSERT INTO project_pages (url, gone, fetched_at, project_key) "
                "VALUES (?, false, ?, 'MS.0001')",
                [url, fetched],
            )
        con.execute(
            "INSERT INTO projects (project_key, urls, first_seen, last_changed, "
            "missing_from_site) VALUES ('MS.0001', ?, now(), now(), false)",
            [sorted([LOWER, RAW, PLAIN])],
        )
    with duckdb.connect(str(file)) as con:
        # Migration 6's rewrite, run on rows in the old forms (setting schema_info back to 5
        # would also re-run every later migration on tables that already have their shape).
        (url_form,) = [m for m in MIGRATIONS if m.rewrite is renormalise_urls]
        assert url_form.version == 6 and "percent-encoding" in url_form.why
        renormalise_urls(con)
        for table in ("pages", "project_pages"):
            rows = con.execute(f"SELECT url, fetched_at::DATE::VARCHAR FROM {table} ORDER BY url")
            assert rows.fetchall() == [(ONE, "2024-02-01"), (PLAIN, "2024-01-01")]
        assert con.execute("SELECT urls FROM projects").fetchall() == [([ONE, PLAIN],)]
