"""The retention sweeper of a real broker deletes expired segments and advances the log start offset."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.conftest import BrokerHandle

SEGMENT_BYTES = 1_048_576  # the smallest segment.bytes Kafka 4 accepts
OLD, NEW = 300, 5
VALUE_BYTES = 10_000  # about 100 records a segment: the old ones fill two segments and part of a third


def test_time_retention_deletes_old_segments(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(log_retention_check_interval_ms="300")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic("expiring", 1, 1, topic_configs={"retention.ms": "60000",
                                                                   "segment.bytes": str(SEGMENT_BYTES)})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
    old = int(time.time() * 1000) - 3_600_000  # an hour ago: past retention.ms
    for i in range(OLD):
        producer.send("expiring", value=b"old-%03d-" % i + b"x" * VALUE_BYTES, timestamp_ms=old + i).get(10)
    for i in range(NEW):
        producer.send("expiring", value=b"new-%03d-" % i + b"x" * 200).get(10)
    producer.close()
    tp = TopicPartition("expiring", 0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    deadline = time.monotonic() + 20
    start = 0
    while time.monotonic() < deadline:
        start = consumer.beginning_offsets([tp])[tp]
        if start >= 2 * OLD // 3:  # the two segments holding only expired records are gone
            break
        time.sleep(0.2)
    assert 2 * OLD // 3 <= start <= OLD, f"log start offset is {start}"
    assert consumer.end_offsets([tp])[tp] == OLD + NEW
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + 20
    while len(got) < OLD + NEW - start and time.monotonic() < deadline:
        got += [(m.offset, m.value) for batch in consumer.poll(timeout_ms=500).values() for m in batch]
    consumer.close()
    assert [offset for offset, _ in got] == list(range(start, OLD + NEW))  # from the new start, nothing missing
    assert [v[:8] for _, v in got[-NEW:]] == [b"new-%03d-" % i for i in range(NEW)]
    if broker.kind == "logbroker":
        assert "retention sweep" in broker.log_text()
