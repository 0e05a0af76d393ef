"""The README's data dictionary is the warehouse's, and every command it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import typer

from idf_etl.cli.app import app
from idf_etl.warehouse.schema import TABLES, create_schema, data_dictionary_markdown

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_data_dictionary_is_current():
    section = README.split("<!-- data-dictionary:start -->\n")[1].split(
        "<!-- data-dictionary:end -->"
    )[0]
    assert section == data_dictionary_markdown(), "run `idf-etl schema` and paste it into README.md"


def test_every_column_has_a_comment_in_the_database():
    con = duckdb.connect()
    create_schema(con)
    for t in TABLES:
        comments = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [t.name]
            ).fetchall()
        )
        assert set(comments) == {c.name for c in t.columns}
        assert all(comments.values()), t.name


def test_readme_commands_exist():
    # The commands the CLI offers, wherever they are registered (cli_warehouse.py adds some).
    names = set(typer.main.get_command(app).commands)
    for command in set(re.findall(r"`idf-etl (\w+)", README)):
        if command not in ("COMMAND",):
            assert command in names, command
