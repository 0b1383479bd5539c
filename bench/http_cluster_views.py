"""Latency of an HTTP partition view that asks other brokers: ``GET /topics/{topic}/partitions`` on a
broker of a three-broker cluster that holds a third of the topic's partitions, the rest asked of
their leaders over the inter-broker listener.

    .venv/bin/python bench/http_cluster_views.py [--requests 300] [--partitions 6]

All on 127.0.0.1: a ZooKeeper (Debian's package) and three ``logbroker serve`` brokers; a topic of
``--partitions`` partitions with replication factor 1 (each broker leads and holds a third), a few
records in each. One HTTP client on a kept-alive connection to broker 1 asks the view ``--requests``
times in a row (after 10 not counted) and records each answer's latency; the connections the other
brokers' Kafka listeners accepted meanwhile are counted from their ``/metrics``. Run it against two
trees (``PYTHONPATH``) to compare. Bounded: every wait has a time limit; everything started is stopped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from harness import ROOT, Broker, free_port, loadavg, machine_line, percentile

sys.path.insert(0, str(ROOT))
from logbroker.cluster.zkserver import LocalZooKeeper, available

TOPIC = "viewed"
WARMUP = 10


def _get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path)
    answer = conn.getresponse()
    body = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"GET {path}: {answer.status} {body[:200]!r}")
    return body


def _connections(http_port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    try:
        text = _get(conn, "/metrics").decode()
    finally:
        conn.close()
    line = next(ln for ln in text.splitlines() if ln.startswith("logbroker_kafka_connections_total"))
    return int(float(line.split()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    missing = available()
    if missing is not None:
        sys.exit(missing)
    root = Path(tempfile.mkdtemp(prefix="http-cluster-views-"))
    zk = LocalZooKeeper(root / "zookeeper", free_port()).start()
    brokers: dict[int, Broker] = {}
    try:
        for i in (1, 2, 3):
            brokers[i] = Broker(root / f"broker{i}", overrides={
                "zookeeper.connect": zk.connect, "node.id": str(i), "zookeeper.session.timeout.ms": "6000"}).start()
        bootstrap = ",".join(b.bootstrap for b in brokers.values())
        admin = AdminClient({"bootstrap.servers": bootstrap})
        deadline = time.monotonic() + 30
        while len(admin.list_topics(timeout=10).brokers) < 3:  # all registered: the topic spreads over three
            if time.monotonic() > deadline:
                raise RuntimeError("three brokers not registered in time")
            time.sleep(0.2)
        admin.create_topics([NewTopic(TOPIC, args.partitions, 1)])[TOPIC].result(30)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        deadline = time.monotonic() + 60
        for p in range(args.partitions):
            for i in range(5):
                producer.produce(TOPIC, value=b"v%d" % i, partition=p)
        if producer.flush(max(deadline - time.monotonic(), 1)) != 0:
            raise RuntimeError("records not acknowledged in time")
        conn = http.client.HTTPConnection("127.0.0.1", brokers[1].http_port, timeout=30)
        path = f"/topics/{TOPIC}/partitions"
        for _ in range(WARMUP):
            rows = json.loads(_get(conn, path))["partitions"]
        if any("error" in r for r in rows):
            raise RuntimeError(f"a leader did not answer: {rows}")
        before = {i: _connections(brokers[i].http_port) for i in (2, 3)}
        latencies: list[float] = []
        started = time.perf_counter()
        for _ in range(args.requests):
            t0 = time.perf_counter()
            _get(conn, path)
            latencies.append((time.perf_counter() - t0) * 1000)
        wall = time.perf_counter() - started
        after = {i: _connections(brokers[i].http_port) for i in (2, 3)}
        conn.close()
        del producer, admin  # their connections go before the brokers stop
        latencies.sort()
        print(machine_line())
        print(f"load before/after: {loadavg()}")
        elsewhere = sorted({r["leader"] for r in rows if r["leader"] != 1})
        asked = sum(1 for r in rows if r["leader"] != 1)
        print(f"GET {path} on broker 1 ({args.partitions} partitions, {asked} asked of leaders {elsewhere}), "
              f"{args.requests} requests in {wall:.1f} s")
        print(f"  latency ms: p50 {percentile(latencies, 50):.2f}  p90 {percentile(latencies, 90):.2f}  "
              f"p99 {percentile(latencies, 99):.2f}  max {latencies[-1]:.2f}  "
              f"mean {sum(latencies) / len(latencies):.2f}")
        print(f"  connections accepted meanwhile: broker 2 {after[2] - before[2]}, broker 3 {after[3] - before[3]}")
    finally:
        for b in brokers.values():
            b.stop()
        zk.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
