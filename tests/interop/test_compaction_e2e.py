"""The log cleaner of a real broker compacts a compacted topic while it keeps serving, as Kafka's does."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.conftest import BrokerHandle

SEGMENT_BYTES = 1_048_576  # the smallest segment.bytes Kafka 4 accepts
KEYS = 10
ROUNDS = 40
VALUE_BYTES = 10_000  # about 100 records a segment: the rounds fill three closed segments and more


def _read_all(bootstrap: str, tp: TopicPartition, end: int) -> list[tuple[int, bytes, bytes]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + 20
    while (not got or got[-1][0] < end - 1) and time.monotonic() < deadline:
        got += [(m.offset, m.key, m.value) for batch in consumer.poll(timeout_ms=500).values() for m in batch]
    consumer.close()
    return got


def test_cleaner_keeps_the_latest_value_of_each_key(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(log_cleaner_backoff_ms="300")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic("compacted", 1, 1, topic_configs={
        "cleanup.policy": "compact", "segment.bytes": str(SEGMENT_BYTES), "min.cleanable.dirty.ratio": "0.01",
        "min.compaction.lag.ms": "0"})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
    latest: dict[bytes, bytes] = {}
    for r in range(ROUNDS):
        for k in range(KEYS):
            key, value = b"key-%d" % k, b"round-%03d-" % r + b"x" * VALUE_BYTES
            producer.send("compacted", key=key, value=value).get(10)
            latest[key] = value
    producer.close()
    end = ROUNDS * KEYS
    tp = TopicPartition("compacted", 0)
    deadline = time.monotonic() + 60
    got = _read_all(broker.bootstrap, tp, end)
    while len(got) > end // 2 and time.monotonic() < deadline:  # until the cleaner ran
        time.sleep(0.5)
        got = _read_all(broker.bootstrap, tp, end)
    assert len(got) <= end // 2, f"{len(got)} of {end} records remain: the cleaner did not run"
    offsets = [offset for offset, _, _ in got]
    assert offsets == sorted(set(offsets)) and offsets[-1] == end - 1  # offsets kept, with gaps
    newest = {key: value for _, key, value in got}
    assert newest == latest  # every key's latest value survives
    for key in latest:  # cleaned part: at most one record per key before the active segment's records
        assert sum(1 for _, k, _ in got if k == key) < ROUNDS
    if broker.kind == "logbroker":
        assert "log cleaner" in broker.log_text()
