"""The group coordinator: one group map holding every group of this broker, classic and
consumer-protocol alike, and every group's committed offsets (Kafka's ``GroupCoordinatorShard`` with
its ``GroupMetadataManager``/``OffsetMetadataManager`` split).

Alone, this broker is the coordinator of every group. In a cluster it coordinates the groups whose
``__consumer_offsets`` partition (``schema.partition_for``) it leads: ``take_partition`` loads a
partition's groups from the replicated log when this broker becomes its leader, ``release_partition``
drops them when it stops leading (waiting members are answered NOT_COORDINATOR), and every request for
a group of another partition is answered NOT_COORDINATOR; ``locate`` names the coordinator of a group
for FindCoordinator. The coordinator is a thin facade over modules with
one job each:

- ``classic.py``: JoinGroup/SyncGroup/Heartbeat/LeaveGroup, the classic rebalance state machine;
- ``consumer.py``: ConsumerGroupHeartbeat (KIP-848) and the HTTP front's member groups, with the
  broker computing the assignment (``assignors.py``);
- ``offsets.py``: committed offsets of every group; ``record_writer.py``/``offsets_topic.py``: the
  ``__consumer_offsets`` records (``schema.py``) they and the classic groups' metadata are kept in;
  ``loader.py``: the replay of those records at start-up; ``share_group_log.py``: a share group's
  epoch and share-partitions in the same log, so another coordinator knows the group;
- ``http_members.py``: the HTTP front's members' positions and sessions.

A group id names one group: a classic group or a consumer-protocol group, never both. An empty group
of one kind becomes the other kind when a member of the other protocol joins (its offsets stay); a
group with members refuses members of the other protocol. List, describe, delete and lag are
answered here once, for every group type, so the Kafka and HTTP fronts never merge registries.

Synchronous and single-threaded (the event loop's): each method takes ``now_ms`` (no clock is read
here) and either answers at once or returns an asyncio future that a later call resolves.
``tick(now_ms)``, called periodically by the application (and by tests with a fake clock), expires
sessions, completes join phases whose deadline passed and (every
``offsets.retention.check.interval.ms``) expires the offsets of groups that stayed empty too long.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from logbroker.broker import Broker
from logbroker.errors import BrokerError, StorageError
from logbroker.groups.classic import ClassicGroups, JoinRequest, JoinResult, SyncResult
from logbroker.groups.classic_group import ClassicGroup
from logbroker.groups.consumer import ConsumerGroups, HeartbeatResult
from logbroker.groups.consumer_group import ConsumerGroup
from logbroker.groups.consumer_group_log import ConsumerGroupLog
from logbroker.groups.description import GroupDescription, ListedGroup, PartitionLag
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.group_configs import (
    CONSUMER_HEARTBEAT_INTERVAL,
    CONSUMER_SESSION_TIMEOUT,
    INVALID_CONFIG,
    config_problem,
    timing_problem,
)
from logbroker.groups.loader import Replayed, replay
from logbroker.groups.offsets import CommittedOffset, OffsetCommitInput, OffsetStore
from logbroker.groups.offsets_topic import BrokerGroupLog, GroupLog
from logbroker.groups.record_writer import RecordWriter, resolve
from logbroker.groups.schema import OFFSETS_TOPIC, encode_group_metadata_key, partition_for
from logbroker.groups.settings import CoordinatorSettings
from logbroker.groups.share_coordinator import ShareCoordinator
from logbroker.groups.share_describe import describe_share_group
from logbroker.groups.share_group import SHARE, ShareGroup, ShareSettings
from logbroker.groups.share_group_log import ShareGroupLog
from logbroker.groups.share_state import SHARE_STATE_TOPIC, SHARE_STATE_TOPIC_CONFIGS
from logbroker.groups.shares import Offsets, ShareGroups, ShareHeartbeatResult, write_outcome
from logbroker.groups.state import GroupState

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]
Group = ClassicGroup | ConsumerGroup | ShareGroup


class GroupCoordinator:
    """Every group of this broker. Not thread-safe: call it from the event loop that owns it."""

    def __init__(
        self,
        group_log: GroupLog,
        settings: CoordinatorSettings | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        partition_exists: Callable[[str, int], bool] | None = None,
        log_end_offset: Callable[[str, int], int | None] | None = None,
        topics: Callable[[], Mapping[str, int]] | None = None,
        share_state_log: GroupLog | None = None,
        share_settings: ShareSettings | None = None,
        partition_offsets: Offsets | None = None,
        leader_of: Callable[[int], int] | None = None,
        topic_id_of: Callable[[str], uuid.UUID | None] | None = None,
        share_state_leader_of: Callable[[int], int] | None = None,
    ) -> None:
        """``topics`` returns every topic's partition count (what consumer-protocol groups are
        assigned from); ``partition_exists`` and ``log_end_offset`` answer for commits and lag;
        ``topic_id_of`` a topic's id (without it, unit tests' topics get ids made from their names)."""
        self.settings = settings or CoordinatorSettings()
        self._groups: dict[str, Group] = {}  # the one group map
        self._writer = RecordWriter(group_log, loop)
        self._log_end_offset = log_end_offset or (lambda topic, partition: None)
        self.offsets = OffsetStore(self._writer, partition_exists or (lambda topic, partition: True),
                                   self.settings.offset_metadata_max_bytes)
        self.classic = ClassicGroups(self._groups, self.settings, self._writer)
        self._topics: Callable[[], Mapping[str, int]] = topics or dict
        self._topic_id_of = topic_id_of or _name_based_id
        self.consumer = ConsumerGroups(self._groups, self._topics, self.settings.consumer)
        # Share groups (KIP-932): same group map; their state with the share coordinator, in
        # __share_group_state.
        self.share_state = (ShareCoordinator(share_state_log, self._topic_id_of, loop,
                                             share_state_leader_of)
                            if share_state_log is not None else None)
        self.share = ShareGroups(self._groups, self._topics, partition_offsets or (lambda topic, partition: None),
                                 self.share_state, share_settings, coordinates=self.owns)
        self.share_log = ShareGroupLog(self._writer, self._topic_id_of)
        self.consumer_log = ConsumerGroupLog(self._writer, self._topic_id_of)
        self.consumer.configs_of = self.share.configs  # every group's configs are kept with the share groups'
        self._next_retention_check_ms: int | None = None
        # The __consumer_offsets partitions whose groups are here; None: all of them (one broker).
        self._owned: set[int] | None = None
        self._leader_of = leader_of  # partition -> the broker leading it (-1: none)

    @classmethod
    def for_broker(cls, broker: Broker) -> GroupCoordinator:
        """The coordinator of a broker process, persisting to the broker's own ``__consumer_offsets``."""

        def partition_exists(topic: str, partition: int) -> bool:
            return broker.has_topic(topic) and 0 <= partition < broker.partitions_of(topic)

        def log_end_offset(topic: str, partition: int) -> int | None:
            try:
                return broker.offsets(topic, partition)[1]
            except StorageError:
                return None

        def topics() -> dict[str, int]:
            return {info.name: info.partitions for info in broker.topics()}

        def partition_offsets(topic: str, partition: int) -> tuple[int, int] | None:
            try:
                return broker.offsets(topic, partition)
            except StorageError:
                return None

        def leader_in(topic: str) -> Callable[[int], int]:
            def leader_of(partition: int) -> int:
                ownership = broker.ownership
                if ownership is None:
                    return broker.node_id
                view = ownership.partition_view(topic, partition)
                return -1 if view is None else view.leader
            return leader_of

        share_settings = ShareSettings.from_config(broker.config)
        coordinator = cls(BrokerGroupLog(broker, broker.config.get_int("offsets.topic.num.partitions")),
                   CoordinatorSettings.from_config(broker.config), partition_exists=partition_exists,
                   log_end_offset=log_end_offset, topics=topics,
                   share_state_log=BrokerGroupLog(broker, share_settings.state_partitions, topic=SHARE_STATE_TOPIC,
                                                  configs=SHARE_STATE_TOPIC_CONFIGS),
                   share_settings=share_settings, partition_offsets=partition_offsets,
                   leader_of=leader_in(OFFSETS_TOPIC), topic_id_of=broker.topic_id,
                   share_state_leader_of=leader_in(SHARE_STATE_TOPIC))

        def offset_for_time(topic: str, partition: int, timestamp: int) -> int | None:
            try:
                offset, _ = broker.offset_for_timestamp(topic, partition, timestamp)
            except (StorageError, BrokerError):
                return None
            return offset if offset >= 0 else None

        coordinator.share.offset_for_time = offset_for_time
        coordinator.share.wall_clock = broker.clock
        broker.add_topic_deletion_listener(coordinator.topic_deleted)
        return coordinator

    def topic_deleted(self, topic: str) -> None:
        """A deleted ``__consumer_offsets`` takes every classic and consumer-protocol group and every
        committed offset with it, as Kafka unloads them when the topic's partitions go: waiting
        JoinGroup/SyncGroup calls are answered COORDINATOR_NOT_AVAILABLE, members find the group
        gone and join again, and the next FindCoordinator creates the topic anew. Share groups
        keep theirs (``__share_group_state``)."""
        if topic != OFFSETS_TOPIC:
            return
        self.classic.close()
        dropped = [gid for gid, g in self._groups.items() if not isinstance(g, ShareGroup)]
        for gid in dropped:
            del self._groups[gid]
        self.offsets.clear()
        self.share_log.forget_all()  # share groups write their records again into the new topic
        self.consumer_log.forget_all()
        log.warning("%s was deleted: dropped %d group(s) and their committed offsets", OFFSETS_TOPIC, len(dropped))

    async def ensure_offsets_topic(self) -> None:
        """Create ``__consumer_offsets`` if needed (Kafka does on FindCoordinator); raises StorageError."""
        await self._writer.log.ensure_topic_async()

    # ------------------------------------------------------------------ which groups are here

    def partition_of(self, group_id: str) -> int:
        """The group's ``__consumer_offsets`` partition."""
        return partition_for(group_id, self._writer.log.partition_count())

    def owns(self, group_id: str) -> bool:
        """True when this broker coordinates the group now."""
        return self._owned is None or self.partition_of(group_id) in self._owned

    def check_coordinator(self, group_id: str) -> GroupError:
        """NOT_COORDINATOR for a group another broker coordinates, else NONE."""
        return GroupError.NONE if self.owns(group_id) else GroupError.NOT_COORDINATOR

    def locate(self, group_id: str) -> int:
        """The broker id coordinating the group (the leader of its partition); -1 when none leads."""
        if self._leader_of is None:
            return -1
        return self._leader_of(self.partition_of(group_id))

    def coordinate_partitions(self, partitions: set[int]) -> None:
        """In a cluster: coordinate only the groups of ``partitions`` (start-up passes none; leadership
        then adds them one by one with ``take_partition``). The share coordinator, likewise, owns no
        ``__share_group_state`` partition until it leads one, and share-partitions live on the
        leaders of their partitions (``ShareGroups.clustered``)."""
        self._owned = set(partitions)
        self.share.clustered = True
        if self.share_state is not None:
            self.share_state.coordinate_partitions(set())

    def take_partition(self, partition: int, now_ms: int) -> int:
        """This broker now leads ``partition``: load its groups and offsets from the log (Kafka's
        coordinator load on becoming leader). Returns the records applied."""
        if self._owned is None:
            return 0
        self._owned.add(partition)
        self.classic.advance_clock(now_ms)
        replayed = replay(self._writer.log, {partition})
        for group_id in replayed.group_ids():
            if group_id in self._groups or self.partition_of(group_id) != partition:
                continue
            self._groups[group_id] = self.classic.restore_group(group_id, replayed.metadata.get(group_id), now_ms)
            self.offsets.restore(group_id, replayed.offsets.get(group_id, {}))
        consumers = self._restore_consumer_groups(replayed, partition, now_ms)
        shares = self._restore_share_groups(replayed, partition)
        log.info("coordinating %s-%d: loaded %d group(s), %d of them consumer-protocol groups, and %d share "
                 "group(s) from %d record(s)", OFFSETS_TOPIC, partition, len(replayed.group_ids()), consumers,
                 shares, replayed.applied)
        return replayed.applied

    def _restore_consumer_groups(self, replayed: Replayed, partition: int | None, now_ms: int) -> int:
        """Consumer-protocol groups read back from the log (of ``partition``; None: any), with their
        members, epochs and assignments; a classic group with members holding the id keeps it."""
        restored = 0
        group_ids = [g for g in replayed.consumer_group_ids() if partition is None or self.partition_of(g) == partition]
        # The records name topics by id: the topics as they are now, by id.
        topic_names = {topic_id: name for name in (self._topics() if group_ids else ())
                       if (topic_id := self._topic_id_of(name)) is not None}
        for group_id in group_ids:
            existing = self._groups.get(group_id)
            if isinstance(existing, ShareGroup) or (isinstance(existing, ClassicGroup) and existing.members):
                log.warning("consumer group %s not restored: the id is held by a group of another type; its "
                            "records are deleted", group_id)
                self.consumer_log.adopt(replayed, group_id)
                continue
            group = self.consumer_log.restore(replayed, group_id, topic_names, now_ms,
                                              self.consumer.session_timeout_of(group_id))
            self.consumer.restore_group(group, now_ms)
            self.consumer_log.write_soon(group_id, now_ms)  # a new target made at the load, if any
            log.info("consumer group %s restored at epoch %d with %d member(s)", group_id, group.group_epoch,
                     len(group.members))
            restored += 1
        return restored

    def _restore_share_groups(self, replayed: Replayed, partition: int | None) -> int:
        """Share groups read back from the log (of ``partition``; None: any), unless the id is held
        by a group of another type."""
        restored = 0
        for group_id in replayed.share_group_ids():
            if partition is not None and self.partition_of(group_id) != partition:
                continue
            existing = self._groups.get(group_id)
            if existing is not None and not isinstance(existing, ShareGroup):
                log.warning("share group %s not restored: the id is held by a group of another type", group_id)
                continue
            epoch, assigned = self.share_log.restore(replayed, group_id)
            group = self.share.restore_group(group_id, epoch, assigned)
            log.info("share group %s restored at epoch %d with %d share-partition(s)", group_id,
                     group.group_epoch, len(group.assigned))
            restored += 1
        return restored

    def release_partition(self, partition: int) -> int:
        """This broker no longer leads ``partition``: forget its groups (their members are answered
        NOT_COORDINATOR and find the new coordinator). Returns the groups dropped."""
        if self._owned is None:
            return 0
        self._owned.discard(partition)
        leaving = {g for g in set(self._groups) | set(self.offsets.group_ids())
                   if self.partition_of(g) == partition}
        for group_id in leaving:
            group = self._groups.pop(group_id, None)
            if isinstance(group, ClassicGroup):
                self.classic.release(group)
            elif isinstance(group, ShareGroup):
                self.share.detach(group)  # the share-partitions this broker leads stay here
            self.share_log.forget(group_id)
            self.consumer_log.forget(group_id)
            self.offsets.forget(group_id)
        if leaving:
            log.info("no longer coordinating %s-%d: %d group(s) dropped", OFFSETS_TOPIC, partition, len(leaving))
        return len(leaving)

    def leadership_changed(self, topic: str, partition: int, leading: bool, now_ms: int) -> None:
        """The cluster says this broker started or stopped leading a partition: the groups of a
        ``__consumer_offsets`` partition, the share-partition states of a ``__share_group_state``
        partition, or the share-partitions of any other partition (dropped when it stops)."""
        if topic == OFFSETS_TOPIC:
            if leading:
                self.take_partition(partition, now_ms)
            else:
                self.release_partition(partition)
        elif topic == SHARE_STATE_TOPIC:
            if self.share_state is not None:
                if leading:
                    self.share_state.take_partition(partition)
                else:
                    self.share_state.release_partition(partition)
        elif not leading:
            self.share.partition_lost(topic, partition)

    def share_heartbeat(self, group_id: str, member_id: str, member_epoch: int, *, now_ms: int,
                        subscribed_topics: list[str] | None = None, client_id: str = "", client_host: str = "",
                        rack_id: str | None = None) -> ShareHeartbeatResult:
        """One ShareGroupHeartbeat (``shares.ShareGroups.heartbeat``); NOT_COORDINATOR on a broker that
        does not coordinate the group, as for the other group types."""
        if group_id and not self.owns(group_id):
            return ShareHeartbeatResult(member_id, member_epoch, 0, None, HeartbeatError.NOT_COORDINATOR,
                                        f"this broker does not coordinate group {group_id}")
        result = self.share.heartbeat(group_id, member_id, member_epoch, now_ms=now_ms,
                                      subscribed_topics=subscribed_topics, client_id=client_id,
                                      client_host=client_host, rack_id=rack_id)
        group = self.share.group(group_id)
        if group is not None:
            self.share_log.sync(group, now_ms)
        return result

    def group(self, group_id: str) -> Group | None:
        """The live group of either type (tests and tools; do not mutate)."""
        return self._groups.get(group_id)

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    # ------------------------------------------------------------------ the classic protocol

    def join_group(self, req: JoinRequest, now_ms: int) -> asyncio.Future[JoinResult]:
        if not self.owns(req.group_id):
            return self._writer.answered(JoinResult(GroupError.NOT_COORDINATOR, req.member_id))
        if isinstance(self._groups.get(req.group_id), ShareGroup):
            return self._writer.answered(JoinResult(GroupError.INCONSISTENT_GROUP_PROTOCOL, req.member_id))
        return self.classic.join_group(req, now_ms)

    def sync_group(self, group_id: str, generation_id: int, member_id: str, assignments: Mapping[str, bytes],
                   now_ms: int, *, group_instance_id: str | None = None, protocol_type: str | None = None,
                   protocol_name: str | None = None) -> asyncio.Future[SyncResult]:
        if not self.owns(group_id):
            return self._writer.answered(SyncResult(GroupError.NOT_COORDINATOR))
        return self.classic.sync_group(group_id, generation_id, member_id, assignments, now_ms,
                                       group_instance_id=group_instance_id, protocol_type=protocol_type,
                                       protocol_name=protocol_name)

    def heartbeat(self, group_id: str, generation_id: int, member_id: str, now_ms: int, *,
                  group_instance_id: str | None = None) -> GroupError:
        if not self.owns(group_id):
            return GroupError.NOT_COORDINATOR
        return self.classic.heartbeat(group_id, generation_id, member_id, now_ms, group_instance_id=group_instance_id)

    def leave_group(self, group_id: str, members: Sequence[tuple[str, str | None]],
                    now_ms: int) -> tuple[GroupError, list[GroupError]]:
        if not self.owns(group_id):
            return GroupError.NOT_COORDINATOR, [GroupError.NOT_COORDINATOR] * len(members)
        return self.classic.leave_group(group_id, members, now_ms)

    # ------------------------------------------------------------------ the consumer protocol

    def consumer_heartbeat(self, group_id: str, member_id: str, member_epoch: int, *, now_ms: int,
                           subscribed_topics: list[str] | None = None, subscribed_regex: str | None = None,
                           owned: list[tuple[str, int]] | None = None, assignor: str | None = None,
                           instance_id: str | None = None, rebalance_timeout_ms: int = -1,
                           session_timeout_ms: int | None = None, client_id: str = "",
                           client_host: str = "", rack_id: str | None = None,
                           recorded: bool = True) -> HeartbeatResult:
        """One heartbeat of the consumer protocol (``consumer.ConsumerGroups.heartbeat``); what it
        changed is written to ``__consumer_offsets`` without waiting (``consumer_heartbeat_recorded``
        waits). ``recorded`` False: a member joining now is never written (the HTTP front's)."""
        return self._consumer_heartbeat(group_id, member_id, member_epoch, now_ms, None,
                                        subscribed_topics=subscribed_topics, subscribed_regex=subscribed_regex,
                                        owned=owned, assignor=assignor, instance_id=instance_id,
                                        rebalance_timeout_ms=rebalance_timeout_ms,
                                        session_timeout_ms=session_timeout_ms, client_id=client_id,
                                        client_host=client_host, rack_id=rack_id, recorded=recorded)[0]

    async def consumer_heartbeat_recorded(self, group_id: str, member_id: str, member_epoch: int, *, now_ms: int,
                                          subscribed_topics: list[str] | None = None,
                                          subscribed_regex: str | None = None,
                                          owned: list[tuple[str, int]] | None = None, assignor: str | None = None,
                                          instance_id: str | None = None, rebalance_timeout_ms: int = -1,
                                          client_id: str = "", client_host: str = "",
                                          rack_id: str | None = None) -> HeartbeatResult:
        """One ConsumerGroupHeartbeat of a Kafka member, answered once the records it changed are
        durable (as Kafka answers once its records are committed), and once any write of the group
        still in flight is. When they cannot be written the answer is the write's error
        (NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE) and the records are written again from the
        tick: a new member's join is undone (it joins again); any other member comes back at its
        previous epoch, which is accepted as a retry, and is sent its assignment again."""
        written: asyncio.Future[GroupError] = self._writer.future()
        before = self.consumer.group(group_id)
        known = before is not None and (member_id in before.members or (
            instance_id is not None and instance_id in before.static_members))
        result, writing = self._consumer_heartbeat(group_id, member_id, member_epoch, now_ms, written,
                                                   subscribed_topics=subscribed_topics,
                                                   subscribed_regex=subscribed_regex, owned=owned, assignor=assignor,
                                                   instance_id=instance_id, rebalance_timeout_ms=rebalance_timeout_ms,
                                                   client_id=client_id, client_host=client_host, rack_id=rack_id)
        if not writing and not self.consumer_log.after_writes(group_id, lambda error, _base: resolve(written, error)):
            return result  # nothing changed, and nothing of the group is still being written
        error = await written
        if error.ok or result.error:
            return result
        if member_epoch == 0 and not known:
            # A new member's join is undone (a member id the coordinator made would otherwise hold
            # partitions, unknown to its client, until its session expired); the client joins again.
            # A known member (one rejoining, a static member taking its instance back) stays as it is
            # now, and its records are written again from the tick.
            self.consumer_leave(group_id, result.member_id, now_ms)
        else:
            group = self.consumer.group(group_id)
            member = group.members.get(result.member_id) if group is not None else None
            if member is not None:
                member.last_sent = None  # the answer is lost: the next heartbeat carries the assignment
        code = HeartbeatError.NOT_COORDINATOR if error is GroupError.NOT_COORDINATOR \
            else HeartbeatError.COORDINATOR_NOT_AVAILABLE
        return HeartbeatResult(result.member_id, member_epoch, result.heartbeat_interval_ms, None, code,
                               f"the group's records could not be written: {error.name}")

    def _consumer_heartbeat(self, group_id: str, member_id: str, member_epoch: int, now_ms: int,
                            written: asyncio.Future[GroupError] | None,
                            **fields: Any) -> tuple[HeartbeatResult, bool]:
        """The heartbeat's result, and whether it wrote records (``written`` is answered once they
        are durable)."""
        if not self.owns(group_id):
            return HeartbeatResult(member_id, member_epoch, 0, None, HeartbeatError.NOT_COORDINATOR,
                                   f"this broker does not coordinate group {group_id}"), False
        if isinstance(self._groups.get(group_id), ShareGroup):
            return HeartbeatResult(member_id, member_epoch, 0, None, HeartbeatError.GROUP_ID_NOT_FOUND,
                                   f"group {group_id} is a share group"), False
        result = self.consumer.heartbeat(group_id, member_id, member_epoch, now_ms=now_ms, **fields)
        group = self.consumer.group(group_id)
        if group is None:
            return result, False

        def done(error: GroupError, _base: int) -> None:
            resolve(written, error)

        # A heartbeat at an epoch > 0 changes no other member's records unless the epochs move.
        return result, self.consumer_log.sync(group, now_ms, done,
                                              member_id=result.member_id if member_epoch > 0 else None)

    def consumer_leave(self, group_id: str, member_id: str, now_ms: int) -> None:
        if not self.owns(group_id):
            return
        self.consumer.leave(group_id, member_id, now_ms)
        group = self.consumer.group(group_id)
        if group is not None:
            self.consumer_log.sync(group, now_ms)

    # ------------------------------------------------------------------ offsets

    def commit_offsets(self, group_id: str, generation_id: int, member_id: str,
                       offsets: Mapping[TopicPartition, OffsetCommitInput], now_ms: int, *,
                       group_instance_id: str | None = None) -> asyncio.Future[dict[TopicPartition, GroupError]]:
        """Validate the committer against its group's protocol (a classic generation, or a
        consumer-protocol member epoch), append the offsets and resolve once they are durable; only
        then are they visible to OffsetFetch (Kafka applies a commit when its append completes)."""
        self.classic.advance_clock(now_ms)
        fut: asyncio.Future[dict[TopicPartition, GroupError]] = self._writer.future()
        group = self._groups.get(group_id)
        if not group_id:
            error = GroupError.INVALID_GROUP_ID
        elif not self.owns(group_id):
            error = GroupError.NOT_COORDINATOR
        elif isinstance(group, ShareGroup):
            error = GroupError.GROUP_ID_NOT_FOUND  # share groups keep start offsets, not commits
        elif isinstance(group, ConsumerGroup):
            error = self.consumer.validate_commit(group, member_id, generation_id)
        else:
            error = self.classic.check_committer(group_id, generation_id, member_id, group_instance_id, now_ms)
        if not error.ok:
            fut.set_result(dict.fromkeys(offsets, error))
            return fut
        current = self._groups.get(group_id)
        self.offsets.commit(group_id, offsets, now_ms, fut,
                            lambda: self.owns(group_id) and self._groups.get(group_id) is current)
        return fut

    def fetch_offsets(self, group_id: str,
                      partitions: Iterable[TopicPartition] | None) -> dict[TopicPartition, CommittedOffset | None]:
        """Committed offsets of ``partitions`` (None: every partition with a commit); None per
        partition without one. Unknown groups have no commits (Kafka answers -1, not an error)."""
        return self.offsets.fetch(group_id, partitions)

    def delete_offsets(self, group_id: str, partitions: Sequence[TopicPartition], now_ms: int
                       ) -> asyncio.Future[tuple[GroupError, dict[TopicPartition, GroupError]]]:
        """OffsetDelete (KIP-496): a group with members keeps the offsets of topics it subscribes to."""
        fut: asyncio.Future[tuple[GroupError, dict[TopicPartition, GroupError]]] = self._writer.future()
        if not group_id:
            fut.set_result((GroupError.INVALID_GROUP_ID, {}))
            return fut
        if not self.owns(group_id):
            fut.set_result((GroupError.NOT_COORDINATOR, {}))
            return fut
        group = self._groups.get(group_id)
        if group is None:
            fut.set_result((GroupError.GROUP_ID_NOT_FOUND, {}))
            return fut
        subscribed: set[str]
        if isinstance(group, ShareGroup):
            fut.set_result((GroupError.GROUP_ID_NOT_FOUND, {}))  # DeleteShareGroupOffsets is theirs
            return fut
        if isinstance(group, ConsumerGroup):
            subscribed = self.consumer.subscribed_topics(group_id) or set()
        elif group.is_(GroupState.EMPTY):
            subscribed = set()
        else:
            topics = group.subscribed_topics()
            if topics is None:
                fut.set_result((GroupError.NON_EMPTY_GROUP, {}))
                return fut
            subscribed = topics
        results = {tp: GroupError.GROUP_SUBSCRIBED_TO_TOPIC if tp[0] in subscribed else GroupError.NONE
                   for tp in partitions}
        deleting = [tp for tp, e in results.items() if e.ok]

        def done(error: GroupError) -> None:
            for tp in deleting:
                if tp in results:
                    results[tp] = error
            resolve(fut, (GroupError.NONE, results))

        self.offsets.delete(group_id, deleting, now_ms, done)
        return fut

    # ------------------------------------------------------------------ admin, for every group type

    def group_config_defaults(self) -> dict[str, str]:
        """The value of every group config (``group_configs.py``) for a group that sets none: the
        broker's ``group.share.*`` and ``group.consumer.*`` properties."""
        consumer = self.settings.consumer
        return {**self.share.defaults(), CONSUMER_SESSION_TIMEOUT: str(consumer.session_timeout_ms),
                CONSUMER_HEARTBEAT_INTERVAL: str(consumer.heartbeat_interval_ms)}

    async def alter_group_configs(self, group_id: str, changes: Mapping[str, str | None], now_ms: int, *,
                                  validate_only: bool = False) -> tuple[int, str | None]:
        """Set (a value) or delete (None) a group's configs, for both fronts: (error code, message).
        Each value is checked against its bounds, then the group's configs as they would be (its
        own over the broker's defaults) against Kafka's rule that a session outlasts its heartbeat
        interval; INVALID_CONFIG (40) and nothing changed when either fails."""
        problem = config_problem(changes, self.share.settings.config_bounds)
        if problem is None:
            defaults = self.group_config_defaults()
            after = {**defaults, **self.share.configs(group_id)}
            for name, value in changes.items():
                after[name] = value if value is not None else defaults[name]
            problem = timing_problem(after)
        if problem is not None:
            return INVALID_CONFIG, problem
        return await self.share.alter_configs_async(group_id, changes, now_ms, validate_only=validate_only)

    def describe_group(self, group_id: str) -> GroupDescription | None:
        group = self._groups.get(group_id)
        if group is None:
            return None
        if isinstance(group, ConsumerGroup):
            return self.consumer.describe_group(group)
        if isinstance(group, ShareGroup):
            return describe_share_group(group)
        return self.classic.describe(group)

    def list_groups(self, states: Iterable[str] = (), types: Iterable[str] = ()) -> list[ListedGroup]:
        """Every group, optionally only those in ``states`` or of ``types`` (case-insensitive)."""
        wanted_states = {s.lower() for s in states}
        wanted_types = {t.lower() for t in types}
        out: list[ListedGroup] = []
        for group_id in sorted(self._groups):
            desc = self.describe_group(group_id)
            if desc is None:
                continue
            if (wanted_states and desc.state.lower() not in wanted_states) or (
                    wanted_types and desc.group_type not in wanted_types):
                continue
            out.append(ListedGroup(group_id, desc.protocol_type, desc.state, desc.group_type))
        return out

    def delete_groups(self, group_ids: Sequence[str], now_ms: int) -> asyncio.Future[dict[str, GroupError]]:
        """DeleteGroups: only groups without members; their offsets and metadata get tombstones."""
        self.classic.advance_clock(now_ms)
        fut: asyncio.Future[dict[str, GroupError]] = self._writer.future()
        results: dict[str, GroupError] = {}
        waiting: set[str] = set()
        for group_id in group_ids:
            group = self._groups.get(group_id)
            desc = self.describe_group(group_id)
            if not group_id:
                results[group_id] = GroupError.INVALID_GROUP_ID
            elif not self.owns(group_id):
                results[group_id] = GroupError.NOT_COORDINATOR
            elif group is None or desc is None:
                results[group_id] = GroupError.GROUP_ID_NOT_FOUND
            elif desc.active or (isinstance(group, ClassicGroup) and group.pending_members):
                results[group_id] = GroupError.NON_EMPTY_GROUP
            elif isinstance(group, ShareGroup):
                waiting.add(group_id)
                results[group_id] = GroupError.NONE

                def dropped(error: GroupError, _base: int, gid: str = group_id) -> None:
                    results[gid] = error
                    waiting.discard(gid)
                    if not waiting:
                        resolve(fut, results)

                def state_deleted(deleted: asyncio.Future[int], g: ShareGroup = group) -> None:
                    # As Kafka: the share-partitions' state goes first; the group only once it is gone.
                    error = self._share_group_deletable(g, deleted)
                    if not error.ok:
                        dropped(error, -1, g.group_id)
                        return
                    self._remove(g, "deleted")
                    self.share.forget_group(g)
                    self.share_log.tombstones(g.group_id, now_ms, dropped)

                self.share.drop_group(group, now_ms).add_done_callback(state_deleted)
            else:
                records = self.offsets.drop(group_id)
                records.append((encode_group_metadata_key(group_id), None))
                if isinstance(group, ConsumerGroup):
                    records.extend(self.consumer_log.tombstones(group_id))
                self._remove(group, "deleted")
                waiting.add(group_id)
                results[group_id] = GroupError.NONE

                def done(error: GroupError, _base: int, gid: str = group_id) -> None:
                    results[gid] = error
                    waiting.discard(gid)
                    if not waiting:
                        resolve(fut, results)

                self._writer.write(group_id, records, now_ms, done)
        if not waiting:
            resolve(fut, results)
        return fut

    def _share_group_deletable(self, group: ShareGroup, deleted: asyncio.Future[int]) -> GroupError:
        """After its share-partitions' state was deleted: whether the share group can go now
        (the state is gone, this broker still coordinates it, and no member joined meanwhile)."""
        code = write_outcome(deleted)
        if code:
            log.warning("share group %s not deleted: the state of its share-partitions could not be (error %d)",
                        group.group_id, code)
            return GroupError.COORDINATOR_NOT_AVAILABLE
        if not self.owns(group.group_id) or self._groups.get(group.group_id) is not group:
            return GroupError.NOT_COORDINATOR
        if group.members:
            return GroupError.NON_EMPTY_GROUP
        return GroupError.NONE

    def _remove(self, group: Group, reason: str) -> None:
        if isinstance(group, ClassicGroup):
            self.classic.remove_group(group, reason)
        elif self._groups.get(group.group_id) is group:
            del self._groups[group.group_id]
            log.info("%s group %s removed (%s)", SHARE if isinstance(group, ShareGroup) else "consumer",
                     group.group_id, reason)

    def lag(self, group_id: str, log_end_offsets: Mapping[tuple[str, int], int] | None = None) -> list[PartitionLag]:
        """Per partition: committed offset, log end offset and lag, for committed and assigned partitions.
        ``log_end_offsets`` gives the ends of partitions this broker cannot read (asked of their leaders)."""
        known = log_end_offsets or {}
        desc = self.describe_group(group_id)
        if desc is None:
            return []
        owners = {tp: m.member_id for m in desc.members for tp in m.partitions}
        committed_offsets = self.offsets.of(group_id)
        out: list[PartitionLag] = []
        for tp in sorted(set(committed_offsets) | set(owners)):
            committed = committed_offsets.get(tp)
            end = known[tp] if tp in known else self._log_end_offset(*tp)
            offset = committed.offset if committed is not None else -1
            lag = max(end - offset, 0) if end is not None and committed is not None else None
            out.append(PartitionLag(tp[0], tp[1], offset, -1 if end is None else end, lag, owners.get(tp),
                                    committed.metadata if committed is not None else ""))
        return out

    # ------------------------------------------------------------------ time

    def tick(self, now_ms: int) -> None:
        """Expire sessions of both protocols, complete join phases past their deadline, pick up topic
        changes for consumer-protocol groups and (every ``retention_check_interval_ms``) expire the
        offsets of groups that stayed empty too long."""
        self.classic.tick(now_ms)
        for changed in self.consumer.tick(now_ms):
            if self.owns(changed.group_id):
                self.consumer_log.sync(changed, now_ms)
        self._sync_consumer_records(now_ms)
        self.share.tick(now_ms)
        for group in self.groups():
            if isinstance(group, ShareGroup) and self.owns(group.group_id):
                self.share_log.sync(group, now_ms)
        if self._next_retention_check_ms is None:
            self._next_retention_check_ms = now_ms + self.settings.retention_check_interval_ms
        elif now_ms >= self._next_retention_check_ms:
            self._next_retention_check_ms = now_ms + self.settings.retention_check_interval_ms
            self.expire_offsets(now_ms)

    def _sync_consumer_records(self, now_ms: int) -> None:
        """Write again the groups due (a write failed, or just loaded), and delete the records of
        consumer-protocol groups that are gone (an empty one taken over by a classic member)."""
        for group_id in self.consumer_log.due(now_ms):
            group = self.consumer.group(group_id)
            if group is not None and self.owns(group_id):
                self.consumer_log.sync(group, now_ms)
        for group_id in self.consumer_log.recorded_groups(now_ms):
            if isinstance(self._groups.get(group_id), ConsumerGroup):
                continue
            if self.owns(group_id):
                self.consumer_log.delete(group_id, now_ms)
            else:
                self.consumer_log.forget(group_id)  # its partition moved: the new coordinator deletes them

    def expire_offsets(self, now_ms: int) -> int:
        """Kafka 2.1+ (KIP-211): the offsets of a group expire ``offsets.retention.minutes`` after it
        became empty (a consumer-protocol group, or one that only stores offsets: after each commit).
        Empty groups left without offsets are removed. Returns the number of offsets expired."""
        self.classic.advance_clock(now_ms)
        retention = self.settings.offsets_retention_ms
        expired_total = 0
        for group in list(self._groups.values()):
            if isinstance(group, ShareGroup):
                continue  # a share group's state is its share-partitions', kept until the group is deleted
            if isinstance(group, ClassicGroup):
                if not group.is_(GroupState.EMPTY):
                    continue
                since: int | None = group.state_since_ms
            elif group.members:
                continue
            else:
                since = None
            records = self.offsets.expire(group.group_id, now_ms, retention, since)
            expired_total += len(records)
            if not self.offsets.of(group.group_id):
                if isinstance(group, ClassicGroup):
                    records.append((encode_group_metadata_key(group.group_id), None))
                else:
                    records.extend(self.consumer_log.tombstones(group.group_id))
                self._remove(group, "empty without offsets")
            if records:
                self._writer.write(group.group_id, records, now_ms, lambda _e, _b: None)
        return expired_total

    # ------------------------------------------------------------------ start-up and shutdown

    def load(self, now_ms: int) -> int:
        """Rebuild groups and offsets from ``__consumer_offsets`` (start-up). Returns records applied.

        Classic groups with members come back Stable at their generation, and consumer-protocol
        groups with their members, epochs and assignments (``consumer_group_log.py``), each member
        with a fresh session, so consumers carry on without rejoining; any other group with offsets
        comes back as an empty classic group holding them."""
        self.classic.advance_clock(now_ms)
        replayed = replay(self._writer.log, self._owned)
        for group_id in replayed.group_ids():
            self._groups[group_id] = self.classic.restore_group(group_id, replayed.metadata.get(group_id), now_ms)
            self.offsets.restore(group_id, replayed.offsets.get(group_id, {}))
        self._restore_consumer_groups(replayed, None, now_ms)
        self._restore_share_groups(replayed, None)
        log.info("loaded %d group(s) and %d committed offset(s) from %d record(s)", len(self._groups),
                 sum(len(self.offsets.of(g)) for g in self._groups), replayed.applied)
        if self.share_state is not None and self._owned is None:
            self.share_state.load()
            log.info("loaded the state of %d share-partition(s)", self.share.load())
        return replayed.applied

    def close(self, now_ms: int | None = None) -> None:
        """Answer every waiting JoinGroup/SyncGroup (COORDINATOR_NOT_AVAILABLE: clients find the
        coordinator again once this broker is back) so shutdown does not wait on them, and write the
        share-partitions' state changed since the last tick (delivery counts)."""
        self.classic.close()
        if now_ms is not None:
            self.share.flush(now_ms)


def _name_based_id(topic: str) -> uuid.UUID:
    """A stable id for a topic known by name only (a coordinator without a broker, in unit tests)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"logbroker-topic:{topic}")
