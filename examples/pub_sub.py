"""Publish/subscribe: two consumer groups each see every record.

A group is one subscriber: its members share the partitions, but different groups read the
same log independently, each with its own committed offsets. Here "billing" and "audit" both
receive all five events, and reading does not remove anything.

    python examples/pub_sub.py --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

EVENTS = ["signup alice", "signup bob", "order alice #1", "order bob #2", "refund alice #1"]


def subscriber(bootstrap: str, topic: str, group: str, seen: list[str], stop: threading.Event) -> None:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    try:
        while not stop.is_set() and len(seen) < len(EVENTS):
            batch = consumer.poll(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    seen.append(record.value.decode())
                    print(f"  {group:8} got {record.value.decode()!r}")
            if batch:
                consumer.commit()
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-server", default="localhost:9092")
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    topic = f"events-{suffix}"
    groups = [f"billing-{suffix}", f"audit-{suffix}"]

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap_server)
    admin.create_topics({topic: {"num_partitions": 2}})
    producer = KafkaProducer(bootstrap_servers=args.bootstrap_server)
    for event in EVENTS:
        producer.send(topic, key=event.split()[1].encode(), value=event.encode())
    producer.close()
    print(f"published {len(EVENTS)} events to {topic}")

    seen: dict[str, list[str]] = {g: [] for g in groups}
    stop = threading.Event()
    threads = [threading.Thread(target=subscriber, args=(args.bootstrap_server, topic, g, seen[g], stop))
               for g in groups]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        admin.delete_topics([topic])
        admin.delete_groups(groups)
        admin.close()
    for g in groups:
        if sorted(seen[g]) != sorted(EVENTS):
            raise SystemExit(f"{g} saw {seen[g]}, expected every event")
        print(f"{g}: all {len(seen[g])} events")
    print("done: each group read the whole log on its own")


if __name__ == "__main__":
    main()
