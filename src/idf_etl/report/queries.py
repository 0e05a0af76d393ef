"""Every query the report runs, in one place, against the warehouse's tables and views.

A reader who doubts a figure in the report can paste the query named beside it
into `idf-etl sql` (or any DuckDB client) and get the same rows. Where a view
answers the question (budget_by_region_year, budget_by_country,
active_projects, open_issues) the report reads the view, so the report and the
warehouse cannot disagree. Projects are joined on project_key (the project id,
else a node: or page: key), never on project_id, so projects without an id show
everywhere. Queries only read; the report never writes the warehouse.
"""

from __future__ import annotations

from idf_etl.warehouse.status import LAST_SITE_READ

# Rows of the projects table shown at most; the whole table is in the warehouse.
COUNTRIES_SHOWN = 25
CHANGES_SHOWN = 200
RUNS_SHOWN = 60

NO_YEAR = "no year"
NO_REGION = "no region"
NO_TYPE = "no type"
UNKNOWN_TYPE = "type not recognised"

QUERIES: dict[str, str] = {
    # 1. Headline figures.
    "headline": f"""
        SELECT (SELECT count(*) FROM projects) AS projects,
               (SELECT sum(budget_usd) FROM projects) AS budget_usd,
               (SELECT count(*) FROM active_projects) AS active,
               (SELECT count(DISTINCT iso2) FROM project_states) AS countries,
               (SELECT finished_at FROM ({LAST_SITE_READ})) AS data_as_of,
               (SELECT count(*) FROM open_issues) AS open_problems
    """,
    # 2. Budget by IDF region and allocation year; projects with no year as such.
    "budget_by_region_year": f"""
        SELECT coalesce(idf_region, '{NO_REGION}') AS region,
               coalesce(year::VARCHAR, '{NO_YEAR}') AS year,
               projects, budget_usd
        FROM budget_by_region_year
        ORDER BY budget_by_region_year.year NULLS LAST, region
    """,
    # 3. Budget and projects by benefiting country (the top ones by whole budgets).
    "budget_by_country": f"""
        SELECT iso2, coalesce(country_name, iso2) AS country, projects,
               budget_usd_total, budget_usd_even_share
        FROM budget_by_country
        ORDER BY budget_usd_total DESC NULLS LAST, country
        LIMIT {COUNTRIES_SHOWN}
    """,
    # 3b. Every benefiting country, for the world map: its shade is the even share, so a
    # project that benefits twenty countries does not colour each with its whole budget.
    "countries_map": """
        SELECT iso2, coalesce(country_name, iso2) AS country, projects,
               budget_usd_even_share AS budget_usd, budget_usd_total
        FROM budget_by_country
        ORDER BY budget_usd_even_share DESC NULLS LAST, country
    """,
    # 4. Projects started and ended (or ending) per year.
    "starts_and_ends": """
        SELECT year, event, count(*) AS projects
        FROM (SELECT start_year AS year, 'started' AS event FROM projects
              UNION ALL
              SELECT end_year, 'ended or ends' FROM projects)
        WHERE year IS NOT NULL
        GROUP BY ALL ORDER BY year, event DESC
    """,
    "years_unknown": """
        SELECT count(*) FILTER (start_year IS NULL) AS no_start_year,
               count(*) FILTER (end_year IS NULL) AS no_end_year
        FROM projects
    """,
    "active_by_region": f"""
        SELECT coalesce(idf_region, '{NO_REGION}') AS region, count(*) AS projects,
               sum(budget_usd) AS budget_usd
        FROM active_projects
        GROUP BY ALL ORDER BY projects DESC, region
    """,
    # 5. Project types by region: the fund's category in English, whatever the page's
    # language; a type the vocabulary does not know is counted as such, not as no type.
    "types_by_region": f"""
        SELECT coalesce(project_type_canonical,
                        CASE WHEN project_type IS NULL THEN '{NO_TYPE}'
                             ELSE '{UNKNOWN_TYPE}' END) AS project_type,
               coalesce(idf_region, '{NO_REGION}') AS region,
               count(*) AS projects, sum(budget_usd) AS budget_usd
        FROM projects
        GROUP BY ALL ORDER BY project_type, region
    """,
    # 6. What changed: the latest field changes (where each was seen: the live site or a
    # web archive), changes per year over the whole history, and changes per run.
    "latest_changes": f"""
        SELECT c.run_id, c.changed_at, coalesce(c.project_id, c.project_key) AS project,
               p.title, p.urls[1] AS url, c.field, c.old_value, c.new_value,
               coalesce(c.seen_in, 'live') AS seen_in
        FROM project_changes c LEFT JOIN projects p USING (project_key)
        ORDER BY c.changed_at DESC, c.run_id DESC, c.project_key, c.field
        LIMIT {CHANGES_SHOWN}
    """,
    "changes_per_year": """
        SELECT year(changed_at) AS year,
               CASE WHEN coalesce(seen_in, 'live') = 'live' THEN 'live site'
                    ELSE 'web archive' END AS seen_in,
               count(*) AS field_changes
        FROM project_changes
        GROUP BY ALL ORDER BY year, seen_in
    """,
    "changes_per_run": f"""
        SELECT run_id, started_at, mode, outcome, coalesce(field_changes, 0) AS field_changes
        FROM (SELECT * FROM runs ORDER BY run_id DESC LIMIT {RUNS_SHOWN})
        ORDER BY run_id
    """,
    # 7. Data quality: problems still open, whichever run found them (a page not
    # fetched again keeps its failure; see problems.py).
    "problems_by_kind": """
        SELECT code, severity, count(*) AS problems
        FROM open_issues
        GROUP BY ALL ORDER BY problems DESC, code
    """,
    "unreadable_pages": """
        SELECT url, 'could not be parsed' AS problem, reason AS detail
        FROM pages WHERE kind = 'error'
        UNION ALL
        SELECT url, 'could not be fetched', message
        FROM open_issues WHERE code = 'fetch_failed'
        ORDER BY url
    """,
    # A page without an id is no problem when another language's page gives it.
    "projects_without_id": """
        SELECT project_key, title, urls[1] AS url FROM projects
        WHERE project_id IS NULL ORDER BY project_key
    """,
    "projects_without_budget": """
        SELECT coalesce(project_id, project_key) AS project, title, urls[1] AS url
        FROM projects WHERE budget_usd IS NULL ORDER BY project_key
    """,
    # The projects table.
    "projects": """
        SELECT p.project_key, p.project_id, p.title, p.urls,
               (SELECT list({'lang': pp.lang, 'url': pp.url} ORDER BY pp.lang, pp.url)
                FROM project_pages pp WHERE pp.project_key = p.project_key) AS pages,
               p.idf_region, coalesce(p.project_type_canonical, p.project_type) AS project_type,
               p.status, p.budget_usd, p.year, p.start_year, p.end_year, p.missing_from_site,
               (SELECT list(coalesce(s.country_name, s.iso2) ORDER BY s.country_name)
                FROM project_states s WHERE s.project_key = p.project_key) AS countries
        FROM projects p
        ORDER BY p.project_key
    """,
}
