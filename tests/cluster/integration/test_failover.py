"""Faults in a three-broker cluster: a follower killed and restarted behind, min.insync.replicas,
requests to a broker that does not lead. Bounded: a few hundred records, each wait time-limited."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_replication import consume, create_topic, produce
from tests.interop.rawclient import RawClient

TOPIC = "events"


def raw_produce(port: int, topic: str, acks: int = -1) -> dict[str, object]:
    records = [RecordInput(key=b"k", value=b"v%d" % i, timestamp=1_700_000_000_000 + i) for i in range(3)]
    with RawClient(port) as c:
        body = c.call(ApiKey.PRODUCE, 9, {"acks": acks, "timeout_ms": 10000, "topic_data": [
            {"name": topic, "partition_data": [{"index": 0, "records": build_batch(records)}]}]})
    return dict(body["responses"][0]["partition_responses"][0])


def segment_bytes(data_dir: Path, topic: str, partition: int) -> bytes:
    """Every segment file of a partition, in offset order, concatenated."""
    part = data_dir / f"{topic}-{partition}"
    return b"".join(p.read_bytes() for p in sorted(part.glob("*.log")))


def leader_of(cluster: Cluster, zk: KazooClient, topic: str) -> int:
    return int(cluster.state(zk, topic, 0)["leader"])


def test_follower_behind_catches_up_rejoins_isr_and_replicas_are_identical(
        cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    first = [f"a{i}".encode() for i in range(100)]
    produce(cluster.bootstrap, TOPIC, first)
    leader = leader_of(cluster, zk_client, TOPIC)
    follower = next(i for i in cluster.brokers if i != leader)
    cluster.brokers[follower].stop(signal.SIGKILL)
    # The dead follower leaves the ISR (session expiry or replica.lag.time.max.ms), then acks=all
    # needs only the two live replicas.
    wait_until(lambda: follower not in cluster.state(zk_client, TOPIC, 0)["isr"], 20,
               "the dead follower out of the ISR")
    second = [f"b{i}".encode() for i in range(200)]
    produce(cluster.bootstrap, TOPIC, second)
    cluster.brokers[follower].start()
    wait_until(lambda: follower in cluster.state(zk_client, TOPIC, 0)["isr"], 30,
               "the restarted follower back in the ISR")
    assert consume(cluster.bootstrap, TOPIC, 300) == first + second
    wait_until(lambda: len({segment_bytes(b.data_dir, TOPIC, 0) for b in cluster.brokers.values()}) == 1, 20,
               "byte-identical replicas")
    assert len(segment_bytes(cluster.brokers[leader].data_dir, TOPIC, 0)) > 0


def test_min_insync_replicas_refuses_acks_all_when_the_isr_is_too_small(
        cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC, config={"min.insync.replicas": "3"})
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    leader = leader_of(cluster, zk_client, TOPIC)
    # The state znode names the leader a moment before that broker has taken the role (as with Kafka).
    wait_until(lambda: raw_produce(cluster.brokers[leader].port, TOPIC)["error_code"] == 0, 10, "the leader serving")
    follower = next(i for i in cluster.brokers if i != leader)
    cluster.brokers[follower].stop(signal.SIGKILL)
    wait_until(lambda: follower not in cluster.state(zk_client, TOPIC, 0)["isr"], 20,
               "the dead follower out of the ISR")
    leader = leader_of(cluster, zk_client, TOPIC)
    answer = wait_until(lambda: (r := raw_produce(cluster.brokers[leader].port, TOPIC))["error_code"]
                        == ErrorCode.NOT_ENOUGH_REPLICAS and r, 10, "NOT_ENOUGH_REPLICAS")
    assert isinstance(answer, dict) and answer["base_offset"] == -1
    assert raw_produce(cluster.brokers[leader].port, TOPIC, acks=1)["error_code"] == 0  # acks=1 is not refused


def test_a_broker_that_does_not_lead_answers_not_leader_or_follower(
        cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    leader = leader_of(cluster, zk_client, TOPIC)
    follower = next(i for i in cluster.brokers if i != leader)
    assert raw_produce(cluster.brokers[follower].port, TOPIC)["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER
    with RawClient(cluster.brokers[follower].port) as c:
        body = c.call(ApiKey.FETCH, 12, {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 1, "max_bytes": 1 << 20,
                                         "isolation_level": 0, "session_id": 0, "session_epoch": -1,
                                         "topics": [{"topic": TOPIC, "partitions": [
                                             {"partition": 0, "current_leader_epoch": -1, "fetch_offset": 0,
                                              "last_fetched_epoch": -1, "log_start_offset": -1,
                                              "partition_max_bytes": 1 << 20}]}],
                                         "forgotten_topics_data": [], "rack_id": ""})
    assert body["responses"][0]["partitions"][0]["error_code"] == ErrorCode.NOT_LEADER_OR_FOLLOWER


@pytest.mark.slow
def test_old_leader_truncates_its_unreplicated_tail_after_a_leader_change(
        cluster: Cluster, zk_client: KazooClient) -> None:
    """KIP-101: records the old leader appended (acks=1) that no follower had are cut when it returns
    as a follower of the new leader's epoch, so the replicas end identical."""
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    produce(cluster.bootstrap, TOPIC, [f"a{i}".encode() for i in range(50)])
    old = cluster.state(zk_client, TOPIC, 0)
    leader = int(old["leader"])
    followers = [i for i in cluster.brokers if i != leader]
    procs = [cluster.brokers[i].proc for i in followers]
    for p in procs:
        assert p is not None
        p.send_signal(signal.SIGSTOP)
    try:
        for _ in range(3):
            assert raw_produce(cluster.brokers[leader].port, TOPIC, acks=1)["error_code"] == 0
        cluster.brokers[leader].stop(signal.SIGKILL)
    finally:
        for p in procs:
            assert p is not None
            p.send_signal(signal.SIGCONT)
    new = wait_until(lambda: (s := cluster.state(zk_client, TOPIC, 0))["leader"] in followers and s, 30,
                     "a new leader among the followers")
    assert isinstance(new, dict) and new["leader_epoch"] > old["leader_epoch"]
    produce(cluster.bootstrap, TOPIC, [f"b{i}".encode() for i in range(20)])
    cluster.brokers[leader].start()
    wait_until(lambda: leader in cluster.state(zk_client, TOPIC, 0)["isr"], 30,
               "the old leader back in the ISR")
    wait_until(lambda: len({segment_bytes(b.data_dir, TOPIC, 0) for b in cluster.brokers.values()}) == 1, 20,
               "byte-identical replicas")
    assert "truncating from" in cluster.brokers[leader].log_text()


def consumer_fetch(port: int, topic: str, offset: int, leader_epoch: int = -1) -> dict[str, object]:
    with RawClient(port) as c:
        body = c.call(ApiKey.FETCH, 12, {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 1, "max_bytes": 1 << 20,
                                         "isolation_level": 0, "session_id": 0, "session_epoch": -1,
                                         "topics": [{"topic": topic, "partitions": [
                                             {"partition": 0, "current_leader_epoch": leader_epoch,
                                              "fetch_offset": offset,
                                              "last_fetched_epoch": -1, "log_start_offset": -1,
                                              "partition_max_bytes": 1 << 20}]}],
                                         "forgotten_topics_data": [], "rack_id": ""})
    return dict(body["responses"][0]["partitions"][0])


def test_consumers_never_see_records_above_the_high_watermark(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    produce(cluster.bootstrap, TOPIC, [b"x%d" % i for i in range(10)])
    leader = leader_of(cluster, zk_client, TOPIC)
    port = cluster.brokers[leader].port
    wait_until(lambda: consumer_fetch(port, TOPIC, 0)["high_watermark"] == 10, 10, "the high watermark at 10")
    followers = [cluster.brokers[i].proc for i in cluster.brokers if i != leader]
    for p in followers:
        assert p is not None
        p.send_signal(signal.SIGSTOP)
    try:
        assert raw_produce(port, TOPIC, acks=1)["error_code"] == 0  # in the leader's log, on no follower
        answer = consumer_fetch(port, TOPIC, 10)
        assert answer["error_code"] == 0 and answer["high_watermark"] == 10
        assert not answer["records"]  # offset 10 exists on the leader but is not committed
    finally:
        for p in followers:
            assert p is not None
            p.send_signal(signal.SIGCONT)
    wait_until(lambda: consumer_fetch(port, TOPIC, 0)["high_watermark"] == 13, 10, "the batch committed")


@pytest.mark.slow
def test_a_leader_that_loses_its_zookeeper_session_stops_leading(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    leader = leader_of(cluster, zk_client, TOPIC)
    proc = cluster.brokers[leader].proc
    assert proc is not None
    proc.send_signal(signal.SIGSTOP)  # silent past the session timeout: ZooKeeper expires its session
    try:
        wait_until(lambda: leader_of(cluster, zk_client, TOPIC) not in (leader, -1), 30, "another leader")
    finally:
        proc.send_signal(signal.SIGCONT)
    answer = wait_until(lambda: (r := raw_produce(cluster.brokers[leader].port, TOPIC))["error_code"]
                        == ErrorCode.NOT_LEADER_OR_FOLLOWER and r, 20, "the old leader refusing produce")
    assert answer
    # KIP-320: a fetch carrying the old leader epoch is fenced by the new leader; a future one is unknown.
    state = cluster.state(zk_client, TOPIC, 0)
    new_port = cluster.brokers[int(state["leader"])].port
    epoch = int(state["leader_epoch"])
    wait_until(lambda: consumer_fetch(new_port, TOPIC, 0, epoch)["error_code"] == 0, 10, "the new leader serving")
    assert consumer_fetch(new_port, TOPIC, 0, epoch - 1)["error_code"] == ErrorCode.FENCED_LEADER_EPOCH
    assert consumer_fetch(new_port, TOPIC, 0, epoch + 1)["error_code"] == ErrorCode.UNKNOWN_LEADER_EPOCH
    produce(cluster.bootstrap, TOPIC, [b"after"])
    wait_until(lambda: leader in cluster.state(zk_client, TOPIC, 0)["isr"], 30,
               "the old leader back in the ISR as a follower")
