"""Classic groups: membership and the rebalance state machine of JoinGroup/SyncGroup/Heartbeat/
LeaveGroup, as Kafka's ``GroupCoordinator`` does it before KIP-848 (``ClassicGroup`` since).

``ClassicGroups`` works on the coordinator's one group map (``coordinator.GroupCoordinator``),
where consumer-protocol groups live too: a group id is one group or the other. The code is
synchronous and single-threaded (the event loop's): each method takes ``now_ms`` (no clock is read
here) and either answers at once or returns an asyncio future that a later call resolves -- a
JoinGroup waits until the join phase completes, a SyncGroup until the leader's assignment is
stored. ``tick(now_ms)``, called periodically through the coordinator (and by tests with a fake
clock), expires sessions and completes join phases whose deadline passed. Committed offsets are
``offsets.py``'s; ``check_committer`` decides who may commit to a classic group.

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
- A static member rejoining with an unknown member id (a restarted process with the same
  ``group.instance.id``) replaces the old member id and gets its current assignment back; the group
  does not rebalance unless its protocol metadata changed (KIP-345).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from logbroker.groups.assignment import CONSUMER_PROTOCOL_TYPE, parse_assignment
from logbroker.groups.classic_group import ClassicGroup, Member
from logbroker.groups.consumer_group import ConsumerGroup
from logbroker.groups.description import GroupDescription, MemberDescription
from logbroker.groups.errors import GroupError
from logbroker.groups.record_writer import RecordWriter, resolve
from logbroker.groups.schema import (
    GroupMetadataValue,
    MemberMetadataValue,
    RecordFormatError,
    encode_group_metadata_key,
    encode_group_metadata_value,
)
from logbroker.groups.settings import CoordinatorSettings
from logbroker.groups.share_group import ShareGroup
from logbroker.groups.state import CLASSIC, GroupState

log = logging.getLogger(__name__)

Group = ClassicGroup | ConsumerGroup | ShareGroup  # the one group map holds share groups too



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


class ClassicGroups:
    """The classic groups of the coordinator's group map. Not thread-safe: call it from the event loop."""

    def __init__(self, groups: dict[str, Group], settings: CoordinatorSettings, writer: RecordWriter) -> None:
        self._groups = groups  # the coordinator's map, shared with the consumer-protocol groups
        self.settings = settings
        self._writer = writer
        self._now = 0

    def _future(self) -> asyncio.Future[Any]:
        return self._writer.future()

    def advance_clock(self, now_ms: int) -> None:
        self._now = now_ms

    def group(self, group_id: str) -> ClassicGroup | None:
        group = self._groups.get(group_id)
        return group if isinstance(group, ClassicGroup) else None

    def new_group(self, group_id: str, now_ms: int) -> ClassicGroup:
        group = ClassicGroup(group_id, state_since_ms=now_ms)
        self._groups[group_id] = group
        log.info("group %s created", group_id)
        return group

    def remove_group(self, group: ClassicGroup, reason: str) -> None:
        group.transition(GroupState.DEAD, self._now)
        if self._groups.get(group.group_id) is group:
            del self._groups[group.group_id]
        log.info("group %s removed (%s)", group.group_id, reason)

    # ------------------------------------------------------------------ writes to __consumer_offsets

    def _metadata_record(self, group: ClassicGroup,
                         assignments: Mapping[str, bytes] | None = None) -> tuple[bytes, bytes]:
        members = tuple(
            MemberMetadataValue(m.member_id, m.group_instance_id, m.client_id, m.client_host, m.rebalance_timeout_ms,
                                m.session_timeout_ms, m.metadata(group.protocol_name),
                                assignments.get(m.member_id, b"") if assignments is not None else m.assignment)
            for m in group.members.values()
        )
        value = GroupMetadataValue(group.protocol_type or "", group.generation_id, group.protocol_name,
                                   group.leader_id, group.state_since_ms, members)
        return encode_group_metadata_key(group.group_id), encode_group_metadata_value(value)

    def _store_group(self, group: ClassicGroup, assignments: Mapping[str, bytes] | None = None,
                     on_done: Callable[[GroupError], None] | None = None) -> None:
        def done(error: GroupError, _base: int) -> None:
            if not error.ok:
                log.warning("group %s generation %d: storing group metadata failed: %s", group.group_id,
                            group.generation_id, error.name)
            if on_done is not None:
                on_done(error)

        self._writer.write(group.group_id, [self._metadata_record(group, assignments)], self._now, done)

    # ------------------------------------------------------------------ JoinGroup

    def join_group(self, req: JoinRequest, now_ms: int) -> asyncio.Future[JoinResult]:
        self.advance_clock(now_ms)
        fut: asyncio.Future[JoinResult] = self._future()
        error = self._validate_join(req)
        existing = self._groups.get(req.group_id)
        if error is None and isinstance(existing, ConsumerGroup) and existing.members:
            error = GroupError.INCONSISTENT_GROUP_PROTOCOL
        if error is not None:
            fut.set_result(JoinResult(error, req.member_id))
            return fut
        if isinstance(existing, ConsumerGroup):
            # An empty consumer-protocol group becomes a classic one (its offsets stay).
            del self._groups[req.group_id]
            log.info("group %s: empty consumer group converted to a classic group", req.group_id)
        group = self.group(req.group_id)
        if group is None:
            if req.member_id:
                fut.set_result(JoinResult(GroupError.UNKNOWN_MEMBER_ID, req.member_id))
                return fut
            if not req.protocol_type or not req.protocols:
                fut.set_result(JoinResult(GroupError.INCONSISTENT_GROUP_PROTOCOL, req.member_id))
                return fut
            group = self.new_group(req.group_id, now_ms)
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

    def _join_new_member(self, group: ClassicGroup, req: JoinRequest, fut: asyncio.Future[JoinResult],
                         now: int) -> None:
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

    def _join_known_member(self, group: ClassicGroup, req: JoinRequest, fut: asyncio.Future[JoinResult],
                           now: int) -> None:
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

    def _join_result(self, group: ClassicGroup, member: Member, *, with_members: bool,
                     skip_assignment: bool = False) -> JoinResult:
        members: tuple[JoinedMember, ...] = ()
        if with_members:
            members = tuple(JoinedMember(m.member_id, m.group_instance_id, m.metadata(group.protocol_name))
                            for m in group.members.values())
        return JoinResult(GroupError.NONE, member.member_id, group.generation_id, group.protocol_type,
                          group.protocol_name, group.leader_id or "", members, skip_assignment)

    def _add_member_and_rebalance(self, group: ClassicGroup, member_id: str, req: JoinRequest,
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

    def _update_member_and_rebalance(self, group: ClassicGroup, member: Member, req: JoinRequest,
                                     fut: asyncio.Future[JoinResult], now: int) -> None:
        member.protocols = [(n, bytes(m)) for n, m in req.protocols]
        member.session_timeout_ms = req.session_timeout_ms
        member.rebalance_timeout_ms = (req.rebalance_timeout_ms if req.rebalance_timeout_ms > 0
                                       else req.session_timeout_ms)
        member.client_id, member.client_host = req.client_id, req.client_host
        member.deadline_ms = now + member.session_timeout_ms
        resolve(member.join_future, JoinResult(GroupError.REBALANCE_IN_PROGRESS, member.member_id))
        member.join_future = fut
        self._maybe_prepare_rebalance(group, now, f"member {member.member_id} rejoined")

    def _replace_static_member(self, group: ClassicGroup, old: Member, new_id: str, req: JoinRequest,
                               fut: asyncio.Future[JoinResult], now: int) -> None:
        """A static member restarted (same group.instance.id, no member id): the new member takes the
        old one's place and assignment; the old id is fenced (KIP-345).

        In a Stable group whose selected protocol stays the same and whose member came back with the
        same protocol metadata, nothing rebalances (Kafka's rule): the new member id is persisted and
        the JoinGroup answered with the current generation, after which SyncGroup hands back the
        current assignment. A returning leader gets the member list with skip_assignment (JoinGroup
        v9+, KIP-814), or, from an older client, the old leader id as leader, so it does not compute
        an assignment the Stable group would never distribute."""
        instance_id = req.group_instance_id
        assert instance_id is not None
        resolve(old.join_future, JoinResult(GroupError.FENCED_INSTANCE_ID, old.member_id))
        resolve(old.sync_future, SyncResult(GroupError.FENCED_INSTANCE_ID))
        rebalance_timeout = req.rebalance_timeout_ms if req.rebalance_timeout_ms > 0 else req.session_timeout_ms
        protocols = [(n, bytes(m)) for n, m in req.protocols]
        same_metadata = list(old.protocols) == protocols
        new = Member(new_id, instance_id, req.client_id, req.client_host, req.session_timeout_ms, rebalance_timeout,
                     req.protocol_type, protocols, assignment=old.assignment,
                     deadline_ms=now + req.session_timeout_ms)
        group.members = {(new_id if mid == old.member_id else mid): (new if mid == old.member_id else m)
                         for mid, m in group.members.items()}
        group.static_members[instance_id] = new_id
        was_leader = group.leader_id == old.member_id
        if was_leader:
            group.leader_id = new_id
        log.info("group %s: static member %s replaced %s (instance %s)", group.group_id, new_id, old.member_id,
                 instance_id)
        if group.is_(GroupState.STABLE) and same_metadata and group.select_protocol() == group.protocol_name:
            # The assignment does not change: no rebalance, just persist the new member id.
            generation = group.generation_id
            skip = was_leader and req.supports_skip_assignment

            def stored(error: GroupError) -> None:
                if not error.ok:
                    resolve(fut, JoinResult(error, new_id))
                    return
                if group.generation_id == generation and new_id in group.members:
                    result = self._join_result(group, new, with_members=skip, skip_assignment=skip)
                    if was_leader and not skip:
                        result = dataclasses.replace(result, leader_id=old.member_id)
                    resolve(fut, result)
                else:
                    resolve(fut, JoinResult(GroupError.REBALANCE_IN_PROGRESS, new_id))

            log.info("group %s: static member %s keeps its assignment of generation %d; no rebalance",
                     group.group_id, instance_id, generation)
            self._store_group(group, on_done=stored)
            return
        new.join_future = fut
        self._maybe_prepare_rebalance(group, now, f"static member {instance_id} rejoined")

    # ------------------------------------------------------------------ rebalance

    def _maybe_prepare_rebalance(self, group: ClassicGroup, now: int, reason: str) -> None:
        if group.is_(GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY):
            self._prepare_rebalance(group, now, reason)
        elif group.is_(GroupState.PREPARING_REBALANCE):
            self._try_complete_join(group, now)

    def _prepare_rebalance(self, group: ClassicGroup, now: int, reason: str) -> None:
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

    def _reset_assignment(self, group: ClassicGroup, error: GroupError) -> None:
        for m in group.members.values():
            m.assignment = b""
            resolve(m.sync_future, SyncResult(error))
            m.sync_future = None

    def _try_complete_join(self, group: ClassicGroup, now: int) -> None:
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

    def _complete_join(self, group: ClassicGroup, now: int) -> None:
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
            resolve(fut, self._join_result(group, m, with_members=m.member_id == group.leader_id))

    def _drop_member(self, group: ClassicGroup, member: Member, error: GroupError) -> None:
        """Remove a member without touching the group's state; its waiting requests get ``error``."""
        group.members.pop(member.member_id, None)
        if member.group_instance_id is not None and group.static_members.get(member.group_instance_id) == \
                member.member_id:
            del group.static_members[member.group_instance_id]
        resolve(member.join_future, JoinResult(error, member.member_id))
        resolve(member.sync_future, SyncResult(error))
        member.join_future = member.sync_future = None
        if group.leader_id == member.member_id:
            group.leader_id = next(iter(group.members), None)

    def _remove_member_and_update(self, group: ClassicGroup, member: Member, now: int, reason: str) -> None:
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
        self.advance_clock(now_ms)
        fut: asyncio.Future[SyncResult] = self._future()
        group = self.group(group_id)
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
        resolve(member.sync_future, SyncResult(GroupError.REBALANCE_IN_PROGRESS))
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
                        resolve(m.sync_future, SyncResult(GroupError.NONE, m.assignment, group.protocol_type,
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
        self.advance_clock(now_ms)
        if not group_id:
            return GroupError.INVALID_GROUP_ID
        group = self.group(group_id)
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
        self.advance_clock(now_ms)
        if not group_id:
            return GroupError.INVALID_GROUP_ID, [GroupError.INVALID_GROUP_ID] * len(members)
        group = self.group(group_id)
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

    def check_committer(self, group_id: str, generation_id: int, member_id: str, instance_id: str | None,
                        now: int) -> GroupError:
        """Whether an OffsetCommit may go to this classic group (or to a new offsets-only group)."""
        group = self.group(group_id)
        if group is None:
            if generation_id < 0:
                self.new_group(group_id, now)  # a group that only stores offsets (manual assignment)
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

    # ------------------------------------------------------------------ admin

    @staticmethod
    def describe(group: ClassicGroup) -> GroupDescription:
        """Member metadata, assignments and the protocol are shown only while Stable, as Kafka does."""
        stable = group.is_(GroupState.STABLE)
        consumer = group.protocol_type == CONSUMER_PROTOCOL_TYPE
        members = []
        for m in group.members.values():
            partitions: tuple[tuple[str, int], ...] = ()
            if stable and consumer and m.assignment:
                try:
                    partitions = tuple(parse_assignment(m.assignment))
                except RecordFormatError:
                    partitions = ()
            members.append(MemberDescription(
                m.member_id, m.group_instance_id, m.client_id, m.client_host, partitions,
                metadata=m.metadata(group.protocol_name) if stable else b"",
                assignment=m.assignment if stable else b""))
        return GroupDescription(group.group_id, CLASSIC, group.state.value, group.protocol_type or "",
                                (group.protocol_name or "") if stable else "", group.generation_id, tuple(members))

    # ------------------------------------------------------------------ time

    def tick(self, now_ms: int) -> None:
        """Expire sessions and pending members, complete join phases past their deadline."""
        self.advance_clock(now_ms)
        for group in [g for g in self._groups.values() if isinstance(g, ClassicGroup)]:
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

    # ------------------------------------------------------------------ start-up and shutdown

    @staticmethod
    def restore_group(group_id: str, value: GroupMetadataValue | None, now: int) -> ClassicGroup:
        """A group as its last metadata record in ``__consumer_offsets`` left it (start-up). Groups with
        members come back Stable at their generation, each member with a fresh session (as when a
        Kafka coordinator loads a partition), so consumers carry on without rejoining."""
        group = ClassicGroup(group_id, state_since_ms=now)
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

    def release(self, group: ClassicGroup) -> None:
        """Another broker coordinates the group now: answer its waiting members NOT_COORDINATOR."""
        for m in group.members.values():
            resolve(m.join_future, JoinResult(GroupError.NOT_COORDINATOR, m.member_id))
            resolve(m.sync_future, SyncResult(GroupError.NOT_COORDINATOR))
            m.join_future = m.sync_future = None
        group.transition(GroupState.DEAD, self._now)

    def close(self) -> None:
        """Answer every waiting JoinGroup/SyncGroup (COORDINATOR_NOT_AVAILABLE: clients find the
        coordinator again once this broker is back) so shutdown does not wait on them."""
        for group in [g for g in self._groups.values() if isinstance(g, ClassicGroup)]:
            for m in group.members.values():
                resolve(m.join_future, JoinResult(GroupError.COORDINATOR_NOT_AVAILABLE, m.member_id))
                resolve(m.sync_future, SyncResult(GroupError.COORDINATOR_NOT_AVAILABLE))
                m.join_future = m.sync_future = None

