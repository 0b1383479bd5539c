"""The high-watermark checkpoint (``replication-offset-checkpoint``) and the leader-epoch checkpoint
across restarts, with three real brokers and real clients."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, three_brokers, wait_until
from tests.cluster.integration.test_replication import consume, create_topic, produce
from tests.interop.rawclient import RawClient

TOPIC = "orders"


def _checkpoint(data_dir: Path, name: str) -> dict[str, int]:
    """``topic partition offset`` lines of a Kafka offset checkpoint, as {"topic-p": offset}."""
    lines = (data_dir / name).read_text().splitlines()
    assert lines[0] == "0" and int(lines[1]) == len(lines) - 2
    return {f"{t}-{p}": int(o) for t, p, o in (line.split(" ") for line in lines[2:])}


def _epochs(data_dir: Path) -> list[tuple[int, int]]:
    lines = (data_dir / f"{TOPIC}-0" / "leader-epoch-checkpoint").read_text().splitlines()
    assert lines[0] == "0" and int(lines[1]) == len(lines) - 2
    return [(int(e), int(s)) for e, s in (line.split(" ") for line in lines[2:])]


def _latest(port: int) -> tuple[int, int]:
    """(error code, offset) of ListOffsets latest for orders-0 asked of one broker."""
    with RawClient(port) as raw:
        answer = raw.call(ApiKey.LIST_OFFSETS, 5, {
            "replica_id": -1, "isolation_level": 0,
            "topics": [{"name": TOPIC, "partitions": [{"partition_index": 0, "current_leader_epoch": -1,
                                                       "timestamp": -1}]}]})
    p = answer["topics"][0]["partitions"][0]
    return int(p["error_code"]), int(p["offset"])


@pytest.mark.slow
def test_high_watermarks_are_checkpointed_and_a_restarted_leader_starts_from_them(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    # Sessions and lag longer than the test's pause: paused followers stay live members of the ISR, so
    # nothing but the checkpoint can tell the restarted leader its high watermark.
    with three_brokers(zookeeper, tmp_path, zookeeper_session_timeout_ms="30000",
                       replica_lag_time_max_ms="60000") as cluster:
        _checkpointed_high_watermark_serves_at_once(cluster, zk_client)


def _checkpointed_high_watermark_serves_at_once(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    produce(cluster.bootstrap, TOPIC, [b"r%03d" % i for i in range(100)])
    # Every replica checkpoints the high watermark it knows: the leader its own, followers the leader's.
    wait_until(lambda: all(_checkpoint(b.data_dir, "replication-offset-checkpoint").get(f"{TOPIC}-0") == 100
                           for b in cluster.brokers.values()), 20, "the high watermark checkpointed by every broker")

    # The followers paused (SIGSTOP: still registered, still in the ISR, never fetching), the leader
    # restarted: it leads again with that ISR, and no follower fetch can move its high watermark. It
    # answers ListOffsets latest with the checkpointed high watermark from its first answer on; without
    # the checkpoint it would answer 0 until the followers fetched.
    state = cluster.state(zk_client, TOPIC, 0)
    leader = cluster.brokers[int(state["leader"])]
    followers = [b for i, b in cluster.brokers.items() if i != int(state["leader"])]
    for b in followers:
        assert b.proc is not None
        b.proc.send_signal(signal.SIGSTOP)
    try:
        leader.stop(signal.SIGTERM)
        leader.start(same_ports=True)
        seen: list[tuple[int, int]] = []

        def leader_answers() -> bool:
            answer = _latest(leader.port)
            seen.append(answer)
            return answer[0] == 0

        wait_until(leader_answers, 60, "the restarted leader answering ListOffsets")
        assert [offset for error, offset in seen if error == 0] == [100], seen
        assert cluster.state(zk_client, TOPIC, 0)["isr"] == state["isr"]  # the followers never left the ISR
    finally:
        for b in followers:
            if b.proc is not None:
                b.proc.send_signal(signal.SIGCONT)

    # Leadership moved (the leader stopped and restarted once its followers were back in sync), then one
    # more record under the new epoch: every replica's leader-epoch checkpoint ends up the same, and no
    # entry starts beyond the log end.
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 30, "a full ISR again")
    leader.stop(signal.SIGTERM)
    wait_until(lambda: int(cluster.state(zk_client, TOPIC, 0)["leader"]) not in (-1, int(state["leader"])), 30,
               "a new leader")
    leader.start(same_ports=True)
    produce(cluster.bootstrap, TOPIC, [b"after"])
    assert consume(cluster.bootstrap, TOPIC, 101)[-1] == b"after"
    wait_until(lambda: len({tuple(_epochs(b.data_dir)) for b in cluster.brokers.values()}) == 1, 20,
               "identical leader-epoch checkpoints")
    epochs = _epochs(cluster.brokers[1].data_dir)
    assert epochs[0] == (0, 0) and epochs[-1][1] == 100 and len(epochs) == 2, epochs
