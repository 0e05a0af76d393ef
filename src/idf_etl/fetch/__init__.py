"""Fetch: find the project pages and download them, politely, into the raw store.

Start at `site.py` (`fetch_site`, `fetch_url`: what the CLI and the pipeline call).

- `site.py`       the stage's entries: a whole crawl, or one URL
- `crawl.py`      what to ask for: which pages, which to leave alone, what each answer means
- `discovery.py`  the start points (sitemaps, listings, URL lists) fetched and read into pages to check
- `link_lists.py` pure readers of link lists: sitemap XML, listing pages, URL list files
- `client.py`     how we ask: robots.txt, redirects, retries with backoff, deadlines, size caps
- `robots.py`     robots.txt read: its answer to rules, its Crawl-delay to a pace (pure)
- `pacing.py`     one host's pace, Retry-After, and naming a transport error
- `encoding.py`   a body's Content-Encoding undone under the size cap, never cut short unnoticed
- `codings.py`    gzip, deflate, br and zstd, each undone a bounded piece at a time
- `framing.py`    bytes past an answer's declared end: its page fails, its connection is dropped
- `headers.py`    what we send back of what a server said: validators if sendable, never cookies
- `outcomes.py`   what a fetch did: one outcome per page, the summary of a crawl
- `archive.py`    a web archive's captures: listed (CDX), new ones fetched (replay), politely

This `__init__` imports nothing, so importing a module of this package pays
only for that module.
"""
