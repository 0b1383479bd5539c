"""aiokafka (asyncio; old, non-flexible API versions) against a real `logbroker serve`."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.expected import CODECS, Got, check_round_trip, make_records

N = 10_000


@pytest.fixture(scope="module")
def shared_broker(module_broker_factory: BrokerFactory) -> BrokerHandle:
    return module_broker_factory()


async def round_trip(bootstrap: str, codec: str) -> None:
    topic = f"ak-{codec}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    await admin.close()
    records = make_records(N, f"ak-{codec}")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=None if codec == "none" else codec,
                                linger_ms=5, acks="all", enable_idempotence=True)
    await producer.start()
    futures = [await producer.send(topic, key=r.key, value=r.value, headers=list(r.headers),
                                   timestamp_ms=r.timestamp) for r in records]
    metas = await asyncio.gather(*futures)
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(4)])
    await consumer.seek_to_beginning()
    got: list[Got] = []
    deadline = time.monotonic() + 60
    while len(got) < N and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500, max_records=5000)
        for tp, msgs in batches.items():
            got += [Got(tp.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp) for m in msgs]
    await consumer.stop()
    check_round_trip(records, got)
    assert sorted((g.partition, g.offset) for g in got) == sorted((m.partition, m.offset) for m in metas)


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_10k_records(shared_broker: BrokerHandle, codec: str) -> None:
    asyncio.run(round_trip(shared_broker.bootstrap, codec))
