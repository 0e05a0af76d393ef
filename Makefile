# Everything a newcomer needs: `make demo` (set up, run the main job on the
# embedded sample site) and `make test` (set up, run the tests).
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else a private copy installed on first use (no root needed).
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
UV_VERSION := 0.13.8
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install test lint conformance bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(BIN)/idf-etl: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/idf-etl ## create .venv with the locked dependencies

test: install ## run the test suite
	$(BIN)/pytest -q

lint: install ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

conformance: install ## score the parser on ../shared (when present)
	../shared/conformance/check

bench: install ## parser benchmark against BeautifulSoup and trafilatura
	$(UV) run --frozen --group bench python bench/bench_parse.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
