"""Consumer-protocol groups written to and read back from ``__consumer_offsets``
(logbroker/groups/consumer_group_log.py), through the coordinator, with the in-memory log fake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from logbroker.errors import NotLeaderOrFollowerError
from logbroker.groups.classic import JoinRequest
from logbroker.groups.consumer import HeartbeatResult
from logbroker.groups.consumer_group import ConsumerGroup, MemberState
from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.offsets import OffsetCommitInput
from logbroker.groups.offsets_topic import Appended
from logbroker.groups.schema import (
    ConsumerCurrentAssignment,
    ConsumerMemberKey,
    GroupMetadataValue,
    MemberMetadataValue,
    decode_consumer_target_value,
    decode_key,
    encode_consumer_current_value,
    encode_consumer_member_key,
    encode_group_metadata_key,
    encode_group_metadata_value,
)
from tests.groups.fakes import SETTINGS, MemoryGroupLog, subscription

G = "g"
TOPICS = {"t": 4}


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def coordinator(glog: MemoryGroupLog, loop: asyncio.AbstractEventLoop,
                topics: dict[str, int] | None = None) -> GroupCoordinator:
    table = TOPICS if topics is None else topics
    return GroupCoordinator(glog, SETTINGS, loop=loop, topics=lambda: table)


def join(c: GroupCoordinator, member_id: str, now: int, **kw: Any) -> HeartbeatResult:
    kw.setdefault("subscribed_topics", ["t"])
    return c.consumer_heartbeat(G, member_id, 0, now_ms=now, owned=[], rebalance_timeout_ms=5000, **kw)


def beat(c: GroupCoordinator, member_id: str, epoch: int, owned: list[tuple[str, int]] | None,
         now: int) -> HeartbeatResult:
    return c.consumer_heartbeat(G, member_id, epoch, now_ms=now, owned=owned)


def group_of(c: GroupCoordinator) -> ConsumerGroup:
    group = c.group(G)
    assert isinstance(group, ConsumerGroup)
    return group


def member_keys(glog: MemoryGroupLog) -> dict[tuple[int, str], bool]:
    """The member records the log holds now: (record type, member id) -> whether not a tombstone."""
    out: dict[tuple[int, str], bool] = {}
    for record in glog.replay():
        key = decode_key(record.key)
        if isinstance(key, ConsumerMemberKey):
            out[(key.record_type, key.member)] = record.value is not None
    return out


def recorded_target(glog: MemoryGroupLog, member: str) -> list[int]:
    """The partitions of the member's last target record."""
    out: list[int] = []
    for record in glog.replay():
        key = decode_key(record.key)
        if isinstance(key, ConsumerMemberKey) and key.record_type == 7 and key.member == member:
            assert record.value is not None
            out = sorted(p for t in decode_consumer_target_value(record.value) for p in t.partitions)
    return out


def a_gave_half_back(c: GroupCoordinator) -> HeartbeatResult:
    """a joins and takes every partition, b joins (its answer returned), a gives two back (at 30)."""
    a = join(c, "a", 0)
    b = join(c, "b", 10)
    kept = beat(c, "a", a.member_epoch, a.assignment, 20).assignment
    beat(c, "a", a.member_epoch, kept, 30)
    return b


def taken_by_a_classic_member(c: GroupCoordinator) -> None:
    """Member a joins G and leaves; a classic member then takes the empty group's id (at 20)."""
    join(c, "a", 0)
    c.consumer_heartbeat(G, "a", -1, now_ms=10)
    c.join_group(JoinRequest(G, "", "consumer", [("range", subscription("t"))], 10_000, 30_000, None,
                             client_id="c", client_host="/h", require_known_member_id=False), 20)


def test_a_reloaded_group_carries_on_mid_rebalance_without_new_epochs(loop: asyncio.AbstractEventLoop) -> None:
    """Members, epochs, target and current assignments (a revocation in flight included) come back
    as they were; heartbeats at the members' epochs are taken, and nothing bumps the group epoch."""
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    a = join(c, "a", 0, client_id="client-a", client_host="/10.0.0.1", instance_id="inst-a", rack_id="r1")
    assert a.assignment == [("t", 0), ("t", 1), ("t", 2), ("t", 3)]
    b = join(c, "b", 10)
    assert b.assignment == []  # a still holds everything
    told = beat(c, "a", a.member_epoch, a.assignment, 20)
    assert told.assignment is not None and len(told.assignment) == 2  # a is told to give two back
    before = group_of(c)
    member_a = before.members["a"]
    assert member_a.state is MemberState.UNREVOKED_PARTITIONS and len(member_a.revoking) == 2

    fresh = coordinator(glog, loop)
    fresh.load(100)
    after = group_of(fresh)
    assert (after.group_epoch, after.assignment_epoch) == (before.group_epoch, before.assignment_epoch)
    assert after.target == before.target
    assert after.static_members == {"inst-a": "a"}
    for member_id in ("a", "b"):
        old, new = before.members[member_id], after.members[member_id]
        assert (new.epoch, new.previous_epoch, new.state, new.assigned, new.revoking) == (
            old.epoch, old.previous_epoch, old.state, old.assigned, old.revoking)
        assert (new.subscribed_topics, new.rebalance_timeout_ms) == (("t",), 5000)
    restored_a = after.members["a"]
    assert (restored_a.client_id, restored_a.client_host, restored_a.rack_id) == ("client-a", "/10.0.0.1", "r1")

    # a gives back what it was told to, b receives it: no fencing, no new group epoch.
    kept = sorted(restored_a.assigned)
    ra = beat(fresh, "a", a.member_epoch, kept, 200)
    assert ra.error == HeartbeatError.NONE and ra.member_epoch == after.group_epoch
    rb = beat(fresh, "b", b.member_epoch, [], 210)
    assert rb.error == HeartbeatError.NONE and rb.assignment is not None and len(rb.assignment) == 2
    assert group_of(fresh).group_epoch == before.group_epoch
    assert group_of(fresh).state().value == "Stable"


def test_sessions_start_again_at_load(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    join(c, "a", 0)
    fresh = coordinator(glog, loop)
    fresh.load(50_000)  # long after a's session would have ended on the old coordinator
    fresh.tick(50_000 + SETTINGS.consumer.session_timeout_ms - 1)
    assert "a" in group_of(fresh).members
    fresh.tick(50_000 + SETTINGS.consumer.session_timeout_ms)
    assert group_of(fresh).members == {}


def test_a_member_that_left_is_deleted_from_the_log(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    a = join(c, "a", 0)
    join(c, "b", 10)
    c.consumer_heartbeat(G, "b", -1, now_ms=20)
    assert member_keys(glog) == {(5, "a"): True, (7, "a"): True, (8, "a"): True,
                                 (5, "b"): False, (7, "b"): False, (8, "b"): False}
    fresh = coordinator(glog, loop)
    fresh.load(30)
    assert list(group_of(fresh).members) == ["a"]
    assert beat(fresh, "b", 1, [], 40).error == HeartbeatError.UNKNOWN_MEMBER_ID
    assert beat(fresh, "a", a.member_epoch, None, 40).error == HeartbeatError.NONE


def test_a_deleted_group_stays_deleted(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    a = join(c, "a", 0)
    c.commit_offsets(G, a.member_epoch, "a", {("t", 0): OffsetCommitInput(5)}, 10)
    c.consumer_heartbeat(G, "a", -1, now_ms=20)
    fut = c.delete_groups([G], 30)
    loop.run_until_complete(asyncio.sleep(0))
    assert fut.result() == {G: GroupError.NONE}
    fresh = coordinator(glog, loop)
    fresh.load(40)
    assert fresh.group(G) is None and fresh.fetch_offsets(G, None) == {}


def test_members_of_the_http_front_are_not_recorded(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    join(c, "kafka", 0)
    join(c, "http", 10, recorded=False, session_timeout_ms=30_000)
    assert {member for _, member in member_keys(glog)} == {"kafka"}
    fresh = coordinator(glog, loop)
    fresh.load(20)
    assert list(group_of(fresh).members) == ["kafka"]


def test_a_failed_write_is_made_again_whole_from_the_tick(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    glog.fail = True
    join(c, "a", 0)
    join(c, "b", 10)
    assert member_keys(glog) == {}
    glog.fail = False
    c.tick(500)  # before the retry time: nothing yet
    assert member_keys(glog) == {}
    c.tick(1010)
    assert member_keys(glog) == {(t, m): True for t in (5, 7, 8) for m in ("a", "b")}
    fresh = coordinator(glog, loop)
    fresh.load(1100)
    assert group_of(fresh).target == group_of(c).target


def test_an_empty_group_taken_by_a_classic_member_loses_its_records(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    taken_by_a_classic_member(c)
    c.tick(30)
    fresh = coordinator(glog, loop)
    fresh.load(40)
    assert not isinstance(fresh.group(G), ConsumerGroup)


def test_the_records_of_a_group_gone_are_deleted_once_a_second_while_writes_fail(
        loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    taken_by_a_classic_member(c)
    glog.fail = True
    tries: list[int] = []
    append = glog.append

    def counted(partition: int, records: Sequence[tuple[bytes, bytes | None]], now_ms: int) -> Appended:
        tries.append(now_ms)
        return append(partition, records, now_ms)

    glog.append = counted  # type: ignore[method-assign]
    for now in range(30, 1030, 100):
        c.tick(now)  # one try at 30, the next not before 1030
    assert tries == [30]
    glog.fail = False
    c.tick(1030)
    assert member_keys(glog) == {(5, "a"): False, (7, "a"): False, (8, "a"): False}


def test_partitions_of_a_topic_deleted_meanwhile_are_left_out(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop, {"t": 2, "u": 2})
    join(c, "a", 0, subscribed_topics=["t", "u"])
    fresh = coordinator(glog, loop, {"t": 2})
    fresh.load(10)
    member = group_of(fresh).members["a"]
    assert member.assigned == {("t", 0), ("t", 1)}
    assert group_of(fresh).target["a"] == {("t", 0), ("t", 1)}


def test_the_kafka_handlers_wait_for_the_records(loop: asyncio.AbstractEventLoop) -> None:
    """consumer_heartbeat_recorded answers once the changed records are durable, and with the write's
    error when they could not be written; a heartbeat that changed nothing does not wait."""
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    glog.defer = True

    async def joined() -> HeartbeatResult:
        return await c.consumer_heartbeat_recorded(G, "a", 0, now_ms=0, subscribed_topics=["t"], owned=[],
                                                   rebalance_timeout_ms=5000)

    task = loop.create_task(joined())
    loop.run_until_complete(asyncio.sleep(0.01))
    assert not task.done()
    glog.complete_pending()
    result = loop.run_until_complete(task)
    assert result.error == HeartbeatError.NONE and result.member_epoch == 1
    unchanged = loop.run_until_complete(c.consumer_heartbeat_recorded(G, "a", 1, now_ms=10))
    assert unchanged.error == HeartbeatError.NONE
    glog.defer = False
    glog.fail = True
    refused = loop.run_until_complete(c.consumer_heartbeat_recorded(G, "b", 0, now_ms=20, subscribed_topics=["t"],
                                                                    owned=[], rebalance_timeout_ms=5000))
    assert refused.error == HeartbeatError.COORDINATOR_NOT_AVAILABLE


def test_partitions_nobody_was_given_are_assigned_at_load(loop: asyncio.AbstractEventLoop) -> None:
    """A topic that grew while the broker was down, or partitions whose owner was an HTTP member
    (not recorded), get a new target at a new epoch; a target that covers everything keeps its epoch."""
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    join(c, "kafka", 0)
    join(c, "http", 10, recorded=False, session_timeout_ms=30_000)
    epoch = group_of(c).group_epoch
    assert len(group_of(c).target["kafka"]) == 2
    fresh = coordinator(glog, loop)
    fresh.load(20)
    assert group_of(fresh).group_epoch == epoch + 1
    assert group_of(fresh).target["kafka"] == {("t", p) for p in range(4)}

    assert member_keys(glog) == {(t, "kafka"): True for t in (5, 7, 8)}
    assert len(recorded_target(glog, "kafka")) == 2
    fresh.tick(30)  # the new target is written from the tick after the load
    assert recorded_target(glog, "kafka") == [0, 1, 2, 3]
    again = coordinator(glog, loop)
    again.load(40)
    assert group_of(again).group_epoch == epoch + 1  # the target covers everything: kept as written
    assert group_of(again).target == group_of(fresh).target

    grown = coordinator(glog, loop, {"t": 6})
    grown.load(50)
    assert group_of(grown).group_epoch == epoch + 2
    assert group_of(grown).target["kafka"] == {("t", p) for p in range(6)}


def test_a_failed_write_keeps_the_tombstones_of_a_member_gone_in_it(loop: asyncio.AbstractEventLoop) -> None:
    """b's session expires and the write of its tombstones fails: the retry writes them, so a reload
    does not bring b back beside a, which was given b's partitions meanwhile."""
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    b = a_gave_half_back(c)
    b2 = beat(c, "b", b.member_epoch, [], 40)
    assert b2.assignment is not None and len(b2.assignment) == 2
    session = SETTINGS.consumer.session_timeout_ms
    beat(c, "a", group_of(c).members["a"].epoch, None, 40 + session - 100)  # a stays, b falls silent
    glog.fail = True
    c.tick(40 + session + 1)
    glog.fail = False
    assert list(group_of(c).members) == ["a"]
    assert member_keys(glog)[(5, "b")] is True  # the tombstones were not written
    c.tick(40 + session + 1 + 1000)  # the retry
    assert all(not alive for (_, member), alive in member_keys(glog).items() if member == "b")
    fresh = coordinator(glog, loop)
    fresh.load(200_000)
    assert "b" not in group_of(fresh).members


def test_a_loaded_group_is_written_once_then_left_alone(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    join(c, "a", 0)
    fresh = coordinator(glog, loop)
    fresh.load(10)
    before = len(list(glog.replay()))
    fresh.tick(20)
    fresh.tick(30)
    assert len(list(glog.replay())) == before  # nothing differed from the records
    assert fresh.consumer_log.due(1_000_000) == []


def test_records_without_their_member_are_deleted(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    join(c, "a", 0)
    # A current assignment whose member record is gone (a log cut between records, or written elsewhere).
    glog.append(c.partition_of(G), [(encode_consumer_member_key(5, G, "a"), None)], 10)
    fresh = coordinator(glog, loop)
    fresh.load(20)
    assert group_of(fresh).members == {}
    fresh.tick(30)
    assert member_keys(glog) == {(5, "a"): False, (7, "a"): False, (8, "a"): False}


def test_a_join_whose_records_cannot_be_written_is_undone(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    glog.fail = True
    refused = loop.run_until_complete(c.consumer_heartbeat_recorded(G, "", 0, now_ms=0, subscribed_topics=["t"],
                                                                    owned=[], rebalance_timeout_ms=5000))
    assert refused.error == HeartbeatError.COORDINATOR_NOT_AVAILABLE
    assert group_of(c).members == {}


def test_an_unchanged_heartbeat_waits_for_the_groups_write_in_flight(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    a = join(c, "a", 0)
    glog.defer = True
    c.consumer_heartbeat(G, "a", a.member_epoch, now_ms=10, rack_id="r2")  # its record is on its way
    task = loop.create_task(c.consumer_heartbeat_recorded(G, "a", a.member_epoch, now_ms=20))
    loop.run_until_complete(asyncio.sleep(0.01))
    assert not task.done()
    glog.complete_pending()
    assert loop.run_until_complete(task).error == HeartbeatError.NONE


def test_an_http_member_taking_over_a_static_kafka_member_is_no_longer_recorded(
        loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    a = join(c, "a", 0, instance_id="i")
    c.consumer_heartbeat(G, "a", -2, now_ms=10)
    assert join(c, "http", 20, instance_id="i", recorded=False).member_epoch == a.member_epoch
    assert {member for (_, member), alive in member_keys(glog).items() if alive} == set()


def test_records_of_an_id_a_classic_group_with_members_holds_are_deleted(loop: asyncio.AbstractEventLoop) -> None:
    """The log holds a consumer group's records and, later, a classic group's with members under the
    same id (a conversion whose tombstones a crash cut off): the classic group is loaded, and the
    consumer group's records are deleted."""
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    join(c, "a", 0)
    classic = GroupMetadataValue("consumer", 1, "range", "m1", 0, (
        MemberMetadataValue("m1", None, "c", "/h", 30_000, 10_000, subscription("t"), b""),))
    glog.append(c.partition_of(G), [(encode_group_metadata_key(G), encode_group_metadata_value(classic))], 10)
    fresh = coordinator(glog, loop)
    fresh.load(20)
    assert not isinstance(fresh.group(G), ConsumerGroup)
    fresh.tick(30)
    assert member_keys(glog) == {(5, "a"): False, (7, "a"): False, (8, "a"): False}
    again = coordinator(glog, loop)
    again.load(40)
    assert not isinstance(again.group(G), ConsumerGroup)


def test_tombstones_another_broker_now_owns_are_not_tried_again(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    taken_by_a_classic_member(c)
    tries: list[int] = []

    def refused(partition: int, records: Sequence[tuple[bytes, bytes | None]], now_ms: int) -> Appended:
        tries.append(now_ms)
        raise NotLeaderOrFollowerError("not the leader")

    glog.append = refused  # type: ignore[method-assign]
    for now in range(30, 3030, 100):
        c.tick(now)
    assert tries == [30]


def test_a_static_members_return_whose_records_fail_is_kept(loop: asyncio.AbstractEventLoop) -> None:
    """A static member's new process takes its instance back; the write fails: the handover stays
    (no new epoch, the partitions kept), and is written from the tick."""
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    s = join(c, "s1", 0, instance_id="i")
    c.consumer_heartbeat(G, "s1", -2, now_ms=10)
    epoch = group_of(c).group_epoch
    glog.fail = True
    back = loop.run_until_complete(c.consumer_heartbeat_recorded(G, "s2", 0, now_ms=20, instance_id="i",
                                                                 subscribed_topics=["t"], owned=[],
                                                                 rebalance_timeout_ms=5000))
    assert back.error == HeartbeatError.COORDINATOR_NOT_AVAILABLE
    group = group_of(c)
    assert group.static_members == {"i": "s2"} and group.group_epoch == epoch
    assert sorted(group.members["s2"].assigned) == s.assignment
    glog.fail = False
    c.tick(1100)
    fresh = coordinator(glog, loop)
    fresh.load(1200)
    assert group_of(fresh).static_members == {"i": "s2"}


def test_an_answer_lost_to_a_failed_write_is_sent_again(loop: asyncio.AbstractEventLoop) -> None:
    """b is given the partitions a gave back, at the same epoch; that answer fails with the write,
    so b's next heartbeat (not a full one) carries the assignment."""
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    b = a_gave_half_back(c)
    glog.fail = True
    lost = loop.run_until_complete(c.consumer_heartbeat_recorded(G, "b", b.member_epoch, now_ms=40, owned=[]))
    assert lost.error == HeartbeatError.COORDINATOR_NOT_AVAILABLE
    glog.fail = False
    again = loop.run_until_complete(c.consumer_heartbeat_recorded(G, "b", b.member_epoch, now_ms=50))
    assert again.error == HeartbeatError.NONE and again.assignment is not None and len(again.assignment) == 2


def test_a_heartbeat_before_the_first_tick_leaves_the_loads_cleanup_due(loop: asyncio.AbstractEventLoop) -> None:
    glog = MemoryGroupLog()
    c = coordinator(glog, loop)
    a = join(c, "a", 0)
    ghost = ConsumerCurrentAssignment(1, 0, 0, (), ())
    record = (encode_consumer_member_key(8, G, "ghost"), encode_consumer_current_value(ghost))
    glog.append(c.partition_of(G), [record], 5)
    fresh = coordinator(glog, loop)
    fresh.load(10)
    assert beat(fresh, "a", a.member_epoch, None, 20).error == HeartbeatError.NONE
    fresh.tick(30)
    assert member_keys(glog)[(8, "ghost")] is False
