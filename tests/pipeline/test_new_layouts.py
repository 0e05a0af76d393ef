"""Pages of #23 through `idf-etl run` into a real DuckDB warehouse: the label-less layout
is a project row, other countries are a column of their own, merged and tracked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.pipeline.test_pipeline import edit, query, run

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"
NEW = {
    "/project/label-less-southern-cone": "d_en_label_less.html",
    "/project/label-less-guatemala-honduras": "d_en_label_less.txt",
    "/project/labour-mobility-southern-cone": "a_en_other_countries.html",
}


def add_pages(site: Path) -> None:
    stamps = json.loads((site / "lastmod.json").read_text())
    for path, name in NEW.items():
        shutil.copy(PAGES / name, site / (path.strip("/") + ".html"))
        stamps[path] = "2024-01-15"
    (site / "lastmod.json").write_text(json.dumps(stamps))


@pytest.mark.slow
def test_label_less_pages_and_other_countries_reach_the_warehouse(demo_site, tmp_path):
    site, base = demo_site
    add_pages(site)
    data = tmp_path / "data"
    _, summary = run(base, data)
    assert summary["outcome"] == "success"

    kinds = dict(query(data, "SELECT url, kind FROM pages WHERE url LIKE '%southern-cone' "
                             "OR url LIKE '%guatemala-honduras'"))  # fmt: skip
    assert set(kinds.values()) == {"project"} and len(kinds) == 3
    rows = query(
        data,
        """SELECT title, project_type_canonical, states, other_states FROM projects
           WHERE title LIKE '%Southern Cone%' OR title LIKE '%Guatemala%' ORDER BY title""",
    )
    assert rows == [
        ("Counter-Trafficking Referral Networks in the Southern Cone", "Counter-Trafficking",
         ["CL", "UY"], []),
        ("Improving Migration Management Capacity in Guatemala and Honduras",
         "Migration Management Support", ["GT", "HN"], []),
        ("Labour Mobility Information for Migrant Workers in the Southern Cone",
         "Labour Migration", ["AR", "PY"], ["CL", "UY"]),
    ]  # fmt: skip
    assert query(
        data, "SELECT other_state_names FROM project_pages WHERE project_id = 'LM.0302'"
    ) == [(["Chile", "Uruguay"],)]
    # The benefiting states' join table holds the benefiting states only.
    assert query(
        data, "SELECT list(iso2 ORDER BY iso2) FROM project_states WHERE project_id = 'LM.0302'"
    ) == [(["AR", "PY"],)]

    # A change of the other countries is history, like a change of states.
    edit(site, "/project/labour-mobility-southern-cone", "ChileUruguay", "ChileUruguayBolivia")
    _, second = run(base, data)
    assert second["field_changes"] == 1
    assert query(
        data,
        "SELECT field, old_value, new_value FROM project_changes WHERE project_id = 'LM.0302'",
    ) == [("other_states", "CL, UY", "CL, UY, BO")]
    assert query(data, "SELECT other_states FROM projects WHERE project_id = 'LM.0302'") == [
        (["CL", "UY", "BO"],)
    ]


@pytest.mark.slow
def test_a_warehouse_from_before_other_states_upgrades_without_false_changes(demo_site, tmp_path):
    site, base = demo_site
    data = tmp_path / "data"
    run(base, data)
    # Take the published warehouse back to schema version 4: no other_states columns.
    file = data / "clean" / "idf.duckdb"
    with duckdb.connect(str(file)) as con:
        for table, column in [("project_pages", "other_states"),
                              ("project_pages", "other_state_names"),
                              ("projects", "other_states")]:  # fmt: skip
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("UPDATE schema_info SET value = '4'")
    changes_before = query(data, "SELECT count(*) FROM project_changes")
    add_pages(site)

    proc, summary = run(base, data)

    assert summary["outcome"] == "success", proc.stderr[-2000:]
    assert query(data, "SELECT count(*) FROM project_changes") == changes_before
    assert query(data, "SELECT count(*) FROM projects WHERE other_states IS NULL") == [(0,)]
    assert query(data, "SELECT other_states FROM projects WHERE project_id = 'LM.0302'") == [
        (["CL", "UY"],)
    ]


@pytest.mark.slow
def test_one_page_written_three_ways_is_one_page_row(demo_site, tmp_path):
    # The sitemap writes the path raw, a translation link in lower-case hex, the server
    # answers at the upper-case one: one page, one row.
    site, base = demo_site
    page = (PAGES / "a_en_other_countries.html").read_text()
    page = page.replace('lang="en"', 'lang="es"').replace("LM.0302", "LM.0303")
    page = page.replace(
        '<link rel="canonical" href="https://www.iom.int/project/labour-mobility-information-southern-cone">',
        '<link rel="alternate" hreflang="es" href="/es/project/migraci%c3%b3n">',
    )
    (site / "es" / "project").mkdir(parents=True, exist_ok=True)
    (site / "es" / "project" / "migraci%C3%B3n.html").write_text(page)
    stamps = json.loads((site / "lastmod.json").read_text())
    stamps["/es/project/migración"] = "2024-01-15"
    (site / "lastmod.json").write_text(json.dumps(stamps, ensure_ascii=False))
    data = tmp_path / "data"

    _, summary = run(base, data)

    assert summary["outcome"] == "success"
    assert query(data, "SELECT url FROM pages WHERE url LIKE '%/es/project/%'") == [
        (f"{base}/es/project/migraci%C3%B3n",)
    ]
    assert query(data, "SELECT urls FROM projects WHERE project_id = 'LM.0303'") == [
        ([f"{base}/es/project/migraci%C3%B3n"],)
    ]
