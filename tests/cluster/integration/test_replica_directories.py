"""Only a partition's replicas hold a directory for it, three real brokers: a read on a broker that is
not a replica is refused without creating one, and a broker that was down while a reassignment moved
a partition away deletes its stray copy when it starts (Kafka's broker deletes stray logs at start)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_failover import segment_bytes
from tests.cluster.integration.test_replication import consume, produce
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode); a "
                                        "single Kafka broker replicates every partition it has")


def _create(port: int, name: str, assignments: list[list[int]]) -> None:
    with RawClient(port) as c:
        answer = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": name, "num_partitions": -1, "replication_factor": -1,
             "assignments": [{"partition_index": p, "broker_ids": r} for p, r in enumerate(assignments)],
             "configs": []}], "timeout_ms": 30000, "validate_only": False})
    assert answer["topics"][0]["error_code"] == 0, answer


def _fetch(port: int, topic: str, partition: int, max_wait_ms: int = 0) -> dict[str, Any]:
    with RawClient(port) as c:
        body = c.call(ApiKey.FETCH, 12, {"replica_id": -1, "max_wait_ms": max_wait_ms, "min_bytes": 1,
                                         "max_bytes": 1 << 20,
                                         "isolation_level": 0, "session_id": 0, "session_epoch": -1,
                                         "topics": [{"topic": topic, "partitions": [
                                             {"partition": partition, "current_leader_epoch": -1,
                                              "fetch_offset": 0, "last_fetched_epoch": -1, "log_start_offset": -1,
                                              "partition_max_bytes": 1 << 20}]}],
                                         "forgotten_topics_data": [], "rack_id": ""})
    return dict(body["responses"][0]["partitions"][0])


def _list_offsets(port: int, topic: str, partition: int) -> dict[str, Any]:
    with RawClient(port) as c:
        body = c.call(ApiKey.LIST_OFFSETS, 7, {"replica_id": -1, "isolation_level": 0, "topics": [
            {"name": topic, "partitions": [{"partition_index": partition, "current_leader_epoch": -1,
                                            "timestamp": -1}]}]})
    return dict(body["topics"][0]["partitions"][0])


def _copies(data_dir: Path, topic: str) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.name.startswith(f"{topic}-"))


def test_a_broker_that_is_not_a_replica_refuses_reads_and_creates_no_directory(
        cluster: Cluster, zk_client: KazooClient) -> None:
    _create(cluster.brokers[1].port, "solo", [[1], [2]])
    wait_until(lambda: cluster.state(zk_client, "solo", 0)["leader"] == 1
               and cluster.state(zk_client, "solo", 1)["leader"] == 2, 30, "both partitions led")
    produce(cluster.bootstrap, "solo", [b"a", b"b"])
    outsider = cluster.brokers[3]
    wait_until(lambda: _fetch(outsider.port, "solo", 0)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER, 30,
               "the topic known on broker 3")
    assert _fetch(outsider.port, "solo", 1)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    assert _list_offsets(outsider.port, "solo", 0)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    # A fetch that waits for data (no partition answered bytes) waits without opening the log either.
    assert _fetch(outsider.port, "solo", 0, max_wait_ms=300)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    # A partition the topic does not have is unknown, as Kafka answers one missing from its metadata.
    assert _fetch(outsider.port, "solo", 7)["error_code"] == ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    assert _copies(outsider.data_dir, "solo") == []
    # Each of the others holds its own partition's directory only and refuses the other partition.
    assert _fetch(cluster.brokers[2].port, "solo", 0)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    assert _fetch(cluster.brokers[1].port, "solo", 1)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    assert _copies(cluster.brokers[1].data_dir, "solo") == ["solo-0"]
    assert _copies(cluster.brokers[2].data_dir, "solo") == ["solo-1"]


def _reassign(cluster: Cluster, zk: KazooClient, topic: str, target: list[int]) -> None:
    def answered() -> bool:
        controller = int(json.loads(zk.get("/controller")[0])["brokerid"])
        with RawClient(cluster.brokers[controller].port) as c:
            body = c.call(ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, {"timeout_ms": 5000, "topics": [
                {"name": topic, "partitions": [{"partition_index": 0, "replicas": target}]}]})
        return bool(body["error_code"] == 0 and body["responses"][0]["partitions"][0]["error_code"] == 0)

    wait_until(answered, 30, "the controller to take the reassignment")

    def completed() -> bool:
        assignment = json.loads(zk.get(f"/brokers/topics/{topic}")[0])
        return bool(assignment["partitions"]["0"] == target and not assignment.get("adding_replicas")
                    and not assignment.get("removing_replicas"))

    wait_until(completed, 60, "the reassignment to complete")


def test_a_broker_down_during_a_reassignment_deletes_its_stray_copy_at_start(
        cluster: Cluster, zk_client: KazooClient) -> None:
    _create(cluster.brokers[1].port, "strays", [[1, 2]])
    wait_until(lambda: len(cluster.state(zk_client, "strays", 0)["isr"]) == 2, 30, "a full ISR")
    values = [b"s%04d" % i for i in range(200)]
    produce(cluster.brokers[1].bootstrap, "strays", values)
    away = cluster.brokers[2]
    wait_until(lambda: segment_bytes(away.data_dir, "strays", 0) == segment_bytes(cluster.brokers[1].data_dir,
                                                                                  "strays", 0), 30,
               "broker 2's copy complete")
    away.stop()
    _reassign(cluster, zk_client, "strays", [1, 3])
    wait_until(lambda: segment_bytes(cluster.brokers[3].data_dir, "strays", 0)
               == segment_bytes(cluster.brokers[1].data_dir, "strays", 0), 30, "broker 3's copy complete")
    assert _copies(away.data_dir, "strays") == ["strays-0"]  # still there while broker 2 is down

    away.start(same_ports=True)
    wait_until(lambda: _copies(away.data_dir, "strays") == [], 30, "the stray copy deleted")
    assert _fetch(away.port, "strays", 0)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    assert _copies(away.data_dir, "strays") == []  # the refused read did not create it again
    # The replicas that stay are untouched and identical, and serve every record.
    assert segment_bytes(cluster.brokers[1].data_dir, "strays", 0) == \
        segment_bytes(cluster.brokers[3].data_dir, "strays", 0)
    survivors = ",".join(cluster.brokers[b].bootstrap for b in (1, 3))
    assert consume(survivors, "strays", len(values)) == values
