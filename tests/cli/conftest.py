"""Fixtures of the CLI's tests."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def data(published, tmp_path):
    """A writable copy of the data directory of `published` (one real run of the demo site)."""
    copy = tmp_path / "data"
    shutil.copytree(published[0], copy, symlinks=True)
    return copy
