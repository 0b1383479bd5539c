"""Every share group of the coordinator (KIP-932): heartbeats, acquisition, acknowledgement, the
share-partitions' durable state and the admin of their start offsets.

Share groups live in the coordinator's one group map next to classic and consumer groups (a group
id names one group of one type). Each share-partition (``share_partition.SharePartition``) is made
on first acquisition, its start offset from ``share.auto.offset.reset`` (``latest`` unless the group
says otherwise, as in Kafka). Its state goes to the share coordinator (``share_coordinator.py``,
through a ``share_persister.SharePersister``), which keeps it in ``__share_group_state``:
acknowledgements are answered only once their record is durable, so a restart never loses one;
acquisitions are handed out only once their delivery counts are durable (``persist``), so a restart
never forgets a delivery and the delivery-count limit holds across crashes; lock expiries and
releases are written on the next ``tick`` without anyone waiting (a crash before then only makes
the record available again, as the expiry did).

In a cluster (``clustered``) the three jobs are split as in Kafka: membership stays with the group
coordinator (this broker when ``coordinates(group)``), while the share-partitions live on the leader
of their topic partition, which serves ShareFetch and ShareAcknowledge for any member with a share
session there. A broker that leads a partition of a group it does not coordinate keeps that group's
share-partitions in a holder of their own (``_led``). A share-partition is read back from its share
coordinator (``ensure_loaded``) the first time this broker serves it, and dropped when this broker
stops leading its partition (``partition_lost``): the next leader reads it back, every record that
was acquired here available again with its deliveries counted.

Synchronous and single-threaded, like the rest of the coordinator; every method takes ``now_ms``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from logbroker.errors import ClusterStateUnavailableError
from logbroker.groups.errors import HeartbeatError
from logbroker.groups.group_configs import (
    AUTO_OFFSET_RESET,
    DELIVERY_LIMIT,
    ISOLATION_LEVEL,
    LOCK_DURATION,
    config_int,
    config_problem,
    reset_duration_ms,
)
from logbroker.groups.group_configs import SHARE_HEARTBEAT_INTERVAL as HEARTBEAT_INTERVAL
from logbroker.groups.group_configs import SHARE_SESSION_TIMEOUT as SESSION_TIMEOUT
from logbroker.groups.record_writer import resolve
from logbroker.groups.share_coordinator import FENCED_STATE_EPOCH, NONE, UNINITIALIZED, ShareCoordinator
from logbroker.groups.share_group import SharedGroupConfigs, ShareGroup, ShareMember, ShareSettings
from logbroker.groups.share_partition import AckType, AcquiredRange, InvalidRecordState, RecordState, SharePartition
from logbroker.groups.share_persister import LocalPersister, SharePersister
from logbroker.groups.share_sessions import ShareSession, ShareSessions
from logbroker.groups.share_state import SharePartitionSnapshot, config_partition

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]
# log start and end offset of a partition, None when it does not exist
Offsets = Callable[[str, int], tuple[int, int] | None]

REQUEST_TIMED_OUT = 7  # Kafka's answer while the cluster's shared state cannot be reached
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_RECORD_STATE = 121  # Kafka's error code: an acknowledgement for a record not held
SHARE_SESSION_NOT_FOUND = 122


@dataclass(frozen=True, slots=True)
class ShareHeartbeatResult:
    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    assignment: list[TopicPartition] | None  # None: unchanged since the last one sent
    error: int = HeartbeatError.NONE
    message: str | None = None


@dataclass(frozen=True, slots=True)
class PartitionShareState:
    """What describe tools show of one share-partition."""

    topic: str
    partition: int
    start_offset: int
    end_offset: int
    acquired: int
    available: int
    delivery_counts: dict[int, int]  # offset -> deliveries, for records still in flight
    acknowledged: int = 0  # in the window (at or above the start offset)
    archived: int = 0  # in the window
    log_end_offset: int = -1  # -1: the partition is gone
    histogram: dict[int, int] = field(default_factory=dict)  # deliveries so far -> records in flight

    @property
    def lag(self) -> int:
        """Records not finished yet: in flight (acquired or waiting for redelivery) plus never acquired."""
        return self.acquired + self.available + max(self.log_end_offset - self.end_offset, 0)


class ShareGroups:
    def __init__(self, groups: MutableMapping[str, Any], topics: Callable[[], Mapping[str, int]],
                 offsets: Offsets, store: ShareCoordinator | None, settings: ShareSettings | None = None,
                 coordinates: Callable[[str], bool] | None = None) -> None:
        self._groups = groups  # the coordinator's one group map
        self._topics = topics
        self._offsets = offsets
        self._store = store  # this broker's share coordinator; None: no durable state (unit tests)
        # Where share-partition states are written and read (in a cluster: their coordinator, anywhere).
        self.persister: SharePersister | None = LocalPersister(store) if store is not None else None
        self._coordinates = coordinates or (lambda group_id: True)
        self.settings = settings or ShareSettings()
        # share.auto.offset.reset by_duration: the first offset of a partition with a timestamp at
        # or after the given one (None: no such record), and the wall clock the duration counts back
        # from. The coordinator sets both from its broker.
        self.offset_for_time: Callable[[str, int, int], int | None] = lambda topic, partition, timestamp: None
        self.wall_clock: Callable[[], int] = lambda: int(time.time() * 1000)
        self.clustered = False  # set by the coordinator in a cluster (see the module's docstring)
        self._led: dict[str, ShareGroup] = {}  # share-partitions of groups coordinated elsewhere
        self._loaded: set[tuple[str, str, int]] = set()  # in a cluster: share-partitions read back here
        self._loading: dict[tuple[str, str, int], asyncio.Future[None]] = {}
        self._dirty: set[tuple[str, str, int]] = set()
        # In a cluster: share-partitions held here whose state the share coordinator has stored (read
        # back or written): one it then no longer has was deleted there (``_load_one``).
        self._stored: set[tuple[str, str, int]] = set()
        self.changed: asyncio.Event | None = None  # set when records become available again
        self.sessions = ShareSessions()  # the Kafka front's share sessions, dropped with their member
        # In a cluster: the group configs every broker sees (ZooKeeper); None: each group's own ``configs``.
        self.shared_configs: SharedGroupConfigs | None = None
        # In a cluster: members whose session expired here, with their assignment, until the
        # application asks the other partitions' leaders to release their records (``take_expired``).
        self._expired: list[tuple[str, str, tuple[TopicPartition, ...]]] = []
        # Alone: the configs of every group id that is not a live share group: a deleted share group's
        # (Kafka keeps a group's configs through DeleteGroups; a group made again under the id takes
        # them), a consumer or classic group's, and an id no group holds yet.
        self._kept_configs: dict[str, dict[str, str]] = {}
        self._carrying: set[str] = set()  # groups whose configs ``carry_configs`` is moving now

    # ------------------------------------------------------------------ groups
    def group(self, group_id: str) -> ShareGroup | None:
        group = self._groups.get(group_id)
        return group if isinstance(group, ShareGroup) else None

    def held_by_another_type(self, group_id: str) -> bool:
        """Whether a consumer or classic group holds the id (here: at its coordinator)."""
        group = self._groups.get(group_id)
        return group is not None and not isinstance(group, ShareGroup)

    def _future(self) -> asyncio.Future[Any]:
        return self._store.future() if self._store is not None else asyncio.get_running_loop().create_future()

    def _holder(self, group_id: str, *, create: bool = False) -> ShareGroup | None:
        """The group holding the share-partitions of ``group_id`` here: the group itself when this
        broker coordinates it, else (in a cluster) the holder of the partitions it leads."""
        existing = self._groups.get(group_id)
        if existing is not None:
            return existing if isinstance(existing, ShareGroup) else None
        held = self._led.get(group_id)
        if held is None and create and self.clustered:
            held = self._led[group_id] = ShareGroup(group_id)
        return held

    def _holders(self) -> list[ShareGroup]:
        return [g for g in self._groups.values() if isinstance(g, ShareGroup)] + list(self._led.values())

    def detach(self, group: ShareGroup) -> None:
        """The coordinator lets ``group`` go (another broker coordinates it now): the share-partitions
        this broker leads stay here, held without members."""
        if group.partitions:
            group.members.clear()
            self._led[group.group_id] = group

    def _new_group(self, group_id: str) -> ShareGroup:
        """A share group made under ``group_id``: with the configs a deleted one left, if any."""
        return ShareGroup(group_id, configs=self._kept_configs.pop(group_id, {}))

    def restore_group(self, group_id: str, epoch: int, assigned: set[TopicPartition]) -> ShareGroup:
        """A share group read back from ``__consumer_offsets`` by a broker that now coordinates it
        (``share_group_log.py``): without members, at its recorded epoch, with its share-partitions
        (the holder of those this broker leads, if any, becomes the group)."""
        group = self._led.pop(group_id, None) or self._new_group(group_id)
        group.group_epoch = max(group.group_epoch, epoch)
        group.assigned |= assigned
        self._groups[group_id] = group
        return group

    def may_fetch(self, group_id: str, member_id: str) -> bool:
        """Whether a member may acquire records here: a member of the group when this broker
        coordinates it; in a cluster any member with a share session when another broker does (the
        partition leader does not see the membership, as in Kafka)."""
        if self._coordinates(group_id):
            return self.is_member(group_id, member_id)
        return self.clustered

    def _configs_of(self, group: ShareGroup) -> Mapping[str, str]:
        """The group configs a share-partition of ``group`` follows here."""
        if self.shared_configs is not None:
            return self.shared_configs.get(group.group_id)
        return group.configs

    def session_timeout_ms(self, group: ShareGroup) -> int:
        """How long a member of ``group`` may stay silent: the group's share.session.timeout.ms, else
        the broker's group.share.session.timeout.ms."""
        return self._setting(group, SESSION_TIMEOUT, self.settings.session_timeout_ms)

    def _setting(self, group: ShareGroup, name: str, default: int) -> int:
        return config_int(self._configs_of(group), name, default, group.group_id)

    def heartbeat(self, group_id: str, member_id: str, member_epoch: int, *, now_ms: int,
                  subscribed_topics: list[str] | None = None, client_id: str = "", client_host: str = "",
                  rack_id: str | None = None) -> ShareHeartbeatResult:
        """One ShareGroupHeartbeat: epoch 0 joins, -1 leaves, else the member's current epoch."""
        s = self.settings
        existing = self._groups.get(group_id)
        if not group_id:
            return ShareHeartbeatResult(member_id, member_epoch, 0, None, HeartbeatError.INVALID_GROUP_ID,
                                        "the group id is empty")
        if existing is not None and not isinstance(existing, ShareGroup):
            return ShareHeartbeatResult(member_id, member_epoch, 0, None, HeartbeatError.GROUP_ID_NOT_FOUND,
                                        f"group {group_id} is not a share group")
        group = existing
        if member_epoch == -1:
            if group is not None and member_id in group.members:
                self.leave(group_id, member_id, now_ms)
            return ShareHeartbeatResult(member_id, -1, 0, None)
        if member_epoch == 0:
            if group is None:
                group = self._led.pop(group_id, None) or self._new_group(group_id)
                self._groups[group_id] = group
            member_id = member_id or str(uuid.uuid4())
            member = group.members.get(member_id)
            if member is None:
                if len(group.members) >= s.max_size:
                    return ShareHeartbeatResult(member_id, 0, 0, None, HeartbeatError.GROUP_MAX_SIZE_REACHED,
                                                f"the group has group.share.max.size={s.max_size} members")
                member = ShareMember(member_id, 0, tuple(subscribed_topics or ()), client_id, client_host, rack_id,
                                     now_ms + self.session_timeout_ms(group))
                group.members[member_id] = member
                group.group_epoch += 1
                log.info("share group %s: member %s joined (client %s)", group_id, member_id, client_id)
        else:
            member = group.members.get(member_id) if group is not None else None
            if group is None or member is None:
                return ShareHeartbeatResult(member_id, member_epoch, 0, None, HeartbeatError.UNKNOWN_MEMBER_ID,
                                            f"member {member_id} is not in share group {group_id}")
            if member_epoch != member.member_epoch:
                return ShareHeartbeatResult(member_id, member_epoch, 0, None, HeartbeatError.FENCED_MEMBER_EPOCH,
                                            f"epoch {member_epoch} is not the member's epoch {member.member_epoch}")
        member.deadline_ms = now_ms + self.session_timeout_ms(group)
        if subscribed_topics is not None and tuple(subscribed_topics) != member.subscribed_topics:
            member.subscribed_topics = tuple(subscribed_topics)
            group.group_epoch += 1
        before = member.assignment
        group.assign(self._topics())
        if member.assignment != before and member.member_epoch == group.group_epoch:
            group.group_epoch += 1
        member.member_epoch = group.group_epoch
        group.assigned.update(member.assignment)
        assignment: list[TopicPartition] | None = None
        if member.sent_epoch != member.member_epoch or member_epoch == 0:
            assignment = list(member.assignment)
            member.sent_epoch = member.member_epoch
        interval = self._setting(group, HEARTBEAT_INTERVAL, s.heartbeat_interval_ms)
        return ShareHeartbeatResult(member_id, member.member_epoch, interval, assignment)

    def leave(self, group_id: str, member_id: str, now_ms: int, *, expired: bool = False) -> None:
        """A member leaves. Its records are released now, unless it still has a share session: a
        closing Kafka consumer sends its last acknowledgements (ShareAcknowledge with epoch -1)
        beside its leaving heartbeat, and closing the session releases what is left. A member whose
        session timed out loses its share session and its records at once."""
        group = self.group(group_id)
        member = group.members.pop(member_id, None) if group is not None else None
        if group is None or member is None:
            return
        group.group_epoch += 1
        if expired:
            self.sessions.close(group_id, member_id)
            if self.clustered and member.assignment:
                self._expired.append((group_id, member_id, member.assignment))
        elif self.sessions.get(group_id, member_id) is not None:
            log.info("share group %s: member %s left", group_id, member_id)
            return
        released = 0
        for (topic, partition), sp in group.partitions.items():
            n = sp.release_member(member_id)
            if n:
                released += n
                self._dirty.add((group_id, topic, partition))
        if released:
            self._wake()
        log.info("share group %s: member %s left; %d record(s) released", group_id, member_id, released)

    def take_expired(self) -> list[tuple[str, str, tuple[TopicPartition, ...]]]:
        """In a cluster: the members whose session expired here since the last call, each with the
        partitions it was assigned; the records it holds at those partitions' other leaders are
        released by closing its share sessions there (``cluster/share_forwarder.py``, ``release``)."""
        expired, self._expired = self._expired, []
        return expired

    def is_member(self, group_id: str, member_id: str) -> bool:
        group = self.group(group_id)
        return group is not None and member_id in group.members

    def assignment(self, group_id: str, member_id: str) -> tuple[TopicPartition, ...]:
        group = self.group(group_id)
        member = group.members.get(member_id) if group is not None else None
        return member.assignment if member is not None else ()

    def touch(self, group_id: str, member_id: str, now_ms: int) -> None:
        """Fetching keeps a member's session alive (the HTTP front has no separate heartbeat)."""
        group = self.group(group_id)
        member = group.members.get(member_id) if group is not None else None
        if group is not None and member is not None:
            member.deadline_ms = now_ms + self.session_timeout_ms(group)

    # ------------------------------------------------------------------ records
    def _partition(self, group: ShareGroup, topic: str, partition: int) -> SharePartition | None:
        sp = group.partitions.get((topic, partition))
        offsets = self._offsets(topic, partition)
        if offsets is None:
            return None
        if sp is None and self.clustered and (group.group_id, topic, partition) not in self._loaded:
            return None  # its state is not read back from the share coordinator yet (ensure_loaded)
        if sp is None:
            start = self._reset_offset(self._configs_of(group).get(AUTO_OFFSET_RESET, "latest"), topic, partition,
                                       offsets)
            sp = SharePartition(start, lock_ms=self.settings.lock_ms,
                                delivery_limit=self.settings.delivery_limit, max_in_flight=self.settings.max_in_flight)
            group.partitions[(topic, partition)] = sp
            self._dirty.add((group.group_id, topic, partition))
        sp.lock_ms = self._setting(group, LOCK_DURATION, self.settings.lock_ms)
        sp.delivery_limit = self._setting(group, DELIVERY_LIMIT, self.settings.delivery_limit)
        return sp

    def _reset_offset(self, reset: str, topic: str, partition: int, offsets: tuple[int, int]) -> int:
        """Where a new share-partition starts by share.auto.offset.reset: the log start (earliest),
        the first record at most the duration old (by_duration:<ISO-8601>; the log end when every
        record is older), else the log end (latest)."""
        start, end = offsets
        if reset == "earliest":
            return start
        duration_ms = reset_duration_ms(reset)
        if duration_ms is None:
            return end
        found = self.offset_for_time(topic, partition, self.wall_clock() - duration_ms)
        return end if found is None else min(max(found, start), end)

    def next_fetch_offset(self, group_id: str, member_id: str, topic: str, partition: int,
                          now_ms: int) -> int | None:
        """Where to read the log from for ``acquire`` (None: nothing to acquire for this member now)."""
        group = self._holder(group_id)
        if group is None or not self.may_fetch(group_id, member_id):
            return None
        sp = self._partition(group, topic, partition)
        return sp.next_fetch_offset(now_ms) if sp is not None else None

    def release(self, group_id: str, member_id: str, partitions: Iterable[TopicPartition], now_ms: int) -> None:
        """Release what ``member_id`` holds in ``partitions`` (its share session closed)."""
        group = self._holder(group_id)
        if group is None:
            return
        for topic, partition in partitions:
            sp = group.partitions.get((topic, partition))
            if sp is not None and sp.release_member(member_id):
                self._dirty.add((group_id, topic, partition))
                self._wake()

    def acquire(self, group_id: str, member_id: str, topic: str, partition: int, max_records: int,
                now_ms: int, *, read_end: int | None = None) -> list[AcquiredRange]:
        """Acquire up to ``max_records`` records of one partition for a member of the group; with
        ``read_end``, only below it (the end of what the caller read of the log)."""
        group = self._holder(group_id)
        if group is None or not self.may_fetch(group_id, member_id):
            return []
        sp = self._partition(group, topic, partition)
        offsets = self._offsets(topic, partition)
        if sp is None or offsets is None:
            return []
        end = offsets[1] if read_end is None else min(offsets[1], read_end)
        got = sp.acquire(member_id, offsets[0], end, max_records, now_ms)
        if got:
            self._dirty.add((group_id, topic, partition))
        return got

    def persist(self, group_id: str, partitions: Iterable[TopicPartition], now_ms: int) -> asyncio.Future[bool]:
        """Write the state of these share-partitions now; True once all of it is durable.

        Acquisitions go through here before records are handed out: Kafka 4.1 writes a share-partition's
        state on acknowledgement, release and lock expiry but not on acquisition, so after a crash a
        record's last delivery is not counted; here it is, so no record is delivered more often than
        ``share.delivery.count.limit`` allows, restarts included.
        """
        fut: asyncio.Future[bool] = self._future()
        if self.persister is None:  # no state topic (a coordinator without storage): nothing to wait for
            fut.set_result(True)
            return fut
        group = self._holder(group_id)
        if group is None:
            fut.set_result(False)
            return fut
        results: dict[TopicPartition, int] = {}
        done: asyncio.Future[dict[TopicPartition, int]] = self._future()
        done.add_done_callback(lambda f: resolve(fut, not f.result()))
        self._write_all(group, set(partitions), now_ms, results, done)
        return fut

    def holds(self, group_id: str, member_id: str, topic: str, partition: int, offset: int,
              delivery_count: int | None, now_ms: int) -> bool:
        """Whether the member holds this record now (at this delivery, when ``delivery_count`` is given)."""
        group = self._holder(group_id)
        sp = group.partitions.get((topic, partition)) if group is not None else None
        if sp is None:
            return False
        sp.expire_locks(now_ms)
        rec = sp.records.get(offset)
        return (rec is not None and rec.state == RecordState.ACQUIRED and rec.member == member_id
                and (delivery_count is None or rec.delivery_count == delivery_count))

    def has_available(self, group_id: str, topic: str, partition: int) -> bool:
        group = self._holder(group_id)
        sp = group.partitions.get((topic, partition)) if group is not None else None
        offsets = self._offsets(topic, partition)
        if offsets is None:
            return False
        return sp is None or sp.has_available(offsets[1])

    def acknowledge(self, group_id: str, member_id: str, topic: str, partition: int,
                    acks: Iterable[tuple[int, AckType]], now_ms: int) -> asyncio.Future[int]:
        """Apply acknowledgements; the future answers a Kafka error code once they are durable (0)."""
        fut: asyncio.Future[int] = self._future()
        group = self._holder(group_id)
        sp = group.partitions.get((topic, partition)) if group is not None else None
        if group is None or sp is None:
            fut.set_result(INVALID_RECORD_STATE)
            return fut
        acks = list(acks)
        try:
            sp.acknowledge(member_id, acks, now_ms)
        except InvalidRecordState as exc:
            log.info("share group %s %s-%d: acknowledgement refused: %s", group_id, topic, partition, exc)
            fut.set_result(INVALID_RECORD_STATE)
            return fut
        if any(kind == AckType.RELEASE for _, kind in acks):
            self._wake()
        self._write(group, topic, partition, now_ms,
                    lambda error: resolve(fut, 0 if error == NONE else HeartbeatError.COORDINATOR_NOT_AVAILABLE))
        return fut

    def _wake(self) -> None:
        if self.changed is not None:
            self.changed.set()

    def _write(self, group: ShareGroup, topic: str, partition: int, now_ms: int,
               on_done: Callable[[int], None]) -> None:
        """Write one share-partition's state (or its tombstone when it is gone); ``on_done(error code)``."""
        self._dirty.discard((group.group_id, topic, partition))
        if self.persister is None:
            on_done(NONE)
            return
        sp = group.partitions.get((topic, partition))
        snapshot = None if sp is None else SharePartitionSnapshot(
            sp.start_offset, group.state_epochs.get((topic, partition), 0), tuple(sp.state_batches()))
        key = (group.group_id, topic, partition)
        # A state stored before and gone now was deleted by the group coordinator: not made again.
        stored = self.clustered and key in self._stored
        written = self.persister.write(group.group_id, topic, partition, snapshot, now_ms, create=not stored)

        def finished(error: int) -> None:
            if self.clustered:
                if error == FENCED_STATE_EPOCH:
                    self._reset_elsewhere(group, topic, partition)
                elif error == UNINITIALIZED and stored:
                    self._deleted_elsewhere(group, topic, partition)
                elif error == NONE and snapshot is not None:
                    self._stored.add(key)
            on_done(error)

        if written.done():  # answered at once (a write that could not start): no loop round trip
            finished(write_outcome(written))
        else:
            written.add_done_callback(lambda f: finished(write_outcome(f)))

    def _deleted_elsewhere(self, group: ShareGroup, topic: str, partition: int) -> None:
        """In a cluster: a share-partition whose state this leader stored is gone at its share
        coordinator: the group coordinator deleted it (DeleteShareGroupOffsets, DeleteGroups). The
        copy held here goes; the next acquisition starts afresh (``share.auto.offset.reset``)."""
        key = (group.group_id, topic, partition)
        if group.partitions.pop((topic, partition), None) is not None:
            log.info("share group %s %s-%d: its state was deleted at its share coordinator; starting afresh",
                     group.group_id, topic, partition)
        group.state_epochs.pop((topic, partition), None)
        self._dirty.discard(key)
        self._stored.discard(key)

    def _reset_elsewhere(self, group: ShareGroup, topic: str, partition: int) -> None:
        """In a cluster: the share coordinator holds a newer state epoch of this share-partition than
        this leader (the group coordinator reset its start offset): drop the copy held here, so the
        next fetch reads the new state back."""
        if group.partitions.pop((topic, partition), None) is not None:
            log.info("share group %s %s-%d: its state was reset at its share coordinator; read back on the "
                     "next fetch", group.group_id, topic, partition)
        group.state_epochs.pop((topic, partition), None)
        self._loaded.discard((group.group_id, topic, partition))
        self._dirty.discard((group.group_id, topic, partition))
        self._stored.discard((group.group_id, topic, partition))

    # ------------------------------------------------------------------ a cluster's partition leaders
    async def ensure_loaded(self, group_id: str, partitions: Iterable[TopicPartition]) -> None:
        """In a cluster: read the state of these share-partitions back from their share coordinator
        the first time this broker serves them (Kafka's share-partition initialisation). A read that
        fails leaves the share-partition unserved until the next try."""
        if not self.clustered or self.persister is None:
            return
        waits: list[asyncio.Future[None]] = []
        for topic, partition in partitions:
            key = (group_id, topic, partition)
            if key in self._loaded:
                continue
            pending = self._loading.get(key)
            if pending is None:
                pending = asyncio.ensure_future(self._load_one(group_id, topic, partition))
                self._loading[key] = pending
                pending.add_done_callback(functools.partial(self._loaded_or_not, key))
            waits.append(pending)
        if waits:
            await asyncio.gather(*(asyncio.shield(w) for w in waits))

    def open_session(self, group_id: str, member_id: str) -> ShareSession:
        """A member opens a share session here (ShareFetch epoch 0). In a cluster the share-partitions
        of its group held here are read back again before its first acquisition (``ensure_loaded``):
        the group coordinator may have reset their start offsets while the group was empty, and the
        newer state epoch at the share coordinator then replaces the copy held here."""
        if self.clustered:
            self._loaded = {k for k in self._loaded if k[0] != group_id}
        return self.sessions.open(group_id, member_id)

    def _loaded_or_not(self, key: tuple[str, str, int], _done: asyncio.Future[None]) -> None:
        self._loading.pop(key, None)

    async def _load_one(self, group_id: str, topic: str, partition: int) -> None:
        assert self.persister is not None
        error, snapshot = await self.persister.read(group_id, topic, partition)
        if error:
            log.info("share group %s %s-%d: state not read back (error %d); not served yet", group_id, topic,
                     partition, error)
            return
        group = self._holder(group_id, create=True)
        if group is None:
            return  # the id is held by a group of another type
        key = (group_id, topic, partition)
        held_epoch = group.state_epochs.get((topic, partition), 0)
        reset = (topic, partition) in group.partitions and snapshot is not None and snapshot.state_epoch > held_epoch
        if reset:  # the group coordinator reset its start offset (AlterShareGroupOffsets) since it was read
            log.info("share group %s %s-%d: state epoch %d at the share coordinator (%d here): read back anew",
                     group_id, topic, partition, snapshot.state_epoch if snapshot else -1, held_epoch)
        if snapshot is None and key in self._stored:
            self._deleted_elsewhere(group, topic, partition)
        self._stored.discard(key)
        if snapshot is not None:
            self._stored.add(key)
        if snapshot is not None and ((topic, partition) not in group.partitions or reset):
            group.partitions[(topic, partition)] = SharePartition.restore(
                snapshot.start_offset, snapshot.batches,
                lock_ms=self._setting(group, LOCK_DURATION, self.settings.lock_ms),
                delivery_limit=self._setting(group, DELIVERY_LIMIT, self.settings.delivery_limit),
                max_in_flight=self.settings.max_in_flight)
            group.state_epochs[(topic, partition)] = snapshot.state_epoch
            self._wake()
        self._loaded.add((group_id, topic, partition))
        log.info("share group %s %s-%d: state read back (%s)", group_id, topic, partition,
                 f"start offset {snapshot.start_offset}" if snapshot is not None else "none stored")

    def partition_lost(self, topic: str, partition: int) -> int:
        """This broker stopped leading ``topic``-``partition``: drop its share-partitions (their state
        is as durable as the last write; the new leader reads it back). Returns how many."""
        dropped = 0
        for group in self._holders():
            if group.partitions.pop((topic, partition), None) is not None:
                dropped += 1
            self._dirty.discard((group.group_id, topic, partition))
        self._loaded = {k for k in self._loaded if (k[1], k[2]) != (topic, partition)}
        self._stored = {k for k in self._stored if (k[1], k[2]) != (topic, partition)}
        for gid in [gid for gid, g in self._led.items() if not g.partitions]:
            del self._led[gid]
        if dropped:
            log.info("%s-%d: no longer led here; %d share-partition(s) dropped", topic, partition, dropped)
        return dropped

    # ------------------------------------------------------------------ group configs
    def configs(self, group_id: str) -> dict[str, str]:
        """The group's config overrides (empty for an unknown group: it would get the defaults)."""
        if self.shared_configs is not None:
            return dict(self.shared_configs.get(group_id))
        group = self.group(group_id)
        return dict(group.configs) if group is not None else dict(self._kept_configs.get(group_id, {}))

    async def describe_configs(self, group_id: str) -> dict[str, str]:
        """``configs`` as stored now: in a cluster read from where every broker keeps them (so an
        alteration through any broker is described by all at once); ClusterStateUnavailableError
        when they cannot be read."""
        if self.shared_configs is not None:
            return await self.shared_configs.read_async(group_id)
        return self.configs(group_id)

    async def alter_configs_async(self, group_id: str, changes: Mapping[str, str | None], now_ms: int, *,
                                  validate_only: bool = False) -> tuple[int, str | None]:
        """``alter_configs`` on any broker: in a cluster the configs are written where every broker
        sees them (every partition leader applies them on its next acquisition); alone, as
        ``alter_configs``. A cluster's broker does not know every group's type, so there any group
        id is taken (as Kafka takes a group's configs apart from the group)."""
        if self.shared_configs is None:
            return await self.alter_configs(group_id, changes, now_ms, validate_only=validate_only)
        problem = config_problem(changes, self.settings.config_bounds)
        if problem is not None:
            return 40, problem
        if validate_only:
            return 0, None
        try:
            await self.shared_configs.change_async(group_id, changes)
        except ClusterStateUnavailableError as exc:
            log.warning("share group %s: configs not changed: %s", group_id, exc)
            return REQUEST_TIMED_OUT, str(exc)
        return 0, None

    async def carry_configs(self, now_ms: int) -> int:
        """In a cluster: move group configs written before they were kept in ZooKeeper (records
        ``group::-1`` of the ``__share_group_state`` partitions this broker leads) into ZooKeeper,
        each config only where ZooKeeper has none of that name (a newer alteration wins), then
        delete the old record. Run when this broker takes such a partition and once the ZooKeeper
        configs are open; a group whose move fails (ZooKeeper unreachable) is tried again the next
        time. Returns the groups moved."""
        store, shared = self._store, self.shared_configs
        if store is None or shared is None:
            return 0
        moved = 0
        for group_id, configs in sorted(store.configs.items()):
            if group_id in self._carrying or not store.owns(config_partition(group_id, store.partition_count())):
                continue
            self._carrying.add(group_id)
            try:
                current = await shared.read_async(group_id)
                missing = {name: value for name, value in configs.items() if name not in current}
                if missing:
                    await shared.change_async(group_id, missing)
                code = await store.write_configs(group_id, None, now_ms)
            except ClusterStateUnavailableError as exc:
                log.warning("share group %s: configs not moved to ZooKeeper yet: %s", group_id, exc)
                continue
            finally:
                self._carrying.discard(group_id)
            if code != NONE:
                log.warning("share group %s: configs moved to ZooKeeper; their old record not deleted (error %d)",
                            group_id, code)
            log.info("share group %s: configs %s moved from %s to ZooKeeper (%s kept there)", group_id,
                     sorted(missing), "__share_group_state", sorted(set(configs) - set(missing)) or "none")
            moved += 1
        return moved

    def defaults(self) -> dict[str, str]:
        s = self.settings
        return {AUTO_OFFSET_RESET: "latest", ISOLATION_LEVEL: "read_uncommitted", LOCK_DURATION: str(s.lock_ms),
                DELIVERY_LIMIT: str(s.delivery_limit), SESSION_TIMEOUT: str(s.session_timeout_ms),
                HEARTBEAT_INTERVAL: str(s.heartbeat_interval_ms)}

    def alter_configs(self, group_id: str, changes: Mapping[str, str | None], now_ms: int, *,
                      validate_only: bool = False) -> asyncio.Future[tuple[int, str | None]]:
        """Set (a value) or delete (None) group configs (``group_configs.py``), of a group of any
        type. An id no group holds is configured without making a group (its configs apply once
        members come), as Kafka 4.1 does. Answers (error code, message) once durable:
        INVALID_CONFIG (40) for an unknown name or a bad value."""
        fut: asyncio.Future[tuple[int, str | None]] = self._future()
        problem = config_problem(changes, self.settings.config_bounds)
        if problem is not None:
            fut.set_result((40, problem))
            return fut
        existing = self.group(group_id)  # a share group keeps its own; any other id's are kept apart
        if validate_only:
            fut.set_result((0, None))
            return fut
        if self._store is not None:
            # In a cluster the configs' record has one writer, the leader of its partition; changing
            # them anywhere else would change this broker's copy alone.
            where = config_partition(group_id, self._store.partition_count())
            if not self._store.owns(where):
                owner = self._store.locate(where)
                fut.set_result((int(HeartbeatError.COORDINATOR_NOT_AVAILABLE),
                                f"the configs of group {group_id} are kept by broker {owner}"))
                return fut
        # Kafka 4.1 keeps a group's configs apart from the group: configuring an id no group holds
        # makes no group (none listed or described); a group made later under it takes them.
        configs = existing.configs if existing is not None else self._kept_configs.setdefault(group_id, {})
        for name, value in changes.items():
            if value is None:
                configs.pop(name, None)
            else:
                configs[name] = value
        if existing is None and not configs:
            del self._kept_configs[group_id]
        if self._store is None:
            fut.set_result((0, None))
            return fut
        written = self._store.write_configs(group_id, dict(configs), now_ms)

        def done(f: asyncio.Future[int]) -> None:
            ok = write_outcome(f) == NONE
            resolve(fut, (0, None) if ok else (int(HeartbeatError.COORDINATOR_NOT_AVAILABLE), None))

        if written.done():
            done(written)
        else:
            written.add_done_callback(done)
        return fut

    # ------------------------------------------------------------------ admin of start offsets
    def start_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        group = self.group(group_id)
        return {tp: sp.start_offset for tp, sp in sorted(group.partitions.items())} if group is not None else {}

    def describe_partitions(self, group_id: str) -> list[PartitionShareState]:
        """The group's share-partitions held here (in a cluster also those this broker leads for a
        group coordinated elsewhere)."""
        group = self._holder(group_id)
        if group is None:
            return []
        out: list[PartitionShareState] = []
        for (t, p), sp in sorted(group.partitions.items()):
            in_flight = {o: r.delivery_count for o, r in sorted(sp.records.items())
                         if r.state in (RecordState.ACQUIRED, RecordState.AVAILABLE)}
            histogram: dict[int, int] = {}
            for count in in_flight.values():
                histogram[count] = histogram.get(count, 0) + 1
            offsets = self._offsets(t, p)
            out.append(PartitionShareState(
                t, p, sp.start_offset, sp.end_offset, sp.count(RecordState.ACQUIRED), sp.count(RecordState.AVAILABLE),
                in_flight, sp.count(RecordState.ACKNOWLEDGED), sp.count(RecordState.ARCHIVED),
                -1 if offsets is None else offsets[1], dict(sorted(histogram.items()))))
        return out

    async def describe_start_offsets(self, group_id: str, partitions: Iterable[TopicPartition] | None
                                     ) -> dict[TopicPartition, tuple[int, int]]:
        """DescribeShareGroupOffsets: (start offset, error code) per share-partition; -1 for one
        with no state. Alone, from the share-partitions held here (None: all of them). In a cluster
        each is asked of its share coordinator (ReadShareGroupStateSummary), as Kafka's group
        coordinator does; None: those held here and those assigned to members since this broker
        coordinates the group."""
        if not self.clustered or self.persister is None:
            starts = self.start_offsets(group_id)
            wanted = list(starts) if partitions is None else list(partitions)
            return {tp: (starts.get(tp, -1), 0) for tp in wanted}
        group = self.group(group_id)
        if partitions is None:
            held = set(group.partitions) | group.assigned if group is not None else set()
            partitions = sorted(tp for tp in held if self._offsets(*tp) is not None)
        wanted = list(partitions)
        answers = await asyncio.gather(*(self.persister.read_summary(group_id, t, p) for t, p in wanted))
        out: dict[TopicPartition, tuple[int, int]] = {}
        for tp, (code, summary) in zip(wanted, answers, strict=True):
            out[tp] = (summary.start_offset if summary is not None else -1, code)
        return out

    async def alter_start_offsets_async(self, group_id: str, offsets: Mapping[TopicPartition, int],
                                        now_ms: int) -> dict[TopicPartition, int]:
        """AlterShareGroupOffsets on the group coordinator (only while the group has no members).
        Alone: ``alter_start_offsets``. In a cluster each share-partition's state is initialized
        afresh at its share coordinator under the next state epoch (InitializeShareGroupState, as
        Kafka's group coordinator does); a leader holding the share-partition is fenced on its next
        write and reads the new state back (``_reset_elsewhere``)."""
        if not self.clustered or self.persister is None:
            return await self.alter_start_offsets(group_id, offsets, now_ms)
        if not self._coordinates(group_id):
            return dict.fromkeys(offsets, int(HeartbeatError.NOT_COORDINATOR))
        group = self.group(group_id)
        if group is None and group_id not in self._groups:
            group = self._groups[group_id] = self._led.pop(group_id, None) or self._new_group(group_id)
        if group is None:
            return dict.fromkeys(offsets, int(HeartbeatError.GROUP_ID_NOT_FOUND))
        if group.members:
            return dict.fromkeys(offsets, 68)
        persister = self.persister

        async def reset(topic: str, partition: int, offset: int) -> int:
            if self._offsets(topic, partition) is None:
                return UNKNOWN_TOPIC_OR_PARTITION
            code, summary = await persister.read_summary(group_id, topic, partition)
            if code:
                return code
            epoch = (summary.state_epoch if summary is not None else 0) + 1
            code = await persister.initialize(group_id, topic, partition, epoch, offset, now_ms)
            if code == NONE:
                self._reset_elsewhere(group, topic, partition)  # this broker's own copy, if it leads it
                group.assigned.add((topic, partition))
            return code

        items = list(offsets.items())
        codes = await asyncio.gather(*(reset(t, p, o) for (t, p), o in items))
        return {tp: int(c) for (tp, _), c in zip(items, codes, strict=True)}

    def alter_start_offsets(self, group_id: str, offsets: Mapping[TopicPartition, int],
                            now_ms: int) -> asyncio.Future[dict[TopicPartition, int]]:
        """AlterShareGroupOffsets: only while the group has no members (else NON_EMPTY_GROUP, 68)."""
        fut: asyncio.Future[dict[TopicPartition, int]] = self._future()
        group = self.group(group_id)
        if group is None and group_id not in self._groups:
            group = self._new_group(group_id)
            self._groups[group_id] = group
        if group is None:
            fut.set_result(dict.fromkeys(offsets, int(HeartbeatError.GROUP_ID_NOT_FOUND)))
            return fut
        if group.members:
            fut.set_result(dict.fromkeys(offsets, 68))
            return fut
        results: dict[TopicPartition, int] = {}
        waiting = set()
        for (topic, partition), offset in offsets.items():
            if self._offsets(topic, partition) is None:
                results[(topic, partition)] = UNKNOWN_TOPIC_OR_PARTITION
                continue
            sp = group.partitions.get((topic, partition))
            if sp is None:
                sp = SharePartition(offset, lock_ms=self.settings.lock_ms,
                                    delivery_limit=self.settings.delivery_limit,
                                    max_in_flight=self.settings.max_in_flight)
                group.partitions[(topic, partition)] = sp
            sp.reset(offset)
            group.state_epochs[(topic, partition)] = group.state_epochs.get((topic, partition), 0) + 1
            waiting.add((topic, partition))
            results[(topic, partition)] = 0
        self._write_all(group, waiting, now_ms, results, fut)
        return fut

    def partitions_of(self, group_id: str, topics: Iterable[str]) -> list[TopicPartition]:
        """The share-partitions of ``topics`` that DeleteShareGroupOffsets deletes: those held here;
        in a cluster, every partition of the topics (their states live at share coordinators
        anywhere; deleting one never stored is no error)."""
        group = self.group(group_id)
        names = set(topics)
        held = set(group.partitions) if group is not None else set()
        if self.clustered:
            counts = self._topics()
            held |= {(t, p) for t in names for p in range(counts.get(t, 0))}
        return sorted(tp for tp in held if tp[0] in names)

    def delete_start_offsets(self, group_id: str, partitions: Iterable[TopicPartition],
                             now_ms: int) -> asyncio.Future[dict[TopicPartition, int]]:
        """DeleteShareGroupOffsets: forget share-partitions (the next acquisition starts afresh)."""
        fut: asyncio.Future[dict[TopicPartition, int]] = self._future()
        group = self.group(group_id)
        partitions = list(partitions)
        if group is None:
            fut.set_result(dict.fromkeys(partitions, int(HeartbeatError.GROUP_ID_NOT_FOUND)))
            return fut
        if group.members:
            fut.set_result(dict.fromkeys(partitions, 68))
            return fut
        results: dict[TopicPartition, int] = {}
        for tp in partitions:
            group.partitions.pop(tp, None)
            group.assigned.discard(tp)
            results[tp] = 0
        self._write_all(group, set(partitions), now_ms, results, fut)
        return fut

    def _write_all(self, group: ShareGroup, tps: set[TopicPartition], now_ms: int,
                   results: dict[TopicPartition, int], fut: asyncio.Future[dict[TopicPartition, int]]) -> None:
        def answered(codes: dict[TopicPartition, int]) -> None:
            for tp, code in codes.items():
                if code != NONE:
                    results[tp] = int(HeartbeatError.COORDINATOR_NOT_AVAILABLE)
            resolve(fut, results)

        self._write_each(group, tps, now_ms, answered)

    def _write_each(self, group: ShareGroup, tps: Iterable[TopicPartition], now_ms: int,
                    then: Callable[[dict[TopicPartition, int]], None]) -> None:
        """Write the state of each of ``tps`` (a tombstone for one the group no longer holds); once
        every one is answered, ``then`` gets each one's error code (at once when none is pending)."""
        wanted = set(tps)
        codes: dict[TopicPartition, int] = {}
        if not wanted:
            then(codes)
            return

        def done(error: int, tp: TopicPartition) -> None:
            codes[tp] = error
            if len(codes) == len(wanted):
                then(codes)

        for tp in wanted:
            self._write(group, tp[0], tp[1], now_ms, functools.partial(done, tp=tp))

    def drop_group(self, group: ShareGroup, now_ms: int) -> asyncio.Future[int]:
        """DeleteGroups, first step: delete the state of every share-partition of an empty group
        (alone: tombstones in ``__share_group_state``; in a cluster also DeleteShareGroupState for
        those assigned to members, at their share coordinators). Answers NONE once every state is
        gone, else the first error; a share-partition whose state could not be deleted stays the
        group's, so DeleteGroups asked again deletes it. The group itself is the coordinator's to
        remove (``forget_group``), after this answers NONE, as Kafka deletes the state first."""
        fut: asyncio.Future[int] = self._future()
        tps = set(group.partitions) | (group.assigned if self.clustered else set())
        held = {tp: group.partitions.pop(tp) for tp in tps if tp in group.partitions}
        group.assigned.difference_update(tps)
        self.sessions.drop_group(group.group_id)

        def deleted(codes: dict[TopicPartition, int]) -> None:
            # A topic deleted since (UNKNOWN_TOPIC_OR_PARTITION) leaves nothing to delete.
            failed = {tp: code for tp, code in sorted(codes.items()) if code not in (NONE, UNKNOWN_TOPIC_OR_PARTITION)}
            for tp, code in failed.items():
                log.warning("share group %s %s-%d: its state was not deleted (error %d)",
                            group.group_id, tp[0], tp[1], code)
                if tp in held:
                    group.partitions[tp] = held[tp]
                if self.clustered:
                    group.assigned.add(tp)
            resolve(fut, next(iter(failed.values()), NONE))

        self._write_each(group, tps, now_ms, deleted)
        return fut

    def forget_group(self, group: ShareGroup) -> None:
        """DeleteGroups, last step: the group is gone. Its configs stay, as Kafka 4.1 keeps them
        (alone here, in a cluster in ZooKeeper); an admin deletes them with IncrementalAlterConfigs."""
        if group.configs and self.shared_configs is None:
            self._kept_configs[group.group_id] = dict(group.configs)

    # ------------------------------------------------------------------ time and start-up
    def tick(self, now_ms: int) -> None:
        """Expire sessions (their records are released) and locks; write what changed since."""
        for group in self._holders():
            for member in [m for m in group.members.values() if m.deadline_ms <= now_ms]:
                log.info("share group %s: member %s session expired", group.group_id, member.member_id)
                self.leave(group.group_id, member.member_id, now_ms, expired=True)
            for (topic, partition), sp in group.partitions.items():
                if sp.expire_locks(now_ms):
                    self._dirty.add((group.group_id, topic, partition))
                    self._wake()
        self.flush(now_ms)

    def flush(self, now_ms: int) -> None:
        """Write every share-partition changed since the last write (acquisitions, releases)."""
        if self.persister is None:
            self._dirty.clear()
            return
        for group_id, topic, partition in sorted(self._dirty):
            g = self._holder(group_id)
            if g is not None:
                self._write(g, topic, partition, now_ms, lambda _e: None)
        self._dirty.clear()

    def load(self) -> int:
        """Rebuild share groups (without members) and their share-partitions from the share
        coordinator's states (a single broker's start-up, after the coordinator's ``load``)."""
        if self._store is None:
            return 0
        snapshots = self._store.states
        for group_id, configs in self._store.configs.items():
            existing = self._groups.get(group_id)
            if isinstance(existing, ShareGroup):
                existing.configs = dict(configs)
            else:  # another type's, a deleted group's or one not made yet (a share group made later takes them)
                self._kept_configs[group_id] = dict(configs)
        for (group_id, topic, partition), snap in snapshots.items():
            group = self._groups.get(group_id)
            if group is None:
                group = self._new_group(group_id)
                self._groups[group_id] = group
            if not isinstance(group, ShareGroup):
                log.warning("share state of %s ignored: the group id is held by another group type", group_id)
                continue
            group.partitions[(topic, partition)] = SharePartition.restore(
                snap.start_offset, snap.batches, lock_ms=self._setting(group, LOCK_DURATION, self.settings.lock_ms),
                delivery_limit=self._setting(group, DELIVERY_LIMIT, self.settings.delivery_limit),
                max_in_flight=self.settings.max_in_flight)
            group.state_epochs[(topic, partition)] = snap.state_epoch
        return len(snapshots)


def write_outcome(written: asyncio.Future[int]) -> int:
    """A state write's error code (a cancelled one: COORDINATOR_NOT_AVAILABLE)."""
    return int(HeartbeatError.COORDINATOR_NOT_AVAILABLE) if written.cancelled() else written.result()
