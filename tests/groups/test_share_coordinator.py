"""The share coordinator (``logbroker/groups/share_coordinator.py``) and its keys
(``share_state.py``), on an in-memory ``__share_group_state``; and share-partitions that live on a
cluster's partition leaders (``shares.ShareGroups`` with ``clustered``), read back through a persister."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator, Mapping

import pytest

from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.schema import java_string_hash
from logbroker.groups.share_coordinator import (
    FENCED_LEADER_EPOCH,
    FENCED_STATE_EPOCH,
    NOT_COORDINATOR,
    UNINITIALIZED,
    ShareCoordinator,
    StateSummary,
)
from logbroker.groups.share_group import ShareGroup, ShareSettings
from logbroker.groups.share_partition import AckType, RecordState, StateBatch
from logbroker.groups.share_persister import LocalPersister, ReadResult
from logbroker.groups.share_state import (
    SHARE_STATE_TOPIC,
    SharePartitionSnapshot,
    config_partition,
    coordinator_key,
    decode_value,
    encode_key,
    encode_value,
    key_partition,
    merge_batches,
    parse_coordinator_key,
    state_partition,
)
from segments.errors import StorageError
from tests.groups.fakes import SETTINGS, MemoryGroupLog, drain

TOPIC_ID = uuid.UUID("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
IDS = {"jobs": TOPIC_ID}
PARTITIONS = 8


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def coordinator(log: MemoryGroupLog, loop: asyncio.AbstractEventLoop) -> ShareCoordinator:
    return ShareCoordinator(log, IDS.get, loop)


def snap(start: int, *batches: tuple[int, int, RecordState, int], epoch: int = 0) -> SharePartitionSnapshot:
    return SharePartitionSnapshot(start, epoch, tuple(StateBatch(*b) for b in batches))


def test_the_key_is_kafkas_and_its_partition_the_java_hash_of_it() -> None:
    key = coordinator_key("crew", TOPIC_ID, 3)
    text = base64.urlsafe_b64encode(TOPIC_ID.bytes).decode().rstrip("=")
    assert key == f"crew:{text}:3" and len(text) == 22
    assert parse_coordinator_key(key) == ("crew", TOPIC_ID, 3)
    assert parse_coordinator_key(f"a:b:{text}:0") is None  # Kafka 4.1.1 refuses a group id holding ':'
    h = java_string_hash(key)
    assert key_partition(key, 50) == abs(h) % 50 == state_partition("crew", TOPIC_ID, 3, 50)
    for bad in ("crew", f"crew:{text}", f":{text}:0", f"crew:{text}:-1", f"crew:{text}:x", "crew:notanid:0",
                f"crew:{text}=:0", f"crew:{TOPIC_ID!s}:0", ""):
        assert parse_coordinator_key(bad) is None, bad


def test_a_write_is_read_back_once_durable_and_after_a_reload(loop: asyncio.AbstractEventLoop) -> None:
    log = MemoryGroupLog(PARTITIONS)
    log.defer = True
    c = coordinator(log, loop)
    state = snap(4, (4, 5, RecordState.AVAILABLE, 2), (6, 6, RecordState.ACKNOWLEDGED, 1))
    # Kafka's coordinator reads and writes only initialized states; this broker's own leaders create them.
    assert loop.run_until_complete(c.write("crew", "jobs", 0, state, 0)) == UNINITIALIZED
    fut = c.write("crew", "jobs", 0, state, 0, create=True)
    assert c.read("crew", "jobs", 0) == (UNINITIALIZED, None)  # not durable yet: not the state
    log.complete_pending()
    drain(loop)
    assert fut.result() == 0 and c.read("crew", "jobs", 0) == (0, state)
    where = state_partition("crew", TOPIC_ID, 0, PARTITIONS)
    assert [r.partition for records in log.records.values() for r in records] == [where]
    again = coordinator(log, loop)
    assert again.load() == 1 and again.read("crew", "jobs", 0) == (0, state)
    # Deleting (DeleteShareGroupState) leaves a tombstone: nothing after a reload either.
    log.defer = False
    assert loop.run_until_complete(again.write("crew", "jobs", 0, None, 0)) == 0
    assert again.read("crew", "jobs", 0) == (UNINITIALIZED, None)
    assert coordinator(log, loop).load() == 0


def test_a_write_after_a_delete_on_its_way_finds_no_state(loop: asyncio.AbstractEventLoop) -> None:
    """A leader's write retried while a DeleteShareGroupState is appended but not yet durable (its
    first attempt was lost to a leader epoch change) must not bring the deleted state back: it is
    refused as uninitialized, as it would be once the delete is durable."""
    log = MemoryGroupLog(PARTITIONS)
    c = coordinator(log, loop)
    state = snap(4, (4, 5, RecordState.AVAILABLE, 1))
    assert loop.run_until_complete(c.write("crew", "jobs", 0, state, 0, create=True)) == 0
    log.defer = True
    deleting = c.write("crew", "jobs", 0, None, 0)
    retried = c.write("crew", "jobs", 0, state, 0)
    assert retried.done() and retried.result() == UNINITIALIZED
    assert c.read("crew", "jobs", 0) == (0, state)  # not deleted until the tombstone is durable
    log.complete_pending()
    drain(loop)
    assert deleting.result() == 0
    assert c.read("crew", "jobs", 0) == (UNINITIALIZED, None)
    assert coordinator(log, loop).load() == 0
    # A delete that fails leaves the state, and writes find it again.
    assert loop.run_until_complete(_durable(log, loop, c.write("crew", "jobs", 1, state, 0, create=True))) == 0
    failed = c.write("crew", "jobs", 1, None, 0)
    log.complete_pending(StorageError("no space left on device"))
    drain(loop)
    assert failed.result() != 0
    log.defer = False
    assert loop.run_until_complete(c.write("crew", "jobs", 1, snap(5), 0)) == 0
    assert c.read("crew", "jobs", 1) == (0, snap(5))


def _durable(log: MemoryGroupLog, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[int]) -> asyncio.Future[int]:
    log.complete_pending()
    drain(loop)
    return fut


def test_unknown_topics_and_stale_epochs_are_refused(loop: asyncio.AbstractEventLoop) -> None:
    c = coordinator(MemoryGroupLog(PARTITIONS), loop)
    # A topic that does not exist can have no state (Kafka answers such keys as never initialized).
    assert loop.run_until_complete(c.write("crew", "gone", 0, snap(0), 0, create=True)) == UNINITIALIZED
    assert c.read("crew", "gone", 0) == (UNINITIALIZED, None)
    assert loop.run_until_complete(c.write("crew", "jobs", 0, snap(1), 0, leader_epoch=5, create=True)) == 0
    # A deposed leader (an older leader epoch) can neither write nor read any more.
    assert loop.run_until_complete(c.write("crew", "jobs", 0, snap(0), 0, leader_epoch=4)) == FENCED_LEADER_EPOCH
    assert c.read("crew", "jobs", 0, leader_epoch=4) == (FENCED_LEADER_EPOCH, None)
    # The state as stored: with the newest leader epoch seen when it was written (5).
    assert c.read("crew", "jobs", 0, leader_epoch=6) == (0, SharePartitionSnapshot(1, 0, (), 5))
    assert loop.run_until_complete(c.write("crew", "jobs", 0, snap(2), 0, leader_epoch=5)) == FENCED_LEADER_EPOCH
    # A state epoch older than the stored one is fenced, for InitializeShareGroupState and writes alike.
    assert loop.run_until_complete(c.write("crew", "jobs", 0, snap(4, epoch=2), 0)) == 0
    assert loop.run_until_complete(c.initialize("crew", "jobs", 0, 1, 9, 0)) == FENCED_STATE_EPOCH
    assert loop.run_until_complete(c.write("crew", "jobs", 0, snap(5, epoch=1), 0)) == FENCED_STATE_EPOCH
    assert loop.run_until_complete(c.initialize("crew", "jobs", 0, 2, 9, 0)) == 0
    assert c.read("crew", "jobs", 0) == (0, SharePartitionSnapshot(9, 2, (), 6))  # leader epoch 6 was seen


def test_in_a_cluster_a_coordinator_owns_only_the_partitions_it_leads(loop: asyncio.AbstractEventLoop) -> None:
    log = MemoryGroupLog(PARTITIONS)
    first = coordinator(log, loop)
    state = snap(3, (3, 3, RecordState.AVAILABLE, 1))
    assert loop.run_until_complete(first.write("crew", "jobs", 0, state, 0, create=True)) == 0
    where = state_partition("crew", TOPIC_ID, 0, PARTITIONS)

    second = coordinator(log, loop)  # another broker, holding a replica of the same topic
    second.coordinate_partitions(set())
    assert second.read("crew", "jobs", 0) == (NOT_COORDINATOR, None)
    assert loop.run_until_complete(second.write("crew", "jobs", 0, state, 0)) == NOT_COORDINATOR
    assert second.take_partition((where + 1) % PARTITIONS) == 0
    assert second.take_partition(where) == 1  # it leads the key's partition now: reloaded from its replica
    assert second.read("crew", "jobs", 0) == (0, state)
    assert second.release_partition(where) == 1
    assert second.read("crew", "jobs", 0) == (NOT_COORDINATOR, None) and not second.states


def test_a_record_in_its_keys_own_partition_wins_over_older_data_elsewhere(loop: asyncio.AbstractEventLoop) -> None:
    """State written before share-partitions were placed by topic id stays readable, and the first
    write at the new place decides from then on."""
    log = MemoryGroupLog(PARTITIONS)
    home = state_partition("crew", TOPIC_ID, 0, PARTITIONS)
    elsewhere = (home + 1) % PARTITIONS
    log.append(elsewhere, [(encode_key("crew", "jobs", 0), encode_value(snap(2)))], 0)
    c = coordinator(log, loop)
    c.load()
    assert c.read("crew", "jobs", 0) == (0, snap(2))
    log.append(home, [(encode_key("crew", "jobs", 0), encode_value(snap(5)))], 0)
    log.append(elsewhere, [(encode_key("crew", "jobs", 0), encode_value(snap(1)))], 0)
    c = coordinator(log, loop)
    c.load()
    assert c.read("crew", "jobs", 0) == (0, snap(5))


# ---------------------------------------------------------------------------------------- leaders


class Persister(LocalPersister):
    """The share coordinator of another broker, as a partition leader reaches it: reads are counted."""

    def __init__(self, store: ShareCoordinator) -> None:
        super().__init__(store)
        self.reads = 0

    def read(self, group: str, topic: str, partition: int) -> asyncio.Future[ReadResult]:
        self.reads += 1
        return super().read(group, topic, partition)


def leader(loop: asyncio.AbstractEventLoop, store: ShareCoordinator, coordinates: bool) -> GroupCoordinator:
    """A broker leading jobs-0, coordinating the group or not, its share-partitions' state kept by
    ``store`` (another broker's coordinator)."""
    c = GroupCoordinator(MemoryGroupLog(), SETTINGS, loop=loop, topics=lambda: {"jobs": 1},
                         share_state_log=MemoryGroupLog(PARTITIONS),
                         share_settings=ShareSettings(lock_ms=1000, delivery_limit=5),
                         partition_offsets=lambda t, p: (0, 10) if t == "jobs" else None, topic_id_of=IDS.get)
    c.coordinate_partitions({c.partition_of("crew")} if coordinates else set())
    c.share.persister = Persister(store)
    return c


def test_a_leader_reads_the_state_back_and_serves_any_member_of_a_group_coordinated_elsewhere(
        loop: asyncio.AbstractEventLoop) -> None:
    store = coordinator(MemoryGroupLog(PARTITIONS), loop)
    first = leader(loop, store, coordinates=False)
    share = first.share
    # Not read back yet: nothing to acquire, and nothing is made up from share.auto.offset.reset.
    assert share.next_fetch_offset("crew", "m1", "jobs", 0, 0) is None
    loop.run_until_complete(share.ensure_loaded("crew", [("jobs", 0)]))
    assert share.may_fetch("crew", "m1")  # membership is the group coordinator's, elsewhere
    # share.auto.offset.reset latest: the window starts at the log end (10); nothing to acquire yet.
    assert share.next_fetch_offset("crew", "m1", "jobs", 0, 0) == 10
    assert share.acquire("crew", "m1", "jobs", 0, 5, 0) == []

    # A share-partition with a stored state: acquired records come back with their deliveries counted.
    store2 = coordinator(MemoryGroupLog(PARTITIONS), loop)
    loop.run_until_complete(store2.write("crew", "jobs", 0, snap(
        2, (2, 3, RecordState.ACKNOWLEDGED, 1), (4, 6, RecordState.AVAILABLE, 2)), 0, create=True))
    second = leader(loop, store2, coordinates=False)
    loop.run_until_complete(second.share.ensure_loaded("crew", [("jobs", 0)]))
    loop.run_until_complete(second.share.ensure_loaded("crew", [("jobs", 0)]))
    persister = second.share.persister
    assert isinstance(persister, Persister) and persister.reads == 1  # read back once
    got = second.share.acquire("crew", "anyone", "jobs", 0, 3, 0)
    assert [(r.first_offset, r.last_offset, r.delivery_count) for r in got] == [(4, 6, 3)]
    assert loop.run_until_complete(second.share.persist("crew", [("jobs", 0)], 0))
    assert store2.read("crew", "jobs", 0)[1] == snap(4, (4, 6, RecordState.AVAILABLE, 3))
    assert loop.run_until_complete(second.share.acknowledge("crew", "anyone", "jobs", 0,
                                                            [(4, AckType.ACCEPT)], 0)) == 0
    # Leadership moves away: the share-partition goes; the next leader reads the state back.
    assert second.share.partition_lost("jobs", 0) == 1
    assert second.share.next_fetch_offset("crew", "anyone", "jobs", 0, 0) is None
    third = leader(loop, store2, coordinates=False)
    loop.run_until_complete(third.share.ensure_loaded("crew", [("jobs", 0)]))
    got = third.share.acquire("crew", "other", "jobs", 0, 5, 0)
    # 4 was accepted; 5 and 6 were acquired (their third delivery) when the leadership moved; 7..9
    # (in the log up to 10) were never delivered.
    assert [(r.first_offset, r.last_offset, r.delivery_count) for r in got] == [(5, 6, 4), (7, 9, 1)]


def test_the_group_coordinator_checks_membership_and_keeps_led_partitions_when_the_group_moves(
        loop: asyncio.AbstractEventLoop) -> None:
    store = coordinator(MemoryGroupLog(PARTITIONS), loop)
    c = leader(loop, store, coordinates=True)
    share = c.share
    assert c.share_heartbeat("crew", "m1", 0, now_ms=0, subscribed_topics=["jobs"]).error == 0
    loop.run_until_complete(share.ensure_loaded("crew", [("jobs", 0)]))
    assert not share.may_fetch("crew", "stranger") and share.may_fetch("crew", "m1")
    assert share.next_fetch_offset("crew", "m1", "jobs", 0, 0) == 10
    # The group's coordinator moves away; this broker still leads jobs-0 and keeps its share-partition.
    assert c.release_partition(c.partition_of("crew")) == 1
    assert c.share_heartbeat("crew", "m1", 1, now_ms=0).error == NOT_COORDINATOR
    assert share.may_fetch("crew", "stranger")
    assert share.next_fetch_offset("crew", "m1", "jobs", 0, 0) == 10
    drain(loop)


def test_written_batches_are_merged_over_the_held_ones_as_kafka_keeps_them() -> None:
    held = (StateBatch(3, 4, RecordState.AVAILABLE, 2), StateBatch(5, 9, RecordState.ACKNOWLEDGED, 1))
    assert merge_batches(held, (), 4) == (StateBatch(4, 4, RecordState.AVAILABLE, 2),
                                          StateBatch(5, 9, RecordState.ACKNOWLEDGED, 1))
    assert merge_batches(held, (StateBatch(6, 7, RecordState.ARCHIVED, 3),), 3) == (
        StateBatch(3, 4, RecordState.AVAILABLE, 2), StateBatch(5, 5, RecordState.ACKNOWLEDGED, 1),
        StateBatch(6, 7, RecordState.ARCHIVED, 3), StateBatch(8, 9, RecordState.ACKNOWLEDGED, 1))
    whole = (StateBatch(5, 9, RecordState.AVAILABLE, 4),)
    assert merge_batches(held, whole, 5) == whole  # a whole window: the same as replacing


def test_a_leader_sees_its_share_partition_reset_or_deleted_at_the_share_coordinator(
        loop: asyncio.AbstractEventLoop) -> None:
    """The group coordinator resets (InitializeShareGroupState, a newer state epoch) or deletes a
    share-partition's state at its share coordinator while a leader elsewhere holds it: the leader's
    next write is refused (FENCED_STATE_EPOCH, or UNINITIALIZED: a state it stored is not made
    again), it drops its copy, and it reads the state back; a new share session reads it back too."""
    store = coordinator(MemoryGroupLog(PARTITIONS), loop)
    loop.run_until_complete(store.write("crew", "jobs", 0, snap(2), 0, create=True))
    share = leader(loop, store, coordinates=False).share
    loop.run_until_complete(share.ensure_loaded("crew", [("jobs", 0)]))
    assert [(r.first_offset, r.last_offset) for r in share.acquire("crew", "m1", "jobs", 0, 2, 0)] == [(2, 3)]
    assert loop.run_until_complete(share.persist("crew", [("jobs", 0)], 0))

    # Reset to 7 under state epoch 1: the leader's acknowledgement (a write of state epoch 0) is fenced.
    assert loop.run_until_complete(store.initialize("crew", "jobs", 0, 1, 7, 0)) == 0
    assert loop.run_until_complete(share.acknowledge("crew", "m1", "jobs", 0, [(2, AckType.ACCEPT)], 0)) != 0
    assert share.next_fetch_offset("crew", "m1", "jobs", 0, 0) is None  # dropped: read back first
    loop.run_until_complete(share.ensure_loaded("crew", [("jobs", 0)]))
    assert share.next_fetch_offset("crew", "m1", "jobs", 0, 0) == 7

    # Reset again, to 9 (state epoch 2), while the leader writes nothing: a new share session reads it back.
    assert loop.run_until_complete(store.initialize("crew", "jobs", 0, 2, 9, 0)) == 0
    loop.run_until_complete(share.ensure_loaded("crew", [("jobs", 0)]))
    assert share.next_fetch_offset("crew", "m2", "jobs", 0, 0) == 7  # not asked again within a session
    share.open_session("crew", "m2")
    loop.run_until_complete(share.ensure_loaded("crew", [("jobs", 0)]))
    assert share.next_fetch_offset("crew", "m2", "jobs", 0, 0) == 9

    # Deleted: the leader's next write does not make the old state again; it starts afresh (latest: 10).
    assert share.acquire("crew", "m2", "jobs", 0, 1, 0) != []
    assert loop.run_until_complete(share.persist("crew", [("jobs", 0)], 0))
    assert loop.run_until_complete(store.write("crew", "jobs", 0, None, 0)) == 0
    assert not loop.run_until_complete(share.persist("crew", [("jobs", 0)], 0))
    assert store.read("crew", "jobs", 0)[0] == UNINITIALIZED
    assert share.next_fetch_offset("crew", "m2", "jobs", 0, 0) == 10
    assert loop.run_until_complete(share.persist("crew", [("jobs", 0)], 0))
    assert store.read("crew", "jobs", 0)[1] == snap(10)
    drain(loop)


def test_a_new_coordinator_fences_a_deposed_leader_at_once(loop: asyncio.AbstractEventLoop) -> None:
    """The newest leader epoch a share coordinator has seen is stored in the state record: a
    coordinator that loads it (a restart, or a new leader of the state partition) refuses an older
    leader's write before the new leader has written or read anything there."""
    log = MemoryGroupLog(PARTITIONS)
    first = coordinator(log, loop)
    assert loop.run_until_complete(first.write("crew", "jobs", 0, snap(3), 0, 4, create=True)) == 0
    assert loop.run_until_complete(first.write("crew", "jobs", 0, snap(4), 0, 6)) == 0
    assert first.read("crew", "jobs", 0, 6)[1] == SharePartitionSnapshot(4, 0, (), 6)
    successor = coordinator(log, loop)
    assert successor.load() == 1
    assert loop.run_until_complete(successor.write("crew", "jobs", 0, snap(9), 0, 5)) == FENCED_LEADER_EPOCH
    assert successor.read("crew", "jobs", 0, 5) == (FENCED_LEADER_EPOCH, None)
    assert successor.read_summary("crew", "jobs", 0) == (0, StateSummary(0, 6, 4))
    assert loop.run_until_complete(successor.write("crew", "jobs", 0, snap(9), 0, 6)) == 0
    # A record written before the leader epoch was stored reads as none seen (-1).
    old = encode_value(SharePartitionSnapshot(2, 0, ()))
    assert decode_value(old).leader_epoch == -1 and decode_value(encode_value(snap(2))) == snap(2)
    drain(loop)


def test_a_new_group_coordinator_reads_the_share_group_back_from_consumer_offsets(
        loop: asyncio.AbstractEventLoop) -> None:
    """The group's epoch and share-partitions are in its __consumer_offsets partition: a broker
    that takes the partition over knows the group, describes its start offsets, and deletes it."""
    store = coordinator(MemoryGroupLog(PARTITIONS), loop)
    offsets_log = MemoryGroupLog()

    def group_coordinator(owned: set[int]) -> GroupCoordinator:
        c = GroupCoordinator(offsets_log, SETTINGS, loop=loop, topics=lambda: {"jobs": 1},
                             share_state_log=MemoryGroupLog(PARTITIONS), topic_id_of=IDS.get,
                             partition_offsets=lambda t, p: (0, 10) if t == "jobs" else None)
        c.coordinate_partitions(owned)
        c.share.persister = Persister(store)
        return c

    first = group_coordinator(set())
    first.take_partition(first.partition_of("crew"), 0)
    joined = first.share_heartbeat("crew", "m1", 0, now_ms=0, subscribed_topics=["jobs"])
    assert joined.error == 0 and joined.assignment == [("jobs", 0)]
    loop.run_until_complete(store.write("crew", "jobs", 0, snap(7), 0, create=True))
    drain(loop)
    epoch = joined.member_epoch

    second = group_coordinator(set())
    assert second.group("crew") is None
    second.take_partition(second.partition_of("crew"), 0)
    group = second.group("crew")
    assert isinstance(group, ShareGroup) and group.group_epoch == epoch and not group.members
    assert [g.group_id for g in second.list_groups(types=["share"])] == ["crew"]
    assert loop.run_until_complete(second.share.describe_start_offsets("crew", None)) == {("jobs", 0): (7, 0)}
    # The old member is unknown there and joins again, under the next epoch.
    assert second.share_heartbeat("crew", "m1", epoch, now_ms=0).error == HeartbeatError.UNKNOWN_MEMBER_ID
    again = second.share_heartbeat("crew", "m1", 0, now_ms=0, subscribed_topics=["jobs"])
    assert again.error == 0 and again.member_epoch > epoch
    assert second.share_heartbeat("crew", "m1", -1, now_ms=0).error == 0

    deleted = second.delete_groups(["crew"], 0)
    drain(loop)
    assert deleted.done() and deleted.result() == {"crew": GroupError.NONE}
    third = group_coordinator(set())
    third.take_partition(third.partition_of("crew"), 0)
    assert third.group("crew") is None


class RefusingDeletes(Persister):
    """A share coordinator that cannot be reached for the next ``refusals`` state deletions."""

    def __init__(self, store: ShareCoordinator, loop: asyncio.AbstractEventLoop, refusals: int) -> None:
        super().__init__(store)
        self.loop = loop
        self.refusals = refusals

    def write(self, group: str, topic: str, partition: int, snapshot: SharePartitionSnapshot | None,
              now_ms: int, *, create: bool = True) -> asyncio.Future[int]:
        if snapshot is None and self.refusals > 0:
            self.refusals -= 1
            fut: asyncio.Future[int] = self.loop.create_future()
            fut.set_result(int(HeartbeatError.COORDINATOR_NOT_AVAILABLE))
            return fut
        return super().write(group, topic, partition, snapshot, now_ms, create=create)


def test_delete_groups_deletes_the_share_state_first_and_keeps_the_group_when_it_cannot(
        loop: asyncio.AbstractEventLoop) -> None:
    """As Kafka's group coordinator: DeleteGroups of a share group deletes its share-partitions'
    state at their share coordinator first, and the group (its records in __consumer_offsets) only
    once that is done. When the state cannot be deleted the answer is the error and the group stays,
    with the share-partition still its own, so DeleteGroups asked again deletes both."""
    store = coordinator(MemoryGroupLog(PARTITIONS), loop)
    offsets_log = MemoryGroupLog()

    def group_coordinator() -> GroupCoordinator:
        c = GroupCoordinator(offsets_log, SETTINGS, loop=loop, topics=lambda: {"jobs": 1},
                             share_state_log=MemoryGroupLog(PARTITIONS), topic_id_of=IDS.get,
                             partition_offsets=lambda t, p: (0, 10) if t == "jobs" else None)
        c.coordinate_partitions(set())
        c.take_partition(c.partition_of("crew"), 0)
        return c

    first = group_coordinator()
    first.share.persister = RefusingDeletes(store, loop, refusals=1)
    assert first.share_heartbeat("crew", "m1", 0, now_ms=0, subscribed_topics=["jobs"]).assignment == [("jobs", 0)]
    loop.run_until_complete(store.write("crew", "jobs", 0, snap(7), 0, create=True))
    assert first.share_heartbeat("crew", "m1", -1, now_ms=0).error == 0
    drain(loop)

    refused = first.delete_groups(["crew"], 1)
    drain(loop)
    assert refused.result() == {"crew": GroupError.COORDINATOR_NOT_AVAILABLE}
    assert first.group("crew") is not None and store.read_summary("crew", "jobs", 0)[1] is not None
    reloaded = group_coordinator()  # nothing was tombstoned: a new coordinator still has the group
    assert reloaded.group("crew") is not None

    deleted = first.delete_groups(["crew"], 2)
    drain(loop)
    assert deleted.result() == {"crew": GroupError.NONE}
    assert first.group("crew") is None and store.read_summary("crew", "jobs", 0) == (UNINITIALIZED, None)
    assert group_coordinator().group("crew") is None


class ZooKeeperConfigs:
    """The cluster's group configs, held in memory (what ``group_configs_zookeeper.py`` keeps in
    ZooKeeper)."""

    def __init__(self, configs: dict[str, dict[str, str]]) -> None:
        self.configs = configs

    def get(self, group_id: str) -> dict[str, str]:
        return self.configs.get(group_id, {})

    async def read_async(self, group_id: str) -> dict[str, str]:
        return dict(self.configs.get(group_id, {}))

    async def change_async(self, group_id: str, changes: Mapping[str, str | None]) -> None:
        held = self.configs.setdefault(group_id, {})
        for name, value in changes.items():
            if value is None:
                held.pop(name, None)
            else:
                held[name] = value


def test_configs_kept_in_the_state_topic_move_to_the_clusters_configs(loop: asyncio.AbstractEventLoop) -> None:
    """Configs a cluster wrote into __share_group_state (key group::-1) before it kept them in
    ZooKeeper move there when a broker leads their partition, a newer value there kept, and the old
    record goes."""
    state_log = MemoryGroupLog(PARTITIONS)

    def broker() -> GroupCoordinator:
        return GroupCoordinator(MemoryGroupLog(), SETTINGS, loop=loop, topics=lambda: {"jobs": 1},
                                share_state_log=state_log, topic_id_of=IDS.get)

    before = broker()
    assert loop.run_until_complete(before.share.alter_configs("crew", {
        "share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": "20000"}, 0)) == (0, None)

    after = broker()
    after.coordinate_partitions(set())
    shared = ZooKeeperConfigs({"crew": {"share.record.lock.duration.ms": "25000"}})
    after.share.shared_configs = shared
    assert loop.run_until_complete(after.share.carry_configs(0)) == 0  # not its partition yet
    after.leadership_changed(SHARE_STATE_TOPIC, config_partition("crew", PARTITIONS), True, 0)
    assert after.share_state is not None and "crew" in after.share_state.configs
    assert loop.run_until_complete(after.share.carry_configs(0)) == 1
    assert shared.configs == {"crew": {"share.record.lock.duration.ms": "25000", "share.auto.offset.reset": "earliest"}}
    assert after.share_state.configs == {}
    assert loop.run_until_complete(after.share.carry_configs(0)) == 0
    reread = ShareCoordinator(state_log, IDS.get, loop)
    reread.load()
    assert reread.configs == {}


def test_an_expired_members_partitions_are_handed_on_for_their_other_leaders(
        loop: asyncio.AbstractEventLoop) -> None:
    """In a cluster the coordinator lists a member whose session expired, with its assignment, so
    the records it holds at the other partitions' leaders are released there (the application
    closes its share sessions there); one that leaves is not listed (its client closes them)."""
    store = coordinator(MemoryGroupLog(PARTITIONS), loop)
    c = leader(loop, store, coordinates=True)
    assert c.share_heartbeat("crew", "gone", 0, now_ms=0, subscribed_topics=["jobs"]).error == 0
    assert c.share_heartbeat("crew", "leaving", 0, now_ms=0, subscribed_topics=["jobs"]).error == 0
    c.share.leave("crew", "leaving", 10)
    assert c.share.take_expired() == []
    c.tick(ShareSettings().session_timeout_ms)  # the session of "gone" runs out
    assert c.share.take_expired() == [("crew", "gone", (("jobs", 0),))]
    assert c.share.take_expired() == []
    drain(loop)


def test_a_failed_share_group_record_is_written_again_a_second_later(loop: asyncio.AbstractEventLoop) -> None:
    offsets_log = MemoryGroupLog()
    c = GroupCoordinator(offsets_log, SETTINGS, loop=loop, topics=lambda: {"jobs": 1}, topic_id_of=IDS.get)
    where = offsets_log.records[c.partition_of("crew")]
    offsets_log.fail = True  # a full disk
    assert c.share_heartbeat("crew", "m1", 0, now_ms=0, subscribed_topics=["jobs"]).error == 0
    offsets_log.fail = False
    c.tick(500)
    assert where == []  # not tried again at once (the tick runs every 100 ms)
    c.tick(1000)
    assert len(where) == 2  # the group's epoch and its share-partitions
    c.tick(1100)
    assert len(where) == 2  # nothing changed since
