"""Share groups in the coordinator (``logbroker/groups/shares.py``), on an in-memory state log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from logbroker.groups.consumer import HeartbeatResult
from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.group_configs import check_group_config, reset_duration_ms
from logbroker.groups.offsets import OffsetCommitInput
from logbroker.groups.share_group import ShareSettings
from logbroker.groups.share_partition import AckType, offsets_of
from logbroker.groups.shares import INVALID_RECORD_STATE
from tests.groups.fakes import SETTINGS, MemoryGroupLog, drain

END = {"end": 10}


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def make(loop: asyncio.AbstractEventLoop, state: MemoryGroupLog) -> GroupCoordinator:
    return GroupCoordinator(MemoryGroupLog(), SETTINGS, loop=loop, topics=lambda: {"jobs": 1, "other": 2},
                            share_state_log=state, share_settings=ShareSettings(lock_ms=1000, delivery_limit=3),
                            partition_offsets=lambda t, p: (0, END["end"]) if t in ("jobs", "other") else None)


def join(c: GroupCoordinator, member: str, now: int = 0, group: str = "q") -> int:
    r = c.share.heartbeat(group, member, 0, now_ms=now, subscribed_topics=["jobs"])
    assert r.error == 0 and r.assignment == [("jobs", 0)]
    return r.member_epoch


def test_members_share_a_partition_and_groups_are_listed(loop: asyncio.AbstractEventLoop) -> None:
    c = make(loop, MemoryGroupLog())
    join(c, "a")
    join(c, "b")
    c.share.group("q").configs["share.auto.offset.reset"] = "earliest"  # type: ignore[union-attr]
    a = list(offsets_of(c.share.acquire("q", "a", "jobs", 0, 3, 0)))
    b = list(offsets_of(c.share.acquire("q", "b", "jobs", 0, 3, 0)))
    assert a == [0, 1, 2] and b == [3, 4, 5]
    listed = c.list_groups()
    assert [(g.group_id, g.group_type, g.protocol_type, g.state) for g in listed] == [("q", "share", "share", "Stable")]
    desc = c.describe_group("q")
    assert desc is not None and {m.member_id for m in desc.members} == {"a", "b"}


def test_group_types_do_not_mix(loop: asyncio.AbstractEventLoop) -> None:
    c = make(loop, MemoryGroupLog())
    join(c, "a")
    r = c.consumer_heartbeat("q", "x", 0, now_ms=0, subscribed_topics=["jobs"], rebalance_timeout_ms=1000)
    assert r.error == HeartbeatError.GROUP_ID_NOT_FOUND
    c.consumer_heartbeat("cg", "x", 0, now_ms=0, subscribed_topics=["jobs"], rebalance_timeout_ms=1000)
    refused = c.share.heartbeat("cg", "y", 0, now_ms=0, subscribed_topics=["jobs"])
    assert refused.error == HeartbeatError.GROUP_ID_NOT_FOUND


def test_heartbeat_errors_and_session_expiry_release_records(loop: asyncio.AbstractEventLoop) -> None:
    c = make(loop, MemoryGroupLog())
    epoch = join(c, "a")
    assert c.share.heartbeat("q", "a", epoch + 5, now_ms=1).error == HeartbeatError.FENCED_MEMBER_EPOCH
    assert c.share.heartbeat("q", "zz", 3, now_ms=1).error == HeartbeatError.UNKNOWN_MEMBER_ID
    c.share.group("q").configs["share.auto.offset.reset"] = "earliest"  # type: ignore[union-attr]
    assert list(offsets_of(c.share.acquire("q", "a", "jobs", 0, 2, 0))) == [0, 1]
    join(c, "b", now=40_000)
    c.tick(46_000)  # a's session (45 s) is over; b heartbeated at 40 s
    assert not c.share.is_member("q", "a")
    again = c.share.acquire("q", "b", "jobs", 0, 2, 46_001)
    assert [(r.first_offset, r.last_offset, r.delivery_count) for r in again] == [(0, 1, 2)]


def test_acks_are_durable_and_survive_a_reload(loop: asyncio.AbstractEventLoop) -> None:
    state = MemoryGroupLog()
    state.defer = True
    c = make(loop, state)
    join(c, "a")
    c.share.group("q").configs["share.auto.offset.reset"] = "earliest"  # type: ignore[union-attr]
    assert list(offsets_of(c.share.acquire("q", "a", "jobs", 0, 5, 0))) == [0, 1, 2, 3, 4]
    fut = c.share.acknowledge("q", "a", "jobs", 0, [(0, AckType.ACCEPT), (1, AckType.ACCEPT), (3, AckType.REJECT)], 1)
    drain(loop)
    assert not fut.done()  # answered only once durable
    state.complete_pending()
    drain(loop)
    assert fut.result() == 0
    bad = c.share.acknowledge("q", "a", "jobs", 0, [(0, AckType.ACCEPT)], 2)
    assert bad.result() == INVALID_RECORD_STATE
    state.defer = False

    again = make(loop, state)
    again.load(10)
    assert again.share.start_offsets("q") == {("jobs", 0): 2}
    join(again, "b", now=10)
    got = again.share.acquire("q", "b", "jobs", 0, 10, 10)
    # 2 and 4 were acquired, not acknowledged: redelivered; 0, 1 (accepted) and 3 (rejected) are not.
    assert list(offsets_of(got)) == [2, 4, 5, 6, 7, 8, 9]


def test_admin_offsets_need_an_empty_group(loop: asyncio.AbstractEventLoop) -> None:
    c = make(loop, MemoryGroupLog())
    join(c, "a")
    assert c.share.alter_start_offsets("q", {("jobs", 0): 4}, 0).result() == {("jobs", 0): 68}
    c.share.heartbeat("q", "a", -1, now_ms=1)
    fut = c.share.alter_start_offsets("q", {("jobs", 0): 4, ("nope", 0): 1}, 1)
    drain(loop)
    assert fut.result() == {("jobs", 0): 0, ("nope", 0): 3}
    join(c, "b", now=2)
    assert list(offsets_of(c.share.acquire("q", "b", "jobs", 0, 2, 2))) == [4, 5]
    c.share.heartbeat("q", "b", -1, now_ms=3)
    deleted = c.share.delete_start_offsets("q", [("jobs", 0)], 3)
    drain(loop)
    assert deleted.result() == {("jobs", 0): 0} and c.share.start_offsets("q") == {}
    removed = c.delete_groups(["q"], 4)
    drain(loop)
    assert removed.result()["q"].ok and c.group("q") is None


def test_a_deleted_group_keeps_its_configs_across_a_restart(loop: asyncio.AbstractEventLoop) -> None:
    """Group configs live apart from the group (as Kafka 4.1 keeps them): setting them makes no group,
    and DeleteGroups leaves them, described after the deletion and after a restart, the group itself
    gone; a group made again under the id follows them."""
    state, offsets_log = MemoryGroupLog(), MemoryGroupLog()

    def broker() -> GroupCoordinator:
        return GroupCoordinator(offsets_log, SETTINGS, loop=loop, topics=lambda: {"jobs": 1},
                                share_state_log=state, partition_offsets=lambda t, p: (0, 10))

    c = broker()
    assert loop.run_until_complete(c.share.alter_configs("q", {"share.auto.offset.reset": "earliest"}, 0)) == (0, None)
    # Configuring makes no group (Kafka 4.1): none listed, none to delete until a member comes.
    assert c.group("q") is None and c.list_groups() == []
    assert loop.run_until_complete(c.delete_groups(["q"], 0)) == {"q": GroupError.GROUP_ID_NOT_FOUND}
    join(c, "a", now=0)
    assert c.share.configs("q") == {"share.auto.offset.reset": "earliest"}  # the group took them
    c.share.heartbeat("q", "a", -1, now_ms=1)
    c.tick(1)
    assert loop.run_until_complete(c.delete_groups(["q"], 1)) == {"q": GroupError.NONE}
    assert c.group("q") is None and c.share.configs("q") == {"share.auto.offset.reset": "earliest"}

    again = broker()
    again.load(10)
    assert again.group("q") is None and again.list_groups() == []
    assert again.share.configs("q") == {"share.auto.offset.reset": "earliest"}
    join(again, "a", now=10)
    assert list(offsets_of(again.share.acquire("q", "a", "jobs", 0, 3, 10))) == [0, 1, 2]  # earliest


def test_a_groups_own_session_timeout_and_heartbeat_interval(loop: asyncio.AbstractEventLoop) -> None:
    """share.session.timeout.ms and share.heartbeat.interval.ms set on a group replace the broker's
    group.share.* values for its members: the interval each heartbeat answers and the silence after
    which a member is removed. Values outside group.share.min/max.* are refused (INVALID_CONFIG)."""
    c = make(loop, MemoryGroupLog())

    def alter(changes: dict[str, str | None]) -> tuple[int, str | None]:
        return loop.run_until_complete(c.share.alter_configs("q", changes, 0))

    assert alter({"share.session.timeout.ms": "44999"})[0] == 40
    assert alter({"share.session.timeout.ms": "60001"})[0] == 40
    refused = alter({"share.heartbeat.interval.ms": "4999"})
    assert refused[0] == 40 and refused[1] is not None and "group.share.min.heartbeat.interval.ms" in refused[1]
    assert alter({"share.heartbeat.interval.ms": "15001"})[0] == 40
    assert alter({"share.session.timeout.ms": "60000", "share.heartbeat.interval.ms": "7000"}) == (0, None)

    first = c.share.heartbeat("q", "a", 0, now_ms=0, subscribed_topics=["jobs"])
    assert first.heartbeat_interval_ms == 7000
    c.tick(50_000)  # past the broker's 45 s, within the group's 60 s
    assert c.share.is_member("q", "a")
    c.tick(60_001)
    assert not c.share.is_member("q", "a")

    assert alter({"share.session.timeout.ms": None, "share.heartbeat.interval.ms": None}) == (0, None)
    again = c.share.heartbeat("q", "b", 0, now_ms=70_000, subscribed_topics=["jobs"])
    assert again.heartbeat_interval_ms == 5000  # the broker's group.share.heartbeat.interval.ms
    c.tick(70_000 + 45_001)
    assert not c.share.is_member("q", "b")


def test_a_consumer_groups_configs_are_kept_and_obeyed_across_a_restart(loop: asyncio.AbstractEventLoop) -> None:
    """Group configs belong to any group type: set on the id of a live KIP-848 group they are
    durable (in the share state log) and steer its heartbeats, before and after a restart."""
    state, offsets_log = MemoryGroupLog(), MemoryGroupLog()

    def broker() -> GroupCoordinator:
        return GroupCoordinator(offsets_log, SETTINGS, loop=loop, topics=lambda: {"jobs": 1},
                                share_state_log=state, partition_offsets=lambda t, p: (0, 10))

    def heartbeat(c: GroupCoordinator, now: int) -> HeartbeatResult:
        r = c.consumer_heartbeat("cg", "", 0, now_ms=now, subscribed_topics=["jobs"], rebalance_timeout_ms=1000)
        assert r.error == 0, r
        return r

    c = broker()
    first = heartbeat(c, 0)
    assert first.heartbeat_interval_ms == SETTINGS.consumer.heartbeat_interval_ms
    # A committed offset: the group comes back at the restart, before the share state's configs do.
    committed = c.commit_offsets("cg", first.member_epoch, first.member_id,
                                 {("jobs", 0): OffsetCommitInput(3)}, 1)
    assert loop.run_until_complete(committed) == {("jobs", 0): GroupError.NONE}
    changed = c.share.alter_configs("cg", {"consumer.heartbeat.interval.ms": "6000"}, 1)
    assert loop.run_until_complete(changed) == (0, None)
    assert heartbeat(c, 2).heartbeat_interval_ms == 6000
    assert c.share.held_by_another_type("cg") and c.share.group("cg") is None

    again = broker()
    again.load(10)
    assert again.share.held_by_another_type("cg")  # the id is a group again, not a share group
    assert again.share.configs("cg") == {"consumer.heartbeat.interval.ms": "6000"}
    assert heartbeat(again, 20).heartbeat_interval_ms == 6000


def test_a_share_partition_starts_by_duration(loop: asyncio.AbstractEventLoop) -> None:
    """share.auto.offset.reset by_duration:<ISO-8601> (KIP-1106): a new share-partition starts at the
    first record at most that old, found by timestamp; when every record is older, at the log end."""
    c = make(loop, MemoryGroupLog())
    asked: list[int] = []
    first_at_or_after = {900_000: 6}  # records 6..9 are younger than 100 s at a wall clock of 1,000,000 ms

    def offset_for_time(topic: str, partition: int, timestamp: int) -> int | None:
        asked.append(timestamp)
        return first_at_or_after.get(timestamp)

    c.share.offset_for_time = offset_for_time
    c.share.wall_clock = lambda: 1_000_000
    assert loop.run_until_complete(c.alter_group_configs("q", {"share.auto.offset.reset": "by_duration:PT100S"},
                                                         0)) == (0, None)
    join(c, "a")
    assert list(offsets_of(c.share.acquire("q", "a", "jobs", 0, 10, 0))) == [6, 7, 8, 9]
    assert asked == [900_000]
    loop.run_until_complete(c.alter_group_configs("r", {"share.auto.offset.reset": "by_duration:PT1S"}, 0))
    join(c, "b", group="r")
    assert list(offsets_of(c.share.acquire("r", "b", "jobs", 0, 10, 0))) == []  # all older: the log end
    assert asked == [900_000, 999_000]


@pytest.mark.parametrize("value, ms", [
    ("by_duration:PT10S", 10_000), ("by_duration:pt10s", 10_000), ("by_duration:P1D", 86_400_000),
    ("by_duration:PT1H30M", 5_400_000), ("by_duration:PT0.5S", 500), ("by_duration:P2DT3H4M5.006S", 183_845_006),
    ("by_duration:PT0S", 0), ("by_duration:-PT-5S", None), ("by_duration:+PT5S", None), ("by_duration:PT1", None),
    ("by_duration:-PT1S", None), ("by_duration:PT-0.5S", None), ("by_duration:P1Y", None), ("by_duration:PT", None),
    ("by_duration:P", None), ("by_duration:", None), ("by_duration", None), ("by_duration:P1DT", None),
    ("latest", None),
])
def test_by_duration_reads_iso_8601_durations_as_java_does(value: str, ms: int | None) -> None:
    assert reset_duration_ms(value) == ms
    refused = check_group_config("share.auto.offset.reset", value, {})
    assert (refused is None) == (ms is not None or value == "latest")


def test_share_isolation_level_takes_kafkas_two_values(loop: asyncio.AbstractEventLoop) -> None:
    c = make(loop, MemoryGroupLog())
    assert c.group_config_defaults()["share.isolation.level"] == "read_uncommitted"
    assert loop.run_until_complete(c.alter_group_configs("q", {"share.isolation.level": "read_committed"},
                                                         0)) == (0, None)
    assert loop.run_until_complete(c.alter_group_configs("q", {"share.isolation.level": "committed"}, 0)) == (
        40, "Invalid value committed for configuration share.isolation.level: String must be one of: "
            "read_committed, read_uncommitted")
    assert c.share.configs("q") == {"share.isolation.level": "read_committed"}
