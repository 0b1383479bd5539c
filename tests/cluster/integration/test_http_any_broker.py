"""The HTTP API works against any broker of a cluster: a group's requests made to a broker that
does not coordinate it are forwarded to the one that does (``logbroker/http/forwarding.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Producer

from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, wait_until
from tests.http.http_api import Api
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode and HTTP API (Kafka has neither)")


def _coordinator(port: int, group: str) -> int:
    with RawClient(port) as c:
        answer = c.call(ApiKey.FIND_COORDINATOR, 4, {"key_type": 0, "coordinator_keys": [group]})
    found = answer["coordinators"][0]
    assert found["error_code"] == 0, found
    return int(found["node_id"])


def _leader(port: int, topic: str) -> int:
    with RawClient(port) as c:
        meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": topic, "topic_id": None}],
                                            "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
    return int(meta["topics"][0]["partitions"][0]["leader_id"])


def test_join_commit_and_read_through_a_broker_that_does_not_coordinate_the_group(cluster: Cluster) -> None:
    with RawClient(cluster.brokers[1].port) as c:
        created = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": "orders", "num_partitions": 1, "replication_factor": 3, "assignments": [], "configs": []}],
            "timeout_ms": 30000, "validate_only": False})
        assert created["topics"][0]["error_code"] == 0, created
    # Broker "b" leads the topic and coordinates the group; "a" and "c" do neither. (An HTTP member
    # reads the partitions its coordinator leads: the records must be there.)
    wait_until(lambda: _leader(cluster.brokers[1].port, "orders") > 0, 30, "a leader of orders-0")
    leader = _leader(cluster.brokers[1].port, "orders")
    others = [i for i in (1, 2, 3) if i != leader]
    a, b, c3 = cluster.brokers[others[0]], cluster.brokers[leader], cluster.brokers[others[1]]
    group = wait_until(lambda: next((g for g in (f"orders-readers-{i}" for i in range(300))
                                     if _coordinator(a.port, g) == leader), None), 60,
                       f"a group broker {leader} coordinates")
    assert isinstance(group, str)
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(10):
        producer.produce("orders", value=f"order-{i}".encode(), partition=0)
    assert producer.flush(30) == 0

    api_a, api_b, api_c = Api(a.http_port), Api(b.http_port), Api(c3.http_port)
    joined = api_a.post(f"/groups/{group}/members", {"topics": ["orders"], "auto_offset_reset": "earliest"})
    assert joined.status == 200, joined.body
    member = joined.body["member_id"]
    path = f"/groups/{group}/members/{member}"

    received: list[Any] = []

    def poll() -> bool:
        reply = api_a.post(f"{path}/poll?wait_ms=500&max_records=50")
        assert reply.status == 200, reply.body
        received.extend(r["value"] for r in reply.body["records"])
        return len(received) >= 10

    wait_until(poll, 30, "ten records polled through a broker that is not the coordinator")
    assert received == [f"order-{i}" for i in range(10)]
    committed = api_a.post(f"{path}/commit")
    assert committed.status == 200, committed.body

    # The group lives on b: it answers the same directly, and c forwards too.
    for api in (api_a, api_b, api_c):
        described = api.get(f"/groups/{group}")
        assert described.status == 200, described.body
        assert [m["member_id"] for m in described.body["members"]] == [member]
        assert [(o["topic"], o["partition"], o["committed_offset"]) for o in described.body["offsets"]] == \
            [("orders", 0, 10)]
    left = api_a.call("DELETE", path)
    assert left.status == 204, left.body
    assert api_b.get(f"/groups/{group}").body["members"] == []
