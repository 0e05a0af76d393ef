"""File-system errors in any command are one `idf-etl:` line naming the path and what to do,
and lose nothing (#22, class 7): a real full file system (a small tmpfs), a real read-only
one (a read-only bind mount), a real permission denied (a user who may not write).

The mounts are made in a mount namespace of their own (`unshare`), so they go with the
command and need no root outside it (a user namespace maps us to root inside).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers.cli import clean_env, idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

PAGE = drupal_page([field_html("Project ID", "CE.0001")], title="A project").encode()

pytestmark = pytest.mark.slow

RUNS = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps(con.execute("SELECT count(*), max(run_id) FROM runs").fetchone()))
"""


def namespaced(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`script` (sh) in a mount namespace of its own; skipped where the kernel allows none."""
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here (unshare -rm: {probe.stderr.decode().strip()})")
    return subprocess.run(
        ["unshare", "-rm", "sh", "-euc", script],
        capture_output=True, text=True, timeout=600, env=clean_env(**env),
    )  # fmt: skip


def one_line(stderr: str) -> str:
    errors = [
        line for line in stderr.splitlines() if " ERROR " in line or line.startswith("idf-etl:")
    ]
    assert len(errors) == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize("room_kb", [40, 400, 2000])
def test_a_full_disk_is_one_line_and_loses_nothing(data, room_kb):
    """The issue's case: `run` ended with an OSError traceback on a full disk. The room left
    decides where it strikes: the manifest, the warehouse's copy, DuckDB's writes, exports."""
    size_kb = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) // 1024 + 3000
    script = f"""
    mkdir -p "$M" && mount -t tmpfs -o size={size_kb}k tmpfs "$M"
    cp -a "$DATA" "$M/data"
    room=$(df -k --output=avail "$M" | tail -1)
    fallocate -l $(( (room - {room_kb}) * 1024 )) "$M/filler"
    set +e
    "$PY" -m idf_etl run --from-raw --data-dir "$M/data" --set report=false >"$M/out" 2>"$M/err"
    echo "rc=$?"
    set -e
    rm "$M/filler"
    cat "$M/err" >&2
    "$PY" -c '{RUNS}' "$M/data/clean/idf.duckdb"
    "$PY" -m idf_etl run --from-raw --data-dir "$M/data" --set report=false 2>/dev/null
    "$PY" -c '{RUNS}' "$M/data/clean/idf.duckdb"
    """
    mount = tempfile.mkdtemp(prefix="idf-full-")
    try:
        proc = namespaced(script, M=mount, DATA=str(data), PY=sys.executable)
    finally:
        shutil.rmtree(mount, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rc, kept, after = proc.stdout.strip().splitlines()
    if rc == "rc=0":
        pytest.fail(
            f"the run found room in {room_kb} KB: make the room smaller ({proc.stderr[-500:]})"
        )
    assert rc == "rc=1"
    line = one_line(proc.stderr)
    assert "idf-etl: " in line and ("No space left on device" in line or "disk is full" in line)
    assert "free some" in line and "unchanged" in line
    assert json.loads(kept) == [1, 1], "the published warehouse is the one before"
    assert json.loads(after) == [2, 2], "with room again, the next run publishes"


def test_a_read_only_file_system_is_one_line_and_status_still_reads(data):
    script = """
    mount --bind "$DATA" "$DATA" && mount -o remount,bind,ro "$DATA"
    set +e
    "$PY" -m idf_etl run --from-raw --data-dir "$DATA" --set report=false 2>&1 >/dev/null
    echo "rc=$?"
    "$PY" -m idf_etl status --json --data-dir "$DATA" >/dev/null
    echo "status=$?"
    """
    proc = namespaced(script, DATA=str(data), PY=sys.executable)
    lines = proc.stdout.strip().splitlines()
    assert lines[-2:] == ["rc=1", "status=0"], proc.stdout[-3000:]
    line = one_line("\n".join(lines[:-2]))
    assert "Read-only file system" in line and str(data) in line and "remount" in line


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX only")
def test_permission_denied_is_one_line_naming_the_path(data):
    """As root, chmod stops nobody: the command runs as `nobody` instead (setpriv)."""
    home = Path(tempfile.mkdtemp(prefix="idf-perm-"))
    try:
        os.chmod(home, 0o755)
        target = home / "data"
        shutil.copytree(data, target, symlinks=True)
        for path in [target, *target.rglob("*")]:
            if not path.is_symlink():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if os.geteuid() == 0:
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        else:
            prefix = []
            for path in [target, *target.rglob("*")]:
                if path.is_dir() and not path.is_symlink():
                    os.chmod(path, 0o555)
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "idf_etl", "run", "--from-raw",
             "--data-dir", str(target), "--set", "report=false"],
            capture_output=True, text=True, timeout=300, env=clean_env(HOME=str(home)), cwd=home,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr[-3000:]
        line = one_line(proc.stderr)
        assert str(target) in line and "ermission denied" in line and "chown" in line
    finally:
        for path in [home, *home.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                os.chmod(path, 0o755)
        shutil.rmtree(home, ignore_errors=True)


def test_fetch_onto_a_full_disk_is_one_line_not_a_damaged_manifest(data):
    """SQLite cannot open its journal on a full disk ('disk I/O error'): that was called a
    damaged manifest, sending the user to fsck."""
    from tests.helpers.raw_server import RawServer, http

    script = """
    mkdir -p "$M" && mount -t tmpfs -o size=20000k tmpfs "$M"
    cp -a "$DATA" "$M/data"
    room=$(df -k --output=avail "$M" | tail -1)
    fallocate -l $(( (room - 30) * 1024 )) "$M/filler"
    set +e
    "$PY" -m idf_etl fetch --start-url "$START" --data-dir "$M/data" --rate 0 --revalidate
    echo "rc=$?"
    """
    mount = tempfile.mkdtemp(prefix="idf-full-")
    try:
        with RawServer() as srv:
            srv.answer(
                "/sitemap.xml", http(200, b"<urlset></urlset>", {"Content-Type": "text/xml"})
            )
            proc = namespaced(
                script, M=mount, DATA=str(data), PY=sys.executable, START=srv.url("/sitemap.xml")
            )
    finally:
        shutil.rmtree(mount, ignore_errors=True)
    assert proc.stdout.strip().splitlines()[-1] == "rc=1", proc.stderr[-3000:]
    line = one_line(proc.stderr)
    assert "manifest.sqlite" in line and "damaged" not in line and "fsck --data-dir" not in line
    assert "free space" in line or "no space" in line.lower()


@pytest.mark.parametrize(
    ("part", "said"),
    [
        ("clean", "data/clean is a file, where a directory was expected: move it away"),
        ("raw/objects", "data/raw/objects: File exists; something that is not a directory is"),
    ],
)
def test_a_file_where_a_directory_belongs_is_named(tmp_path, part, said):
    """ENOTDIR said only "a part of the path is a file", and EEXIST "check the path"."""
    data = tmp_path / "data"
    store_pages(data / "raw", [("https://developmentfund.iom.int/project/a", PAGE)])
    first = idf_etl("run", "--from-raw", "--data-dir", str(data), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    shutil.rmtree(data / part)
    (data / part).write_text("in the way")
    proc = idf_etl("run", "--from-raw", "--data-dir", str(data), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if "ERROR" in x]
    assert said in line, line
