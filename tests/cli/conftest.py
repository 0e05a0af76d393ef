"""Fixtures of the CLI's tests: a data directory with one published run of the demo site."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "demo"


@pytest.fixture(scope="session")
def published_dir(published):
    """The data directory of the session's one published run of the demo site (the
    `published` fixture of tests/conftest.py, whose name this file must not take over: the
    CLI's convention tests read that run's stderr and --json summary too)."""
    return published[0]


@pytest.fixture
def data(published_dir, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(published_dir, copy, symlinks=True)
    return copy
