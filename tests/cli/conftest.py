"""Fixtures of the CLI's tests: a data directory with one published run of the demo site."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "demo"


@pytest.fixture
def data(published, tmp_path):
    """A copy of the session's published data directory (tests/conftest.py), to write in."""
    copy = tmp_path / "data"
    shutil.copytree(published[0], copy, symlinks=True)
    return copy
