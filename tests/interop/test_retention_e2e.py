"""The retention sweeper of a real broker deletes expired segments and advances the log start offset."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.conftest import BrokerHandle


def test_time_retention_deletes_old_segments(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(log_retention_check_interval_ms="300")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.create_topics([NewTopic("expiring", 1, 1, topic_configs={"retention.ms": "60000", "segment.bytes": "2000"})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0)
    old = int(time.time() * 1000) - 3_600_000  # an hour ago: past retention.ms
    for i in range(40):
        producer.send("expiring", value=b"old-%03d" % i + b"x" * 200, timestamp_ms=old + i).get(10)
    for i in range(5):
        producer.send("expiring", value=b"new-%03d" % i + b"x" * 200).get(10)
    producer.close()
    tp = TopicPartition("expiring", 0)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    deadline = time.monotonic() + 15
    start = 0
    while time.monotonic() < deadline:
        start = consumer.beginning_offsets([tp])[tp]
        if start >= 35:
            break
        time.sleep(0.2)
    assert start >= 35, f"log start offset stayed at {start}"
    assert consumer.end_offsets([tp])[tp] == 45
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    values = [m.value for batch in consumer.poll(timeout_ms=3000).values() for m in batch]
    consumer.close()
    assert values and all(v.startswith((b"old-03", b"new-")) for v in values)
    assert sum(v.startswith(b"new-") for v in values) == 5
    assert "retention sweep" in broker.log_text()
