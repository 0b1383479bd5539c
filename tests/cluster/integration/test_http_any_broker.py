"""The HTTP API works against any broker of a cluster: a group's requests made to a broker that
does not coordinate it are forwarded to the one that does (``logbroker/http/forwarding.py``), and
the coordinator serves its HTTP members the partitions it follows as well as those it leads."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Producer

from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, wait_until
from tests.http.http_api import Api
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode and HTTP API (Kafka has neither)")

PARTITIONS = 3
PER_PARTITION = 10


def _coordinator(port: int, group: str) -> int:
    with RawClient(port) as c:
        answer = c.call(ApiKey.FIND_COORDINATOR, 4, {"key_type": 0, "coordinator_keys": [group]})
    found = answer["coordinators"][0]
    assert found["error_code"] == 0, found
    return int(found["node_id"])


def test_join_commit_and_read_through_a_broker_that_does_not_coordinate_the_group(cluster: Cluster) -> None:
    with RawClient(cluster.brokers[1].port) as c:
        created = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            # Each partition led by another broker: the coordinator leads one and follows two.
            {"name": "orders", "num_partitions": -1, "replication_factor": -1, "configs": [], "assignments": [
                {"partition_index": p, "broker_ids": [p + 1, *(b for b in (1, 2, 3) if b != p + 1)]}
                for p in range(PARTITIONS)]}],
            "timeout_ms": 30000, "validate_only": False})
        assert created["topics"][0]["error_code"] == 0, created
    a = cluster.brokers[1]
    group = wait_until(lambda: next((g for g in (f"orders-readers-{i}" for i in range(300))
                                     if _coordinator(a.port, g) != 1), None), 60,
                       "a group broker 1 does not coordinate")
    assert isinstance(group, str)
    coordinator = _coordinator(a.port, group)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True})
    for p in range(PARTITIONS):
        for i in range(PER_PARTITION):
            producer.produce("orders", value=f"{p}-{i}".encode(), partition=p)
    assert producer.flush(30) == 0

    apis = {i: Api(b.http_port) for i, b in cluster.brokers.items()}
    api_a = apis[1]
    joined = api_a.post(f"/groups/{group}/members", {"topics": ["orders"], "auto_offset_reset": "earliest"})
    assert joined.status == 200, joined.body
    member = joined.body["member_id"]
    path = f"/groups/{group}/members/{member}"

    received: dict[int, list[Any]] = {p: [] for p in range(PARTITIONS)}

    def poll() -> bool:
        reply = api_a.post(f"{path}/poll?wait_ms=500&max_records=50")
        assert reply.status == 200, reply.body
        for r in reply.body["records"]:
            received[r["partition"]].append(r["value"])
        return sum(map(len, received.values())) >= PARTITIONS * PER_PARTITION

    wait_until(poll, 60, "every record polled through a broker that is not the coordinator")
    assert received == {p: [f"{p}-{i}" for i in range(PER_PARTITION)] for p in range(PARTITIONS)}
    committed = api_a.post(f"{path}/commit")
    assert committed.status == 200, committed.body

    # The coordinator answers the same directly, and the third broker forwards too.
    for api in apis.values():
        described = api.get(f"/groups/{group}")
        assert described.status == 200, described.body
        assert [m["member_id"] for m in described.body["members"]] == [member]
        assert sorted((o["topic"], o["partition"], o["committed_offset"]) for o in described.body["offsets"]) == \
            [("orders", p, PER_PARTITION) for p in range(PARTITIONS)]
    left = api_a.call("DELETE", path)
    assert left.status == 204, left.body
    assert apis[coordinator].get(f"/groups/{group}").body["members"] == []
