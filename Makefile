# The two commands a newcomer runs are `make run` and `make test`; both install what they need
# into .venv from pyproject.toml on a machine that has only Python 3.11.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
ARGS ?=

.PHONY: run test test-fast lint bench bench-limits bench-storage bench-compare bench-console install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@ $(DEV_STAMP) $(RUN_STAMP)

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
## Run one after the other (never in parallel: each would skew the other's figures).
bench: $(BENCH_STAMP)
	$(BIN)/python bench/limits.py
	$(BIN)/python bench/storage.py

## The broker against the machine's own limits (loopback TCP, disk, sendfile), ~4-5 minutes;
## ARGS=--quick for a smoke run, ARGS='--profile --json out.json' for py-spy hot spots and JSON.
bench-limits: $(BENCH_STAMP)
	$(BIN)/python bench/limits.py $(ARGS)

## The storage engine alone against the same raw limits.
bench-storage: $(BENCH_STAMP)
	$(BIN)/python bench/storage.py

## logbroker versus RabbitMQ: 1 producer, 4 consumers, 100,000 messages of 100/500/1000 B, median of 3 runs,
## ~7 minutes here; results (table, JSON, one plot per size, COMPARE.md) in bench/results/. RabbitMQ runs if
## installed (as root: apt-get install -y rabbitmq-server); ARGS=--quick for a smoke test.
bench-compare: $(BENCH_STAMP)
	$(BIN)/python bench/compare.py $(ARGS)

## The console's pages timed in Debian's chromium on a 1,000-partition topic and a 1,000-member group
## (ARGS=--huge adds a 10,000-partition topic; ARGS='--screenshots docs/console' retakes the docs' PNGs).
bench-console: $(BENCH_STAMP)
	$(BIN)/python bench/console.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
