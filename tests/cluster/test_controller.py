"""logbroker/cluster/controller.py: the leader election rules (pure, no ZooKeeper)."""

from __future__ import annotations

import uuid

import pytest

from logbroker.cluster.controller import elect, elect_preferred, elect_unclean, finish_reassignment
from logbroker.cluster.znodes import PartitionState, TopicAssignment, checked_replicas, reassign
from logbroker.errors import (
    ElectionNotNeededError,
    EligibleLeadersNotAvailableError,
    InvalidReplicaAssignmentError,
    NoReassignmentInProgressError,
    PreferredLeaderNotAvailableError,
)


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


def test_preferred_election_moves_leadership_to_the_first_replica_only_when_it_can_lead() -> None:
    state = PartitionState(2, 4, (1, 2, 3), 1)
    assert elect_preferred((1, 2, 3), state, {1, 2, 3}, 2) == PartitionState(1, 5, (1, 2, 3), 2)
    with pytest.raises(ElectionNotNeededError):
        elect_preferred((2, 1, 3), state, {1, 2, 3}, 2)
    with pytest.raises(PreferredLeaderNotAvailableError):
        elect_preferred((1, 2, 3), state, {2, 3}, 2)  # dead
    with pytest.raises(PreferredLeaderNotAvailableError):
        elect_preferred((1, 2, 3), PartitionState(2, 4, (2, 3), 1), {1, 2, 3}, 2)  # not in sync


def test_unclean_election_only_for_a_partition_without_a_live_leader() -> None:
    with pytest.raises(ElectionNotNeededError):
        elect_unclean((1, 2, 3), PartitionState(1, 4, (1,), 1), {1, 2}, 2)
    offline = PartitionState(-1, 5, (1,), 1)
    assert elect_unclean((1, 2, 3), offline, {2, 3}, 2) == PartitionState(2, 6, (2,), 2)
    assert elect_unclean((1, 2, 3), PartitionState(-1, 5, (1, 3), 1), {2, 3}, 2) == PartitionState(3, 6, (3,), 2)
    with pytest.raises(EligibleLeadersNotAvailableError):
        elect_unclean((1, 2, 3), offline, set(), 2)


def test_a_reassignment_finishes_once_every_target_replica_is_in_sync() -> None:
    # replicas (3, 1) replacing (1, 2): 3 not in sync yet
    assert finish_reassignment((3, 1), PartitionState(2, 4, (1, 2), 1), {1, 2, 3}, 2) is None
    # in sync: the leader (2) leaves, so the first live target replica leads; 2 leaves the ISR
    assert finish_reassignment((3, 1), PartitionState(2, 4, (1, 2, 3), 1), {1, 2, 3}, 2) == \
        PartitionState(3, 5, (1, 3), 2)
    # a leader inside the target keeps leading
    assert finish_reassignment((3, 1), PartitionState(1, 4, (1, 2, 3), 1), {1, 2, 3}, 2) == \
        PartitionState(1, 5, (1, 3), 2)


def test_a_reassignment_lists_the_target_first_then_the_leaving_replicas_and_can_be_cancelled() -> None:
    a = TopicAssignment(uuid.uuid4(), ((1, 2), (2, 3)))
    moving = reassign(a, 0, (3, 1))
    assert moving is not None
    assert moving.replicas[0] == (3, 1, 2) and moving.adding == {0: (3,)} and moving.removing == {0: (2,)}
    assert moving.target(0) == (3, 1) and moving.original(0) == (1, 2)
    assert TopicAssignment.from_json(moving.to_json()) == moving
    assert reassign(a, 0, (1, 2)) is None  # already there
    cancelled = reassign(moving, 0, None)
    assert cancelled is not None and cancelled.replicas == a.replicas and not cancelled.reassigning(0)
    with pytest.raises(NoReassignmentInProgressError):
        reassign(a, 1, None)


def test_replica_lists_from_clients_are_checked() -> None:
    assert checked_replicas([3, 1], [1, 2, 3], 2) == (3, 1)
    for bad in ([], [1, 1], [1, 4], [1]):
        with pytest.raises(InvalidReplicaAssignmentError):
            checked_replicas(bad, [1, 2, 3], 2)
