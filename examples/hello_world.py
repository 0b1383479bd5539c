"""Hello, log: write three records to a topic and read them back.

A topic is an append-only log. A producer appends records; a consumer reads them from any
position it likes: here from the beginning, without a consumer group.

    python examples/hello_world.py --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-server", default="localhost:9092")
    args = parser.parse_args()
    topic = f"hello-{uuid.uuid4().hex[:8]}"

    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap_server)
    admin.create_topics({topic: {"num_partitions": 1}})
    try:
        producer = KafkaProducer(bootstrap_servers=args.bootstrap_server)
        for word in ("hello", "log", "world"):
            meta = producer.send(topic, value=word.encode()).get(timeout=10)
            print(f"sent {word!r:8} -> {topic}[{meta.partition}] offset {meta.offset}")
        producer.close()

        consumer = KafkaConsumer(bootstrap_servers=args.bootstrap_server, group_id=None)
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        received: list[str] = []
        deadline = time.monotonic() + 10
        while len(received) < 3 and time.monotonic() < deadline:
            for record in consumer.poll(timeout_ms=500).get(tp, []):
                received.append(record.value.decode())
                print(f"read offset {record.offset}: {record.value.decode()!r}")
        consumer.close()
        if received != ["hello", "log", "world"]:
            raise SystemExit(f"expected the three records back in order, got {received}")
        print("done: the log kept the records, in order, for any reader")
    finally:
        admin.delete_topics([topic])
        admin.close()


if __name__ == "__main__":
    main()
