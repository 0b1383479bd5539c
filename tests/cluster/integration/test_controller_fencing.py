"""The controller election and its epoch fence, against a real ZooKeeper (no brokers)."""

from __future__ import annotations

import json
import uuid

from kazoo.client import KazooClient

from logbroker.cluster import znodes
from logbroker.cluster.controller import Controller
from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.cluster.znodes import PartitionState, TopicAssignment

ASSIGNMENT = {"t": TopicAssignment(uuid.uuid4(), ((1, 2),))}


def client(zk: LocalZooKeeper) -> KazooClient:
    c = KazooClient(hosts=zk.connect, timeout=10)
    c.start(timeout=10)
    if c.exists(znodes.topic_path("t")) is None:
        c.create(znodes.topic_path("t"), ASSIGNMENT["t"].to_json(), makepath=True)
    return c


def states(zk: KazooClient) -> dict[tuple[str, int], tuple[PartitionState, int]]:
    data, stat = zk.get(znodes.partition_state_path("t", 0))
    return {("t", 0): (PartitionState.from_json(data), stat.version)}


def test_one_controller_wins_and_a_stale_one_is_fenced(zookeeper: LocalZooKeeper) -> None:
    a_zk, b_zk = client(zookeeper), client(zookeeper)
    try:
        a, b = Controller(a_zk, 1, lambda _t: False), Controller(b_zk, 2, lambda _t: False)
        a.try_elect(lambda *_: None)
        b.try_elect(lambda *_: None)
        assert a.active and not b.active and a.epoch == 1
        assert json.loads(a_zk.get(znodes.CONTROLLER)[0])["brokerid"] == 1
        assert a.elect_leaders({1: 10, 2: 11}, ASSIGNMENT, {}) == 1
        assert states(a_zk)[("t", 0)][0] == PartitionState(1, 0, (1, 2), 1)

        # Controller 1 is deposed (its /controller znode gone, as on session expiry) but does not know yet.
        a_zk.delete(znodes.CONTROLLER)
        b.try_elect(lambda *_: None)
        assert b.active and b.epoch == 2
        # The stale controller's write is refused by the epoch check and it steps down.
        assert a.elect_leaders({2: 11}, ASSIGNMENT, states(a_zk)) == 0
        assert not a.active
        assert states(a_zk)[("t", 0)][0] == PartitionState(1, 0, (1, 2), 1)
        # The new controller's write goes through.
        assert b.elect_leaders({2: 11}, ASSIGNMENT, states(b_zk)) == 1
        assert states(b_zk)[("t", 0)][0] == PartitionState(2, 1, (2,), 2)
    finally:
        for c in (a_zk, b_zk):
            c.stop()
            c.close()


def test_a_broker_that_restarted_between_two_passes_loses_its_leadership(zookeeper: LocalZooKeeper) -> None:
    """A re-registration (new czxid) under the same id is a failure plus a return, as Kafka treats a
    bounced broker: the leader moves, the bounced broker leaves the ISR and is not re-elected blindly."""
    zk = client(zookeeper)
    try:
        c = Controller(zk, 1, lambda _t: False)
        c.try_elect(lambda *_: None)
        assert c.elect_leaders({1: 10, 2: 11}, ASSIGNMENT, {}) == 1
        assert states(zk)[("t", 0)][0].leader == 1
        assert c.elect_leaders({1: 12, 2: 11}, ASSIGNMENT, states(zk)) == 1  # broker 1 re-registered
        assert states(zk)[("t", 0)][0] == PartitionState(2, 1, (2,), 1)
        assert c.elect_leaders({1: 12, 2: 11}, ASSIGNMENT, states(zk)) == 0  # stable afterwards
    finally:
        zk.stop()
        zk.close()


def test_many_partitions_are_elected_in_one_transaction_and_a_stale_one_is_still_fenced(
        zookeeper: LocalZooKeeper) -> None:
    """A new 50-partition topic's states are created by one ZooKeeper transaction (one zxid, one log
    write); a stale controller's batch is refused whole by the epoch check."""
    a_zk, b_zk = client(zookeeper), client(zookeeper)
    try:
        wide = {"wide": TopicAssignment(uuid.uuid4(), tuple((1 + p % 2, 2 - p % 2) for p in range(50)))}
        a_zk.create(znodes.topic_path("wide"), wide["wide"].to_json())
        a, b = Controller(a_zk, 1, lambda _t: False), Controller(b_zk, 2, lambda _t: False)
        a.try_elect(lambda *_: None)
        assert a.elect_leaders({1: 10, 2: 11}, wide, {}) == 50
        stats = [a_zk.get(znodes.partition_state_path("wide", p)) for p in range(50)]
        assert len({stat.czxid for _, stat in stats}) == 1
        assert [PartitionState.from_json(d).leader for d, _ in stats] == [1 + p % 2 for p in range(50)]
        held = {("wide", p): (PartitionState.from_json(d), stat.version) for p, (d, stat) in enumerate(stats)}

        a_zk.delete(znodes.CONTROLLER)
        b.try_elect(lambda *_: None)
        assert a.elect_leaders({2: 11}, wide, held) == 0 and not a.active  # fenced: nothing written
        assert all(a_zk.get(znodes.partition_state_path("wide", p))[1].version == 0 for p in range(50))
        assert b.elect_leaders({2: 11}, wide, held) == 50
        assert {PartitionState.from_json(a_zk.get(znodes.partition_state_path("wide", p))[0]).leader
                for p in range(50)} == {2}
    finally:
        for c in (a_zk, b_zk):
            c.stop()
            c.close()
