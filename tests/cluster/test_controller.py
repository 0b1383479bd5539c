"""logbroker/cluster/controller.py: the leader election rules (pure, no ZooKeeper)."""

from __future__ import annotations

from logbroker.cluster.controller import elect
from logbroker.cluster.znodes import PartitionState


def test_a_new_partition_gets_its_live_replicas_as_isr_and_the_first_as_leader() -> None:
    assert elect((2, 3, 1), None, {1, 2, 3}, 5, False) == PartitionState(2, 0, (2, 3, 1), 5)
    assert elect((2, 3, 1), None, {1, 3}, 5, False) == PartitionState(3, 0, (3, 1), 5)
    assert elect((2,), None, {1}, 5, False) is None


def test_a_dead_leader_is_replaced_by_the_first_live_isr_replica() -> None:
    state = PartitionState(1, 4, (1, 2, 3), 1)
    assert elect((1, 2, 3), state, {2, 3}, 2, False) == PartitionState(2, 5, (2, 3), 2)


def test_dead_isr_members_leave_the_isr_of_a_live_leader() -> None:
    state = PartitionState(1, 4, (1, 2, 3), 1)
    assert elect((1, 2, 3), state, {1, 2}, 2, False) == PartitionState(1, 5, (1, 2), 2)
    assert elect((1, 2, 3), state, {1, 2, 3}, 2, False) is None


def test_no_live_isr_member_leaves_the_partition_offline_unless_unclean() -> None:
    state = PartitionState(1, 4, (1,), 1)
    offline = elect((1, 2, 3), state, {2, 3}, 2, False)
    assert offline == PartitionState(-1, 5, (1,), 2)  # the ISR is kept: only broker 1 may lead again
    assert elect((1, 2, 3), offline, {2, 3}, 2, False) is None
    assert elect((1, 2, 3), state, {2, 3}, 2, True) == PartitionState(2, 5, (2,), 2)


def test_an_offline_partition_gets_its_returning_isr_member_as_leader() -> None:
    offline = PartitionState(-1, 5, (1,), 2)
    assert elect((1, 2, 3), offline, {1, 2, 3}, 2, False) == PartitionState(1, 6, (1,), 2)
