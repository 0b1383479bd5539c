"""kafka-python 3 (pure Python, idempotent by default) against a real `logbroker serve`."""

from __future__ import annotations

import socket
import struct
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import (
    InvalidConfigurationError,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)

from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.expected import CODECS, Got, Sent, check_round_trip, make_records

N = 10_000


def produce(bootstrap: str, topic: str, records: list[Sent], codec: str) -> list[tuple[int, int]]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=None if codec == "none" else codec,
                             linger_ms=5, acks="all")
    futures = [producer.send(topic, key=r.key, value=r.value, headers=list(r.headers), timestamp_ms=r.timestamp)
               for r in records]
    producer.flush(60)
    out = [(f.get(30).partition, f.get(30).offset) for f in futures]
    producer.close(10)
    return out


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list[Got]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             auto_offset_reset="earliest")
    partitions = consumer.partitions_for_topic(topic)
    assert partitions
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    consumer.seek_to_beginning()
    got: list[Got] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        for tp, msgs in consumer.poll(timeout_ms=500, max_records=5000).items():
            for m in msgs:
                got.append(Got(tp.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp))
    consumer.close()
    return got


@pytest.fixture(scope="module")
def shared_broker(module_broker_factory: BrokerFactory) -> BrokerHandle:
    return module_broker_factory()


@pytest.fixture(scope="module")
def admin(shared_broker: BrokerHandle):  # type: ignore[no-untyped-def]
    client = KafkaAdminClient(bootstrap_servers=shared_broker.bootstrap)
    yield client
    client.close()


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_10k_records(shared_broker: BrokerHandle, admin: KafkaAdminClient, codec: str) -> None:
    topic = f"kp-{codec}"
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    records = make_records(N, f"kp-{codec}")
    acks = produce(shared_broker.bootstrap, topic, records, codec)
    assert len(acks) == N and len({p for p, _ in acks}) == 4
    got = consume_all(shared_broker.bootstrap, topic, N)
    check_round_trip(records, got)
    assert sorted((g.partition, g.offset) for g in got) == sorted(acks)


def test_auto_create_and_offsets(shared_broker: BrokerHandle) -> None:
    topic = "kp-auto-created"
    records = make_records(50, "auto")
    produce(shared_broker.bootstrap, topic, records, "none")
    consumer = KafkaConsumer(bootstrap_servers=shared_broker.bootstrap, group_id=None)
    tp = TopicPartition(topic, 0)
    assert consumer.partitions_for_topic(topic) == {0}
    assert consumer.beginning_offsets([tp])[tp] == 0
    assert consumer.end_offsets([tp])[tp] == 50
    found = consumer.offsets_for_times({tp: records[20].timestamp})[tp]
    assert found is not None and found.offset == 20 and found.timestamp == records[20].timestamp
    assert consumer.offsets_for_times({tp: records[-1].timestamp + 1})[tp] is None
    consumer.close()


def test_admin_topics_configs_partitions_records(shared_broker: BrokerHandle, admin: KafkaAdminClient) -> None:
    topic = "kp-admin"
    admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "3600000"})])
    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(topic, 2, 1)])
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all")
    text = repr(described)
    assert "retention.ms" in text and "3600000" in text and "segment.bytes" in text
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "7200000"})])
    assert "7200000" in repr(admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)]))
    admin.create_partitions({topic: NewPartitions(total_count=5)})
    consumer = KafkaConsumer(bootstrap_servers=shared_broker.bootstrap, group_id=None)
    assert consumer.partitions_for_topic(topic) == {0, 1, 2, 3, 4}
    consumer.close()

    producer = KafkaProducer(bootstrap_servers=shared_broker.bootstrap)
    for i in range(30):
        producer.send(topic, value=b"v%d" % i, partition=0)
    producer.flush()
    producer.close()
    result = admin.delete_records({TopicPartition(topic, 0): 10})
    assert result[TopicPartition(topic, 0)]["low_watermark"] == 10
    consumer = KafkaConsumer(bootstrap_servers=shared_broker.bootstrap, group_id=None)
    tp = TopicPartition(topic, 0)
    assert consumer.beginning_offsets([tp])[tp] == 10
    consumer.close()

    admin.delete_topics([topic])
    assert topic not in admin.list_topics()
    with pytest.raises(UnknownTopicOrPartitionError):
        admin.delete_topics([topic])


def test_oversized_record_rejected_and_broker_keeps_serving(shared_broker: BrokerHandle,
                                                            admin: KafkaAdminClient) -> None:
    topic = "kp-small-messages"
    admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "2000"})])
    producer = KafkaProducer(bootstrap_servers=shared_broker.bootstrap, max_request_size=10_000_000, retries=0)
    with pytest.raises(MessageSizeTooLargeError):
        producer.send(topic, value=b"x" * 50_000).get(20)
    ok = producer.send(topic, value=b"small").get(20)
    assert ok.offset == 0
    producer.close()


def test_garbage_bytes_close_only_that_connection(shared_broker: BrokerHandle) -> None:
    with socket.create_connection(("127.0.0.1", shared_broker.port), timeout=5) as s:
        s.sendall(struct.pack(">i", 40) + b"\xff" * 40)
        s.settimeout(5)
        assert s.recv(100) == b""  # closed by the broker
    with socket.create_connection(("127.0.0.1", shared_broker.port), timeout=5) as s:
        s.sendall(struct.pack(">i", 2_000_000_000))  # above socket.request.max.bytes
        s.settimeout(5)
        assert s.recv(100) == b""
    records = make_records(10, "after-garbage")
    produce(shared_broker.bootstrap, "kp-after-garbage", records, "none")
    assert len(consume_all(shared_broker.bootstrap, "kp-after-garbage", 10)) == 10
    if shared_broker.kind == "logbroker":
        assert "closing connection" in shared_broker.log_text()


def test_timestamp_bounds_refuse_old_and_future_records(shared_broker: BrokerHandle,
                                                         admin: KafkaAdminClient) -> None:
    """KIP-937: a topic with message.timestamp.before/after.max.ms answers INVALID_TIMESTAMP (32) to a
    batch whose CreateTime is too far from the broker's clock, and keeps taking records within it."""
    topic = "kp-timestamp-bounds"
    admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"message.timestamp.before.max.ms": "3600000",
                                                               "message.timestamp.after.max.ms": "60000"})])
    producer = KafkaProducer(bootstrap_servers=shared_broker.bootstrap, retries=0)
    now_ms = int(time.time() * 1000)
    with pytest.raises(InvalidTimestampError):
        producer.send(topic, value=b"old", timestamp_ms=now_ms - 2 * 3_600_000).get(20)
    with pytest.raises(InvalidTimestampError):
        producer.send(topic, value=b"future", timestamp_ms=now_ms + 10 * 60_000).get(20)
    ok = producer.send(topic, value=b"recent", timestamp_ms=now_ms - 60_000).get(20)
    producer.close()
    assert ok.offset == 0
    assert [g.value for g in consume_all(shared_broker.bootstrap, topic, 1, timeout_s=10)] == [b"recent"]


@pytest.mark.logbroker_only("Kafka implements these configs; logbroker refuses the values it does not honour")
@pytest.mark.parametrize(("name", "value"), [("compression.type", "gzip"), ("preallocate", "true"),
                                             ("file.delete.delay.ms", "60000")])
def test_configs_not_honoured_are_refused(admin: KafkaAdminClient, name: str, value: str) -> None:
    """A Kafka topic config the broker does not implement is refused with INVALID_CONFIG naming it."""
    topic = f"kp-refused-{name.replace('.', '-')}"
    with pytest.raises(InvalidConfigurationError, match=name.replace(".", r"\.")):
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={name: value})])
    admin.create_topics([NewTopic(topic, 1, 1)])
    result = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={name: value})])
    outcome = result["topic"][topic]
    assert outcome.startswith("[Error 40] InvalidConfigurationError") and f"configuration {name}" in outcome
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={name: None})],
                                       config_filter="all")
    entry = described["topic"][topic][name]
    assert entry["value"] != value and entry["config_source"] == "DEFAULT_CONFIG"
