"""DeleteTopics in a cluster goes through ``/admin/delete_topics`` and the controller, as in Kafka's
ZooKeeper mode: a replica that is down while the topic is deleted holds the deletion until it returns,
then deletes its copy, and only then do the topic's znodes go. Three real brokers."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import Cluster, three_brokers, wait_until
from tests.cluster.integration.test_replication import create_topic, produce
from tests.interop.rawclient import RawClient
from tests.interop.test_core_rules import OFFSETS_TOPIC, commit, committed

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")


def _delete(port: int, topic: str, timeout_ms: int) -> dict[str, object]:
    with RawClient(port) as c:
        c.sock.settimeout(timeout_ms / 1000 + 30)
        body = c.call(ApiKey.DELETE_TOPICS, 5, {"topic_names": [topic], "timeout_ms": timeout_ms})
    return dict(body["responses"][0])


@pytest.mark.slow
def test_a_replica_down_during_a_deletion_deletes_its_copy_when_it_returns(
        cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, "gone", partitions=2, rf=2)
    assignment = json.loads(zk_client.get("/brokers/topics/gone")[0])["partitions"]
    wait_until(lambda: all(len(cluster.state(zk_client, "gone", p)["isr"]) == 2 for p in (0, 1)), 30, "full ISRs")
    produce(cluster.bootstrap, "gone", [b"g%d" % i for i in range(50)])
    down = cluster.brokers[assignment["0"][0]]
    held = sorted(p.name for p in down.data_dir.iterdir() if p.name.startswith("gone-"))
    assert held, "the replica to stop holds a copy"
    down.stop()
    asked = next(b for i, b in cluster.brokers.items() if b is not down)

    answer = _delete(asked.port, "gone", 3000)
    # Kafka answers REQUEST_TIMED_OUT when the deletion does not complete within the request's timeout.
    assert answer["error_code"] == ErrorCode.REQUEST_TIMED_OUT, answer
    assert zk_client.exists("/admin/delete_topics/gone") is not None
    assert zk_client.exists("/brokers/topics/gone") is not None  # held for the replica that is down
    # The brokers that are up deleted their copies and no longer list the topic.
    def live_copies() -> list[str]:
        return [p.name for b in cluster.brokers.values() if b is not down
                for p in b.data_dir.iterdir() if p.name.startswith("gone-")]

    wait_until(lambda: not live_copies(), 20, "the live replicas' copies deleted")
    # The same name cannot be created while the deletion is pending (Kafka: TOPIC_ALREADY_EXISTS).
    with RawClient(asked.port) as c:
        created = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": "gone", "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}],
            "timeout_ms": 10000, "validate_only": False})
    assert created["topics"][0]["error_code"] == ErrorCode.TOPIC_ALREADY_EXISTS, created

    down.start(same_ports=True)
    wait_until(lambda: not [p for p in down.data_dir.iterdir() if p.name.startswith("gone-")], 30,
               "the returning replica's copy deleted")
    wait_until(lambda: zk_client.exists("/brokers/topics/gone") is None, 30, "the topic's znodes deleted")
    assert zk_client.exists("/config/topics/gone") is None
    assert zk_client.exists("/admin/delete_topics/gone") is None
    # Deleting it again: the topic is unknown.
    assert _delete(asked.port, "gone", 5000)["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


def test_deleting_consumer_offsets_deletes_every_copy_and_groups_start_afresh(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    """Kafka 4.1 deletes ``__consumer_offsets`` when a client asks, every committed offset with it, and
    the next group creates it again (compared with Kafka on one broker:
    ``tests/interop/test_core_rules.py::test_deleting_consumer_offsets_drops_every_committed_offset``).
    In a cluster the deletion goes through the controller as any replicated topic's, so no broker keeps
    a copy (nor the groups on it) and the topic comes back replicated, never made on one broker alone."""
    with three_brokers(zookeeper, tmp_path, offsets_topic_num_partitions="3") as c:
        create_topic(c.bootstrap, "kept")
        commit(c.bootstrap, "before", "kept", 5)
        assert committed(c.bootstrap, "before", "kept") == 5
        first_id = json.loads(zk_client.get(f"/brokers/topics/{OFFSETS_TOPIC}")[0])["topic_id"]
        admin = KafkaAdminClient(bootstrap_servers=c.brokers[1].bootstrap)
        try:
            admin.delete_topics([OFFSETS_TOPIC], timeout_ms=30_000)  # raises on any error code
        finally:
            admin.close()
        assert zk_client.exists(f"/brokers/topics/{OFFSETS_TOPIC}") is None
        for b in c.brokers.values():
            wait_until(functools.partial(lambda d: not any(p.name.startswith(f"{OFFSETS_TOPIC}-")
                                                           for p in d.iterdir()), b.data_dir),
                       30, f"{b.data_dir}'s copy of {OFFSETS_TOPIC} removed")
        commit(c.bootstrap, "after", "kept", 7)
        assert committed(c.bootstrap, "after", "kept") == 7
        assert committed(c.bootstrap, "before", "kept") is None
        again = json.loads(zk_client.get(f"/brokers/topics/{OFFSETS_TOPIC}")[0])
        assert again["topic_id"] != first_id
        assert sorted(len(replicas) for replicas in again["partitions"].values()) == [3, 3, 3], again
        for b in c.brokers.values():
            assert "Traceback" not in b.log_path.read_text(), b.log_path
