"""The group coordinator's state machine and committed offsets (logbroker/groups/coordinator.py).

Time is a plain integer handed to every call; ``__consumer_offsets`` is the in-memory fake.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from logbroker.groups.classic import JoinRequest, JoinResult, SyncResult
from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.errors import GroupError
from logbroker.groups.offsets import OffsetCommitInput
from logbroker.groups.settings import CoordinatorSettings
from logbroker.groups.state import GroupState
from logbroker.kafka.error_codes import ErrorCode
from tests.groups.fakes import SETTINGS, MemoryGroupLog, assignment, drain, make_coordinator, subscription

G = "group-1"
PROTOCOLS = [("range", subscription("t"))]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def glog() -> MemoryGroupLog:
    return MemoryGroupLog()


@pytest.fixture
def coord(glog: MemoryGroupLog, loop: asyncio.AbstractEventLoop) -> GroupCoordinator:
    return make_coordinator(glog, loop)


def req(member_id: str = "", *, group: str = G, session: int = 10_000, rebalance: int = 30_000,
        instance: str | None = None, protocols: list[tuple[str, bytes]] | None = None,
        protocol_type: str = "consumer", v4: bool = True) -> JoinRequest:
    return JoinRequest(group, member_id, protocol_type, protocols or PROTOCOLS, session, rebalance, instance,
                       client_id="client", client_host="/127.0.0.1", require_known_member_id=v4)


def result(fut: asyncio.Future[Any]) -> Any:
    assert fut.done(), "the response is still pending"
    return fut.result()


def join_new(coord: GroupCoordinator, now: int, **kw: Any) -> asyncio.Future[JoinResult]:
    """JoinGroup v4+: the first attempt gets MEMBER_ID_REQUIRED, the second joins."""
    first = result(coord.join_group(req(**kw), now))
    assert first.error is GroupError.MEMBER_ID_REQUIRED and first.member_id
    return coord.join_group(req(first.member_id, **kw), now)


def stable_group(coord: GroupCoordinator, n: int, now: int = 0) -> tuple[list[JoinResult], int]:
    """n members joined and synced; returns their join results and the time."""
    futs = [join_new(coord, now) for _ in range(n)]
    now += SETTINGS.initial_rebalance_delay_ms
    coord.tick(now)  # members after the first extend the initial delay once
    now += SETTINGS.initial_rebalance_delay_ms
    coord.tick(now)
    joins = [result(f) for f in futs]
    assert all(j.error is GroupError.NONE for j in joins)
    leader = next(j for j in joins if j.member_id == j.leader_id)
    syncs = [coord.sync_group(G, j.generation_id, j.member_id,
                              {m.member_id: m.member_id.encode() for m in leader.members} if j is leader else {},
                              now) for j in joins]
    for j, s in zip(joins, syncs, strict=True):
        assert result(s) == SyncResult(GroupError.NONE, j.member_id.encode(), "consumer", "range")
    return joins, now


def settle(coord: GroupCoordinator) -> None:
    """Past the initial delay and its one extension (members joined at time 0)."""
    coord.tick(3000)
    coord.tick(6000)


def test_every_group_error_is_a_kafka_error_code() -> None:
    for error in GroupError:
        assert ErrorCode[error.name].name == error.name


def test_member_id_required_then_join_after_initial_delay(coord: GroupCoordinator) -> None:
    first = result(coord.join_group(req(), 0))
    assert first.error is GroupError.MEMBER_ID_REQUIRED and first.member_id.startswith("client-")
    fut = coord.join_group(req(first.member_id), 10)
    assert not fut.done()  # group.initial.rebalance.delay.ms
    coord.tick(2000)
    assert not fut.done()
    coord.tick(3010)
    joined = result(fut)
    assert joined.error is GroupError.NONE and joined.generation_id == 1
    assert joined.leader_id == joined.member_id == first.member_id
    assert [m.metadata for m in joined.members] == [subscription("t")]
    group = coord.group(G)
    assert group is not None and group.state is GroupState.COMPLETING_REBALANCE


def test_old_clients_join_without_member_id_round_trip(coord: GroupCoordinator) -> None:
    fut = coord.join_group(req(v4=False), 0)
    coord.tick(3000)
    assert result(fut).error is GroupError.NONE


def test_initial_delay_extends_while_members_arrive(coord: GroupCoordinator) -> None:
    a = join_new(coord, 0)
    b = join_new(coord, 2000)  # arrives during the delay: one more delay
    coord.tick(3000)
    assert not a.done() and not b.done()
    coord.tick(6000)
    ra, rb = result(a), result(b)
    assert ra.generation_id == rb.generation_id == 1
    assert ra.leader_id == rb.leader_id == ra.member_id
    assert len(ra.members) == 2 and rb.members == ()


def test_leader_assignment_reaches_every_member_intact(coord: GroupCoordinator) -> None:
    futs = [join_new(coord, 0) for _ in range(3)]
    settle(coord)
    joins = [result(f) for f in futs]
    leader = next(j for j in joins if j.member_id == j.leader_id)
    followers = [j for j in joins if j is not leader]
    pending = [coord.sync_group(G, 1, f.member_id, {}, 3001) for f in followers]
    assert not any(p.done() for p in pending)  # waiting for the leader
    plan = {j.member_id: assignment({"t": [i, i + 3]}) + bytes(range(i * 50, i * 50 + 40)) for i, j in
            enumerate(joins)}
    own = result(coord.sync_group(G, 1, leader.member_id, plan, 3002))
    assert own.assignment == plan[leader.member_id]
    for f, p in zip(followers, pending, strict=True):
        assert result(p).assignment == plan[f.member_id]
    group = coord.group(G)
    assert group is not None and group.state is GroupState.STABLE
    # a late follower SyncGroup in Stable gets its assignment at once
    assert result(coord.sync_group(G, 1, followers[0].member_id, {}, 3003)).assignment == plan[followers[0].member_id]


def test_fencing_errors(coord: GroupCoordinator) -> None:
    (a, b), now = stable_group(coord, 2)
    assert coord.heartbeat(G, 1, a.member_id, now) is GroupError.NONE
    assert coord.heartbeat(G, 0, a.member_id, now) is GroupError.ILLEGAL_GENERATION
    assert coord.heartbeat(G, 1, "nobody", now) is GroupError.UNKNOWN_MEMBER_ID
    assert coord.heartbeat("no-such-group", 1, a.member_id, now) is GroupError.UNKNOWN_MEMBER_ID
    assert coord.heartbeat("", 1, a.member_id, now) is GroupError.INVALID_GROUP_ID
    assert result(coord.sync_group(G, 7, a.member_id, {}, now)).error is GroupError.ILLEGAL_GENERATION
    assert result(coord.sync_group(G, 1, "nobody", {}, now)).error is GroupError.UNKNOWN_MEMBER_ID
    assert result(coord.sync_group(G, 1, a.member_id, {}, now, protocol_name="roundrobin")).error is \
        GroupError.INCONSISTENT_GROUP_PROTOCOL
    assert result(coord.join_group(req("nobody"), now)).error is GroupError.UNKNOWN_MEMBER_ID
    assert result(coord.join_group(req(session=10), now)).error is GroupError.INVALID_SESSION_TIMEOUT
    assert result(coord.join_group(req(group=""), now)).error is GroupError.INVALID_GROUP_ID
    assert result(coord.join_group(req(protocols=[("roundrobin", b"")]), now)).error is \
        GroupError.INCONSISTENT_GROUP_PROTOCOL
    assert result(coord.join_group(req(protocol_type="connect"), now)).error is GroupError.INCONSISTENT_GROUP_PROTOCOL
    # the group was not disturbed
    assert coord.heartbeat(G, 1, b.member_id, now) is GroupError.NONE


def test_new_member_triggers_rebalance_and_heartbeats_say_so(coord: GroupCoordinator) -> None:
    (a,), now = stable_group(coord, 1)
    b = join_new(coord, now)
    assert coord.heartbeat(G, 1, a.member_id, now + 100) is GroupError.REBALANCE_IN_PROGRESS
    assert result(coord.commit_offsets(G, 1, a.member_id, {("t", 0): OffsetCommitInput(5)}, now + 100)) == \
        {("t", 0): GroupError.NONE}  # commits of the current generation are allowed while preparing
    ra = coord.join_group(req(a.member_id), now + 200)
    # a rejoined, b waiting: all members joined, so the generation completes at once (no initial delay)
    assert result(ra).generation_id == result(b).generation_id == 2
    assert coord.heartbeat(G, 1, a.member_id, now + 300) is GroupError.ILLEGAL_GENERATION
    assert result(coord.commit_offsets(G, 2, a.member_id, {("t", 0): OffsetCommitInput(6)}, now + 300)) == \
        {("t", 0): GroupError.REBALANCE_IN_PROGRESS}


def test_session_timeout_evicts_and_rebalances(coord: GroupCoordinator) -> None:
    (a, b), now = stable_group(coord, 2)
    for t in range(now + 3000, now + 12_000, 3000):
        assert coord.heartbeat(G, 1, a.member_id, t) is GroupError.NONE
        coord.tick(t)
    coord.tick(now + 10_001)  # b never heartbeated: 10 s session
    group = coord.group(G)
    assert group is not None and b.member_id not in group.members
    assert group.state is GroupState.PREPARING_REBALANCE
    assert coord.heartbeat(G, 1, a.member_id, now + 10_100) is GroupError.REBALANCE_IN_PROGRESS
    ra = result(coord.join_group(req(a.member_id), now + 10_200))
    assert ra.generation_id == 2 and [m.member_id for m in ra.members] == [a.member_id]
    assert coord.heartbeat(G, 1, b.member_id, now + 10_300) is GroupError.UNKNOWN_MEMBER_ID


def test_rebalance_timeout_drops_members_that_do_not_rejoin(coord: GroupCoordinator) -> None:
    (a, b), now = stable_group(coord, 2)
    fa = coord.join_group(req(a.member_id, rebalance=20_000), now)  # a rejoins (leader): rebalance
    for t in range(now, now + 20_000, 2000):
        assert coord.heartbeat(G, 1, b.member_id, t) is GroupError.REBALANCE_IN_PROGRESS  # alive, not rejoining
        coord.tick(t)
    assert not fa.done()
    coord.tick(now + 30_000)  # the largest rebalance timeout (b's 30 s) has passed
    ra = result(fa)
    assert ra.generation_id == 2 and [m.member_id for m in ra.members] == [a.member_id]


def test_all_members_leaving_empties_the_group(coord: GroupCoordinator) -> None:
    (a, b), now = stable_group(coord, 2)
    assert coord.leave_group(G, [(a.member_id, None), ("ghost", None)], now) == \
        (GroupError.NONE, [GroupError.NONE, GroupError.UNKNOWN_MEMBER_ID])
    fb = coord.join_group(req(b.member_id), now + 1)
    assert result(fb).generation_id == 2
    assert coord.leave_group(G, [(b.member_id, None)], now + 2) == (GroupError.NONE, [GroupError.NONE])
    group = coord.group(G)
    assert group is not None and group.state is GroupState.EMPTY and group.generation_id == 3
    assert coord.leave_group("nope", [("x", None)], now) == (GroupError.NONE, [GroupError.UNKNOWN_MEMBER_ID])


def test_leaving_during_sync_fails_waiting_followers(coord: GroupCoordinator) -> None:
    futs = [join_new(coord, 0) for _ in range(2)]
    settle(coord)
    a, b = (result(f) for f in futs)
    follower = b if a.member_id == a.leader_id else a
    leader = a if follower is b else b
    pending = coord.sync_group(G, 1, follower.member_id, {}, 3001)
    coord.leave_group(G, [(leader.member_id, None)], 3002)
    assert result(pending).error is GroupError.REBALANCE_IN_PROGRESS


def test_static_member_restart_keeps_assignment_without_rebalance(coord: GroupCoordinator) -> None:
    fut = coord.join_group(req(instance="host-1"), 0)  # static members skip MEMBER_ID_REQUIRED
    coord.tick(3000)
    first = result(fut)
    assert first.error is GroupError.NONE
    coord.sync_group(G, 1, first.member_id, {first.member_id: b"plan"}, 3000, group_instance_id="host-1")
    # restarted: no member id. A v9+ leader is told to skip the assignment (KIP-814).
    again = result(coord.join_group(dataclasses.replace(req(instance="host-1"), supports_skip_assignment=True), 4000))
    assert again.error is GroupError.NONE and again.generation_id == 1 and again.member_id != first.member_id
    assert again.skip_assignment and again.leader_id == again.member_id
    assert result(coord.sync_group(G, 1, again.member_id, {}, 4001, group_instance_id="host-1")).assignment == \
        b"plan"
    assert coord.heartbeat(G, 1, first.member_id, 4002, group_instance_id="host-1") is GroupError.FENCED_INSTANCE_ID
    assert result(coord.join_group(req(first.member_id, instance="host-1"), 4003)).error is \
        GroupError.FENCED_INSTANCE_ID
    group = coord.group(G)
    assert group is not None and group.state is GroupState.STABLE
    # An older leader (JoinGroup < v9) cannot skip the assignment: Kafka names the old member id as
    # leader, so it syncs as a follower and gets the current assignment; still no rebalance.
    third = result(coord.join_group(req(instance="host-1"), 5000))
    assert third.error is GroupError.NONE and third.generation_id == 1 and not third.members
    assert third.leader_id == again.member_id and third.member_id != again.member_id
    assert result(coord.sync_group(G, 1, third.member_id, {}, 5001, group_instance_id="host-1")).assignment == \
        b"plan"
    assert group.state is GroupState.STABLE
    # Different protocol metadata (e.g. a new subscription) is a reason to rebalance.
    changed = dataclasses.replace(req(instance="host-1"), protocols=[("range", subscription("t", "u"))])
    coord.join_group(changed, 6000)
    group = coord.group(G)  # read again: the join moved its state
    assert group is not None and group.state is GroupState.COMPLETING_REBALANCE and group.generation_id == 2


def test_static_member_removed_by_instance_id(coord: GroupCoordinator) -> None:
    fut = coord.join_group(req(instance="host-1"), 0)
    coord.tick(3000)
    result(fut)
    assert coord.leave_group(G, [("", "host-1")], 3001) == (GroupError.NONE, [GroupError.NONE])
    assert coord.leave_group(G, [("", "host-1")], 3002) == (GroupError.NONE, [GroupError.UNKNOWN_MEMBER_ID])


def test_protocol_selection_by_votes(coord: GroupCoordinator) -> None:
    f1 = join_new(coord, 0, protocols=[("range", b"1"), ("roundrobin", b"1")])
    f2 = join_new(coord, 0, protocols=[("roundrobin", b"2"), ("range", b"2")])
    f3 = join_new(coord, 0, protocols=[("roundrobin", b"3"), ("sticky", b"3")])
    settle(coord)
    results = [result(f) for f in (f1, f2, f3)]
    assert {r.protocol_name for r in results} == {"roundrobin"}
    leader = next(r for r in results if r.members)
    assert sorted(m.metadata for m in leader.members) == [b"1", b"2", b"3"]


def test_commit_fencing_and_metadata_round_trip(coord: GroupCoordinator) -> None:
    (a, b), now = stable_group(coord, 2)
    tp = ("t", 0)
    assert result(coord.commit_offsets(G, 1, a.member_id, {tp: OffsetCommitInput(10, 3, "hello é")}, now)) == \
        {tp: GroupError.NONE}
    committed = coord.fetch_offsets(G, [tp, ("t", 1)])
    assert committed[("t", 1)] is None
    c = committed[tp]
    assert c is not None and (c.offset, c.leader_epoch, c.metadata) == (10, 3, "hello é")
    assert result(coord.commit_offsets(G, 0, a.member_id, {tp: OffsetCommitInput(99)}, now)) == \
        {tp: GroupError.ILLEGAL_GENERATION}
    assert result(coord.commit_offsets(G, 1, "nobody", {tp: OffsetCommitInput(99)}, now)) == \
        {tp: GroupError.UNKNOWN_MEMBER_ID}
    assert result(coord.commit_offsets(G, -1, "", {tp: OffsetCommitInput(99)}, now)) == \
        {tp: GroupError.UNKNOWN_MEMBER_ID}  # simple commits only while the group has no members
    assert result(coord.commit_offsets("", 1, a.member_id, {tp: OffsetCommitInput(99)}, now)) == \
        {tp: GroupError.INVALID_GROUP_ID}
    assert result(coord.commit_offsets("other", 3, "x", {tp: OffsetCommitInput(99)}, now)) == \
        {tp: GroupError.ILLEGAL_GENERATION}
    big = "x" * 5000
    assert result(coord.commit_offsets(G, 1, b.member_id, {tp: OffsetCommitInput(99, -1, big),
                                                           ("missing", 0): OffsetCommitInput(1),
                                                           ("t", 2): OffsetCommitInput(7, -1, None)}, now)) == {
        tp: GroupError.OFFSET_METADATA_TOO_LARGE, ("missing", 0): GroupError.UNKNOWN_TOPIC_OR_PARTITION,
        ("t", 2): GroupError.NONE}
    c = coord.fetch_offsets(G, [tp])[tp]
    assert c is not None and c.offset == 10
    assert coord.fetch_offsets(G, None).keys() == {tp, ("t", 2)}
    assert coord.fetch_offsets("unknown", [tp]) == {tp: None}


def test_simple_commit_creates_an_offsets_only_group(coord: GroupCoordinator) -> None:
    tp = ("t", 1)
    assert result(coord.commit_offsets("manual", -1, "", {tp: OffsetCommitInput(4)}, 0)) == {tp: GroupError.NONE}
    group = coord.group("manual")
    assert group is not None and group.state is GroupState.EMPTY and group.protocol_type is None
    listed = coord.list_groups()
    assert [(g.group_id, g.protocol_type, g.state) for g in listed] == [("manual", "", "Empty")]


def test_commit_visible_only_once_durable(glog: MemoryGroupLog, coord: GroupCoordinator,
                                          loop: asyncio.AbstractEventLoop) -> None:
    glog.defer = True
    tp = ("t", 0)
    fut = coord.commit_offsets("g", -1, "", {tp: OffsetCommitInput(1)}, 0)
    drain(loop)
    assert not fut.done() and coord.fetch_offsets("g", [tp]) == {tp: None}
    glog.complete_pending()
    drain(loop)
    assert result(fut) == {tp: GroupError.NONE}
    c = coord.fetch_offsets("g", [tp])[tp]
    assert c is not None and c.offset == 1


def test_storage_failures_are_retriable_errors(glog: MemoryGroupLog, coord: GroupCoordinator,
                                               loop: asyncio.AbstractEventLoop) -> None:
    tp = ("t", 0)
    glog.fail = True
    assert result(coord.commit_offsets("g", -1, "", {tp: OffsetCommitInput(1)}, 0)) == \
        {tp: GroupError.COORDINATOR_NOT_AVAILABLE}
    glog.fail = False
    glog.defer = True
    fut = coord.commit_offsets("g", -1, "", {tp: OffsetCommitInput(2)}, 0)
    glog.complete_pending(OSError("fsync failed"))
    drain(loop)
    assert result(fut) == {tp: GroupError.COORDINATOR_NOT_AVAILABLE}
    assert coord.fetch_offsets("g", [tp]) == {tp: None}


def test_failed_assignment_store_makes_the_group_rebalance(glog: MemoryGroupLog, coord: GroupCoordinator) -> None:
    futs = [join_new(coord, 0) for _ in range(2)]
    settle(coord)
    a, b = (result(f) for f in futs)
    leader, follower = (a, b) if a.member_id == a.leader_id else (b, a)
    pending = coord.sync_group(G, 1, follower.member_id, {}, 3001)
    glog.fail = True
    assert result(coord.sync_group(G, 1, leader.member_id, {}, 3002)).error is GroupError.COORDINATOR_NOT_AVAILABLE
    assert result(pending).error is GroupError.COORDINATOR_NOT_AVAILABLE
    group = coord.group(G)
    assert group is not None and group.state is GroupState.PREPARING_REBALANCE


def test_replay_restores_offsets_generation_and_members(glog: MemoryGroupLog, loop: asyncio.AbstractEventLoop
                                                        ) -> None:
    coord = make_coordinator(glog, loop)
    (a, b), now = stable_group(coord, 2)
    for offset in (5, 6, 7):
        coord.commit_offsets(G, 1, a.member_id, {("t", 0): OffsetCommitInput(offset, 1, f"m{offset}")}, now)
    coord.commit_offsets("manual", -1, "", {("t", 3): OffsetCommitInput(9)}, now)
    coord.commit_offsets("gone", -1, "", {("t", 3): OffsetCommitInput(9)}, now)
    assert result(coord.delete_groups(["gone"], now)) == {"gone": GroupError.NONE}

    fresh = make_coordinator(glog, loop)
    assert fresh.load(now + 1) > 0
    c = fresh.fetch_offsets(G, [("t", 0)])[("t", 0)]
    assert c is not None and (c.offset, c.leader_epoch, c.metadata) == (7, 1, "m7")
    assert fresh.fetch_offsets("manual", None).keys() == {("t", 3)}
    assert fresh.group("gone") is None
    group = fresh.group(G)
    assert group is not None and group.state is GroupState.STABLE and group.generation_id == 1
    # members carry on after the restart without rejoining, with their assignments
    assert fresh.heartbeat(G, 1, a.member_id, now + 2) is GroupError.NONE
    assert result(fresh.sync_group(G, 1, b.member_id, {}, now + 3)).assignment == b.member_id.encode()
    fresh.tick(now + 2 + 10_001)  # sessions restart at load; b stayed silent
    assert b.member_id not in group.members


def test_replay_of_an_emptied_group_keeps_its_generation(glog: MemoryGroupLog, loop: asyncio.AbstractEventLoop
                                                         ) -> None:
    coord = make_coordinator(glog, loop)
    (a,), now = stable_group(coord, 1)
    coord.commit_offsets(G, 1, a.member_id, {("t", 0): OffsetCommitInput(3)}, now)
    coord.leave_group(G, [(a.member_id, None)], now)
    fresh = make_coordinator(glog, loop)
    fresh.load(now)
    group = fresh.group(G)
    assert group is not None and group.state is GroupState.EMPTY and group.generation_id == 2
    assert group.protocol_type == "consumer"


def test_delete_groups(coord: GroupCoordinator) -> None:
    (_a,), now = stable_group(coord, 1)
    coord.commit_offsets("idle", -1, "", {("t", 0): OffsetCommitInput(1)}, now)
    assert result(coord.delete_groups([G, "idle", "nope", ""], now)) == {
        G: GroupError.NON_EMPTY_GROUP, "idle": GroupError.NONE, "nope": GroupError.GROUP_ID_NOT_FOUND,
        "": GroupError.INVALID_GROUP_ID}
    assert coord.fetch_offsets("idle", None) == {}


def test_offset_delete_keeps_subscribed_topics(coord: GroupCoordinator) -> None:
    (a,), now = stable_group(coord, 1)
    coord.commit_offsets(G, 1, a.member_id, {("t", 0): OffsetCommitInput(1), ("u", 0): OffsetCommitInput(2)}, now)
    assert result(coord.delete_offsets(G, [("t", 0), ("u", 0)], now)) == (
        GroupError.NONE, {("t", 0): GroupError.GROUP_SUBSCRIBED_TO_TOPIC, ("u", 0): GroupError.NONE})
    assert coord.fetch_offsets(G, None).keys() == {("t", 0)}
    assert result(coord.delete_offsets("nope", [("t", 0)], now))[0] is GroupError.GROUP_ID_NOT_FOUND


def test_describe_and_list(coord: GroupCoordinator) -> None:
    (a, b), now = stable_group(coord, 2)
    d = coord.describe_group(G)
    assert d is not None and d.state == "Stable" and d.protocol_type == "consumer" and d.protocol_data == "range"
    assert {m.member_id: m.assignment for m in d.members} == {a.member_id: a.member_id.encode(),
                                                             b.member_id: b.member_id.encode()}
    assert all(m.client_host == "/127.0.0.1" and m.metadata == subscription("t") for m in d.members)
    assert coord.describe_group("nope") is None
    coord.commit_offsets("manual", -1, "", {("t", 0): OffsetCommitInput(1)}, now)
    assert {g.group_id for g in coord.list_groups()} == {G, "manual"}
    assert [g.group_id for g in coord.list_groups(["stable"])] == [G]
    assert [g.group_id for g in coord.list_groups(["Empty", "Dead"])] == ["manual"]


def test_lag(coord: GroupCoordinator) -> None:
    futs = [join_new(coord, 0)]
    coord.tick(3000)
    a = result(futs[0])
    coord.sync_group(G, 1, a.member_id, {a.member_id: assignment({"t": [0, 1]})}, 3000)
    coord.commit_offsets(G, 1, a.member_id, {("t", 0): OffsetCommitInput(40, -1, "x"),
                                             ("missing", 0): OffsetCommitInput(1)}, 3001)
    lag = {(p.topic, p.partition): p for p in coord.lag(G)}
    assert (lag[("t", 0)].committed_offset, lag[("t", 0)].log_end_offset, lag[("t", 0)].lag) == (40, 100, 60)
    assert lag[("t", 0)].member_id == a.member_id and lag[("t", 0)].metadata == "x"
    assert (lag[("t", 1)].committed_offset, lag[("t", 1)].lag) == (-1, None)
    assert ("missing", 0) not in lag  # the commit was refused: unknown topic
    assert coord.lag("nope") == []


def test_offsets_of_empty_groups_expire(glog: MemoryGroupLog, loop: asyncio.AbstractEventLoop) -> None:
    settings = CoordinatorSettings(initial_rebalance_delay_ms=0, offsets_retention_ms=60_000,
                                   retention_check_interval_ms=1000)
    coord = make_coordinator(glog, loop, settings)
    coord.commit_offsets("idle", -1, "", {("t", 0): OffsetCommitInput(1)}, 0)
    coord.tick(0)
    coord.tick(59_000)
    assert coord.group("idle") is not None
    coord.tick(61_000)
    assert coord.group("idle") is None
    fresh = make_coordinator(glog, loop, settings)
    fresh.load(62_000)
    assert fresh.group("idle") is None


def test_close_answers_waiting_joins(coord: GroupCoordinator) -> None:
    fut = join_new(coord, 0)
    coord.close()
    assert result(fut).error is GroupError.COORDINATOR_NOT_AVAILABLE
