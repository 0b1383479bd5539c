# The two commands a newcomer runs are `make run` and `make test`; both install what they need
# into .venv from pyproject.toml on a machine that has only Python 3.11.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
ARGS ?=

.PHONY: run cluster test test-slow test-java test-fast test-reference kafka-reference kafka-jars fault fault-cluster lint compat bench bench-limits bench-storage bench-compare bench-console bench-cluster bench-receive install clean

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

## Start a development broker (Kafka on 127.0.0.1:9092, data in ./data). Like the server.properties
## Kafka ships, it sets group.initial.rebalance.delay.ms=0 so a lone consumer joins at once; Kafka's code
## default (3000 ms) still applies to --config files that do not set it. ARGS come later and win.
run: $(RUN_STAMP)
	$(BIN)/logbroker serve --override group.initial.rebalance.delay.ms=0 $(ARGS)

## A local ZooKeeper and three brokers on 127.0.0.1 (Kafka 9092-9094, HTTP 8082-8084, data in ./cluster-data),
## until Ctrl-C. Needs ZooKeeper: apt-get install zookeeper (not zookeeperd). See docs/CLUSTER.md.
cluster: $(RUN_STAMP)
	$(BIN)/logbroker cluster $(ARGS)

## Install everything and run the whole test suite (but the Java interop tests: `make test-java`, the
## cluster fault runs: `make fault-cluster`, and the tests long by design: `make test-slow`; every area
## keeps its fast tests here), in
## TEST_WORKERS processes (pytest-xdist --dist loadgroup; tests/conftest.py's worker_group keeps a file whose
## tests share a fixture in one worker, so a module's shared broker is started once, and every cluster test in
## one worker, handed out first; any other test goes to whichever worker is free).
## TEST_WORKERS=0 runs it in this one process. A test over its time limit ends its worker
## (pytest-timeout's thread method): the signal method's exception can be swallowed by an asyncio event loop
## running the test's client, which then hangs forever.
TEST_WORKERS ?= 2
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --timeout-method=thread -m "not java and not cluster_fault and not slow"

## The tests marked slow, long by design and left out of `make test`: the HTTP API's schemathesis fuzzing
## against its OpenAPI document, the cluster tests that kill, restart or stall a broker or ZooKeeper (or
## walk a long scenario across three brokers), the kill -9, torn-tail, connection-flood and file-handle
## fault runs of tests/fault, and the longest interop and CLI runs (group members killed, every tool
## through each secured listener, consumers and producer state across a restart). In TEST_WORKERS
## processes grouped like `make test` (every cluster test in one worker); about 5 minutes.
test-slow: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --timeout-method=thread \
		-m "slow and not java and not cluster_fault"

## Kafka's Java clients, Kafka Streams and Kafka's command-line tools against logbroker (~5 minutes).
## Needs java (17+) and mvn: apt-get install default-jdk-headless maven. The first run downloads
## Kafka's jars from Maven Central into ~/.m2 and builds tests/java into tests/java/target.
test-java: $(DEV_STAMP)
	$(BIN)/python -m tests.interop.kafka_java
	$(BIN)/python -m pytest -q -m java tests/interop tests/cluster/integration

## Unit tests only (no broker processes).
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/interop --ignore=tests/fault --ignore=tests/cluster/integration \
		-m "not cluster_fault"

## kafka-python's own integration suite (from its PyPI sdist, cached outside the tree) against a fresh
## broker, with a pass/fail table; fails when a test that a single-node Kafka passes fails. About a minute.
compat: $(DEV_STAMP)
	$(BIN)/python compat/kafka_python.py $(ARGS)

## The fault suite's longer bounded runs (about 6 minutes at the default FAULT_SCALE=5): kill -9 under
## acks=all, torn and corrupted tails, disk full (tmpfs, as root), hostile frames, connection floods,
## file handles under ulimit -n 1024. Figures go to docs/reliability-figures.json and docs/RELIABILITY.md.
FAULT_SCALE ?= 5
fault: $(DEV_STAMP)
	LOGBROKER_FAULT_SCALE=$(FAULT_SCALE) LOGBROKER_FAULT_FIGURES=docs/reliability-figures.json \
		$(BIN)/python -m pytest -q tests/fault; status=$$?; \
		$(BIN)/python -m tests.fault.report docs/reliability-figures.json docs/RELIABILITY.md; exit $$status

## Faults on a three-broker cluster (RF=3, min.insync.replicas=2, acks=all, idempotent producers, a consumer
## group), each broker in its own network namespace (needs root and ZooKeeper; CI runs as root): kill -9 of the
## leader, the controller, a follower; rolling restart; ZooKeeper session expiry; links cut, flapping and a leader
## cut from its followers. A Jepsen-style checker looks for lost, duplicated and reordered records. About 3 minutes
## on a quiet machine at CLUSTER_FAULT_SCALE=1 (2 rounds per fault; 17 at load 20). Figures go to
## docs/cluster-fault-figures.json and docs/RELIABILITY.md.
CLUSTER_FAULT_SCALE ?= 1
fault-cluster: $(DEV_STAMP)
	LOGBROKER_FAULT_SCALE=$(CLUSTER_FAULT_SCALE) LOGBROKER_FAULT_FIGURES=docs/cluster-fault-figures.json \
		$(BIN)/python -m pytest -q -rxX -m cluster_fault tests/cluster/fault; status=$$?; \
		$(BIN)/python -m tests.cluster.fault.report docs/cluster-fault-figures.json docs/RELIABILITY.md; exit $$status

## The interop suite against Apache Kafka, the reference (needs java and mvn; jars are fetched
## once into ~/.cache/logbroker/kafka-<version>, or $$LOGBROKER_KAFKA_JARS). See docs/REFERENCE.md.
test-reference: $(DEV_STAMP) kafka-jars
	$(BIN)/python -m pytest -q tests/interop --broker=kafka -m "not java" $(ARGS)

## Start Apache Kafka (single-node KRaft, the reference's settings) on loopback in the foreground.
kafka-reference: $(DEV_STAMP) kafka-jars
	$(BIN)/python -m tests.kafka_reference run $(ARGS)

kafka-jars: $(DEV_STAMP)
	$(BIN)/python -m tests.kafka_reference fetch

## ruff, mypy (the code strictly, tests/ with check_untyped_defs) and vulture (dead code; reviewed
## false positives are listed in vulture_whitelist.py).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy segments logbroker tests bench
	$(BIN)/vulture logbroker segments vulture_whitelist.py --min-confidence 80

## Storage-engine and broker benchmarks; figures go to bench/README.md.
## Run one after the other (never in parallel: each would skew the other's figures).
bench: $(BENCH_STAMP)
	$(BIN)/python bench/limits.py
	$(BIN)/python bench/storage.py

## The broker against the machine's own limits (loopback TCP, disk, sendfile), then the same runs against
## Apache Kafka and Kafka's perf tools against both (ARGS=--no-kafka to skip), ~8-10 minutes;
## ARGS=--quick for a smoke run, ARGS='--profile --json out.json' for py-spy hot spots and JSON.
bench-limits: $(BENCH_STAMP)
	$(BIN)/python bench/limits.py $(ARGS)

## The storage engine alone against the same raw limits.
bench-storage: $(BENCH_STAMP)
	$(BIN)/python bench/storage.py

## logbroker versus Apache Kafka, NATS JetStream and RabbitMQ: 1 producer, 4 consumers, 100,000 messages of
## 100/500/1000 B, median of 3 runs, ~15 minutes here with every configuration; results (table, JSON, one plot
## per size, COMPARE.md) in bench/results/. Kafka runs after `make kafka-jars`; RabbitMQ and NATS if installed
## (as root: apt-get install -y rabbitmq-server nats-server); ARGS=--quick for a smoke test,
## ARGS='--configs confluent,kafka-confluent,...' for a subset, ARGS='--budget 9' to bound the time.
bench-compare: $(BENCH_STAMP)
	$(BIN)/python bench/compare.py $(ARGS)

## One broker, then a local ZooKeeper and three brokers: acks=all throughput and p99 latency with RF=1 and RF=3,
## failover time p50/p99 over 5 bounded leader kills (about 3 minutes; ARGS=--quick for a smoke run).
## Figures go to bench/README.md and bench/results/cluster.json. Needs ZooKeeper (apt-get install zookeeper).
bench-cluster: $(BENCH_STAMP)
	$(BIN)/python bench/cluster.py --write-readme $(ARGS)

## The Kafka listener's receive path: broker CPU per request and per GB, A/B between source trees, e.g.
## ARGS='--variant base=/tmp/base --variant new=. --rounds 5' (python bench/receive_bench.py -h), ~5 minutes.
bench-receive: $(BENCH_STAMP)
	$(BIN)/python bench/receive_bench.py $(ARGS)

## The console's pages timed in Debian's chromium on a 1,000-partition topic and a 1,000-member group
## (ARGS=--huge adds a 10,000-partition topic; ARGS='--screenshots docs/console' retakes the docs' PNGs).
bench-console: $(BENCH_STAMP)
	$(BIN)/python bench/console.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
