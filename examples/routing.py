"""Routing, the log way: by key within a topic, and by topic name with a regex subscription.

1. By key: records with the same key go to the same partition, so each customer's orders stay
   in order, and a consumer of one partition sees whole customers.
2. By topic pattern: topics named ``logs.<service>``; a consumer group subscribed to the regex
   ``logs\\..*`` receives every service's logs (and would pick up a new ``logs.*`` topic on its
   next metadata refresh) but not ``metrics.cpu``.

    python examples/routing.py --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import defaultdict
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

ORDERS = [("alice", "book"), ("bob", "lamp"), ("carol", "pen"), ("alice", "desk"), ("bob", "chair"),
          ("alice", "ink"), ("carol", "paper"), ("dave", "mug")]


def read_everything(consumer: KafkaConsumer, expected: int, seconds: float = 20) -> list[Any]:
    records: list[Any] = []
    deadline = time.monotonic() + seconds
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    return records


def by_key(bootstrap: str, admin: KafkaAdminClient, suffix: str) -> None:
    topic = f"orders-{suffix}"
    admin.create_topics({topic: {"num_partitions": 3}})
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for customer, item in ORDERS:
        producer.send(topic, key=customer.encode(), value=item.encode())
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    tps = [TopicPartition(topic, p) for p in range(3)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    records = read_everything(consumer, len(ORDERS))
    consumer.close()

    partitions_of: dict[str, set[int]] = defaultdict(set)
    items_of: dict[str, list[str]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        partitions_of[r.key.decode()].add(r.partition)
        items_of[r.key.decode()].append(r.value.decode())
    print("1. by key:")
    for customer in sorted(partitions_of):
        print(f"   {customer:6} -> partition {sorted(partitions_of[customer])}  orders in order: {items_of[customer]}")
    expected: dict[str, list[str]] = defaultdict(list)
    for customer, item in ORDERS:
        expected[customer].append(item)
    if any(len(p) != 1 for p in partitions_of.values()) or dict(items_of) != dict(expected):
        raise SystemExit("a customer's orders were split or reordered")


def by_pattern(bootstrap: str, admin: KafkaAdminClient, suffix: str) -> None:
    topics = [f"logs.web-{suffix}", f"logs.db-{suffix}", f"metrics.cpu-{suffix}"]
    admin.create_topics({t: {"num_partitions": 1} for t in topics})
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for t in topics:
        producer.send(t, value=f"a line from {t.split('-')[0]}".encode())
    producer.close()

    group = f"log-shipper-{suffix}"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             metadata_max_age_ms=1000)
    consumer.subscribe(pattern=rf"logs\..*-{suffix}")
    records = read_everything(consumer, 2)
    time.sleep(0.5)  # anything else (there should be nothing) would arrive now
    records += read_everything(consumer, 0, seconds=0)
    consumer.close()
    got = sorted(r.topic for r in records)
    print(f"2. by topic pattern logs\\..*: received from {[t.split('-')[0] for t in got]}")
    if got != sorted(topics[:2]):
        raise SystemExit(f"the pattern subscription read {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-server", default="localhost:9092")
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap_server)
    try:
        by_key(args.bootstrap_server, admin, suffix)
        by_pattern(args.bootstrap_server, admin, suffix)
        print("done: keys pick partitions, names pick topics")
    finally:
        ours = [t for t in admin.list_topics() if t.endswith(suffix)]
        if ours:
            admin.delete_topics(ours)
        admin.delete_groups([f"log-shipper-{suffix}"])
        admin.close()


if __name__ == "__main__":
    main()
