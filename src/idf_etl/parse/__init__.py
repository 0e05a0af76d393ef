"""Parse: one page's bytes into one typed record, as a pure function.

Start at `page.py` (`parse_page`). The flow inside: bytes -> text
(`decoding.py`) -> an ordered stream of text blocks (`blocks.py`, reading
`markup.py`'s selectors) -> label/value pairs and value shapes
(`extract.py`, `unlabelled.py`, reading `vocabulary.py`) -> canonical values (`normalise.py`,
`countries.py`, `project_types.py`) -> a `ProjectRecord` or an `OtherPage` (`idf_etl.records`).

- `page.py`       `parse_page`: the function behind `idf-etl parse`, and the record's assembly
- `decoding.py`   bytes to text: BOM, declared charset, <meta charset>, UTF-8, cp1252
- `blocks.py`     a page (HTML or plain text) to its main content's ordered text blocks
- `markup.py`     what the site's HTML looks like, as data: content selectors, furniture
- `head.py`       the page's <head> links: Drupal node id, canonical and translation links
- `extract.py`    fields from the blocks: `extract`, labelled pairs, title, description
- `unlabelled.py` fields from blocks without labels: template C's value shapes, the label-less layout
- `extracted.py`  what a page says as written (`Extracted`); what every reader asks of a block
- `vocabulary.py` the site's words as data: labels, value words, id shapes
- `project_types.py` the fund's type families: id letters, labels per language, a page's family
- `normalise.py`  a value as written to its canonical form (status, region, money, years)
- `countries.py`  country names as written to ISO 3166-1 alpha-2 codes
- `english_names.py` the English name IOM and the UN write for each code (the warehouse's)
- `inputs.py`     what a parse worker runs: one stored page or one `idf-etl parse` input

Nothing here imports httpx, DuckDB or the pipeline: the parse workers and
`idf-etl parse` start fast. This `__init__` imports nothing.
"""
