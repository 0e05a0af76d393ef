"""The warehouse's views, kept as data: each one's query and the meaning of its columns.

schema.py recreates them (and their comments) on every run; they hold no data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from idf_etl.warehouse.tables import TABLES, Column, table

# Columns of open_issues, in this order (the problems table's, less the resolution).
_OPEN_ISSUES = (
    "severity",
    "stage",
    "code",
    "url",
    "project_id",
    "field",
    "message",
    "first_seen",
    "last_seen",
    "runs",
    "first_run_id",
    "last_run_id",
    "problem_id",
)


def _problem_columns() -> tuple[Column, ...]:
    by_name = {c.name: c for c in next(t for t in TABLES if t.name == "problems").columns}
    return tuple(by_name[name] for name in _OPEN_ISSUES)


@dataclass(frozen=True)
class View:
    name: str
    comment: str
    query: str  # without its order, which is `order`
    columns: tuple[Column, ...]  # every column it shows, with its meaning
    order: str = ""  # the ORDER BY list
    # Columns that name a row, for a view as wide as a table: the export writes `query` in
    # their order a chunk at a time, as it writes tables (DuckDB's sort of a view's whole
    # width at once needs memory for every row).
    key: tuple[str, ...] = ()
    # A view whose rows grow with the warehouse and whose order is not its key: its order
    # as SQL expressions, never NULL and unique together, for the export's chunked writer.
    sort: tuple[str, ...] = ()

    @property
    def sql(self) -> str:
        return f"{self.query} ORDER BY {self.order}" if self.order else self.query


_YEAR_LABEL = "no allocation year"
VIEWS: tuple[View, ...] = (
    View(
        "budget_by_region_year",
        "Allocated budget per IDF region and allocation year; projects without a year "
        f"are a row of their own ('{_YEAR_LABEL}').",
        f"""SELECT idf_region, year,
                  coalesce(year::VARCHAR, '{_YEAR_LABEL}') AS year_label,
                  count(*) AS projects, count(budget_usd) AS projects_with_budget,
                  sum(budget_usd) AS budget_usd
           FROM projects GROUP BY ALL""",
        (
            Column(
                "idf_region", "VARCHAR", "IDF region, canonical English name (null: none given)"
            ),
            Column("year", "SMALLINT", "allocation year; null for the projects without one"),
            Column("year_label", "VARCHAR", f"the year as text, or '{_YEAR_LABEL}'"),
            Column("projects", "BIGINT", "projects in the group, with a budget or not"),
            Column("projects_with_budget", "BIGINT", "of those, the ones with a budget"),
            Column("budget_usd", "DECIMAL(38,2)", "their budgets summed, US dollars"),
        ),
        order="idf_region, year NULLS LAST",
    ),
    View(
        "budget_by_country",
        "Per country: projects it benefits from, their whole budgets, and an even share of each.",
        """SELECT s.iso2, s.country_name, count(*) AS projects,
                  sum(p.budget_usd) AS budget_usd_total,
                  sum(p.budget_usd / len(p.states))::DECIMAL(18,2) AS budget_usd_even_share
           FROM project_states s JOIN projects p USING (project_key)
           GROUP BY ALL""",
        (
            Column("iso2", "VARCHAR", "ISO 3166-1 alpha-2 code (XK for Kosovo)"),
            Column("country_name", "VARCHAR", "English country name as IOM and the UN write it"),
            Column("projects", "BIGINT", "projects benefiting the country"),
            Column("budget_usd_total", "DECIMAL(38,2)", "their whole budgets summed, US dollars"),
            Column(
                "budget_usd_even_share",
                "DECIMAL(18,2)",
                "each budget split evenly among its countries, this country's shares summed",
            ),
        ),
        order="budget_usd_total DESC NULLS LAST",
    ),
    View(
        "open_issues",
        "Problems still open, oldest first: what needs a person now.",
        f"""SELECT {", ".join(_OPEN_ISSUES)} FROM problems WHERE resolved_at IS NULL""",
        tuple(
            replace(c, type=c.type.removesuffix(" NOT NULL"))
            for c in _problem_columns()
            if c.name in _OPEN_ISSUES
        ),
        order="first_seen, severity, url NULLS LAST, code, problem_id",
        # url NULLS LAST as a value: no text sorts after the last code point.
        sort=("first_seen", "severity", "coalesce(url, chr(1114111))", "code", "problem_id"),
    ),
    View(
        "active_projects",
        "Projects the site lists as active and still publishes.",
        "SELECT * FROM projects WHERE status = 'active' AND NOT missing_from_site",
        (),  # the columns of projects, described there
        order="start_year DESC NULLS LAST, project_key",
        key=("project_key",),
    ),
)


def view_columns(v: View) -> tuple[Column, ...]:
    """A view's columns with their meaning (a view over `projects` has that table's)."""
    return v.columns or table("projects").columns
