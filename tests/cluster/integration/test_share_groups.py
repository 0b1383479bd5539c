"""Share groups in a cluster, as KIP-932 builds them: three real brokers and a real ZooKeeper.

Membership is the group coordinator's (the leader of the group's ``__consumer_offsets`` partition);
the share-partition lives on its topic partition's leader, which serves ShareFetch and
ShareAcknowledge for any member; its state is kept by the share coordinator of its key, the leader of
the key's ``__share_group_state`` partition (replicated, RF 3), written to with WriteShareGroupState
between brokers and read back with ReadShareGroupState by a new leader. The member is a raw-protocol
one (``tests/interop/share_member.py``): a heartbeat thread keeps it in the group at whichever broker
coordinates it, and its fetches go to the partition's leader, as a real share consumer's do.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.groups.share_state import coordinator_key
from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import Cluster, three_brokers, wait_until
from tests.cluster.integration.test_replication import produce
from tests.interop.kafka_java import JVM_OPTS, Java, kafka_java  # noqa: F401 - the fixture
from tests.interop.rawclient import RawClient
from tests.interop.share_member import (
    ACCEPT,
    GROUP_RESOURCE,
    RELEASE,
    Fetched,
    ShareMember,
    kafka_uuid,
    topic_id,
)

TOPIC = "work"
GROUP = "crew"
STATE = "__share_group_state"
OFFSETS = "__consumer_offsets"
# One partition each for __consumer_offsets and __share_group_state (a short start); session and
# heartbeat short so a member follows a moving coordinator quickly; locks long enough never to expire
# during a failover here, so only the kills make records come back. The bounds move with the values, as
# Kafka requires at start-up.
SHARE_CLUSTER = {"offsets_topic_num_partitions": "1", "share_coordinator_state_topic_num_partitions": "1",
                 "group_share_session_timeout_ms": "6000", "group_share_min_session_timeout_ms": "1000",
                 "group_share_heartbeat_interval_ms": "300", "group_share_min_heartbeat_interval_ms": "100",
                 "group_share_record_lock_duration_ms": "120000", "group_share_max_record_lock_duration_ms": "120000",
                 "group_share_delivery_count_limit": "6"}
SHARE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleShareConsumer"
RETRIABLE = (ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE,
             ErrorCode.NOT_COORDINATOR)


@pytest.fixture
def share_cluster(zookeeper: LocalZooKeeper, tmp_path: Path) -> Iterator[Cluster]:
    with three_brokers(zookeeper, tmp_path, **SHARE_CLUSTER) as c:
        yield c


def find(port: int, key: str, key_type: int) -> dict[str, Any]:
    """FindCoordinator v6 for one key, until it names a coordinator (the topic behind it may be new)."""
    deadline = time.monotonic() + 30
    while True:
        with RawClient(port) as c:
            entry: dict[str, Any] = c.call(ApiKey.FIND_COORDINATOR, 6, {"key_type": key_type,
                                                                        "coordinator_keys": [key]})["coordinators"][0]
        if entry["error_code"] not in RETRIABLE or time.monotonic() > deadline:
            return entry
        time.sleep(0.2)


def delete_group(port: int, group: str = GROUP) -> int:
    """DeleteGroups of one group, asked again while the answer is retriable (as the admin client
    does: the group's share state is deleted first, at a share coordinator that may be moving)."""
    deadline = time.monotonic() + 30
    while True:
        with RawClient(port) as c:
            code = int(c.call(ApiKey.DELETE_GROUPS, 2, {"groups_names": [group]})["results"][0]["error_code"])
        if code not in RETRIABLE or time.monotonic() > deadline:
            return code
        time.sleep(0.5)


def stored_start(port: int, tid: uuid.UUID, partition: int = 0, group: str = GROUP) -> int:
    """The start offset the share coordinator at ``port`` holds for a share-partition of ``tid``
    (ReadShareGroupState; -1: not initialized there yet)."""
    with RawClient(port) as c:
        body = c.call(ApiKey.READ_SHARE_GROUP_STATE, 0, {"group_id": group, "topics": [
            {"topic_id": tid, "partitions": [{"partition": partition, "leader_epoch": -1}]}]})
    entry = body["results"][0]["partitions"][0]
    if entry["error_code"] == ErrorCode.INVALID_REQUEST:
        return -1
    assert entry["error_code"] == 0, entry
    return int(entry["start_offset"])


def topic_configs(zk: KazooClient, topic: str) -> dict[str, str]:
    data, _ = zk.get(f"/config/topics/{topic}")
    return dict(json.loads(data)["config"])


def described_topic(port: int, topic: str) -> dict[str, str]:
    with RawClient(port) as c:
        body = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
            {"resource_type": 2, "resource_name": topic, "configuration_keys": None}],
            "include_synonyms": False, "include_documentation": False})
    return {e["name"]: e["value"] for e in body["results"][0]["configs"]}


def alter_group(port: int, changes: dict[str, str | None], group: str = GROUP) -> dict[str, Any]:
    """IncrementalAlterConfigs of a group: SET each name with a value, DELETE each with None."""
    with RawClient(port) as c:
        body = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
            {"resource_type": GROUP_RESOURCE, "resource_name": group,
             "configs": [{"name": k, "config_operation": 0 if v is not None else 1, "value": v}
                         for k, v in changes.items()]}], "validate_only": False})
    return dict(body["responses"][0])


def described_group(port: int, group: str = GROUP) -> dict[str, tuple[str, int]]:
    """DescribeConfigs of a group: name -> (value, config source)."""
    with RawClient(port) as c:
        body = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
            {"resource_type": GROUP_RESOURCE, "resource_name": group, "configuration_keys": None}],
            "include_synonyms": False, "include_documentation": False})
    result = body["results"][0]
    assert result["error_code"] == 0, result
    return {e["name"]: (e["value"], e["config_source"]) for e in result["configs"]}


def create_on(port: int, topic: str, replicas: list[int]) -> None:
    with RawClient(port) as c:
        answer = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": topic, "num_partitions": -1, "replication_factor": -1,
             "assignments": [{"partition_index": 0, "broker_ids": replicas}], "configs": []}],
            "timeout_ms": 30000, "validate_only": False})
    assert answer["topics"][0]["error_code"] == 0, answer


def full_isr(cluster: Cluster, zk: KazooClient, topic: str) -> None:
    wait_until(lambda: len(cluster.state(zk, topic, 0)["isr"]) == 3, 30, f"the full ISR of {topic}-0")


def new_leader(cluster: Cluster, zk: KazooClient, topic: str, old: int) -> int:
    state = wait_until(lambda: (s := cluster.state(zk, topic, 0))["leader"] not in (old, -1) and s, 30,
                       f"a new leader of {topic}-0")
    assert isinstance(state, dict)
    return int(state["leader"])


class Heartbeats(threading.Thread):
    """A share consumer's heartbeat: every 300 ms at the group's coordinator, found again whenever
    it moves (NOT_COORDINATOR, or its broker dies), rejoining when the new one does not know it."""

    def __init__(self, cluster: Cluster, member_id: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.member_id = cluster, member_id
        self.stopped = threading.Event()
        self.joined = threading.Event()
        self.errors: list[dict[str, Any]] = []
        self.intervals: set[int] = set()  # the heartbeat intervals the coordinators answered

    def run(self) -> None:
        member: ShareMember | None = None
        while not self.stopped.is_set():
            try:
                if member is None:
                    live = [b for b in self.cluster.brokers.values() if b.proc is not None and b.proc.poll() is None]
                    entry = find(live[0].port, GROUP, 0)
                    node = self.cluster.brokers[int(entry["node_id"])]
                    member = ShareMember(node.port, GROUP, [TOPIC], member_id=self.member_id)
                body = member.heartbeat()
                if body["error_code"] == 0:
                    self.intervals.add(body["heartbeat_interval_ms"])
                    self.joined.set()
                elif body["error_code"] in (ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_MEMBER_EPOCH):
                    member.member_epoch = 0  # a new coordinator that does not know the member: join again
                elif body["error_code"] in RETRIABLE:
                    member.close()
                    member = None
                else:
                    self.errors.append(body)
            except (OSError, KeyError, IndexError):
                if member is not None:
                    member.close()
                member = None
            self.stopped.wait(0.3)
        if member is not None:
            member.close()


class Fetcher:
    """The member's ShareFetch / ShareAcknowledge, on a share session at the partition's leader."""

    def __init__(self, cluster: Cluster, zk: KazooClient, member_id: str, tid: uuid.UUID) -> None:
        self.cluster, self.zk, self.member_id, self.tid = cluster, zk, member_id, tid
        self.node = -1
        self.session: ShareMember | None = None

    def _at_leader(self) -> ShareMember:
        leader = int(self.cluster.state(self.zk, TOPIC, 0)["leader"])
        if self.session is None or leader != self.node:
            if self.session is not None:
                self.session.close()
            self.node = leader
            self.session = ShareMember(self.cluster.brokers[leader].port, GROUP, [TOPIC], member_id=self.member_id)
        return self.session

    def fetch(self, count: int, timeout_s: float = 40) -> Fetched:
        """Fetch until ``count`` records are acquired, riding out a leader that is not serving yet."""
        values: dict[int, bytes] = {}
        counts: dict[int, int] = {}
        deadline = time.monotonic() + timeout_s
        while len(values) < count:
            assert time.monotonic() < deadline, f"only {sorted(values)} acquired of {count}"
            try:
                got = self._at_leader().fetch(self.tid, max_wait_ms=300)
            except (OSError, KeyError, AssertionError):
                # Its broker died (or no leader yet), or the share session is gone: open a new one.
                if self.session is not None:
                    self.session.close()
                self.session = None
                time.sleep(0.2)
                continue
            if got.error_code == ErrorCode.NOT_LEADER_OR_FOLLOWER:
                time.sleep(0.2)
                continue
            assert got.error_code == 0, got
            values.update(got.values)
            counts.update(got.delivery_counts)
        return Fetched(values, counts, 0, 0)

    def acknowledge(self, first: int, last: int, kind: int) -> int:
        assert self.session is not None
        body = self.session.acknowledge(self.tid, [(first, last, kind)])
        assert body["error_code"] == 0, body
        return int(body["responses"][0]["partitions"][0]["error_code"])

    def drained(self) -> bool:
        return not self._at_leader().fetch(self.tid, max_wait_ms=800).values


def test_find_coordinator_names_the_leader_of_the_keys_share_state_partition(share_cluster: Cluster,
                                                                              zk_client: KazooClient) -> None:
    cluster = share_cluster
    create_on(cluster.brokers[1].port, TOPIC, [1, 2, 3])
    with RawClient(cluster.brokers[1].port) as c:
        tid = topic_id(c, TOPIC)
    key = coordinator_key(GROUP, tid, 0)
    named = {i: find(b.port, key, 2) for i, b in cluster.brokers.items()}
    leader = int(cluster.state(zk_client, STATE, 0)["leader"])
    assert {i: (e["error_code"], e["node_id"]) for i, e in named.items()} == {i: (0, leader) for i in named}
    assert named[1]["port"] == cluster.brokers[leader].port
    # __share_group_state is replicated on every broker.
    full_isr(cluster, zk_client, STATE)
    # A malformed key is refused; share heartbeats are the group coordinator's alone.
    assert find(cluster.brokers[1].port, f"{GROUP}:0", 2)["error_code"] == ErrorCode.INVALID_REQUEST
    coordinator = int(find(cluster.brokers[1].port, GROUP, 0)["node_id"])

    def joined_at(port: int) -> dict[str, Any]:
        m = ShareMember(port, GROUP, [TOPIC], member_id=kafka_uuid())
        try:
            return m.heartbeat()
        finally:
            m.close()

    def taken_at(port: int) -> dict[str, Any] | None:
        answer = joined_at(port)
        return answer if answer["error_code"] == 0 else None

    # FindCoordinator names the leader ZooKeeper records; that broker answers NOT_COORDINATOR until it
    # has applied the leadership itself, and a client sends the heartbeat again.
    at_coordinator = cluster.brokers[coordinator].port
    wait_until(lambda: taken_at(at_coordinator), 30, "the coordinator taking a heartbeat")
    for i, b in cluster.brokers.items():
        if i != coordinator:
            answer = joined_at(b.port)
            assert answer["error_code"] == ErrorCode.NOT_COORDINATOR, (i, answer)
    # Its min.insync.replicas is share.coordinator.state.topic.min.isr (Kafka's default 2).
    assert topic_configs(zk_client, STATE)["min.insync.replicas"] == "2"
    assert described_topic(cluster.brokers[2].port, STATE)["min.insync.replicas"] == "2"


@pytest.mark.slow
def test_group_configs_altered_on_one_broker_hold_on_every_broker(zookeeper: LocalZooKeeper, zk_client: KazooClient,
                                                                  tmp_path: Path) -> None:
    """A share group's configs live in ZooKeeper (/config/groups/<group>): altered through one broker,
    described by every broker, and obeyed by a partition leader that is neither that broker nor the
    group's coordinator. The same cluster keeps __share_group_state on two replicas, so its
    min.insync.replicas (3 asked) is capped at 2, as the replication factor is at the live brokers."""
    limits = {"share_coordinator_state_topic_replication_factor": "2", "share_coordinator_state_topic_min_isr": "3"}
    with three_brokers(zookeeper, tmp_path, **SHARE_CLUSTER, **limits) as cluster:
        zk = zk_client
        coordinator = int(find(cluster.brokers[1].port, GROUP, 0)["node_id"])
        leader = next(i for i in (3, 2, 1) if i not in (1, coordinator))
        create_on(cluster.brokers[1].port, TOPIC, [leader] + [i for i in (1, 2, 3) if i != leader])
        full_isr(cluster, zk, TOPIC)
        wait_until(lambda: int(cluster.state(zk, TOPIC, 0)["leader"]) == leader, 30, "the preferred leader")
        with RawClient(cluster.brokers[1].port) as c:
            tid = topic_id(c, TOPIC)
        produce(cluster.bootstrap, TOPIC, [b"%d" % i for i in range(3)])  # before the group has a member

        # Altered on broker 1 (neither the partition leader nor, with three brokers, necessarily the
        # group coordinator); a bad value is refused on any broker and changes nothing.
        wanted = {"share.auto.offset.reset": "earliest", "share.delivery.count.limit": "2",
                  "share.heartbeat.interval.ms": "5000"}  # under the brokers' 6 s session, as it must be
        assert alter_group(cluster.brokers[1].port, dict(wanted))["error_code"] == 0
        refused = alter_group(cluster.brokers[2].port, {"share.delivery.count.limit": "one"})
        assert refused["error_code"] == ErrorCode.INVALID_CONFIG, refused
        assert json.loads(zk.get(f"/config/groups/{GROUP}")[0]) == {"version": 1, "config": wanted}
        notices = [json.loads(zk.get(f"/config/changes/{n}")[0]) for n in zk.get_children("/config/changes")]
        assert {"version": 2, "entity_path": f"groups/{GROUP}"} in notices
        for i in (1, 2, 3):
            described = described_group(cluster.brokers[i].port)
            assert {k: described[k] for k in wanted} == {k: (v, 8) for k, v in wanted.items()}, i  # GROUP_CONFIG
            assert described["share.record.lock.duration.ms"] == ("120000", 5), i  # the broker default

        member_id = kafka_uuid()
        beats = Heartbeats(cluster, member_id)
        beats.start()
        try:
            assert beats.joined.wait(30), "the member did not join"
            fetcher = Fetcher(cluster, zk, member_id, tid)
            got = fetcher.fetch(3)  # from the log start: share.auto.offset.reset earliest at the leader
            assert fetcher.node == leader
            assert got.values == {i: b"%d" % i for i in range(3)} and set(got.delivery_counts.values()) == {1}
            assert fetcher.acknowledge(1, 2, ACCEPT) == 0
            assert fetcher.acknowledge(0, 0, RELEASE) == 0
            assert fetcher.fetch(1).delivery_counts == {0: 2}
            # The group's limit (2), not the brokers' group.share.delivery.count.limit (6): archived.
            assert fetcher.acknowledge(0, 0, RELEASE) == 0
            assert fetcher.drained()

            # Deleted on broker 3: every broker describes the default again, and the leader's next
            # deliveries follow it (6).
            assert alter_group(cluster.brokers[3].port, {"share.delivery.count.limit": None})["error_code"] == 0
            for i in (1, 2, 3):
                assert described_group(cluster.brokers[i].port)["share.delivery.count.limit"] == ("6", 5), i
            produce(cluster.bootstrap, TOPIC, [b"3"])
            deliveries = []
            for _ in range(3):
                deliveries.append(fetcher.fetch(1).delivery_counts)
                assert fetcher.acknowledge(3, 3, RELEASE) == 0
            assert deliveries == [{3: 1}, {3: 2}, {3: 3}]  # past the group's old limit of 2
            assert beats.errors == []
            assert beats.intervals == {5000}  # the group's, not the brokers' 300 ms
        finally:
            beats.stopped.set()
            beats.join(5)

        # __share_group_state (made by the first state write): two replicas, min.insync.replicas 2.
        replicas = json.loads(zk.get(f"/brokers/topics/{STATE}")[0])["partitions"]["0"]
        assert len(replicas) == 2
        assert topic_configs(zk, STATE)["min.insync.replicas"] == "2"
        for b in cluster.brokers.values():
            assert "Traceback" not in b.log_text()


@pytest.mark.slow
def test_share_coordinator_and_partition_leader_killed_records_in_flight_come_back_counted(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    # Two of the three brokers are killed: the one left is the whole ISR of __share_group_state, so
    # its min.insync.replicas (share.coordinator.state.topic.min.isr, 2 by default, which would refuse
    # every state write then, as Kafka's would) is 1 here.
    with three_brokers(zookeeper, tmp_path, **SHARE_CLUSTER, share_coordinator_state_topic_min_isr="1") as cluster:
        _coordinator_and_leader_killed(cluster, zk_client)


def _coordinator_and_leader_killed(cluster: Cluster, zk: KazooClient) -> None:
    # The share coordinator (the leader of __share_group_state-0) and the partition leader differ, so
    # the leader writes its state to another broker.
    coordinator_key_any = coordinator_key(GROUP, uuid.UUID(int=1), 0)
    share_coordinator = int(find(cluster.brokers[1].port, coordinator_key_any, 2)["node_id"])
    leader = next(i for i in (1, 2, 3) if i != share_coordinator)
    create_on(cluster.brokers[1].port, TOPIC, [leader] + [i for i in (1, 2, 3) if i != leader])
    for topic in (STATE, TOPIC):
        full_isr(cluster, zk, topic)
    wait_until(lambda: int(cluster.state(zk, TOPIC, 0)["leader"]) == leader, 30, "the preferred leader")
    with RawClient(cluster.brokers[leader].port) as c:
        tid = topic_id(c, TOPIC)

    member_id = kafka_uuid()
    beats = Heartbeats(cluster, member_id)
    beats.start()
    try:
        assert beats.joined.wait(30), "the member did not join"
        full_isr(cluster, zk, OFFSETS)
        fetcher = Fetcher(cluster, zk, member_id, tid)
        assert fetcher.drained()  # the share-partition starts at the log end (share.auto.offset.reset latest)
        # The leader wrote its new share-partition to the share coordinator, another broker.
        wait_until(lambda: stored_start(cluster.brokers[share_coordinator].port, tid) == 0, 20,
                   "the share-partition's state at its share coordinator")
        produce(cluster.bootstrap, TOPIC, [b"%d" % i for i in range(10)])
        got = fetcher.fetch(10)
        assert got.values == {i: b"%d" % i for i in range(10)} and set(got.delivery_counts.values()) == {1}
        assert fetcher.acknowledge(0, 4, ACCEPT) == 0  # durable at the share coordinator, replicated

        # kill -9 of the share coordinator while 5..9 are in flight: a new one reloads the state from
        # its replica, and the leader's next writes go there.
        cluster.brokers[share_coordinator].stop(signal.SIGKILL)
        new_leader(cluster, zk, STATE, share_coordinator)
        assert fetcher.node == leader
        assert fetcher.acknowledge(5, 6, RELEASE) == 0
        again = fetcher.fetch(2)
        assert again.delivery_counts == {5: 2, 6: 2}

        # kill -9 of the partition leader with 5..9 acquired (5, 6 at their second delivery): the new
        # leader reads the state back from the share coordinator.
        cluster.brokers[leader].stop(signal.SIGKILL)
        new_leader(cluster, zk, TOPIC, leader)
        after = fetcher.fetch(5)
        assert after.values == {i: b"%d" % i for i in range(5, 10)}  # never 0..4: they were accepted
        assert after.delivery_counts == {5: 3, 6: 3, 7: 2, 8: 2, 9: 2}  # the deliveries kept counting
        assert fetcher.acknowledge(5, 9, ACCEPT) == 0
        assert fetcher.drained()
        assert beats.errors == []
    finally:
        beats.stopped.set()
        beats.join(5)
    for b in cluster.brokers.values():
        assert "Traceback" not in b.log_text()


@pytest.mark.java
def test_java_share_consumer_reads_partitions_led_by_every_broker(
        share_cluster: Cluster, zk_client: KazooClient, kafka_java: Java) -> None:  # noqa: F811
    """Kafka's console share consumer (KafkaShareConsumer) on a topic whose three partitions are led by
    three brokers: it heartbeats to the group coordinator and fetches each partition from its leader,
    whose share-partition state is kept by that key's share coordinator."""
    cluster, zk = share_cluster, zk_client
    group, topic, count = "jshare", "jobs", 60
    with RawClient(cluster.brokers[1].port) as c:
        answer = c.call(ApiKey.CREATE_TOPICS, 7, {"topics": [
            {"name": topic, "num_partitions": -1, "replication_factor": -1,
             "assignments": [{"partition_index": p, "broker_ids": [p + 1] + [i for i in (1, 2, 3) if i != p + 1]}
                             for p in range(3)], "configs": []}], "timeout_ms": 30000, "validate_only": False})
        assert answer["topics"][0]["error_code"] == 0, answer
    wait_until(lambda: all(len(cluster.state(zk, topic, p)["isr"]) == 3 for p in range(3)), 30, "full ISRs")
    assert {int(cluster.state(zk, topic, p)["leader"]) for p in range(3)} == {1, 2, 3}
    with RawClient(cluster.brokers[1].port) as c:
        tid = topic_id(c, topic)
    consumer = subprocess.Popen(
        [kafka_java.java, *JVM_OPTS, "-cp", kafka_java.classpath, SHARE_CONSUMER, "--bootstrap-server",
         cluster.bootstrap, "--topic", topic, "--group", group, "--max-messages", str(count), "--timeout-ms", "60000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # Each share-partition starts at the log end (share.auto.offset.reset latest) once its leader
        # served the consumer a first time and wrote it to the key's share coordinator.
        def started() -> bool:
            for p in range(3):
                node = int(find(cluster.brokers[1].port, coordinator_key(group, tid, p), 2)["node_id"])
                if stored_start(cluster.brokers[node].port, tid, p, group) != 0:
                    return False
            return True

        wait_until(started, 60, "every share-partition initialized")
        producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "linger.ms": 5})
        values = [f"job-{i:03d}" for i in range(count)]
        for i, v in enumerate(values):
            producer.produce(topic, v.encode(), partition=i % 3)
        assert producer.flush(30) == 0
        out, _ = consumer.communicate(timeout=120)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    assert sorted(w for w in out.split() if w.startswith("job-")) == values


def led_apart_from_the_coordinator(cluster: Cluster, zk: KazooClient) -> tuple[int, int, uuid.UUID]:
    """The group's coordinator, and the topic created with its preferred leader on another broker
    (that leader and the topic's id); the group reads from the log start."""
    coordinator = int(find(cluster.brokers[1].port, GROUP, 0)["node_id"])
    leader = next(i for i in (1, 2, 3) if i != coordinator)
    create_on(cluster.brokers[1].port, TOPIC, [leader] + [i for i in (1, 2, 3) if i != leader])
    full_isr(cluster, zk, TOPIC)
    wait_until(lambda: int(cluster.state(zk, TOPIC, 0)["leader"]) == leader, 30, "the preferred leader")
    with RawClient(cluster.brokers[1].port) as c:
        tid = topic_id(c, TOPIC)
    assert alter_group(cluster.brokers[1].port, {"share.auto.offset.reset": "earliest"})["error_code"] == 0
    return coordinator, leader, tid


def consume_once(cluster: Cluster, zk: KazooClient, tid: uuid.UUID, coordinator: int, leader: int, count: int,
                 accept: int | None = None) -> Fetched:
    """A member joins, acquires ``count`` records at the leader, accepts them (``accept``: only that
    many, the rest are released when its share session closes) and leaves the group."""
    member_id = kafka_uuid()
    beats = Heartbeats(cluster, member_id)
    beats.start()
    try:
        assert beats.joined.wait(30), "the member did not join"
        fetcher = Fetcher(cluster, zk, member_id, tid)
        got = fetcher.fetch(count)
        assert fetcher.node == leader
        first = min(got.values)
        last = max(got.values) if accept is None else first + accept - 1
        assert fetcher.acknowledge(first, last, ACCEPT) == 0
        assert fetcher.session is not None
        fetcher.session.close_session()
        fetcher.session.close()
    finally:
        beats.stopped.set()
        beats.join(5)
    gone = ShareMember(cluster.brokers[coordinator].port, GROUP, [TOPIC], member_id=member_id)
    try:
        assert gone.leave()["error_code"] == 0
    finally:
        gone.close()
    return got


def named_share_offsets(port: int, topics: dict[str, list[int]], group: str = GROUP
                        ) -> dict[tuple[str, int], tuple[int, int]]:
    """DescribeShareGroupOffsets of the named partitions: (start offset, error code)."""
    with RawClient(port) as c:
        body = c.call(ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, 0, {"groups": [{"group_id": group, "topics": [
            {"topic_name": t, "partitions": ps} for t, ps in topics.items()]}]})
    g = body["groups"][0]
    assert g["error_code"] == 0, g
    return {(t["topic_name"], p["partition_index"]): (p["start_offset"], p["error_code"])
            for t in g["topics"] for p in t["partitions"]}


def share_offsets(port: int, group: str = GROUP) -> dict[tuple[str, int], tuple[int, int]]:
    """DescribeShareGroupOffsets of every share-partition of a group: (start offset, error code)."""
    with RawClient(port) as c:
        body = c.call(ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, 0, {"groups": [{"group_id": group, "topics": None}]})
    g = body["groups"][0]
    assert g["error_code"] == 0, g
    return {(t["topic_name"], p["partition_index"]): (p["start_offset"], p["error_code"])
            for t in g["topics"] for p in t["partitions"]}


def test_offsets_admin_goes_through_the_share_coordinators(share_cluster: Cluster, zk_client: KazooClient) -> None:
    """DescribeShareGroupOffsets and AlterShareGroupOffsets at the group coordinator ask the share
    coordinator of each share-partition (ReadShareGroupStateSummary, InitializeShareGroupState),
    and a reset is seen by the partition's leader, a third broker that held the share-partition."""
    cluster, zk = share_cluster, zk_client
    coordinator, leader, tid = led_apart_from_the_coordinator(cluster, zk)
    produce(cluster.bootstrap, TOPIC, [b"%d" % i for i in range(5)])

    first = consume_once(cluster, zk, tid, coordinator, leader, 5)
    assert first.values == {i: b"%d" % i for i in range(5)}
    # Described by the group coordinator from the share coordinator's state (accepted: start offset 5).
    assert share_offsets(cluster.brokers[coordinator].port) == {(TOPIC, 0): (5, 0)}
    # Any other broker: named partitions are read from their share coordinators all the same; the
    # group's whole list is its coordinator's to give (NOT_COORDINATOR, the client's cue to find it),
    # as Kafka 4.1.1 answers both (GroupCoordinatorService reads named partitions from the persister
    # at once and schedules the listing on the group's __consumer_offsets partition).
    elsewhere = cluster.brokers[next(i for i in (1, 2, 3) if i != coordinator)].port
    assert named_share_offsets(elsewhere, {TOPIC: [0]}) == {(TOPIC, 0): (5, 0)}
    with RawClient(elsewhere) as c:
        listed = c.call(ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, 0, {"groups": [{"group_id": GROUP, "topics": None}]})
    assert listed["groups"][0]["error_code"] == ErrorCode.NOT_COORDINATOR, listed
    with RawClient(cluster.brokers[coordinator].port) as c:
        moved = c.call(ApiKey.ALTER_SHARE_GROUP_OFFSETS, 0, {"group_id": GROUP, "topics": [
            {"topic_name": TOPIC, "partitions": [{"partition_index": 0, "start_offset": 2}]}]})
    assert moved["error_code"] == 0, moved
    assert [(t["topic_name"], [p["error_code"] for p in t["partitions"]]) for t in moved["responses"]] == [
        (TOPIC, [0])]
    assert share_offsets(cluster.brokers[coordinator].port) == {(TOPIC, 0): (2, 0)}
    share_coordinator = int(find(cluster.brokers[1].port, coordinator_key(GROUP, tid, 0), 2)["node_id"])
    assert stored_start(cluster.brokers[share_coordinator].port, tid) == 2
    # The leader held the share-partition at start offset 5: the next member's share session reads
    # the reset state back, and 2..4 are delivered again.
    again = consume_once(cluster, zk, tid, coordinator, leader, 3)
    assert again.values == {i: b"%d" % i for i in range(2, 5)} and set(again.delivery_counts.values()) == {1}
    wait_until(lambda: stored_start(cluster.brokers[share_coordinator].port, tid) == 5, 20, "2..4 accepted")

    # Deleted (DeleteShareGroupState at the share coordinator): the leader, which held it, starts the
    # share-partition afresh (share.auto.offset.reset earliest) at the next member's share session.
    with RawClient(cluster.brokers[coordinator].port) as c:
        deleted = c.call(ApiKey.DELETE_SHARE_GROUP_OFFSETS, 0, {"group_id": GROUP, "topics": [{"topic_name": TOPIC}]})
    assert deleted["error_code"] == 0 and [(t["topic_name"], t["error_code"]) for t in deleted["responses"]] == [
        (TOPIC, 0)], deleted
    assert stored_start(cluster.brokers[share_coordinator].port, tid) == -1
    assert share_offsets(cluster.brokers[coordinator].port) == {}
    afresh = consume_once(cluster, zk, tid, coordinator, leader, 5)
    assert afresh.values == {i: b"%d" % i for i in range(5)} and set(afresh.delivery_counts.values()) == {1}
    # DeleteGroups of the (empty) share group deletes the state of its share-partitions there too.
    wait_until(lambda: stored_start(cluster.brokers[share_coordinator].port, tid) == 5, 20, "0..4 accepted")
    assert delete_group(cluster.brokers[coordinator].port) == 0
    assert stored_start(cluster.brokers[share_coordinator].port, tid) == -1  # deleted before the answer
    # Its configs stay in ZooKeeper, described by every broker, as Kafka 4.1.1 keeps a deleted
    # group's configs (tests/interop/test_share_protocol.py::test_deleting_a_share_group_keeps_its_configs).
    data, _ = zk.get(f"/config/groups/{GROUP}")
    assert json.loads(data)["config"] == {"share.auto.offset.reset": "earliest"}
    for b in cluster.brokers.values():
        assert described_group(b.port)["share.auto.offset.reset"][0] == "earliest"
    for b in cluster.brokers.values():
        assert "Traceback" not in b.log_text()


def share_offsets_now(port: int) -> dict[tuple[str, int], tuple[int, int]] | None:
    """``share_offsets``, or None while the group or a share-partition answers a retriable error."""
    with RawClient(port) as c:
        body = c.call(ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, 0, {"groups": [{"group_id": GROUP, "topics": None}]})
    g = body["groups"][0]
    if g["error_code"] in RETRIABLE:
        return None
    assert g["error_code"] == 0, g
    out = {(t["topic_name"], p["partition_index"]): (p["start_offset"], p["error_code"])
           for t in g["topics"] for p in t["partitions"]}
    return None if any(code in RETRIABLE for _, code in out.values()) else out


def share_group_described(port: int) -> dict[str, Any]:
    with RawClient(port) as c:
        body = c.call(ApiKey.SHARE_GROUP_DESCRIBE, 1, {"group_ids": [GROUP], "include_authorized_operations": False})
    return dict(body["groups"][0])


def listed_share_groups(port: int) -> list[str]:
    with RawClient(port) as c:
        body = c.call(ApiKey.LIST_GROUPS, 5, {"states_filter": [], "types_filter": ["share"]})
    return sorted(g["group_id"] for g in body["groups"])


def replicated(cluster: Cluster, zk: KazooClient, port: int) -> None:
    """Wait until every replica of __consumer_offsets-0 is in the ISR and the leader's high watermark
    has stopped moving (the coordinator's last records are on every replica)."""
    full_isr(cluster, zk, OFFSETS)

    def high_watermark() -> int:
        with RawClient(port) as c:
            body = c.call(ApiKey.LIST_OFFSETS, 7, {"replica_id": -1, "isolation_level": 0, "topics": [
                {"name": OFFSETS, "partitions": [{"partition_index": 0, "current_leader_epoch": -1,
                                                  "timestamp": -1}]}]})
        return int(body["topics"][0]["partitions"][0]["offset"])

    marks = [high_watermark()]

    def settled() -> bool:
        marks.append(high_watermark())
        return marks[-1] == marks[-2] > 0

    wait_until(settled, 30, "the __consumer_offsets high watermark to settle", interval=1.5)


@pytest.mark.slow  # a kill -9 or a session running out, ~25 s: `make test-slow`
def test_a_share_group_and_its_share_partitions_survive_a_group_coordinator_kill(
        share_cluster: Cluster, zk_client: KazooClient) -> None:
    """The group coordinator records the share group's epoch and share-partitions in
    __consumer_offsets: after kill -9 of the coordinator, the broker that takes its partition over
    lists and describes the group and describes the same start offsets, with no member joining."""
    cluster, zk = share_cluster, zk_client
    coordinator, leader, tid = led_apart_from_the_coordinator(cluster, zk)
    produce(cluster.bootstrap, TOPIC, [b"%d" % i for i in range(6)])
    consume_once(cluster, zk, tid, coordinator, leader, 6, accept=4)  # 0..3 accepted: start offset 4

    port = cluster.brokers[coordinator].port
    before = wait_until(lambda: share_offsets_now(port), 20, "the start offsets described")
    assert before == {(TOPIC, 0): (4, 0)}
    described = share_group_described(port)
    assert described["error_code"] == 0 and described["group_state"] == "Empty", described
    assert listed_share_groups(port) == [GROUP]
    replicated(cluster, zk, port)

    cluster.brokers[coordinator].stop(signal.SIGKILL)
    moved = int(new_leader(cluster, zk, OFFSETS, coordinator))
    port = cluster.brokers[moved].port
    wait_until(lambda: int(find(port, GROUP, 0)["node_id"]) == moved, 30, "the new coordinator named")
    after = wait_until(lambda: share_offsets_now(port), 40, "the start offsets described by the new coordinator")
    assert after == before
    again = share_group_described(port)
    assert again["error_code"] == 0 and again["group_state"] == "Empty", again
    assert again["group_epoch"] == described["group_epoch"]
    assert listed_share_groups(port) == [GROUP]
    # DeleteGroups at the new coordinator deletes the share-partitions it read back.
    share_coordinator = int(find(port, coordinator_key(GROUP, tid, 0), 2)["node_id"])
    assert delete_group(port) == 0
    assert stored_start(cluster.brokers[share_coordinator].port, tid) == -1  # deleted before the answer
    assert listed_share_groups(port) == []
    for b in cluster.brokers.values():
        assert "Traceback" not in b.log_text()


@pytest.mark.slow  # a kill -9 or a session running out, ~25 s: `make test-slow`
def test_a_share_member_whose_session_expires_loses_its_records_at_every_leader(
        share_cluster: Cluster, zk_client: KazooClient) -> None:
    """A Kafka-protocol member acquires records at a leader that is not its group coordinator, then
    goes silent with its share session there still open: when its session expires at the
    coordinator (6 s here), the coordinator closes that share session at the leader, so the records
    come back for another member at once, long before their locks (120 s here) would expire."""
    cluster, zk = share_cluster, zk_client
    coordinator, leader, tid = led_apart_from_the_coordinator(cluster, zk)
    produce(cluster.bootstrap, TOPIC, [b"%d" % i for i in range(5)])

    silent = kafka_uuid()
    beats = Heartbeats(cluster, silent)
    beats.start()
    try:
        assert beats.joined.wait(30), "the member did not join"
        held = Fetcher(cluster, zk, silent, tid)
        got = held.fetch(5)
        assert held.node == leader and set(got.delivery_counts.values()) == {1}
    finally:
        beats.stopped.set()  # no more heartbeats, no leave: the member's session runs out
        beats.join(5)
    went_silent = time.monotonic()

    other = kafka_uuid()
    beats = Heartbeats(cluster, other)
    beats.start()
    try:
        assert beats.joined.wait(30), "the second member did not join"
        fetcher = Fetcher(cluster, zk, other, tid)
        again = fetcher.fetch(5, timeout_s=40)
        waited = time.monotonic() - went_silent
        assert again.values == got.values and set(again.delivery_counts.values()) == {2}
        assert waited < 60, f"released after {waited:.1f} s: by lock expiry, not by the session's"
        assert fetcher.acknowledge(0, 4, ACCEPT) == 0
        assert beats.errors == []
    finally:
        beats.stopped.set()
        beats.join(5)
        if held.session is not None:
            held.session.close()
    assert "its records there released" in cluster.brokers[coordinator].log_text()
    for b in cluster.brokers.values():
        assert "Traceback" not in b.log_text()


@pytest.mark.java
def test_kafka_share_groups_tool_describes_offsets_kept_by_share_coordinators(
        share_cluster: Cluster, zk_client: KazooClient, kafka_java: Java) -> None:  # noqa: F811
    """Kafka's ``kafka-share-groups --describe`` against the cluster: the start offset it shows is the
    one the share coordinator keeps for a share-partition led by another broker, before and after
    kill -9 of the group coordinator."""
    cluster, zk = share_cluster, zk_client
    coordinator, leader, tid = led_apart_from_the_coordinator(cluster, zk)
    produce(cluster.bootstrap, TOPIC, [b"%d" % i for i in range(4)])
    consume_once(cluster, zk, tid, coordinator, leader, 4, accept=2)  # 0, 1 accepted; 2, 3 released

    def tool_rows() -> list[list[str]]:
        proc = subprocess.run([kafka_java.java, *JVM_OPTS, "-cp", kafka_java.classpath,
                               "org.apache.kafka.tools.consumer.group.ShareGroupCommand", "--bootstrap-server",
                               cluster.bootstrap, "--describe", "--group", GROUP], capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return [line.split()[:4] for line in proc.stdout.splitlines() if line.split()[:1] == [GROUP]]

    assert tool_rows() == [[GROUP, TOPIC, "0", "2"]]
    # The same after kill -9 of the group coordinator: the new one read the group back from
    # __consumer_offsets.
    replicated(cluster, zk, cluster.brokers[coordinator].port)
    cluster.brokers[coordinator].stop(signal.SIGKILL)
    new_leader(cluster, zk, OFFSETS, coordinator)
    assert tool_rows() == [[GROUP, TOPIC, "0", "2"]]
