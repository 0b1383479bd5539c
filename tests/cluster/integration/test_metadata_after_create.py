"""A new topic's partitions are never listed without their leaders, on any broker of the cluster.

The broker that answers CreateTopics waits until it knows a leader for every partition (as Kafka
does, within the request's timeout), and a broker that has the topic's assignment but not yet every
partition's first state lists none of them (a Kafka broker learns them in one update): listing only
those it has seen told a producer the topic had fewer partitions, and librdkafka failed at once, with
"Local: Unknown partition", the records sent to the others. Before, a broker listed them
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
from tests.http.http_api import Api
from tests.interop.rawclient import RawClient, leaderless_after_create


def test_no_broker_lists_a_new_partition_without_its_leader(cluster: Cluster) -> None:
    ports = [b.port for b in cluster.brokers.values()]
    for receiver in ports:  # CreateTopics through each broker in turn, the controller among them
        for asker in ports:
            name = f"fresh-{uuid.uuid4().hex[:8]}"
            with RawClient(receiver) as admin, RawClient(asker) as c:
                seen = leaderless_after_create(admin, c, name, partitions=6, seconds=0.7, replication_factor=3)
            assert seen.leaderless == [], (receiver, asker, seen.leaderless[:3])
            assert seen.partial == [], (receiver, asker, seen.partial[:3])
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


def test_http_topic_creation_answers_once_its_partitions_have_leaders(cluster: Cluster) -> None:
    """The HTTP API's topic changes wait for the new partitions' leaders as CreateTopics does (body
    ``timeout_ms``, 30 s by default), so a service can produce to the partitions the answering
    broker leads right after the 201."""
    for node_id, receiver in cluster.brokers.items():
        api = Api(receiver.http_port)
        name = f"http-{uuid.uuid4().hex[:8]}"
        created = api.post("/topics", {"name": name, "partitions": 6, "replication_factor": 3})
        assert created.status == 201, created.body
        page = api.get(f"/topics/{name}/partitions").body["partitions"]
        assert [p["leader"] >= 0 for p in page] == [True] * 6, page
        grown = api.post(f"/topics/{name}/partitions", {"count": 9})
        assert grown.status == 200, grown.body
        page = api.get(f"/topics/{name}/partitions").body["partitions"]
        assert [p["leader"] >= 0 for p in page] == [True] * 9, page
        led = [p["partition"] for p in page if p["leader"] == node_id]
        assert led, page  # the controller spreads the leaders over the three brokers
        produced = api.post(f"/topics/{name}/records?acks=all", {
            "records": [{"value": f"v{p}", "partition": p} for p in led]})
        assert produced.status == 200, produced.body
