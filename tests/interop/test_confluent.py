"""confluent-kafka (librdkafka) against a real `logbroker serve`."""

from __future__ import annotations

import time
from typing import cast

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.expected import CODECS, Got, Sent, check_round_trip, make_records

N = 10_000


def produce(bootstrap: str, topic: str, records: list[Sent], codec: str) -> list[tuple[int, int]]:
    producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 5,
                         "enable.idempotence": True, "acks": "all"})
    acks: list[tuple[int, int]] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: object) -> None:
        if err is not None:
            errors.append(err)
        else:
            acks.append((msg.partition(), msg.offset()))  # type: ignore[attr-defined]

    for r in records:
        while True:
            try:
                producer.produce(topic, key=r.key, value=r.value, headers=list(r.headers), timestamp=r.timestamp,
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not errors, errors[:3]
    return acks


def consume_all(bootstrap: str, topic: str, partitions: int, expected: int, timeout_s: float = 60) -> list[Got]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-assign-only",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got: list[Got] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=5000, timeout=0.5):
            assert m.error() is None, m.error()
            partition, offset = m.partition(), m.offset()
            assert partition is not None and offset is not None
            # A consumed message's headers are a list of (str, bytes | None) pairs.
            headers = cast("tuple[tuple[str, bytes | None], ...]", tuple(m.headers() or ()))
            got.append(Got(partition, offset, m.key(), m.value(), headers, m.timestamp()[1]))
    consumer.close()
    return got


@pytest.fixture(scope="module")
def shared_broker(module_broker_factory: BrokerFactory) -> BrokerHandle:
    return module_broker_factory()


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_10k_records(shared_broker: BrokerHandle, codec: str) -> None:
    topic = f"ck-{codec}"
    admin = AdminClient({"bootstrap.servers": shared_broker.bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)]).values():
        f.result(20)
    records = make_records(N, f"ck-{codec}")
    acks = produce(shared_broker.bootstrap, topic, records, codec)
    assert len(acks) == N
    got = consume_all(shared_broker.bootstrap, topic, 4, N)
    check_round_trip(records, got)
    assert sorted((g.partition, g.offset) for g in got) == sorted(acks)


def test_metadata_and_watermarks(shared_broker: BrokerHandle) -> None:
    topic = "ck-watermarks"
    records = make_records(100, "wm")
    produce(shared_broker.bootstrap, topic, records, "none")  # auto-created, 1 partition
    consumer = Consumer({"bootstrap.servers": shared_broker.bootstrap, "group.id": "wm"})
    md = consumer.list_topics(topic, timeout=10)
    assert list(md.topics[topic].partitions) == [0]
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 100)
    found = consumer.offsets_for_times([TopicPartition(topic, 0, records[42].timestamp)], timeout=10)
    assert found[0].offset == 42
    consumer.close()


def test_admin_list_topics(shared_broker: BrokerHandle) -> None:
    # librdkafka 2.16's admin Metadata v13 request carries bytes after its body, which Kafka ignores.
    admin = AdminClient({"bootstrap.servers": shared_broker.bootstrap})
    for f in admin.create_topics([NewTopic("ck-listed", num_partitions=2, replication_factor=1)]).values():
        f.result(20)
    # Kafka answers CreateTopics once its controller has the topic; the broker's metadata cache learns
    # of it a moment later, so the next Metadata may not list it yet (logbroker's lists it at once).
    deadline = time.monotonic() + 20
    md = admin.list_topics(timeout=10)
    while "ck-listed" not in md.topics and time.monotonic() < deadline:
        time.sleep(0.1)
        md = admin.list_topics(timeout=10)
    assert sorted(md.topics["ck-listed"].partitions) == [0, 1]
    assert md.brokers
