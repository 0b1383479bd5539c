"""The group coordinator: classic consumer groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup) and
committed offsets, as Kafka's ``GroupCoordinator`` does it before KIP-848.

This broker is the coordinator of every group. The coordinator is synchronous and single-threaded
(the event loop's): each method takes ``now_ms`` (no clock is read here) and either answers at once
or returns an asyncio future that a later call resolves -- a JoinGroup waits until the join phase
completes, a SyncGroup until the leader's assignment is stored, an OffsetCommit until its records
are durable. ``tick(now_ms)``, called periodically by the application (and by tests with a fake
clock), expires sessions, completes join phases whose deadline passed and expires offsets.

Rebalance protocol (Kafka's rules, ``GroupCoordinator.scala``/``ClassicGroup``):

- JoinGroup from a new member (empty member id): v4+ clients get MEMBER_ID_REQUIRED with a fresh id
  and must rejoin with it within the session timeout (KIP-394); static members
  (``group.instance.id``, KIP-345) are admitted at once, replacing and fencing (FENCED_INSTANCE_ID)
  an earlier member with the same instance id.
- A join moves the group to PreparingRebalance. The join phase completes when every known member
  has rejoined, or at the deadline (the largest rebalance timeout); members that did not rejoin are
  removed (static ones are kept). The first rebalance of an Empty group instead waits
  ``group.initial.rebalance.delay.ms``, extended by the same delay while new members keep arriving,
  up to the rebalance timeout (Kafka's DelayedInitialJoin).
- Completing the join bumps the generation, selects the protocol most members prefer among those
  all support, and answers every waiting JoinGroup; only the leader gets the member list.
  The group is then CompletingRebalance until the leader's SyncGroup brings the assignment, which
  is written to ``__consumer_offsets`` before every member's SyncGroup is answered (Stable).
- Heartbeats refresh the session; a member whose session expires is removed and the group
  rebalances. In PreparingRebalance heartbeats answer REBALANCE_IN_PROGRESS so members rejoin.
- Requests carry the generation: a stale one gets ILLEGAL_GENERATION, an unknown member id
  UNKNOWN_MEMBER_ID. OffsetCommit with generation -1 and no member is a "simple" commit, allowed
  only while the group has no members.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from logbroker.broker import Broker
from logbroker.config import BrokerConfig
from logbroker.groups.assignment import parse_assignment
from logbroker.groups.errors import GroupError
from logbroker.groups.group import CommittedOffset, Group, GroupState, Member, TopicPartition
from logbroker.groups.offsets import BrokerGroupLog, GroupLog
from logbroker.groups.schema import (
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadataValue,
    OffsetCommitKey,
    OffsetCommitValue,
    RecordFormatError,
    decode_group_metadata_value,
    decode_key,
    decode_offset_commit_value,
    encode_group_metadata_key,
    encode_group_metadata_value,
    encode_offset_commit_key,
    encode_offset_commit_value,
    partition_for,
)
from segments.errors import RecordTooLargeError, StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Kafka defaults for settings this broker does not expose as properties.
OFFSET_METADATA_MAX_BYTES = 4096  # offset.metadata.max.bytes
OFFSETS_RETENTION_CHECK_INTERVAL_MS = 600_000  # offsets.retention.check.interval.ms


@dataclass(frozen=True, slots=True)
class CoordinatorSettings:
    initial_rebalance_delay_ms: int = 3000
    min_session_timeout_ms: int = 6000
    max_session_timeout_ms: int = 1_800_000
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    offset_metadata_max_bytes: int = OFFSET_METADATA_MAX_BYTES
    retention_check_interval_ms: int = OFFSETS_RETENTION_CHECK_INTERVAL_MS

    @classmethod
    def from_config(cls, config: BrokerConfig) -> CoordinatorSettings:
        return cls(
            initial_rebalance_delay_ms=config.get_int("group.initial.rebalance.delay.ms"),
            min_session_timeout_ms=config.get_int("group.min.session.timeout.ms"),
            max_session_timeout_ms=config.get_int("group.max.session.timeout.ms"),
            offsets_retention_ms=config.get_int("offsets.retention.minutes") * 60_000,
        )


# ------------------------------------------------------------------------------ requests/results


@dataclass(frozen=True, slots=True)
class JoinRequest:
    group_id: str
    member_id: str
    protocol_type: str
    protocols: Sequence[tuple[str, bytes]]
    session_timeout_ms: int
    rebalance_timeout_ms: int = -1  # JoinGroup v0 has none: the session timeout applies
    group_instance_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    require_known_member_id: bool = True  # JoinGroup v4+
    supports_skip_assignment: bool = False  # JoinGroup v9+


@dataclass(frozen=True, slots=True)
class JoinedMember:
    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclass(frozen=True, slots=True)
class JoinResult:
    error: GroupError
    member_id: str
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    members: tuple[JoinedMember, ...] = ()
    skip_assignment: bool = False


@dataclass(frozen=True, slots=True)
class SyncResult:
    error: GroupError
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True, slots=True)
class OffsetCommitInput:
    offset: int
    leader_epoch: int = -1
    metadata: str | None = ""


@dataclass(frozen=True, slots=True)
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol_data: str
    members: tuple[MemberDescription, ...]


@dataclass(frozen=True, slots=True)
class ListedGroup:
    group_id: str
    protocol_type: str
    state: str


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed_offset: int  # -1: nothing committed
    log_end_offset: int  # -1: the partition no longer exists
    lag: int | None  # log end - committed; None when either is unknown
    member_id: str | None = None  # the consumer the partition is assigned to, if any
    metadata: str = ""


class ConsumerGroups(Protocol):
    """The KIP-848 consumer groups (``logbroker.controller.Controller``), which share this
    coordinator's group-id namespace and committed offsets: a group id is either a classic group
    here or a consumer group there, and a consumer group's offsets are stored here."""

    def owns(self, group_id: str) -> bool: ...

    def subscribed_topics(self, group_id: str) -> set[str] | None:
        """None when the consumer group has no members."""
        ...

    def validate_commit(self, group_id: str, member_id: str, member_epoch: int) -> GroupError: ...

    def forget(self, group_id: str) -> None:
        """Drop the consumer group if it has no members."""
        ...


# ------------------------------------------------------------------------------ the coordinator


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
    ) -> None:
        self._log = group_log
        self.settings = settings or CoordinatorSettings()
        self._loop = loop
        self._partition_exists = partition_exists or (lambda topic, partition: True)
        self._log_end_offset = log_end_offset or (lambda topic, partition: None)
        self._groups: dict[str, Group] = {}
        # Set by the application when the consumer group protocol is served.
        self.consumer_groups: ConsumerGroups | None = None
        self._now = 0
        self._next_retention_check_ms: int | None = None
        self._closed = False

    @classmethod
    def for_broker(cls, broker: Broker) -> GroupCoordinator:
        """The coordinator of a broker process, persisting to the broker's own ``__consumer_offsets``."""

        def partition_exists(topic: str, partition: int) -> bool:
            return broker.store.has_topic(topic) and 0 <= partition < broker.partitions_of(topic)

        def log_end_offset(topic: str, partition: int) -> int | None:
            try:
                return broker.offsets(topic, partition)[1]
            except StorageError:
                return None

        return cls(BrokerGroupLog(broker, broker.config.get_int("offsets.topic.num.partitions")),
                   CoordinatorSettings.from_config(broker.config), partition_exists=partition_exists,
                   log_end_offset=log_end_offset)

    # ------------------------------------------------------------------ plumbing

    def _future(self) -> asyncio.Future[Any]:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.create_future()

    @staticmethod
    def _resolve(fut: asyncio.Future[T] | None, value: T) -> None:
        if fut is not None and not fut.done():
            fut.set_result(value)

    def _answered(self, value: T) -> asyncio.Future[T]:
        fut: asyncio.Future[T] = self._future()
        fut.set_result(value)
        return fut

    def _tick_clock(self, now_ms: int) -> None:
        self._now = now_ms

    def ensure_offsets_topic(self) -> None:
        """Create ``__consumer_offsets`` if needed (Kafka does on FindCoordinator); raises StorageError."""
        self._log.ensure_topic()

    def group(self, group_id: str) -> Group | None:
        """The live group (tests and tools; do not mutate)."""
        return self._groups.get(group_id)

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def _new_group(self, group_id: str, now_ms: int) -> Group:
        group = Group(group_id, state_since_ms=now_ms)
        self._groups[group_id] = group
        log.info("group %s created", group_id)
        return group

    def _remove_group(self, group: Group, reason: str) -> None:
        group.transition(GroupState.DEAD, self._now)
        self._groups.pop(group.group_id, None)
        log.info("group %s removed (%s)", group.group_id, reason)

    # ------------------------------------------------------------------ writes to __consumer_offsets

    def _write(self, group_id: str, records: Sequence[tuple[bytes, bytes | None]],
               on_done: Callable[[GroupError, int], None]) -> None:
        """Append ``records`` to the group's partition, then call ``on_done(error, base_offset)`` once
        they are durable (at once when the policy needs no wait, else from the event loop)."""
        try:
            partition = partition_for(group_id, self._log.partition_count())
            appended = self._log.append(partition, records, self._now)
        except RecordTooLargeError as exc:
            log.warning("group %s: records for __consumer_offsets refused: %s", group_id, exc)
            on_done(GroupError.INVALID_COMMIT_OFFSET_SIZE, -1)
            return
        except (StorageError, OSError, ValueError) as exc:
            log.error("group %s: writing to __consumer_offsets failed: %s", group_id, exc)
            on_done(GroupError.COORDINATOR_NOT_AVAILABLE, -1)
            return
        base = appended.base_offset
        durable = appended.durable
        if durable is None:
            on_done(GroupError.NONE, base)
        elif durable.done():
            on_done(self._durable_error(group_id, durable), base)
        else:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()

            def finished(f: Future[int]) -> None:
                # RuntimeError: the loop closed during shutdown; nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(on_done, self._durable_error(group_id, f), base)

            durable.add_done_callback(finished)

    @staticmethod
    def _durable_error(group_id: str, f: Future[int]) -> GroupError:
        if f.cancelled():
            return GroupError.COORDINATOR_NOT_AVAILABLE
        exc = f.exception()
        if exc is not None:
            log.error("group %s: __consumer_offsets write did not become durable: %s", group_id, exc)
            return GroupError.COORDINATOR_NOT_AVAILABLE
        return GroupError.NONE

    def _metadata_record(self, group: Group, assignments: Mapping[str, bytes] | None = None) -> tuple[bytes, bytes]:
        members = tuple(
            MemberMetadataValue(m.member_id, m.group_instance_id, m.client_id, m.client_host, m.rebalance_timeout_ms,
                                m.session_timeout_ms, m.metadata(group.protocol_name),
                                assignments.get(m.member_id, b"") if assignments is not None else m.assignment)
            for m in group.members.values()
        )
        value = GroupMetadataValue(group.protocol_type or "", group.generation_id, group.protocol_name,
                                   group.leader_id, group.state_since_ms, members)
        return encode_group_metadata_key(group.group_id), encode_group_metadata_value(value)

    def _store_group(self, group: Group, assignments: Mapping[str, bytes] | None = None,
                     on_done: Callable[[GroupError], None] | None = None) -> None:
        def done(error: GroupError, _base: int) -> None:
            if not error.ok:
                log.warning("group %s generation %d: storing group metadata failed: %s", group.group_id,
                            group.generation_id, error.name)
            if on_done is not None:
                on_done(error)

        self._write(group.group_id, [self._metadata_record(group, assignments)], done)

    # ------------------------------------------------------------------ JoinGroup

    def join_group(self, req: JoinRequest, now_ms: int) -> asyncio.Future[JoinResult]:
        self._tick_clock(now_ms)
        fut: asyncio.Future[JoinResult] = self._future()
        error = self._validate_join(req)
        if error is None and self._consumer_group_active(req.group_id):
            error = GroupError.INCONSISTENT_GROUP_PROTOCOL
        if error is not None:
            fut.set_result(JoinResult(error, req.member_id))
            return fut
        if self.consumer_groups is not None and self.consumer_groups.owns(req.group_id):
            self.consumer_groups.forget(req.group_id)  # an empty consumer group becomes a classic one
        group = self._groups.get(req.group_id)
        if group is None:
            if req.member_id:
                fut.set_result(JoinResult(GroupError.UNKNOWN_MEMBER_ID, req.member_id))
                return fut
            if not req.protocol_type or not req.protocols:
                fut.set_result(JoinResult(GroupError.INCONSISTENT_GROUP_PROTOCOL, req.member_id))
                return fut
            group = self._new_group(req.group_id, now_ms)
        if not req.member_id:
            self._join_new_member(group, req, fut, now_ms)
        else:
            self._join_known_member(group, req, fut, now_ms)
        return fut

    def _validate_join(self, req: JoinRequest) -> GroupError | None:
        if not req.group_id:
            return GroupError.INVALID_GROUP_ID
        s = self.settings
        if not s.min_session_timeout_ms <= req.session_timeout_ms <= s.max_session_timeout_ms:
            return GroupError.INVALID_SESSION_TIMEOUT
        return None

    def _join_new_member(self, group: Group, req: JoinRequest, fut: asyncio.Future[JoinResult], now: int) -> None:
        names = [name for name, _ in req.protocols]
        if not group.supports(req.protocol_type, names):
            fut.set_result(JoinResult(GroupError.INCONSISTENT_GROUP_PROTOCOL, ""))
            return
        member_id = f"{req.client_id}-{uuid.uuid4()}"
        if req.group_instance_id is not None:
            old = group.static_members.get(req.group_instance_id)
            if old is not None and old in group.members:
                self._replace_static_member(group, group.members[old], member_id, req, fut, now)
            else:
                self._add_member_and_rebalance(group, member_id, req, fut, now)
        elif req.require_known_member_id:
            group.pending_members[member_id] = now + req.session_timeout_ms
            log.info("group %s: new member %s must rejoin with its id (MEMBER_ID_REQUIRED)", group.group_id,
                     member_id)
            fut.set_result(JoinResult(GroupError.MEMBER_ID_REQUIRED, member_id))
        else:
            self._add_member_and_rebalance(group, member_id, req, fut, now)

    def _join_known_member(self, group: Group, req: JoinRequest, fut: asyncio.Future[JoinResult], now: int) -> None:
        member_id = req.member_id
        names = [name for name, _ in req.protocols]
        if member_id in group.pending_members:
            if not group.supports(req.protocol_type, names):
                fut.set_result(JoinResult(GroupError.INCONSISTENT_GROUP_PROTOCOL, member_id))
                return
            del group.pending_members[member_id]
            self._add_member_and_rebalance(group, member_id, req, fut, now)
            return
        if group.static_member_fenced(member_id, req.group_instance_id):
            log.info("group %s: member %s uses instance id %s held by another member; fenced", group.group_id,
                     member_id, req.group_instance_id)
            fut.set_result(JoinResult(GroupError.FENCED_INSTANCE_ID, member_id))
            return
        member = group.members.get(member_id)
        if member is None or group.is_(GroupState.EMPTY, GroupState.DEAD):
            fut.set_result(JoinResult(GroupError.UNKNOWN_MEMBER_ID, member_id))
            return
        if not group.supports(req.protocol_type, names):
            fut.set_result(JoinResult(GroupError.INCONSISTENT_GROUP_PROTOCOL, member_id))
            return
        same = list(member.protocols) == [(n, bytes(m)) for n, m in req.protocols]
        if group.is_(GroupState.PREPARING_REBALANCE):
            self._update_member_and_rebalance(group, member, req, fut, now)
        elif group.is_(GroupState.COMPLETING_REBALANCE):
            if same:
                # A duplicate join (e.g. the response was lost): answer with the current generation.
                member.deadline_ms = now + member.session_timeout_ms
                fut.set_result(self._join_result(group, member, with_members=member_id == group.leader_id))
            else:
                self._update_member_and_rebalance(group, member, req, fut, now)
        elif member_id == group.leader_id or not same:
            # The leader rejoining means it saw a metadata change (e.g. new partitions): rebalance.
            self._update_member_and_rebalance(group, member, req, fut, now)
        else:
            member.deadline_ms = now + member.session_timeout_ms
            fut.set_result(self._join_result(group, member, with_members=False))

    def _join_result(self, group: Group, member: Member, *, with_members: bool,
                     skip_assignment: bool = False) -> JoinResult:
        members: tuple[JoinedMember, ...] = ()
        if with_members:
            members = tuple(JoinedMember(m.member_id, m.group_instance_id, m.metadata(group.protocol_name))
                            for m in group.members.values())
        return JoinResult(GroupError.NONE, member.member_id, group.generation_id, group.protocol_type,
                          group.protocol_name, group.leader_id or "", members, skip_assignment)

    def _add_member_and_rebalance(self, group: Group, member_id: str, req: JoinRequest,
                                  fut: asyncio.Future[JoinResult], now: int) -> None:
        rebalance_timeout = req.rebalance_timeout_ms if req.rebalance_timeout_ms > 0 else req.session_timeout_ms
        member = Member(member_id, req.group_instance_id, req.client_id, req.client_host, req.session_timeout_ms,
                        rebalance_timeout, req.protocol_type, [(n, bytes(m)) for n, m in req.protocols],
                        join_future=fut, deadline_ms=now + req.session_timeout_ms)
        if not group.members:
            group.protocol_type = req.protocol_type
        group.members[member_id] = member
        if req.group_instance_id is not None:
            group.static_members[req.group_instance_id] = member_id
        if group.leader_id is None:
            group.leader_id = member_id
        if group.is_(GroupState.PREPARING_REBALANCE) and group.initial_remaining_ms is not None:
            group.new_member_added = True
        log.info("group %s: member %s (client %s, instance %s) joined", group.group_id, member_id, req.client_id,
                 req.group_instance_id)
        self._maybe_prepare_rebalance(group, now, f"member {member_id} joined")

    def _update_member_and_rebalance(self, group: Group, member: Member, req: JoinRequest,
                                     fut: asyncio.Future[JoinResult], now: int) -> None:
        member.protocols = [(n, bytes(m)) for n, m in req.protocols]
        member.session_timeout_ms = req.session_timeout_ms
        member.rebalance_timeout_ms = (req.rebalance_timeout_ms if req.rebalance_timeout_ms > 0
                                       else req.session_timeout_ms)
        member.client_id, member.client_host = req.client_id, req.client_host
        member.deadline_ms = now + member.session_timeout_ms
        self._resolve(member.join_future, JoinResult(GroupError.REBALANCE_IN_PROGRESS, member.member_id))
        member.join_future = fut
        self._maybe_prepare_rebalance(group, now, f"member {member.member_id} rejoined")

    def _replace_static_member(self, group: Group, old: Member, new_id: str, req: JoinRequest,
                               fut: asyncio.Future[JoinResult], now: int) -> None:
        """A static member restarted (same group.instance.id, no member id): the new member takes the
        old one's place and assignment; the old id is fenced (KIP-345)."""
        instance_id = req.group_instance_id
        assert instance_id is not None
        self._resolve(old.join_future, JoinResult(GroupError.FENCED_INSTANCE_ID, old.member_id))
        self._resolve(old.sync_future, SyncResult(GroupError.FENCED_INSTANCE_ID))
        rebalance_timeout = req.rebalance_timeout_ms if req.rebalance_timeout_ms > 0 else req.session_timeout_ms
        new = Member(new_id, instance_id, req.client_id, req.client_host, req.session_timeout_ms, rebalance_timeout,
                     req.protocol_type, [(n, bytes(m)) for n, m in req.protocols], assignment=old.assignment,
                     deadline_ms=now + req.session_timeout_ms)
        group.members = {(new_id if mid == old.member_id else mid): (new if mid == old.member_id else m)
                         for mid, m in group.members.items()}
        group.static_members[instance_id] = new_id
        was_leader = group.leader_id == old.member_id
        if was_leader:
            group.leader_id = new_id
        log.info("group %s: static member %s replaced %s (instance %s)", group.group_id, new_id, old.member_id,
                 instance_id)
        if group.is_(GroupState.STABLE) and group.select_protocol() == group.protocol_name and (
                not was_leader or req.supports_skip_assignment):
            # The assignment does not change: no rebalance, just persist the new member id.
            generation = group.generation_id

            def stored(error: GroupError) -> None:
                if not error.ok:
                    self._resolve(fut, JoinResult(error, new_id))
                    return
                if group.generation_id == generation and new_id in group.members:
                    self._resolve(fut, self._join_result(group, new, with_members=was_leader,
                                                         skip_assignment=was_leader))
                else:
                    self._resolve(fut, JoinResult(GroupError.REBALANCE_IN_PROGRESS, new_id))

            self._store_group(group, on_done=stored)
            return
        new.join_future = fut
        self._maybe_prepare_rebalance(group, now, f"static member {instance_id} rejoined")

    # ------------------------------------------------------------------ rebalance

    def _maybe_prepare_rebalance(self, group: Group, now: int, reason: str) -> None:
        if group.is_(GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY):
            self._prepare_rebalance(group, now, reason)
        elif group.is_(GroupState.PREPARING_REBALANCE):
            self._try_complete_join(group, now)

    def _prepare_rebalance(self, group: Group, now: int, reason: str) -> None:
        if group.is_(GroupState.COMPLETING_REBALANCE):
            self._reset_assignment(group, GroupError.REBALANCE_IN_PROGRESS)
        rebalance_timeout = group.max_rebalance_timeout_ms()
        if group.is_(GroupState.EMPTY):
            delay = self.settings.initial_rebalance_delay_ms
            group.join_deadline_ms = now + delay
            group.initial_remaining_ms = max(rebalance_timeout - delay, 0)
            group.new_member_added = False
        else:
            group.join_deadline_ms = now + rebalance_timeout
            group.initial_remaining_ms = None
        old = group.state
        group.transition(GroupState.PREPARING_REBALANCE, now)
        log.info("group %s: preparing to rebalance in state %s with generation %d (%s)", group.group_id,
                 old.value, group.generation_id, reason)
        self._try_complete_join(group, now)

    def _reset_assignment(self, group: Group, error: GroupError) -> None:
        for m in group.members.values():
            m.assignment = b""
            self._resolve(m.sync_future, SyncResult(error))
            m.sync_future = None

    def _try_complete_join(self, group: Group, now: int) -> None:
        if not group.is_(GroupState.PREPARING_REBALANCE):
            return
        if not group.members:
            # The last member left: nobody can join late into this generation, so it completes (empty)
            # now rather than when the join deadline or the initial delay runs out, as in Kafka.
            self._complete_join(group, now)
            return
        while group.initial_remaining_ms is not None:
            if now < group.join_deadline_ms:
                return
            if group.new_member_added and group.initial_remaining_ms > 0:
                delay = min(self.settings.initial_rebalance_delay_ms, group.initial_remaining_ms)
                group.initial_remaining_ms -= delay
                group.new_member_added = False
                group.join_deadline_ms = now + delay
                continue
            break
        else:
            if not (group.all_joined() or now >= group.join_deadline_ms):
                return
        self._complete_join(group, now)

    def _complete_join(self, group: Group, now: int) -> None:
        group.initial_remaining_ms = None
        group.new_member_added = False
        for m in list(group.members.values()):
            if not m.awaiting_join and m.group_instance_id is None:
                log.info("group %s: member %s did not rejoin in time; removed", group.group_id, m.member_id)
                self._drop_member(group, m, GroupError.UNKNOWN_MEMBER_ID)
        joined = [m for m in group.members.values() if m.awaiting_join]
        if group.leader_id is None or group.leader_id not in group.members or \
                not group.members[group.leader_id].awaiting_join:
            group.leader_id = joined[0].member_id if joined else next(iter(group.members), None)
        group.generation_id += 1
        if not joined:
            # Nobody is left waiting (static members may remain): an empty generation.
            for m in list(group.members.values()):
                self._drop_member(group, m, GroupError.UNKNOWN_MEMBER_ID)
            group.protocol_name = None
            group.leader_id = None
            group.transition(GroupState.EMPTY, now)
            log.info("group %s: generation %d is empty", group.group_id, group.generation_id)
            self._store_group(group)
            return
        group.protocol_name = group.select_protocol()
        group.transition(GroupState.COMPLETING_REBALANCE, now)
        log.info("group %s: generation %d with %d member(s), protocol %s, leader %s", group.group_id,
                 group.generation_id, len(group.members), group.protocol_name, group.leader_id)
        for m in joined:
            fut = m.join_future
            m.join_future = None
            m.deadline_ms = now + m.session_timeout_ms
            self._resolve(fut, self._join_result(group, m, with_members=m.member_id == group.leader_id))

    def _drop_member(self, group: Group, member: Member, error: GroupError) -> None:
        """Remove a member without touching the group's state; its waiting requests get ``error``."""
        group.members.pop(member.member_id, None)
        if member.group_instance_id is not None and group.static_members.get(member.group_instance_id) == \
                member.member_id:
            del group.static_members[member.group_instance_id]
        self._resolve(member.join_future, JoinResult(error, member.member_id))
        self._resolve(member.sync_future, SyncResult(error))
        member.join_future = member.sync_future = None
        if group.leader_id == member.member_id:
            group.leader_id = next(iter(group.members), None)

    def _remove_member_and_update(self, group: Group, member: Member, now: int, reason: str) -> None:
        self._drop_member(group, member, GroupError.UNKNOWN_MEMBER_ID)
        log.info("group %s: member %s removed (%s)", group.group_id, member.member_id, reason)
        if group.is_(GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, now, f"member {member.member_id} removed: {reason}")
        elif group.is_(GroupState.PREPARING_REBALANCE):
            self._try_complete_join(group, now)

    # ------------------------------------------------------------------ SyncGroup

    def sync_group(self, group_id: str, generation_id: int, member_id: str, assignments: Mapping[str, bytes],
                   now_ms: int, *, group_instance_id: str | None = None, protocol_type: str | None = None,
                   protocol_name: str | None = None) -> asyncio.Future[SyncResult]:
        self._tick_clock(now_ms)
        fut: asyncio.Future[SyncResult] = self._future()
        group = self._groups.get(group_id)
        if not group_id:
            fut.set_result(SyncResult(GroupError.INVALID_GROUP_ID))
            return fut
        if group is None:
            fut.set_result(SyncResult(GroupError.UNKNOWN_MEMBER_ID))
            return fut
        if group.static_member_fenced(member_id, group_instance_id):
            fut.set_result(SyncResult(GroupError.FENCED_INSTANCE_ID))
            return fut
        member = group.members.get(member_id)
        if member is None:
            fut.set_result(SyncResult(GroupError.UNKNOWN_MEMBER_ID))
            return fut
        if generation_id != group.generation_id:
            fut.set_result(SyncResult(GroupError.ILLEGAL_GENERATION))
            return fut
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
                protocol_name is not None and protocol_name != group.protocol_name):
            fut.set_result(SyncResult(GroupError.INCONSISTENT_GROUP_PROTOCOL))
            return fut
        if group.is_(GroupState.PREPARING_REBALANCE):
            fut.set_result(SyncResult(GroupError.REBALANCE_IN_PROGRESS))
            return fut
        if group.is_(GroupState.STABLE):
            member.deadline_ms = now_ms + member.session_timeout_ms
            fut.set_result(SyncResult(GroupError.NONE, member.assignment, group.protocol_type, group.protocol_name))
            return fut
        if not group.is_(GroupState.COMPLETING_REBALANCE):
            fut.set_result(SyncResult(GroupError.UNKNOWN_MEMBER_ID))
            return fut
        self._resolve(member.sync_future, SyncResult(GroupError.REBALANCE_IN_PROGRESS))
        member.sync_future = fut
        member.deadline_ms = now_ms + member.session_timeout_ms
        if member_id == group.leader_id:
            full = {mid: bytes(assignments.get(mid, b"")) for mid in group.members}
            unknown = set(assignments) - set(full)
            if unknown:
                log.warning("group %s: leader %s assigned to unknown members %s; ignored", group_id, member_id,
                            sorted(unknown))
            generation = group.generation_id

            def stored(error: GroupError) -> None:
                if group.generation_id != generation or not group.is_(GroupState.COMPLETING_REBALANCE) or \
                        self._groups.get(group_id) is not group:
                    return
                if not error.ok:
                    self._reset_assignment(group, error)
                    self._prepare_rebalance(group, self._now, f"storing the assignment failed: {error.name}")
                    return
                for m in group.members.values():
                    m.assignment = full.get(m.member_id, b"")
                    if m.sync_future is not None:
                        self._resolve(m.sync_future, SyncResult(GroupError.NONE, m.assignment, group.protocol_type,
                                                                group.protocol_name))
                        m.sync_future = None
                        m.deadline_ms = self._now + m.session_timeout_ms
                group.transition(GroupState.STABLE, self._now)
                log.info("group %s: generation %d is stable with %d member(s)", group_id, generation,
                         len(group.members))

            self._store_group(group, full, stored)
        return fut

    # ------------------------------------------------------------------ Heartbeat, LeaveGroup

    def heartbeat(self, group_id: str, generation_id: int, member_id: str, now_ms: int, *,
                  group_instance_id: str | None = None) -> GroupError:
        self._tick_clock(now_ms)
        if not group_id:
            return GroupError.INVALID_GROUP_ID
        group = self._groups.get(group_id)
        if group is None:
            return GroupError.UNKNOWN_MEMBER_ID
        if group.static_member_fenced(member_id, group_instance_id):
            return GroupError.FENCED_INSTANCE_ID
        member = group.members.get(member_id)
        if member is None:
            return GroupError.UNKNOWN_MEMBER_ID
        if generation_id != group.generation_id:
            return GroupError.ILLEGAL_GENERATION
        if group.is_(GroupState.EMPTY):
            return GroupError.UNKNOWN_MEMBER_ID
        member.deadline_ms = now_ms + member.session_timeout_ms
        if group.is_(GroupState.PREPARING_REBALANCE):
            return GroupError.REBALANCE_IN_PROGRESS
        return GroupError.NONE

    def leave_group(self, group_id: str, members: Sequence[tuple[str, str | None]],
                    now_ms: int) -> tuple[GroupError, list[GroupError]]:
        """Remove members given as (member id, group instance id); an empty member id with an instance
        id removes whoever holds that instance id (administrative removal, KIP-345).
        Returns (group-level error, one error per member)."""
        self._tick_clock(now_ms)
        if not group_id:
            return GroupError.INVALID_GROUP_ID, [GroupError.INVALID_GROUP_ID] * len(members)
        group = self._groups.get(group_id)
        if group is None:
            return GroupError.NONE, [GroupError.UNKNOWN_MEMBER_ID] * len(members)
        errors: list[GroupError] = []
        for member_id, instance_id in members:
            if not member_id:
                current = group.static_members.get(instance_id) if instance_id is not None else None
                if current is not None and current in group.members:
                    self._remove_member_and_update(group, group.members[current], now_ms, "removed by instance id")
                    errors.append(GroupError.NONE)
                else:
                    errors.append(GroupError.UNKNOWN_MEMBER_ID)
            elif member_id in group.pending_members:
                del group.pending_members[member_id]
                log.info("group %s: pending member %s left", group_id, member_id)
                self._try_complete_join(group, now_ms)
                errors.append(GroupError.NONE)
            elif group.static_member_fenced(member_id, instance_id):
                errors.append(GroupError.FENCED_INSTANCE_ID)
            elif member_id in group.members:
                self._remove_member_and_update(group, group.members[member_id], now_ms, "left the group")
                errors.append(GroupError.NONE)
            else:
                errors.append(GroupError.UNKNOWN_MEMBER_ID)
        return GroupError.NONE, errors

    # ------------------------------------------------------------------ offsets

    def commit_offsets(self, group_id: str, generation_id: int, member_id: str,
                       offsets: Mapping[TopicPartition, OffsetCommitInput], now_ms: int, *,
                       group_instance_id: str | None = None) -> asyncio.Future[dict[TopicPartition, GroupError]]:
        """Validate the committer, append the offsets and resolve once they are durable; only then are
        they visible to OffsetFetch (Kafka applies a commit when its append completes)."""
        self._tick_clock(now_ms)
        fut: asyncio.Future[dict[TopicPartition, GroupError]] = self._future()
        error = self._check_committer(group_id, generation_id, member_id, group_instance_id, now_ms)
        if not error.ok:
            fut.set_result(dict.fromkeys(offsets, error))
            return fut
        group = self._groups[group_id]
        results: dict[TopicPartition, GroupError] = {}
        valid: dict[TopicPartition, CommittedOffset] = {}
        records: list[tuple[bytes, bytes | None]] = []
        for tp, commit in offsets.items():
            metadata = commit.metadata or ""
            if len(metadata.encode("utf-8")) > self.settings.offset_metadata_max_bytes:
                results[tp] = GroupError.OFFSET_METADATA_TOO_LARGE
            elif not self._partition_exists(*tp):
                results[tp] = GroupError.UNKNOWN_TOPIC_OR_PARTITION
            else:
                value = CommittedOffset(commit.offset, commit.leader_epoch, metadata, now_ms)
                valid[tp] = value
                records.append((encode_offset_commit_key(group_id, tp[0], tp[1]),
                                encode_offset_commit_value(OffsetCommitValue(value.offset, value.leader_epoch,
                                                                             value.metadata, now_ms))))
        if not records:
            fut.set_result(results)
            return fut

        def done(error: GroupError, base_offset: int) -> None:
            if error.ok and self._groups.get(group_id) is group:
                for i, (tp, value) in enumerate(valid.items()):
                    self._apply_offset(group, tp, _with_record_offset(value, base_offset + i))
            for tp in valid:
                results[tp] = error
            self._resolve(fut, results)

        self._write(group_id, records, done)
        return fut

    def _consumer_group_active(self, group_id: str) -> bool:
        """Whether a consumer-protocol group with members holds this id."""
        return self.consumer_groups is not None and self.consumer_groups.subscribed_topics(group_id) is not None

    def _check_committer(self, group_id: str, generation_id: int, member_id: str, instance_id: str | None,
                         now: int) -> GroupError:
        if not group_id:
            return GroupError.INVALID_GROUP_ID
        group = self._groups.get(group_id)
        if self.consumer_groups is not None and self.consumer_groups.owns(group_id):
            # A consumer group: the generation is the member epoch (KIP-848); the offsets live here.
            error = self.consumer_groups.validate_commit(group_id, member_id, generation_id)
            if error.ok and group is None:
                self._new_group(group_id, now)
            return error
        if group is None:
            if generation_id < 0:
                self._new_group(group_id, now)  # a group that only stores offsets (manual assignment)
                return GroupError.NONE
            return GroupError.ILLEGAL_GENERATION
        if group.static_member_fenced(member_id, instance_id):
            return GroupError.FENCED_INSTANCE_ID
        if generation_id < 0 and group.is_(GroupState.EMPTY):
            return GroupError.NONE
        if group.is_(GroupState.COMPLETING_REBALANCE):
            return GroupError.REBALANCE_IN_PROGRESS
        member = group.members.get(member_id)
        if member is None:
            return GroupError.UNKNOWN_MEMBER_ID
        if generation_id != group.generation_id:
            return GroupError.ILLEGAL_GENERATION
        member.deadline_ms = now + member.session_timeout_ms
        return GroupError.NONE

    @staticmethod
    def _apply_offset(group: Group, tp: TopicPartition, value: CommittedOffset) -> None:
        current = group.offsets.get(tp)
        if current is None or current.record_offset <= value.record_offset:
            group.offsets[tp] = value

    def fetch_offsets(self, group_id: str,
                      partitions: Iterable[TopicPartition] | None) -> dict[TopicPartition, CommittedOffset | None]:
        """Committed offsets of ``partitions`` (None: every partition with a commit); None per
        partition without one. Unknown groups have no commits (Kafka answers -1, not an error)."""
        group = self._groups.get(group_id)
        offsets = group.offsets if group is not None else {}
        if partitions is None:
            return dict(sorted(offsets.items()))
        return {tp: offsets.get(tp) for tp in partitions}

    def delete_offsets(self, group_id: str, partitions: Sequence[TopicPartition], now_ms: int
                       ) -> asyncio.Future[tuple[GroupError, dict[TopicPartition, GroupError]]]:
        """OffsetDelete (KIP-496): a consumer group keeps the offsets of topics it is subscribed to."""
        self._tick_clock(now_ms)
        fut: asyncio.Future[tuple[GroupError, dict[TopicPartition, GroupError]]] = self._future()
        if not group_id:
            fut.set_result((GroupError.INVALID_GROUP_ID, {}))
            return fut
        group = self._groups.get(group_id)
        if group is None:
            fut.set_result((GroupError.GROUP_ID_NOT_FOUND, {}))
            return fut
        results: dict[TopicPartition, GroupError] = {}
        consumer_topics = (self.consumer_groups.subscribed_topics(group_id)
                           if self.consumer_groups is not None else None)
        if consumer_topics is not None:
            subscribed: set[str] = consumer_topics
        elif group.is_(GroupState.EMPTY):
            subscribed = set()
        else:
            topics = group.subscribed_topics()
            if topics is None:
                fut.set_result((GroupError.NON_EMPTY_GROUP, {}))
                return fut
            subscribed = topics
        deleting: list[TopicPartition] = []
        for tp in partitions:
            if tp[0] in subscribed:
                results[tp] = GroupError.GROUP_SUBSCRIBED_TO_TOPIC
            else:
                results[tp] = GroupError.NONE
                if tp in group.offsets:
                    deleting.append(tp)
        if not deleting:
            fut.set_result((GroupError.NONE, results))
            return fut
        for tp in deleting:
            group.offsets.pop(tp, None)
        log.info("group %s: deleting offsets of %d partition(s)", group_id, len(deleting))

        def done(error: GroupError, _base: int) -> None:
            for tp in deleting:
                results[tp] = error
            self._resolve(fut, (GroupError.NONE, results))

        self._write(group_id, [(encode_offset_commit_key(group_id, t, p), None) for t, p in deleting], done)
        return fut

    # ------------------------------------------------------------------ admin

    def describe_group(self, group_id: str) -> GroupDescription | None:
        group = self._groups.get(group_id)
        if group is None or (self.consumer_groups is not None and self.consumer_groups.owns(group_id)):
            return None
        stable = group.is_(GroupState.STABLE)
        members = tuple(
            MemberDescription(m.member_id, m.group_instance_id, m.client_id, m.client_host,
                              m.metadata(group.protocol_name) if stable else b"", m.assignment if stable else b"")
            for m in group.members.values()
        )
        return GroupDescription(group.group_id, group.state.value, group.protocol_type or "",
                                (group.protocol_name or "") if stable else "", members)

    def list_groups(self, states: Iterable[str] = ()) -> list[ListedGroup]:
        wanted = {s.lower() for s in states}
        return [ListedGroup(g.group_id, g.protocol_type or "", g.state.value) for g in self._groups.values()
                if (not wanted or g.state.value.lower() in wanted)
                and not (self.consumer_groups is not None and self.consumer_groups.owns(g.group_id))]

    def delete_groups(self, group_ids: Sequence[str], now_ms: int) -> asyncio.Future[dict[str, GroupError]]:
        """DeleteGroups: only groups without members; their offsets and metadata get tombstones."""
        self._tick_clock(now_ms)
        fut: asyncio.Future[dict[str, GroupError]] = self._future()
        results: dict[str, GroupError] = {}
        waiting: set[str] = set()
        for group_id in group_ids:
            group = self._groups.get(group_id)
            if not group_id:
                results[group_id] = GroupError.INVALID_GROUP_ID
            elif self._consumer_group_active(group_id):
                results[group_id] = GroupError.NON_EMPTY_GROUP
            elif group is None and self.consumer_groups is not None and self.consumer_groups.owns(group_id):
                self.consumer_groups.forget(group_id)
                results[group_id] = GroupError.NONE
            elif group is None:
                results[group_id] = GroupError.GROUP_ID_NOT_FOUND
            elif not group.is_(GroupState.EMPTY) or group.members:
                results[group_id] = GroupError.NON_EMPTY_GROUP
            else:
                if self.consumer_groups is not None:
                    self.consumer_groups.forget(group_id)
                records = self._tombstones(group)
                self._remove_group(group, "deleted")
                waiting.add(group_id)
                results[group_id] = GroupError.NONE

                def done(error: GroupError, _base: int, gid: str = group_id) -> None:
                    results[gid] = error
                    waiting.discard(gid)
                    if not waiting:
                        self._resolve(fut, results)

                self._write(group_id, records, done)
        if not waiting:
            self._resolve(fut, results)
        return fut

    @staticmethod
    def _tombstones(group: Group) -> list[tuple[bytes, bytes | None]]:
        records: list[tuple[bytes, bytes | None]] = [
            (encode_offset_commit_key(group.group_id, t, p), None) for t, p in group.offsets]
        records.append((encode_group_metadata_key(group.group_id), None))
        return records

    def lag(self, group_id: str) -> list[PartitionLag]:
        """Per partition: committed offset, log end offset and lag, for committed and assigned partitions."""
        group = self._groups.get(group_id)
        if group is None:
            return []
        owners: dict[TopicPartition, str] = {}
        if group.is_(GroupState.STABLE) and group.protocol_type == "consumer":
            for m in group.members.values():
                try:
                    for tp in parse_assignment(m.assignment):
                        owners[tp] = m.member_id
                except RecordFormatError:
                    continue
        out: list[PartitionLag] = []
        for tp in sorted(set(group.offsets) | set(owners)):
            committed = group.offsets.get(tp)
            end = self._log_end_offset(*tp)
            offset = committed.offset if committed is not None else -1
            lag = max(end - offset, 0) if end is not None and committed is not None else None
            out.append(PartitionLag(tp[0], tp[1], offset, -1 if end is None else end, lag, owners.get(tp),
                                    committed.metadata if committed is not None else ""))
        return out

    # ------------------------------------------------------------------ time

    def tick(self, now_ms: int) -> None:
        """Expire sessions and pending members, complete join phases past their deadline, and (every
        ``retention_check_interval_ms``) expire the offsets of groups that stayed empty too long."""
        self._tick_clock(now_ms)
        for group in list(self._groups.values()):
            for member_id, deadline in list(group.pending_members.items()):
                if deadline <= now_ms:
                    del group.pending_members[member_id]
                    log.info("group %s: pending member %s did not rejoin; forgotten", group.group_id, member_id)
                    self._try_complete_join(group, now_ms)
            for member in list(group.members.values()):
                if member.member_id not in group.members or member.awaiting_join or member.awaiting_sync:
                    continue
                if member.deadline_ms <= now_ms:
                    log.info("group %s: member %s session expired (timeout %d ms)", group.group_id,
                             member.member_id, member.session_timeout_ms)
                    self._remove_member_and_update(group, member, now_ms, "session expired")
            self._try_complete_join(group, now_ms)
        if self._next_retention_check_ms is None:
            self._next_retention_check_ms = now_ms + self.settings.retention_check_interval_ms
        elif now_ms >= self._next_retention_check_ms:
            self._next_retention_check_ms = now_ms + self.settings.retention_check_interval_ms
            self.expire_offsets(now_ms)

    def expire_offsets(self, now_ms: int) -> int:
        """Kafka 2.1+ (KIP-211): the offsets of a group expire ``offsets.retention.minutes`` after it
        became Empty (for a group that only stores offsets: after each commit). Empty groups without
        offsets are removed. Returns the number of offsets expired."""
        self._tick_clock(now_ms)
        retention = self.settings.offsets_retention_ms
        expired_total = 0
        for group in list(self._groups.values()):
            if not group.is_(GroupState.EMPTY) or self._consumer_group_active(group.group_id):
                continue
            expired = [tp for tp, c in group.offsets.items()
                       if (c.expire_timestamp if c.expire_timestamp >= 0 else
                           max(c.commit_timestamp, group.state_since_ms) + retention) <= now_ms]
            for tp in expired:
                del group.offsets[tp]
            records: list[tuple[bytes, bytes | None]] = [
                (encode_offset_commit_key(group.group_id, t, p), None) for t, p in expired]
            if not group.offsets:
                records.append((encode_group_metadata_key(group.group_id), None))
                self._remove_group(group, "empty without offsets")
            if records:
                self._write(group.group_id, records, lambda _e, _b: None)
            if expired:
                log.info("group %s: %d offset(s) expired", group.group_id, len(expired))
            expired_total += len(expired)
        return expired_total

    # ------------------------------------------------------------------ start-up and shutdown

    def load(self, now_ms: int) -> int:
        """Rebuild groups and offsets from ``__consumer_offsets`` (start-up). Returns records applied.

        Groups with members come back Stable at their generation, each member with a fresh session
        (as when a Kafka coordinator loads a partition), so consumers carry on without rejoining."""
        self._tick_clock(now_ms)
        metadata: dict[str, GroupMetadataValue | None] = {}
        offsets: dict[str, dict[TopicPartition, CommittedOffset]] = {}
        applied = 0
        for record in self._log.replay():
            try:
                key = decode_key(record.key)
                if isinstance(key, OffsetCommitKey):
                    group_offsets = offsets.setdefault(key.group, {})
                    tp = (key.topic, key.partition)
                    if record.value is None:
                        group_offsets.pop(tp, None)
                    else:
                        v = decode_offset_commit_value(record.value)
                        group_offsets[tp] = CommittedOffset(v.offset, v.leader_epoch, v.metadata, v.commit_timestamp,
                                                            v.expire_timestamp, record.offset)
                elif isinstance(key, GroupMetadataKey):
                    metadata[key.group] = (None if record.value is None
                                           else decode_group_metadata_value(record.value))
                else:
                    continue
            except RecordFormatError as exc:
                log.warning("__consumer_offsets-%d offset %d: unreadable record skipped: %s", record.partition,
                            record.offset, exc)
                continue
            applied += 1
        for group_id in sorted(set(metadata) | set(offsets)):
            value = metadata.get(group_id)
            group_offsets = offsets.get(group_id, {})
            if value is None and not group_offsets:
                continue
            group = self._restore_group(group_id, value, now_ms)
            group.offsets = group_offsets
            self._groups[group_id] = group
        log.info("loaded %d group(s) and %d committed offset(s) from %d record(s)", len(self._groups),
                 sum(len(g.offsets) for g in self._groups.values()), applied)
        return applied

    @staticmethod
    def _restore_group(group_id: str, value: GroupMetadataValue | None, now: int) -> Group:
        group = Group(group_id, state_since_ms=now)
        if value is None:
            return group
        group.protocol_type = value.protocol_type or None
        group.generation_id = value.generation
        if value.current_state_timestamp >= 0:
            group.state_since_ms = value.current_state_timestamp
        if value.members and value.protocol is not None:
            group.protocol_name = value.protocol
            group.leader_id = value.leader
            for mv in value.members:
                group.members[mv.member_id] = Member(
                    mv.member_id, mv.group_instance_id, mv.client_id, mv.client_host, mv.session_timeout,
                    mv.rebalance_timeout, value.protocol_type, [(value.protocol, mv.subscription)],
                    assignment=mv.assignment, deadline_ms=now + mv.session_timeout)
                if mv.group_instance_id is not None:
                    group.static_members[mv.group_instance_id] = mv.member_id
            if group.leader_id not in group.members:
                group.leader_id = next(iter(group.members))
            group.state = GroupState.STABLE
            group.state_since_ms = now
        return group

    def close(self) -> None:
        """Answer every waiting JoinGroup/SyncGroup (COORDINATOR_NOT_AVAILABLE: clients find the
        coordinator again once this broker is back) so shutdown does not wait on them."""
        self._closed = True
        for group in self._groups.values():
            for m in group.members.values():
                self._resolve(m.join_future, JoinResult(GroupError.COORDINATOR_NOT_AVAILABLE, m.member_id))
                self._resolve(m.sync_future, SyncResult(GroupError.COORDINATOR_NOT_AVAILABLE))
                m.join_future = m.sync_future = None


def _with_record_offset(value: CommittedOffset, record_offset: int) -> CommittedOffset:
    return CommittedOffset(value.offset, value.leader_epoch, value.metadata, value.commit_timestamp,
                           value.expire_timestamp, record_offset)
