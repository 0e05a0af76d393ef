"""Every project page in exactly one project, through the real `idf-etl run`: pages grouped
by project id, by Drupal node (shortlink, hreflang, /fr/node/N URL) or on their own;
languages that disagree reported; types and country names canonical; views that show a
project without allocation year. A site written here, served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.helpers.drupal_pages import drupal_page, field_html, head_links

REPO = Path(__file__).resolve().parents[2]


def fields(display: str = "above", **values: str) -> list[str]:
    labels = {
        "status": "Project Status",
        "type": "Project Type",
        "budget": "Budget Amount (USD)",
        "coverage": "Coverage",
        "year": "Year",
        "region": "IDF Region",
        "id": "Projects ID",
        "states": "Benefiting Member States",
    }
    # A missing value keeps its label, as on the live site's id-less pages.
    return [field_html(label, values.get(key, ""), display) for key, label in labels.items()]


FR_LABELS = {
    "Project Status": "Statut du projet",
    "Project Type": "Type de projet",
    "Coverage": "Couverture",
    "Year": "Année",
    "Projects ID": "Projet ID",
    "Benefiting Member States": "Etat(s) membre(s) beneficiaires remplissant les conditions requises",
}
ES_LABELS = {
    "Project Status": "Estado del proyecto",
    "Project Type": "Tipo de proyecto",
    "Coverage": "Cobertura geográfica",
    "Year": "Año",
    "Projects ID": "Proyecto ID",
    "Benefiting Member States": "Estados Miembros Beneficiarios",
}
BODY = {
    "en": "The project helps the government with its migration policy, and this is prose.",
    "fr": "Le projet aide le gouvernement dans sa politique migratoire, et ceci est une phrase.",
    "es": "El proyecto ayuda al gobierno con su política migratoria, y esta es una frase.",
}


def page(lang: str, title: str, head: str = "", display: str = "above", **values: str) -> str:
    html = "".join(fields(display, **values))
    for en, other in {"fr": FR_LABELS, "es": ES_LABELS}.get(lang, {}).items():
        html = html.replace(f">{en}<", f">{other}<")
    return drupal_page([html], title=title, head=head, lang=lang, body=BODY[lang])


BODY_FIELD = '<div class="field field--name-body'


def hidden_id(project_id: str) -> str:
    return field_html("Projects ID", project_id, "hidden")


SITE = {
    # 1. grouped by id; the languages disagree on the budget
    "/project/ghana-labour": page(
        "en",
        "Labour mobility in Ghana",
        status="Active",
        type="Labour Migration",
        budget="450000.00",
        coverage="National",
        year="2018",
        region="Africa",
        id="LM.0077",
        states="Ghana",
        display="inline",
    ),
    "/fr/node/100": page(
        "fr",
        "Mobilité de la main-d'œuvre au Ghana",
        status="Actif",
        type="Migration de main-d'oeuvre",
        budget="400000.00",
        coverage="National",
        year="2018",
        region="Afrique",
        id="LM.0077",
        states="Ghana",
    ),
    # 2. English page without id, named by its shortlink; its French translation has the id
    "/project/drc-diaspora": page(
        "en",
        "Diaspora resources for the DRC",
        head=head_links(shortlink="/node/200"),
        status="Completed",
        type="Community and Economic Development",
        budget="300000.00",
        coverage="National",
        year="2020",
        region="Africa",
        states="Democratic Republic of the Congo",
        display="visually_hidden",
    ),
    "/fr/node/200": page(
        "fr",
        "Ressources de la diaspora pour la RDC",
        status="Achevé",
        type="Développement communautaire et économique",
        budget="300000.00",
        coverage="National",
        year="2020",
        region="Afrique",
        states="République démocratique du Congo",
    ).replace(BODY_FIELD, hidden_id("CE.0500") + BODY_FIELD),
    # 3. no id anywhere; the English page names its translations by hreflang only;
    #    no allocation year; the Spanish page gives another type
    "/project/balkans-return": page(
        "en",
        "Return and reintegration in the Western Balkans",
        head=head_links(fr="/fr/node/300", es="/es/node/300"),
        status="Active",
        type="Return and Reintegration Assistance for Migrants and Governments",
        budget="250000.00",
        coverage="Regional",
        region="Europe",
        states="Bosnia and Herzegovina, Serbia",
    ),
    "/fr/node/300": page(
        "fr",
        "Retour et réintégration dans les Balkans occidentaux",
        status="Actif",
        type="Aide au retour et à la réintégration à l’intention des migrants et des gouvernements",
        budget="250000.00",
        coverage="Regional",
        region="Europe",
        states="Bosnie-Herzégovine Serbie",
    ),
    "/es/node/300": page(
        "es",
        "Retorno y reintegración en los Balcanes Occidentales",
        status="Activo",
        type="Cooperación técnica en gestión de la migración y creación de capac",
        budget="250000.00",
        coverage="Regional",
        region="Europa",
        states="Bosnia y Herzegovina, Serbia",
    ),
    # 4. no id, no links: the /fr/node/N and /es/node/N URLs say the node
    "/fr/node/400": page(
        "fr",
        "Profil migratoire de Maurice",
        status="Achevé",
        type="Recherche et publications sur la migration",
        budget="100000.00",
        coverage="National",
        year="2015",
        region="Afrique",
        states="Maurice",
    ),
    "/es/node/400": page(
        "es",
        "Perfil migratorio de Mauricio",
        status="Finalizado",
        type="Investigación y publicaciones sobre migración",
        budget="100000.00",
        coverage="National",
        year="2015",
        region="África",
        states="Mauricio",
    ),
    # 5. neither id nor node: a project of its own; a type nobody knows
    "/project/island-survey": page(
        "en",
        "Island survey",
        status="Active",
        type="Fish farming",
        budget="50000.00",
        coverage="National",
        year="2021",
        region="Asia and Oceania",
        states="Fiji",
    ),
}


def build_site(root: Path) -> None:
    for path, html in SITE.items():
        file = root / (path.strip("/") + ".html")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(html, encoding="utf-8")
    (root / "lastmod.json").write_text(json.dumps(dict.fromkeys(SITE, "2024-01-15")))


@pytest.fixture
def drupal_site(tmp_path):
    sys.path.insert(0, str(REPO / "demo"))
    from serve import serve

    root = tmp_path / "site"
    build_site(root)
    server, base = serve(root)
    yield root, base
    server.shutdown()
    server.server_close()


def run(base: str, data: Path, *settings: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "idf_etl",
            "run",
            "--start-url",
            f"{base}/sitemap.xml",
            "--rate",
            "0",
            "--json",
            "--data-dir",
            str(data),
            *(arg for setting in settings for arg in ("--set", setting)),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=data.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def query(data: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.slow
def test_every_project_page_is_in_exactly_one_project(drupal_site, tmp_path):
    _, base = drupal_site
    data = tmp_path / "data"
    summary = run(base, data)
    assert summary["outcome"] == "success"

    assert query(data, "SELECT count(*) FROM project_pages") == [(len(SITE),)]
    # every page in one project, every project with a page
    assert query(
        data,
        """SELECT count(*) FROM project_pages pp
           WHERE (SELECT count(*) FROM projects p WHERE list_contains(p.urls, pp.url)) <> 1""",
    ) == [(0,)]
    rows = {
        key: (pid, langs, n)
        for key, pid, langs, n in query(
            data, "SELECT project_key, project_id, languages, len(urls) FROM projects"
        )
    }
    host = base.removeprefix("http://")
    assert rows == {
        "LM.0077": ("LM.0077", ["en", "fr"], 2),
        "CE.0500": ("CE.0500", ["en", "fr"], 2),
        f"node:{host}/300": (None, ["en", "fr", "es"], 3),
        f"node:{host}/400": (None, ["fr", "es"], 2),
        f"page:{base}/project/island-survey": (None, ["en"], 1),
    }
    # the English title and values win over the French ones
    assert query(
        data, "SELECT title, title_lang, status FROM projects WHERE project_key = 'CE.0500'"
    ) == [("Diaspora resources for the DRC", "en", "completed")]
    assert query(data, "SELECT project_key FROM project_pages WHERE url LIKE '%/node/200'") == [
        ("CE.0500",)
    ]


@pytest.mark.slow
def test_a_disagreement_stays_open_while_its_pages_are_read_again_unchanged(drupal_site, tmp_path):
    """The merge reports disagreements; a page parsed again without a change still has its
    project merged, or its open problem would be taken for resolved."""
    _, base = drupal_site
    data = tmp_path / "data"
    run(base, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}
    again = subprocess.run(
        [sys.executable, "-m", "idf_etl", "run", "--from-raw", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert query(
        data,
        "SELECT field, resolved_at, first_run_id, last_run_id FROM problems "
        "WHERE code = 'languages_disagree' ORDER BY field",
    ) == [("budget_usd", None, 1, 2), ("project_type_canonical", None, 1, 2)]
    assert query(data, "SELECT count(*) FROM project_changes") == [(0,)]


@pytest.mark.slow
def test_disagreements_types_countries_and_views(drupal_site, tmp_path):
    _, base = drupal_site
    data = tmp_path / "data"
    run(base, data)
    host = base.removeprefix("http://")

    # English first: 450,000 beside the French 400,000, and an issue naming both pages
    assert query(data, "SELECT budget_usd::VARCHAR FROM projects WHERE project_id = 'LM.0077'") == [
        ("450000.00",)
    ]
    disagree = query(
        data,
        "SELECT project_key, field, message FROM issues WHERE code = 'languages_disagree' "
        "ORDER BY project_key, field",
    )
    assert [(k, f) for k, f, _ in disagree] == [
        ("LM.0077", "budget_usd"),
        (f"node:{host}/300", "project_type_canonical"),
    ]
    message = disagree[0][2]
    assert "450000.00" in message and "400000.00" in message
    assert f"{base}/project/ghana-labour" in message and f"{base}/fr/node/100" in message

    # types: canonical beside the label as written; unknown ones reported
    assert query(
        data,
        "SELECT project_key, project_type_canonical FROM projects ORDER BY project_key",
    ) == [
        ("CE.0500", "Community and Economic Development"),
        ("LM.0077", "Labour Migration"),
        (f"node:{host}/300", "Return and Reintegration Assistance for Migrants and Governments"),
        (f"node:{host}/400", "Migration Research and Publications"),
        (f"page:{base}/project/island-survey", None),
    ]
    assert query(data, "SELECT project_type FROM project_pages WHERE url LIKE '%/fr/node/100'") == [
        ("Migration de main-d'oeuvre",)
    ]
    assert query(
        data, "SELECT field FROM issues WHERE code = 'unknown_project_type' AND url LIKE '%island%'"
    ) == [("project_type",)]

    # countries: IOM/UN-style English names
    assert query(
        data,
        "SELECT DISTINCT iso2, country_name FROM project_states "
        "WHERE iso2 IN ('CD', 'BA') ORDER BY iso2",
    ) == [("BA", "Bosnia and Herzegovina"), ("CD", "Democratic Republic of the Congo")]

    # no id ever in prima_id
    assert query(data, "SELECT count(*) FROM project_pages WHERE prima_id IS NOT NULL") == [(0,)]

    # a project without allocation year is shown, and counted, as such
    assert query(
        data,
        "SELECT idf_region, year, year_label, projects FROM budget_by_region_year "
        "WHERE year IS NULL",
    ) == [("Europe", None, "no allocation year", 1)]
    assert query(
        data,
        """SELECT count(*) FROM duckdb_columns() c JOIN duckdb_views() v
           ON c.table_name = v.view_name WHERE NOT v.internal AND c.comment IS NULL""",
    ) == [(0,)]


@pytest.mark.slow
def gain_an_id(root: Path) -> None:
    """The Balkans project's English page gains an id (and a new budget)."""
    file = root / "project/balkans-return.html"
    file.write_text(
        file.read_text()
        .replace("250000.00", "260000.00")
        .replace(BODY_FIELD, hidden_id("RR.0900") + BODY_FIELD)
    )
    stamps = json.loads((root / "lastmod.json").read_text())
    stamps["/project/balkans-return"] = "2024-06-01"
    (root / "lastmod.json").write_text(json.dumps(stamps))


def test_a_project_that_gains_an_id_keeps_its_history(drupal_site, tmp_path):
    root, base = drupal_site
    data = tmp_path / "data"
    run(base, data)
    host = base.removeprefix("http://")
    (first_seen,) = query(
        data, "SELECT first_seen FROM projects WHERE project_key = ?", [f"node:{host}/300"]
    )[0]

    gain_an_id(root)
    run(base, data)

    assert query(data, "SELECT count(*) FROM projects") == [(5,)]
    assert query(
        data,
        "SELECT project_id, len(urls), first_seen FROM projects WHERE project_key = 'RR.0900'",
    ) == [("RR.0900", 3, first_seen)]
    assert query(data, "SELECT count(*) FROM projects WHERE project_key LIKE 'node:%/300'") == [
        (0,)
    ]
    assert query(
        data,
        "SELECT project_key, project_id, field, old_value, new_value FROM project_changes "
        "ORDER BY field",
    ) == [
        ("RR.0900", "RR.0900", "budget_usd", "250000.00", "260000.00"),
        ("RR.0900", "RR.0900", "project_id", None, "RR.0900"),
    ]


def tables_without_times(data: Path) -> dict[str, list[str]]:
    tables = ["pages", "project_pages", "projects", "project_states", "project_changes"]
    tables += ["issues", "problems"]
    return {
        t: sorted(
            repr([v for v in row if not isinstance(v, datetime)])
            for row in query(data, f"SELECT * FROM {t}")
        )
        for t in tables
    }


@pytest.mark.slow
def test_loading_a_page_at_a_time_writes_the_same_warehouse(drupal_site, tmp_path):
    """Pages of one project land in different batches (a commit each): the grouping at the
    end still puts them together, and a project gaining its id keeps its history."""
    root, base = drupal_site
    runs = {"one batch": tmp_path / "whole", "batches of one": tmp_path / "batched"}
    for label, data in runs.items():
        run(base, data, "load_batch=1" if label == "batches of one" else "load_batch=1000")
    gain_an_id(root)
    for label, data in runs.items():
        result = run(base, data, "load_batch=1" if label == "batches of one" else "load_batch=1000")
        assert result["field_changes"] == 2
    whole, batched = (tables_without_times(data) for data in runs.values())
    for table, rows in whole.items():
        assert batched[table] == rows, table
    assert any("RR.0900" in r for r in whole["projects"])
    assert any("conflicting_project_ids" in r or "languages_disagree" in r for r in whole["issues"])
