"""CreateTopics with the client's own replica assignments, in a cluster: the replicas are written to
ZooKeeper as given (the first of each list leads), and bad ones are refused as Kafka refuses them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kazoo.client import KazooClient

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import Cluster, wait_until
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")


def _create(port: int, name: str, assignments: list[list[int]], replication_factor: int = -1) -> dict[str, Any]:
    with RawClient(port) as c:
        answer = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": name, "num_partitions": -1, "replication_factor": replication_factor,
             "assignments": [{"partition_index": p, "broker_ids": r} for p, r in enumerate(assignments)],
             "configs": []}], "timeout_ms": 30000, "validate_only": False})
    return dict(answer["topics"][0])


def test_create_topics_takes_the_clients_replica_assignments(cluster: Cluster, zk_client: KazooClient) -> None:
    port = cluster.brokers[1].port
    created = _create(port, "placed", [[2, 1, 3], [3, 2, 1]])
    assert created["error_code"] == 0, created
    assert created["num_partitions"] == 2
    doc = json.loads(zk_client.get("/brokers/topics/placed")[0])
    assert doc["partitions"] == {"0": [2, 1, 3], "1": [3, 2, 1]}
    wait_until(lambda: [cluster.state(zk_client, "placed", p)["leader"] for p in (0, 1)] == [2, 3], 30,
               "the first replica of each list leading")

    unknown = _create(port, "nowhere", [[1, 9]])
    assert unknown["error_code"] == ErrorCode.INVALID_REPLICA_ASSIGNMENT, unknown
    uneven = _create(port, "uneven", [[1, 2], [3]])
    assert uneven["error_code"] == ErrorCode.INVALID_REPLICA_ASSIGNMENT, uneven
    both = _create(port, "both", [[1, 2]], replication_factor=2)
    assert both["error_code"] == ErrorCode.INVALID_REQUEST, both
    for refused in ("nowhere", "uneven", "both"):
        assert zk_client.exists(f"/brokers/topics/{refused}") is None


def test_a_replication_factor_the_cluster_cannot_hold_is_refused_for_what_it_is(
        cluster: Cluster, zk_client: KazooClient) -> None:
    port = cluster.brokers[2].port
    with RawClient(port) as c:
        def create(name: str, factor: int, validate_only: bool = False) -> dict[str, Any]:
            return dict(c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
                {"name": name, "num_partitions": 1, "replication_factor": factor, "assignments": [],
                 "configs": []}], "timeout_ms": 30000, "validate_only": validate_only})["topics"][0])

        zero, too_many = create("rf-zero", 0), create("rf-four", 4)
        # validate_only answers the same as the creation would.
        checked = [create("rf-zero", 0, True), create("rf-four", 4, True), create("rf-three", 3, True)]
    assert zero["error_code"] == ErrorCode.INVALID_REPLICATION_FACTOR, zero
    assert "larger than 0" in zero["error_message"], zero
    assert too_many["error_code"] == ErrorCode.INVALID_REPLICATION_FACTOR, too_many
    assert "larger than available brokers: 3" in too_many["error_message"], too_many
    assert [a["error_code"] for a in checked] == [ErrorCode.INVALID_REPLICATION_FACTOR] * 2 + [0], checked
    for refused in ("rf-zero", "rf-four", "rf-three"):
        assert zk_client.exists(f"/brokers/topics/{refused}") is None
