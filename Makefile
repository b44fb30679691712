# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export BISTRO_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
export BISTRO_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run test test-tools test-fast lint typecheck bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Set up everything and run the service on SQLite with demo data at http://127.0.0.1:5000
run: install
	BISTRO_DEMO=true $(BIN)/bistro db upgrade
	BISTRO_DEMO=true $(BIN)/bistro serve

## Set up everything and run the whole suite (SQLite, PostgreSQL, Redis, browser), lint and types
test: install test-tools
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider

## The browser test needs Debian's Chromium, the metrics tests promtool (CI runs as root).
test-tools:
	@command -v /usr/bin/chromium >/dev/null || apt-get install -y chromium
	@command -v promtool >/dev/null || apt-get install -y prometheus

test-fast: install
	$(BIN)/pytest -q -x -m "not slow and not browser"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/bench_service.py

## Mutation testing of the modules in pyproject's [tool.mutmut]; prints each score and survivor
mutation: install
	$(BIN)/python scripts/mutation.py

clean:
	rm -rf mutants $(VENV) *.db .pytest_cache .mypy_cache .ruff_cache
