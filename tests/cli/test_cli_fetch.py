"""`idf-etl fetch` as a subprocess: summary, exit codes, the lock, and surviving SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from idf_etl.pipeline.lock import RunLock
from idf_etl.rawstore import RawStore
from tests.helpers.local_site import SITEMAP_PAGES, Site


def fetch_cmd(data_dir, *args):
    return [sys.executable, "-m", "idf_etl", "fetch", "--data-dir", str(data_dir), *args]


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("IDF_ETL_")}


def fetch(data_dir, *args, timeout=120):
    """`idf-etl fetch` in a subprocess, free of the caller's IDF_ETL_* settings."""
    return subprocess.run(
        fetch_cmd(data_dir, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
        cwd=data_dir,
    )


def test_fetch_prints_summary_and_json(server, tmp_path):
    site = Site(server, with_listing=False)
    proc = fetch(tmp_path, "--start-url", site.url("/sitemap.xml"), "--rate", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["new"] == len(SITEMAP_PAGES)
    assert summary["requests"] >= len(SITEMAP_PAGES) + 4
    assert "fetch: discovered" in proc.stderr
    assert (tmp_path / "raw" / "manifest.sqlite").exists()


def test_second_fetch_is_refused_while_one_holds_the_lock(tmp_path):
    with RunLock(tmp_path):
        proc = fetch(tmp_path, "--start-url", "http://127.0.0.1:9/sitemap.xml")
    assert proc.returncode == 3
    assert "another idf-etl run" in proc.stderr


def test_bad_setting_is_a_usage_error(tmp_path):
    proc = fetch(tmp_path, "--concurrency", "0")
    assert proc.returncode == 2
    assert "concurrency" in proc.stderr


@pytest.mark.slow
def test_sigkill_mid_crawl_leaves_a_readable_store_and_the_next_run_completes(server, tmp_path):
    site = Site(server, with_listing=False)
    # Many pages, served slowly enough to kill the crawl half-way.
    extra = {
        f"/project/p{i:03d}": site.bodies["/project/moldova"].replace(
            b"CE.0333", f"XX.{i:04d}".encode()
        )
        for i in range(60)
    }
    site.bodies.update(extra)
    for path in extra:
        server.expect_request(path).respond_with_handler(site._page)
    url_list = tmp_path / "urls.txt"
    url_list.write_text("\n".join(site.url(p) for p in extra))
    args = fetch_cmd(
        tmp_path / "data",
        "--start-url",
        site.url("/sitemap.xml"),
        "--url-list",
        str(url_list),
        "--allow-host",
        "127.0.0.1",
        "--rate",
        "20",
        "--concurrency",
        "1",
    )
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(), cwd=tmp_path
    )
    manifest = tmp_path / "data" / "raw" / "manifest.sqlite"
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and stored < 10:
        time.sleep(0.1)
        if manifest.exists():
            try:
                with sqlite3.connect(manifest) as db:
                    stored = db.execute(
                        "SELECT count(*) FROM pages WHERE sha256 IS NOT NULL"
                    ).fetchone()[0]
            except sqlite3.OperationalError:
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert 10 <= stored < len(extra) + len(SITEMAP_PAGES)

    with RawStore(tmp_path / "data" / "raw") as store:  # readable, every body whole
        pages = list(store.pages())
        assert len(pages) >= 10
        for page in pages:
            assert store.get_body(page.sha256)

    rerun = subprocess.run(
        [*args[:-4], "--rate", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["failed"] == 0
    with RawStore(tmp_path / "data" / "raw") as store:
        assert store.count() == len(extra) + len(SITEMAP_PAGES)


def test_set_flag_reaches_the_settings_and_bad_names_are_usage_errors(tmp_path):
    proc = fetch(tmp_path, "--set", "concurrency=0")
    assert proc.returncode == 2 and "concurrency" in proc.stderr
    proc = fetch(tmp_path, "--set", "nonsense=1")
    assert proc.returncode == 2 and "unknown setting 'nonsense' (known: " in proc.stderr
    proc = fetch(tmp_path, "--set", "rat=1")
    assert proc.returncode == 2 and "unknown setting 'rat'; did you mean 'rate'?" in proc.stderr
