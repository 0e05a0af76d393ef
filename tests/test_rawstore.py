"""The raw store on its own: bodies once, manifest rows that never lose a body."""

from __future__ import annotations

import gzip

from idf_etl.rawstore import RawStore

URL = "https://www.iom.int/project/x"


def store_body(store, body, **kw):
    args = dict(
        status=200,
        headers={"etag": '"a"', "content-type": "text/html"},
        final_url=URL,
        canonical_url=None,
        sitemap_lastmod="2024-01-15T00:00:00+00:00",
    )
    args.update(kw)
    return store.record_body(URL, body=body, **args)


def test_same_body_is_stored_once_and_is_unchanged(tmp_path):
    with RawStore(tmp_path) as store:
        assert store_body(store, b"<html>one</html>") is True
        assert store_body(store, b"<html>one</html>") is False
        assert len(list((tmp_path / "objects").rglob("*.gz"))) == 1
        assert store_body(store, b"<html>two</html>") is True
        assert len(list((tmp_path / "objects").rglob("*.gz"))) == 2  # old versions stay


def test_failure_and_gone_keep_the_body(tmp_path):
    with RawStore(tmp_path) as store:
        store_body(store, b"<html>kept</html>")
        sha = store.get(URL).sha256
        store.record_failure(URL, "timed out")
        assert (store.get(URL).sha256, store.get(URL).error) == (sha, "timed out")
        store.record_gone(URL, 404)
        page = store.get(URL)
        assert (page.sha256, page.gone, page.status) == (sha, 1, 404)
        assert store.get_body(sha) == b"<html>kept</html>"
        store_body(store, b"<html>kept</html>")
        assert (store.get(URL).gone, store.get(URL).error) == (0, None)  # back on the site


def test_not_modified_refreshes_validators_and_lastmod(tmp_path):
    with RawStore(tmp_path) as store:
        store_body(store, b"<html>x</html>")
        store.record_not_modified(
            URL, headers={"etag": '"b"'}, sitemap_lastmod="2024-02-01T00:00:00+00:00"
        )
        page = store.get(URL)
        assert (page.etag, page.sitemap_lastmod) == ('"b"', "2024-02-01T00:00:00+00:00")
        store.record_not_modified(URL, headers={}, sitemap_lastmod=None)  # nothing new: keep
        assert store.get(URL).etag == '"b"'


def test_bodies_are_plain_gzip_files(tmp_path):
    with RawStore(tmp_path) as store:
        sha = store.put_body(b"hello")
        assert gzip.decompress(store.path_for(sha).read_bytes()) == b"hello"
        assert store.count() == 0  # a body alone is not a page
