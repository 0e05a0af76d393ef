"""The published pointer broken by hand while releases are kept (a release directory deleted
in a disk clean-up, a link made by hand): `status`, `sql` and `check` say what is wrong and
name `idf-etl restore`, never "no warehouse, run `idf-etl run` first"; `run` refuses, before
fetching, rather than start the history again at run 1; `restore` brings it back and the
next run goes on from the kept history. The real CLI in a subprocess, every way of breaking."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO
from tests.helpers.cli import idf_etl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """A data directory with releases of runs 1-3 (one read of the demo site, two re-parses)."""
    sys.path.insert(0, str(REPO / "demo"))
    from serve import serve

    root = tmp_path_factory.mktemp("pointer")
    shutil.copytree(REPO / "demo" / "site", root / "site")
    server, base = serve(root / "site")
    data = root / "data"
    try:
        first = ["run", "--start-url", f"{base}/sitemap.xml", "--rate", "0"]
        for args in (first, ["run", "--from-raw"], ["run", "--from-raw"]):
            done = idf_etl(*args, "--data-dir", str(data), "--set", "report=false", cwd=root)
            assert done.returncode == 0, done.stderr[-2000:]
    finally:
        server.shutdown()
        server.server_close()
    return data


def _current(data: Path) -> Path:
    return data / "clean" / "current"


def _release(data: Path) -> Path:
    return (data / "clean" / "releases" / os.readlink(_current(data)).split("/")[-1]).absolute()


def _relink(data: Path, target: str) -> None:
    _current(data).unlink()
    _current(data).symlink_to(target)


def deleted(data: Path) -> None:  # the adversary's case: rm -r releases/run000003-*
    shutil.rmtree(_release(data))


def emptied(data: Path) -> None:
    (_release(data) / "idf.duckdb").unlink()


def zero_bytes(data: Path) -> None:
    (_release(data) / "idf.duckdb").write_bytes(b"")


def to_a_file(data: Path) -> None:
    _relink(data, os.path.join(os.readlink(_current(data)), "idf.duckdb"))


def a_loop(data: Path) -> None:
    _relink(data, "current")


def a_two_link_loop(data: Path) -> None:
    (data / "clean" / "other").symlink_to("current")
    _relink(data, "other")


def to_nothing_relative(data: Path) -> None:
    _relink(data, "releases/run000009-nothing")


def to_nothing_absolute(data: Path) -> None:
    _relink(data, str(data / "clean" / "releases" / "gone"))


def removed(data: Path) -> None:  # `rm clean/current` (not `restore --empty`)
    _current(data).unlink()


def a_directory(data: Path) -> None:
    _current(data).unlink()
    _current(data).mkdir()


def elsewhere(data: Path) -> None:  # a copy of a release outside clean/releases
    outside = data.parent / f"{data.name}-elsewhere"
    shutil.copytree(_release(data), outside)
    _relink(data, str(outside))


def being_built(data: Path) -> None:  # a run would remove .building, the published one
    shutil.copytree(_release(data), data / "clean" / "releases" / ".building")
    _relink(data, "releases/.building")


def a_plain_copy(data: Path) -> None:  # `rm idf.duckdb; cp releases/run000001-*/idf.duckdb .`
    link = data / "clean" / "idf.duckdb"
    link.unlink()
    first = sorted((data / "clean" / "releases").iterdir())[0]
    shutil.copyfile(first / "idf.duckdb", link)


BREAKERS: list[Callable[[Path], None]] = [
    being_built,
    a_plain_copy,
    deleted,
    emptied,
    zero_bytes,
    to_a_file,
    a_loop,
    a_two_link_loop,
    to_nothing_relative,
    to_nothing_absolute,
    removed,
    a_directory,
    elsewhere,
]


def _releases(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "clean" / "releases").iterdir())


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda b: b.__name__)
def test_a_broken_pointer_is_said_and_never_restarts_the_history(three_runs, tmp_path, breaker):
    data = tmp_path / "data"
    shutil.copytree(three_runs, data, symlinks=True)
    breaker(data)
    before = _releases(data)
    common = ("--data-dir", str(data))

    for args in (("status",), ("sql", "SELECT count(*) FROM runs")):
        said = idf_etl(*args, *common, cwd=tmp_path)
        assert said.returncode != 0, said.stdout
        assert "idf-etl restore" in said.stderr, said.stderr
        assert "run `idf-etl run` first" not in said.stderr
        assert "Traceback" not in said.stderr
    # Published, and no analyst can open it: CRITICAL (never "cannot tell"), with the way out.
    check = idf_etl("check", *common, cwd=tmp_path)
    assert check.returncode == 2, check.stdout
    assert check.stdout.startswith("IDF-ETL CRITICAL - analysts cannot open the published")
    assert "idf-etl restore" in check.stdout and len(check.stdout.splitlines()) == 1

    # `run` refuses (no new release, nothing published), whichever kind of run.
    for args in (("run", "--from-raw"), ("run", "--start-url", "http://127.0.0.1:9/sitemap.xml")):
        refused = idf_etl(*args, *common, "--set", "report=false", cwd=tmp_path)
        assert refused.returncode == 1, refused.stderr[-2000:]
        assert "idf-etl restore" in refused.stderr and "Traceback" not in refused.stderr
        assert "not starting a new warehouse" in refused.stderr
        assert _releases(data) == before

    restored = idf_etl("restore", *common, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    again = idf_etl("run", "--from-raw", *common, "--json", "--set", "report=false", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    run_id = json.loads(again.stdout.splitlines()[-1])["run_id"]
    assert run_id in (3, 4)  # on the history kept (run 2 or run 3 restored), never run 1
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == run_id


def test_restore_empty_on_purpose_starts_a_new_warehouse(three_runs, tmp_path):
    """Publishing nothing on purpose is still possible: `restore --empty`, then a run at 1."""
    data = tmp_path / "data"
    shutil.copytree(three_runs, data, symlinks=True)
    common = ("--data-dir", str(data))
    assert idf_etl("restore", "--empty", *common, cwd=tmp_path).returncode == 0
    said = idf_etl("status", *common, cwd=tmp_path)
    assert said.returncode == 1 and "no warehouse" in said.stderr
    again = idf_etl("run", "--from-raw", *common, "--json", "--set", "report=false", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.splitlines()[-1])["run_id"] == 1
    assert not (data / "clean" / ".unpublished").exists()


def test_the_warehouse_link_led_elsewhere_is_said_and_put_back(three_runs, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(three_runs, data, symlinks=True)
    link = data / "clean" / "idf.duckdb"
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    link.unlink()
    link.symlink_to(other)
    said = idf_etl("status", "--data-dir", str(data), cwd=tmp_path)
    assert said.returncode == 1 and "not to current/idf.duckdb" in said.stderr, said.stderr
    again = idf_etl("run", "--from-raw", "--data-dir", str(data), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.splitlines()[-1])["run_id"] == 4
    assert os.readlink(link) == os.path.join("current", "idf.duckdb")
