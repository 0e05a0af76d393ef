"""What `idf-etl parse` reads: a file, or an http(s) URL fetched politely.

The reader is handed to the parse job (parse/inputs.py), so the parse stage
never imports the fetcher; httpx is imported only when a URL is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idf_etl.parse.decoding import charset_of
from idf_etl.parse.inputs import read_file

if TYPE_CHECKING:
    from idf_etl.config import Settings


def read_file_or_url(source: str) -> tuple[bytes, str | None, str | None]:
    """The bytes of a file or URL, the URL they came from, and the charset the server named."""
    if source[:8].lower().startswith(("http://", "https://")):  # HTTP:// is a URL too
        from idf_etl.fetch.site import fetch_url

        response = fetch_url(source, url_settings(source))
        return response.body, response.url, charset_of(response.headers.get("content-type", ""))
    return read_file(source)


def url_settings(url: str) -> Settings:
    """The settings every command reads (the pipeline file, then IDF_ETL_* variables), with
    the URL's host the one allowed. Before, `parse URL` took the defaults whatever was set:
    a user's user_agent and timeouts were not used, and a server that refused was tried
    for 25-40 s (IDF_ETL_MAX_RETRIES=0 now says "once")."""
    from idf_etl.errors import FetchError
    from idf_etl.settings_sources import load_settings
    from idf_etl.urls import netloc, url_refusal

    host = netloc(url)  # the URL's host as the settings read one, or no URL to fetch
    if not host:
        raise FetchError(f"{url}: {url_refusal(url)}")
    return load_settings(overrides={"allowed_hosts": [host]})
