"""A new topic's partitions are never listed without their leaders, on any broker of the cluster.

The broker that answers CreateTopics waits until it knows a leader for every partition (as Kafka
does, within the request's timeout), and a broker that has the topic's assignment but not yet its
partitions' first states leaves those partitions out of Metadata. Before, a broker listed them
with leader -1 for about half a second after CreateTopics, and a librdkafka handle whose first
answer about the topic came then kept answering "Local: Unknown partition" without asking again
(its metadata cache keeps a leaderless partition as a permanent error for ``metadata.max.age.ms``).
``tests/interop/test_metadata_after_create.py`` holds Apache Kafka and a single logbroker to the
same rule."""

from __future__ import annotations

import threading
import time
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition

from tests.cluster.conftest import Cluster
from tests.cluster.integration.test_replication import create_topic
from tests.interop.rawclient import RawClient, leaderless_after_create


def test_no_broker_lists_a_new_partition_without_its_leader(cluster: Cluster) -> None:
    ports = [b.port for b in cluster.brokers.values()]
    for receiver in ports:  # CreateTopics through each broker in turn, the controller among them
        for asker in ports:
            name = f"fresh-{uuid.uuid4().hex[:8]}"
            with RawClient(receiver) as admin, RawClient(asker) as c:
                seen = leaderless_after_create(admin, c, name, partitions=6, seconds=0.7, replication_factor=3)
            assert seen.leaderless == [], (receiver, asker, seen.leaderless[:3])
            assert seen.complete, (receiver, asker, seen.answers)
            if asker == receiver:
                assert seen.first_complete, f"port {receiver} answered CreateTopics before it knew the leaders"


def _watermarks_once_created(bootstrap: str, topic: str, outcome: dict[str, object]) -> None:
    """Create the topic, and 0.3 s later ask one new librdkafka handle for its partitions' watermark
    offsets, again every 0.5 s on the same handle, for up to 15 s."""
    create_topic(bootstrap, topic, partitions=3, rf=3)
    time.sleep(0.3)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks", "enable.auto.commit": False})
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                outcome[topic] = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
                                  for p in range(3)]
                return
            except KafkaException as exc:
                outcome[topic] = exc
            if time.monotonic() > deadline:
                return
            time.sleep(0.5)
    finally:
        consumer.close()


def test_a_librdkafka_handle_asking_right_after_creation_finds_the_partitions(cluster: Cluster) -> None:
    outcome: dict[str, object] = {}
    topics = [f"asked-{i}-{uuid.uuid4().hex[:6]}" for i in range(4)]
    threads = [threading.Thread(target=_watermarks_once_created, args=(cluster.bootstrap, t, outcome)) for t in topics]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert {t: outcome.get(t) for t in topics} == {t: [(0, 0)] * 3 for t in topics}
