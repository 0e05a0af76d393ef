"""Shared fixtures: where our hand-written pages live, and a parser over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from idf_etl import parse_page

PAGES = Path(__file__).parent / "fixtures" / "pages"


@pytest.fixture
def parse_fixture():
    """Parse one of tests/fixtures/pages by file name."""

    def parse(name: str):
        path = PAGES / name
        return parse_page(path.read_bytes(), source=str(path))

    return parse
