# Everything a newcomer needs: `make demo` (set up, run the main job on the
# embedded sample site) and `make test` (set up, run the tests).
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else a private copy installed on first use (no root needed).
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
UV_VERSION := 0.13.8
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install pywb test test-fast lint conformance demo duckdb run status bench bench-fetch bench-load bench-report browser spreadsheet faketime screenshot docs clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# Compiled bytecode installed, as pip does and uv does not by default: where
# PYTHONDONTWRITEBYTECODE is set (Docker images, CI), Python would otherwise compile every
# module on every start, 0.5 s of each `idf-etl` command and of each worker pool. (Only
# here: `uv run` would compile all of site-packages again on every call.)
$(BIN)/idf-etl: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: $(BIN)/idf-etl ## create .venv with the locked dependencies
	@$(BIN)/python -m compileall -q src

# pywb (the Wayback server the backfill tests run) in an environment of its own: it pins
# older libraries than ours.
PYWB := .tools/pywb/bin/wayback
$(PYWB): tests/pywb-requirements.txt | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) .tools/pywb
	$(UV) pip install -q --python .tools/pywb/bin/python -r tests/pywb-requirements.txt
	@touch $@

pywb: $(PYWB) ## the Wayback server (pywb) the backfill tests start

# Three test processes (pytest-xdist): most tests wait on servers and subprocesses, so even
# a 2-core machine runs the suite in about half the time.
test: install pywb ## run the whole test suite (what CI runs; it lists the 25 slowest tests)
	$(BIN)/pytest -q -n 3 --durations=25

test-fast: install pywb ## the inner loop: every test but the slow end-to-end ones
	$(BIN)/pytest -q -n 3 -m "not slow"

lint: install ## ruff, mypy, the import layers (import-linter) and the documentation site (strict)
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/mkdocs build --strict --quiet

# The demo keeps its own data directory: its 127.0.0.1 pages never mix with the live
# site's in data/ (a run refuses a data directory that holds another site's pages).
DEMO_DATA := demo/data
# `make duckdb` opens DATA_DIR's warehouse in the DuckDB CLI (read-only), run by the uv the
# Makefile uses (on PATH or .tools/bin): `make duckdb DATA_DIR=demo/data` after make demo.
DATA_DIR ?= data

demo: install ## serve the embedded sample site on 127.0.0.1 and run the real pipeline on it, into demo/data
	$(BIN)/python demo/run_demo.py --data-dir $(DEMO_DATA)

duckdb: $(UV) ## the DuckDB CLI on DATA_DIR's warehouse, read-only (make duckdb DATA_DIR=demo/data)
	@test -f "$(DATA_DIR)/clean/idf.duckdb" || { echo "duckdb: no warehouse at $(DATA_DIR)/clean/idf.duckdb: make demo (then DATA_DIR=$(DEMO_DATA)) or make run first" >&2; exit 2; }
	$(UV) tool run --from duckdb-cli duckdb -readonly "$(DATA_DIR)/clean/idf.duckdb"

run: install ## the real job against the live site (a first full crawl takes 25-50 minutes)
	$(BIN)/idf-etl run --config pipelines/iom_idf.toml

status: install ## the last runs and what failed
	$(BIN)/idf-etl status

conformance: install ## score the parser on ../shared (when present)
	../shared/conformance/check

bench: install ## parser benchmark against BeautifulSoup and trafilatura, in-process and through `idf-etl parse`
	$(UV) run --frozen --group bench python bench/bench_parse.py

bench-fetch: install ## crawler benchmark against Scrapy on a local mirror
	$(UV) run --frozen --group bench python bench/bench_fetch.py --pages 1000 3000

bench-report: install ## the report's size and build time on the demo and on 3,000 projects
	$(UV) run --frozen --group bench python bench/bench_report.py

# The report's browser tests drive Debian's chromium (Playwright's own browser builds
# cannot be downloaded here). Installed when missing and apt is usable (root); otherwise
# those tests skip and say why. Never fails: a machine without apt still runs the rest.
browser: ## install Debian's chromium for the report's browser tests, if it is missing
	@if command -v chromium >/dev/null; then echo "browser: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium >/dev/null) \
		|| echo "browser: apt-get could not install chromium; the browser tests will be skipped"; \
	else echo "browser: no chromium and no apt-get as root; the browser tests will be skipped"; fi

# The CSV export's spreadsheet tests open the files in LibreOffice Calc (headless), and the
# release-pruning tests set the clock back with faketime: Debian's packages, installed as
# `browser` installs chromium; without them those tests skip and say why.
spreadsheet: ## install LibreOffice Calc (headless) for the CSV export's spreadsheet tests, if missing
	@$(MAKE) --no-print-directory apt-tool TOOL=soffice PACKAGE=libreoffice-calc-nogui WHAT="spreadsheet"

faketime: ## install faketime for the tests that run the CLI with the clock set back, if missing
	@$(MAKE) --no-print-directory apt-tool TOOL=faketime PACKAGE=faketime WHAT="faketime"

apt-tool:
	@if command -v $(TOOL) >/dev/null; then echo "$(WHAT): $$(command -v $(TOOL))"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq $(PACKAGE) >/dev/null) \
		|| echo "$(WHAT): apt-get could not install $(PACKAGE); those tests will be skipped"; \
	else echo "$(WHAT): no $(TOOL) and no apt-get as root; those tests will be skipped"; fi

screenshot: install ## the docs' pictures of the report's top at phone and laptop widths: make demo first
	$(BIN)/python demo/browser.py $(DEMO_DATA)/clean/report.html docs/report-400.png --width 400 --height 2600
	$(BIN)/python demo/browser.py $(DEMO_DATA)/clean/report.html docs/report-1400.png --width 1400 --height 1900

# The documentation site (mkdocs.yml, docs/): strict, so a broken link or anchor, or a data
# dictionary that differs from `idf-etl schema` (docs/hooks.py), fails the build.
docs: install ## build the documentation site into site/ (mkdocs --strict)
	$(BIN)/mkdocs build --strict --quiet

bench-load: install ## run --from-raw over 3,000/10,000/30,000 stored pages (pages/s, peak RSS), workers 1 vs all (best of 3), the nightly unchanged run, loader rows/s
	$(UV) run --frozen --group bench python bench/bench_load.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
