"""Group coordinators on the leaders of ``__consumer_offsets`` partitions, with real clients.

Three real brokers and a real ZooKeeper: FindCoordinator names the leader of the group's partition,
``__consumer_offsets`` is replicated, and committed offsets survive the coordinator's kill -9 (the
new leader loads the group from its replica of the log).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.groups.schema import partition_for
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import Cluster, three_brokers, wait_until
from tests.cluster.integration.test_replication import create_topic, produce
from tests.interop.rawclient import RawClient
from tests.interop.test_protocol_edges import RETRIABLE

TOPIC = "orders"
OFFSETS = "__consumer_offsets"
OFFSETS_PARTITIONS = 10
GROUP = "billing"


@pytest.fixture
def offsets_cluster(zookeeper: LocalZooKeeper, tmp_path: Path) -> Iterator[Cluster]:
    """Three brokers with a small ``__consumer_offsets`` (10 partitions) to keep start-up short."""
    with three_brokers(zookeeper, tmp_path, offsets_topic_num_partitions=str(OFFSETS_PARTITIONS)) as c:
        yield c


def _coordinator(bootstrap: str, group: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=20)
    assert described.state in (ConsumerGroupState.EMPTY, ConsumerGroupState.STABLE), described.state
    return int(described.coordinator.id)


def _consume_and_commit(bootstrap: str, count: int) -> tuple[dict[int, int], list[bytes]]:
    """Consume ``count`` records in group GROUP, committing each synchronously; returns the offsets
    committed per partition (the next offset to read) and the records consumed."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([TOPIC])
    committed: dict[int, int] = {}
    got: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            got.append(msg.value() or b"")
            c.commit(message=msg, asynchronous=False)
            committed[int(msg.partition() or 0)] = int(msg.offset() or 0) + 1
    finally:
        c.close()
    assert len(got) == count, f"consumed {len(got)} of {count}"
    return committed, got


@pytest.mark.slow
def test_commits_survive_a_coordinator_kill_and_the_group_resumes_there(offsets_cluster: Cluster,
                                                                       zk_client: KazooClient) -> None:
    cluster = offsets_cluster
    create_topic(cluster.bootstrap, TOPIC, partitions=3)
    wait_until(lambda: all(len(cluster.state(zk_client, TOPIC, p)["isr"]) == 3 for p in range(3)), 20,
               "full ISRs")
    values = [f"v{i:04d}".encode() for i in range(300)]
    produce(cluster.bootstrap, TOPIC, values)

    committed, before = _consume_and_commit(cluster.bootstrap, 120)

    # The coordinator is the leader of the group's __consumer_offsets partition, replicated 3 times.
    part = partition_for(GROUP, OFFSETS_PARTITIONS)
    assignment = json.loads(zk_client.get(f"/brokers/topics/{OFFSETS}")[0])
    assert len(assignment["partitions"]) == OFFSETS_PARTITIONS
    assert sorted(assignment["partitions"][str(part)]) == [1, 2, 3]
    wait_until(lambda: len(cluster.state(zk_client, OFFSETS, part)["isr"]) == 3, 20, "the offsets partition's ISR")
    leader = int(cluster.state(zk_client, OFFSETS, part)["leader"])
    for b in cluster.brokers.values():
        assert _coordinator(b.bootstrap, GROUP) == leader  # every broker names the same one

    # The others answer NOT_COORDINATOR for the group (OffsetFetch v7 sent to each directly); a
    # client that asks the coordinator gets the committed offsets.
    for i, b in cluster.brokers.items():
        with RawClient(b.port) as raw:
            answer = raw.call(ApiKey.OFFSET_FETCH, 7, {"group_id": GROUP, "topics": None,
                                                       "require_stable": False})
        assert answer["error_code"] == (0 if i == leader else ErrorCode.NOT_COORDINATOR), (i, answer)
    kc = KafkaConsumer(bootstrap_servers=cluster.bootstrap, group_id=GROUP, enable_auto_commit=False)
    try:
        fetched = {p: kc.committed(KafkaTopicPartition(TOPIC, p)) for p in range(3)}
    finally:
        kc.close()
    assert {p: o for p, o in fetched.items() if o is not None} == committed

    cluster.brokers[leader].stop(signal.SIGKILL)
    new = wait_until(lambda: (s := cluster.state(zk_client, OFFSETS, part))["leader"] not in (leader, -1) and s,
                     30, "a new leader of the group's offsets partition")
    assert isinstance(new, dict)
    survivors = ",".join(b.bootstrap for i, b in cluster.brokers.items() if i != leader)
    # The new leader takes the group over on its pass after the state change in ZooKeeper (it loads
    # the group from its replica); until then it answers NOT_COORDINATOR, which the client retries.
    wait_until(lambda: _coordinator(survivors, GROUP) == int(new["leader"]), 30,
               "the new leader coordinating the group")

    # A consumer of the same group resumes from the committed offsets, via the new coordinator.
    c = Consumer({"bootstrap.servers": survivors, "group.id": GROUP, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    try:
        seen = c.committed([TopicPartition(TOPIC, p) for p in range(3)], timeout=20)
        assert {tp.partition: tp.offset for tp in seen if tp.offset >= 0} == committed
        c.subscribe([TOPIC])
        rest: list[bytes] = []
        firsts: dict[int, int] = {}
        deadline = time.monotonic() + 60
        while len(rest) < 180 and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            firsts.setdefault(int(msg.partition() or 0), int(msg.offset() or 0))
            value = msg.value()
            assert value is not None
            rest.append(value)
    finally:
        c.close()
    assert len(rest) == 180
    # Each partition resumes exactly at its committed offset: nothing consumed twice, nothing skipped.
    assert all(firsts[p] == committed[p] for p in firsts if p in committed), (firsts, committed)
    assert sorted(before + rest) == values


def test_a_consumer_groups_config_set_on_any_broker_steers_its_coordinators_heartbeats(
        offsets_cluster: Cluster) -> None:
    """consumer.heartbeat.interval.ms set through a broker that does not coordinate the group (the
    cluster's group configs live in ZooKeeper) is the interval the coordinator tells the group's
    KIP-848 members, and every broker describes it."""
    cluster = offsets_cluster
    create_topic(cluster.bootstrap, "steered", partitions=2, rf=3)
    group = "steered-readers"

    def heartbeat(port: int) -> dict[str, object]:
        with RawClient(port) as c:
            return dict(c.call(ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, {
                "group_id": group, "member_id": "m-" + str(time.monotonic_ns()), "member_epoch": 0,
                "instance_id": None, "rack_id": None, "rebalance_timeout_ms": 30000,
                "subscribed_topic_names": ["steered"], "subscribed_topic_regex": None, "server_assignor": None,
                "topic_partitions": []}))

    def find() -> dict[str, int] | None:
        with RawClient(cluster.brokers[1].port) as c:
            entry = c.call(ApiKey.FIND_COORDINATOR, 4, {"key_type": 0, "coordinator_keys": [group]})["coordinators"][0]
        return entry if entry["error_code"] == 0 else None  # COORDINATOR_NOT_AVAILABLE while the topic is made

    found = wait_until(find, 60, "the group's coordinator")
    assert isinstance(found, dict)
    coordinator = cluster.brokers[int(found["node_id"])]
    other = next(b for i, b in cluster.brokers.items() if i != int(found["node_id"]))
    assert heartbeat(coordinator.port)["heartbeat_interval_ms"] == 5000
    with RawClient(other.port) as c:
        body = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
            {"resource_type": 32, "resource_name": group,
             "configs": [{"name": "consumer.heartbeat.interval.ms", "config_operation": 0, "value": "7000"}]}],
            "validate_only": False})
    assert body["responses"][0]["error_code"] == 0, body
    wait_until(lambda: heartbeat(coordinator.port)["heartbeat_interval_ms"] == 7000, 30,
               "the coordinator telling the group's interval")
    for b in cluster.brokers.values():
        with RawClient(b.port) as c:
            described = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
                {"resource_type": 32, "resource_name": group,
                 "configuration_keys": ["consumer.heartbeat.interval.ms"]}],
                "include_synonyms": False, "include_documentation": False})["results"][0]
        assert [(e["name"], e["value"]) for e in described["configs"]] == [("consumer.heartbeat.interval.ms", "7000")]


def _consumer_heartbeat(port: int, body: dict[str, object], deadline: float) -> dict[str, Any]:
    """ConsumerGroupHeartbeat v1 to one broker, again while it answers what a client retries (the
    coordinator not yet applying its leadership, or loading the group)."""
    while True:
        with RawClient(port) as c:
            answer = dict(c.call(ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, body))
        if answer["error_code"] not in RETRIABLE:
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)


@pytest.mark.slow
def test_a_consumer_groups_members_carry_on_at_the_next_coordinator(offsets_cluster: Cluster,
                                                                    zk_client: KazooClient) -> None:
    """KIP-848 members are records in the replicated ``__consumer_offsets``: after the coordinator's
    kill -9 the next leader of the group's partition loads them, and a member's heartbeat at its
    epoch is taken there with its partitions (not UNKNOWN_MEMBER_ID, no new epoch)."""
    cluster = offsets_cluster
    create_topic(cluster.bootstrap, "carried", partitions=2, rf=3)
    group = "carried-readers"
    part = partition_for(group, OFFSETS_PARTITIONS)

    def find() -> int | None:
        with RawClient(cluster.brokers[1].port) as c:
            entry = c.call(ApiKey.FIND_COORDINATOR, 4, {"key_type": 0, "coordinator_keys": [group]})["coordinators"][0]
        return int(entry["node_id"]) if entry["error_code"] == 0 else None

    wait_until(find, 60, "the group's coordinator")
    wait_until(lambda: len(cluster.state(zk_client, OFFSETS, part)["isr"]) == 3, 30, "the offsets partition's ISR")
    leader = int(cluster.state(zk_client, OFFSETS, part)["leader"])
    member = f"member-{time.monotonic_ns()}"
    joined = _consumer_heartbeat(cluster.brokers[leader].port, {
        "group_id": group, "member_id": member, "member_epoch": 0, "instance_id": None, "rack_id": None,
        "rebalance_timeout_ms": 30000, "subscribed_topic_names": ["carried"], "subscribed_topic_regex": None,
        "server_assignor": None, "topic_partitions": []}, time.monotonic() + 30)
    assert joined["error_code"] == 0, joined
    owned = joined["assignment"]["topic_partitions"]
    assert sorted(p for t in owned for p in t["partitions"]) == [0, 1]

    cluster.brokers[leader].stop(signal.SIGKILL)
    new = wait_until(lambda: (s := cluster.state(zk_client, OFFSETS, part))["leader"] not in (leader, -1) and s,
                     30, "a new leader of the group's offsets partition")
    assert isinstance(new, dict)
    again = _consumer_heartbeat(cluster.brokers[int(new["leader"])].port, {
        "group_id": group, "member_id": member, "member_epoch": joined["member_epoch"], "instance_id": None,
        "rack_id": None, "rebalance_timeout_ms": -1, "subscribed_topic_names": None, "subscribed_topic_regex": None,
        "server_assignor": None, "topic_partitions": owned}, time.monotonic() + 30)
    assert (again["error_code"], again["member_epoch"]) == (0, joined["member_epoch"]), again
