"""What the raw store's files hold is outside input: a manifest or an object edited, damaged
or planted by hand. Each value read back from them is read whole or not at all, and one
page's cannot stop a run (adversary, #22: a manifest time of year 99999 stopped every run
with a traceback; a gzip of 1 GB of zeros took a parse worker to 2 GB)."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from unittest import mock

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from idf_etl.errors import StoreError
from idf_etl.rawformat import MAX_BYTES_CEILING, object_path, read_body, stored_time
from idf_etl.rawstore import RawStore
from tests.helpers.cli import idf_etl
from tests.helpers.drupal_pages import drupal_page, field_html
from tests.helpers.raw_pages import store_pages

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
iso_like = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"-?\d{1,6}-\d{1,2}-\d{1,2}([T ]\d{2}:\d{2}(:\d{2})?)?([+-]\d{2}:\d{2}|Z)?"),
    moments.map(lambda m: m.isoformat()),
    st.builds(
        lambda m, h: m.replace(tzinfo=None).isoformat() + f"{h:+03d}:00",
        moments,
        st.integers(-23, 23),
    ),
)


@given(iso_like)
def test_a_stored_time_reads_as_a_utc_time_or_as_unknown(text):
    when = stored_time(text)
    assert when is None or when.utcoffset() == timedelta(0)


@given(moments)
def test_a_time_idf_etl_wrote_reads_back_as_it_was(moment):
    assert stored_time(moment.isoformat()) == moment
    assert stored_time(moment.replace(tzinfo=None).isoformat()) == moment  # no zone: UTC


@pytest.mark.parametrize("value", [None, 12, b"2024-01-01", "", "x" * 41])
def test_what_is_no_time_text_is_unknown(value):
    assert stored_time(value) is None


def test_a_body_that_unpacks_past_the_ceiling_is_damaged_and_read_no_further(tmp_path):
    sha = "ab" * 32
    path = object_path(tmp_path, sha)
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wb", compresslevel=1) as gz:
        for _ in range(MAX_BYTES_CEILING // 2**20 + 1):
            gz.write(bytes(2**20))
    with (
        mock.patch("gzip.GzipFile.read", autospec=True, side_effect=gzip.GzipFile.read) as read,
        pytest.raises(StoreError, match="unpacks to more than"),
    ):
        read_body(tmp_path, sha)
    assert all(call.args[1] == MAX_BYTES_CEILING + 1 for call in read.call_args_list)


GARBLED = ["99999-01-01", "garbage", "9999-12-31T23:59:59-14:00", "2024-13-45", "\x00", "1e308"]


@pytest.mark.slow
def test_garbled_manifest_times_and_a_planted_object_fail_only_their_pages(tmp_path):
    data = tmp_path / "data"
    urls = [f"https://developmentfund.iom.int/project/p{i}" for i in range(len(GARBLED) + 2)]
    pages = []
    for i, url in enumerate(urls):
        fields = [field_html("Project ID", f"CE.{i:04d}"), field_html("IDF Region", "Africa")]
        pages.append((url, drupal_page(fields, title=f"Project {i}").encode()))
    store_pages(data / "raw", pages)
    with RawStore(data / "raw") as raw:
        bomb = raw.get(urls[-1]).sha256
    with sqlite3.connect(data / "raw" / "manifest.sqlite") as db:
        for url, value in zip(urls, GARBLED, strict=False):
            db.execute(
                "UPDATE pages SET fetched_at = ?, checked_at = ?, changed_at = ? WHERE url = ?",
                (value, value[::-1], value, url),
            )
    with gzip.open(object_path(data / "raw" / "objects", bomb), "wb", compresslevel=1) as gz:
        for _ in range(MAX_BYTES_CEILING // 2**20 + 1):
            gz.write(bytes(2**20))

    flags = ("--data-dir", str(data), "--set", "report=false")
    done = idf_etl("run", "--from-raw", "--json", *flags, cwd=tmp_path)
    assert "Traceback" not in done.stderr
    # Published; the planted object's page is a failure the exit status says (1 of 8).
    assert done.returncode == 1, done.stderr[-2000:]
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["outcome"] == "failures" and summary["published"]
    with duckdb.connect(str(data / "clean" / "idf.duckdb"), read_only=True) as con:
        loaded = {u for (u,) in con.execute("SELECT url FROM project_pages").fetchall()}
        unreadable = con.execute(
            "SELECT url, message FROM issues WHERE code = 'unreadable_page'"
        ).fetchall()
    assert loaded == set(urls[:-1])  # every page with a garbled time, none lost
    assert [u for u, _ in unreadable] == [urls[-1]]
    assert "unpacks to more than" in unreadable[0][1]


@pytest.mark.parametrize("where", ["missing", "empty directory", "a raw dir with no manifest"])
def test_run_from_raw_without_a_raw_store_says_so_and_makes_nothing(tmp_path, where):
    data = tmp_path / "typo"
    if where != "missing":
        data.mkdir()
    if where == "a raw dir with no manifest":
        (data / "raw").mkdir()
    done = idf_etl("run", "--from-raw", "--data-dir", str(data), cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "idf-etl: no raw store at" in done.stderr and "Traceback" not in done.stderr
    made = {p.name for p in tmp_path.rglob("*")}
    assert not made & {"clean", "manifest.sqlite", "idf.duckdb"}  # nothing published or stored
    assert ("typo" in made) == (where != "missing")  # a mistyped directory is not made
