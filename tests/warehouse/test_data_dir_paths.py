"""The data directory however it is named: relative, through `..`, through a symlink (to
it, or to its `clean/`). Releases are compared with where `current` leads, a resolved path;
named as the user typed it, the current release matched none kept, and with the default
relative `data` the prune deleted the release a run had just published (adversary, #22).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from idf_etl.warehouse.publish import Publisher, run_number
from tests.helpers.cli import idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

KEEP = 1  # the current release and one before it


def store(data: Path) -> None:
    pages = []
    for i in range(3):
        fields = [field_html("Project ID", f"CE.{i:04d}"), field_html("IDF Region", "Africa")]
        page = drupal_page(fields, title=f"Project {i}").encode()
        pages.append((f"https://developmentfund.iom.int/project/p{i}", page))
    store_pages(data / "raw", pages)


def layouts(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Where a run is started (cwd) and the --data-dir it is given, by layout."""
    (tmp_path / "work" / "sub").mkdir(parents=True)
    real = tmp_path / "disk" / "data"
    (tmp_path / "disk" / "clean-elsewhere").mkdir(parents=True)
    os.symlink(tmp_path / "disk", tmp_path / "work" / "disk-link")
    return {
        "relative": (tmp_path / "disk", "data"),
        "dot-dot": (tmp_path / "work" / "sub", "../../disk/data"),
        "symlinked parent": (tmp_path / "work", "disk-link/data"),
        "absolute": (tmp_path, str(real)),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layout", "clean_linked"),
    [("relative", False), ("dot-dot", True), ("symlinked parent", False), ("absolute", True)],
)
def test_runs_keep_what_they_publish_however_the_data_dir_is_named(tmp_path, layout, clean_linked):
    cwd, data_dir = layouts(tmp_path)[layout]
    real = tmp_path / "disk" / "data"
    store(real)
    if clean_linked:  # clean/ on another disk, linked
        os.symlink(tmp_path / "disk" / "clean-elsewhere", real / "clean")
    flags = ("--data-dir", data_dir, "--set", "report=false", "--set", f"keep_published={KEEP}")
    for run in range(1, KEEP + 4):
        done = idf_etl("run", "--from-raw", "--json", *flags, cwd=cwd, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout.splitlines()[-1])["run_id"] == run
        publisher = Publisher(real / "clean")
        current = publisher.current_release()
        assert current is not None and current.is_dir(), f"run {run}: its release is gone"
        assert [run_number(r) for r in publisher.kept()] == list(range(run, run - KEEP - 1, -1))[
            : min(run, KEEP + 1)
        ]
        status = idf_etl("status", "--data-dir", data_dir, cwd=cwd)
        assert status.returncode == 0, status.stderr[-2000:]
        listed = idf_etl("restore", "--list", "--data-dir", data_dir, cwd=cwd).stdout.split()
        assert listed[:2] == ["*", current.name]

    back = idf_etl("restore", "--data-dir", data_dir, cwd=cwd)
    assert back.returncode == 0, back.stderr[-2000:]
    assert f"published run{KEEP + 2:06d}-" in back.stderr  # one run back, not itself
    again = idf_etl("restore", "--data-dir", data_dir, cwd=cwd)
    assert again.returncode != 0 and "no kept release to go back to" in again.stderr
