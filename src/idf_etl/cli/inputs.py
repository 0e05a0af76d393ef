"""What `idf-etl parse` reads: a file, or an http(s) URL fetched politely.

The reader is handed to the parse job (parse/inputs.py), so the parse stage
never imports the fetcher; httpx is imported only when a URL is given.
"""

from __future__ import annotations

from idf_etl.parse.decoding import charset_of
from idf_etl.parse.inputs import read_file


def read_file_or_url(source: str) -> tuple[bytes, str | None, str | None]:
    """The bytes of a file or URL, the URL they came from, and the charset the server named."""
    if source[:8].lower().startswith(("http://", "https://")):  # HTTP:// is a URL too
        from idf_etl.fetch.site import fetch_url

        response = fetch_url(source)
        return response.body, response.url, charset_of(response.headers.get("content-type", ""))
    return read_file(source)
