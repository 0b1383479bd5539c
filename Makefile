# The two commands a newcomer runs are `make run` and `make test`; both install what they need
# into .venv from pyproject.toml on a machine that has only Python 3.11.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
ARGS ?=

.PHONY: run test test-fast lint bench bench-storage install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

install: $(DEV_STAMP)

## Start a broker on the embedded defaults (Kafka on 127.0.0.1:9092, data in ./data).
run: $(RUN_STAMP)
	$(BIN)/logbroker serve $(ARGS)

## Install everything and run the whole test suite.
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q

## Unit tests only (no broker processes).
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/interop --ignore=tests/fault

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy segments logbroker

## Storage-engine and broker benchmarks; figures go to bench/README.md.
bench: $(DEV_STAMP)
	$(BIN)/python bench/storage.py

bench-storage: bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
