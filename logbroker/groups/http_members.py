"""The HTTP front's group members: what a Kafka consumer keeps on the client side, kept here for
HTTP clients (which keep nothing), on top of the consumer-protocol groups of ``consumer.py``.

An HTTP member is a consumer-protocol member (KIP-848) whose heartbeats this module sends: every
poll, commit and heartbeat request of the member is one heartbeat reporting its held partitions as
``owned``, which is how a revocation completes (the coordinator gives a partition to its new owner
only after the old owner stopped reporting it, or was expired after its session timeout).

Invariants:

- ``positions`` holds exactly the partitions the member holds; a partition taken away is dropped
  before any further record is read for the member, and the member acknowledges at once with a
  second heartbeat.
- A newly held partition starts at the group's committed offset, else per ``auto_offset_reset``
  (also when the committed offset is outside the log), so nothing committed is skipped and only
  records after the last commit may be handed out twice (at-least-once).
- A commit is checked against the partitions the member held when the request arrived, before a
  revocation carried by the same heartbeat is applied: like a Kafka consumer committing in its
  revocation callback, the old owner can still commit what it processed, because the new owner
  cannot start before the old owner acknowledges.
- Position changes happen under the member's ``lock`` (the caller takes it), so two concurrent
  polls never hand out the same records.

Refusals raise ``MemberRefused`` with a ``HeartbeatError`` (Kafka's names); after UNKNOWN_MEMBER_ID,
GROUP_ID_NOT_FOUND or FENCED_MEMBER_EPOCH the member is forgotten here too and must join again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from logbroker.errors import StorageError
from logbroker.groups.classic_group import ClassicGroup
from logbroker.groups.coordinator import GroupCoordinator
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.offsets import OffsetCommitInput

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]

OFFSET_RESETS = ("earliest", "latest")
# A member the HTTP front has not heard from for this long (and twice its session timeout) is
# forgotten here; the coordinator expired it long before.
FORGET_AFTER_MS = 300_000

# After these the coordinator no longer knows the member at its epoch: it must join again.
_MEMBERSHIP_LOST = frozenset({HeartbeatError.UNKNOWN_MEMBER_ID, HeartbeatError.GROUP_ID_NOT_FOUND,
                              HeartbeatError.FENCED_MEMBER_EPOCH})


class MemberRefused(Exception):
    """The coordinator refused a member's request; ``error`` is Kafka's name and code for why."""

    def __init__(self, error: HeartbeatError, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


@dataclass(slots=True)
class HttpMember:
    """One HTTP group member: its membership and the partitions it holds, with a position in each."""

    group_id: str
    member_id: str
    epoch: int
    auto_offset_reset: str
    session_timeout_ms: int | None
    heartbeat_interval_ms: int
    last_seen_ms: int
    # Held partitions -> next offset to hand out; None until first needed (committed offset or reset).
    positions: dict[TopicPartition, int | None] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    rotation: int = 0  # which held partition is read first, so one busy partition cannot starve the rest


@dataclass(frozen=True, slots=True)
class Subscription:
    topics: list[str] | None  # exactly one of topics and pattern is set
    pattern: str | None
    session_timeout_ms: int | None = None
    rebalance_timeout_ms: int | None = None
    assignor: str | None = None
    instance_id: str | None = None
    client_id: str = ""
    auto_offset_reset: str = "latest"


class HttpMembers:
    """Every HTTP group member, by (group, member id). Not thread-safe: call it from the event loop."""

    def __init__(self, coordinator: GroupCoordinator,
                 log_bounds: Callable[[str, int], tuple[int, int]]) -> None:
        """``log_bounds(topic, partition)`` is the partition's (log start, log end); it raises
        StorageError when the partition does not exist."""
        self.coordinator = coordinator
        self._log_bounds = log_bounds
        self._members: dict[tuple[str, str], HttpMember] = {}

    def get(self, group_id: str, member_id: str) -> HttpMember | None:
        return self._members.get((group_id, member_id))

    def __len__(self) -> int:
        return len(self._members)

    def _remove(self, member: HttpMember) -> None:
        if self._members.get((member.group_id, member.member_id)) is member:
            del self._members[(member.group_id, member.member_id)]

    def forget_idle(self, now_ms: int) -> None:
        for key, m in list(self._members.items()):
            if now_ms - m.last_seen_ms > max(FORGET_AFTER_MS, 2 * (m.session_timeout_ms or 0)):
                log.info("group %s: forgetting HTTP member %s, idle for %d ms", m.group_id, m.member_id,
                         now_ms - m.last_seen_ms)
                del self._members[key]

    # ------------------------------------------------------------------ membership

    def join(self, group_id: str, sub: Subscription, client_host: str, now_ms: int) -> HttpMember:
        classic = self.coordinator.group(group_id)
        if isinstance(classic, ClassicGroup) and classic.members:
            raise MemberRefused(HeartbeatError.INCONSISTENT_GROUP_PROTOCOL,
                                f"group {group_id!r} has members of the classic Kafka group protocol")
        self.forget_idle(now_ms)
        result = self.coordinator.consumer_heartbeat(
            group_id, "", 0, now_ms=now_ms, subscribed_topics=sub.topics, subscribed_regex=sub.pattern, owned=[],
            assignor=sub.assignor, instance_id=sub.instance_id, rebalance_timeout_ms=sub.rebalance_timeout_ms or -1,
            session_timeout_ms=sub.session_timeout_ms, client_id=sub.client_id, client_host=client_host,
            recorded=False)  # its positions live here, in memory: it cannot outlive this broker
        if result.error:
            raise MemberRefused(HeartbeatError(result.error), result.message or HeartbeatError(result.error).name)
        member = HttpMember(group_id, result.member_id, result.member_epoch, sub.auto_offset_reset,
                            sub.session_timeout_ms, result.heartbeat_interval_ms, now_ms)
        self._members[(group_id, member.member_id)] = member
        if result.assignment is not None:
            self.apply_assignment(member, result.assignment)
        log.info("group %s: HTTP member %s joined (epoch %d, %s) from %s", group_id, member.member_id, member.epoch,
                 f"topics {', '.join(sub.topics)}" if sub.topics is not None else f"pattern {sub.pattern!r}",
                 client_host)
        return member

    def leave(self, member: HttpMember, now_ms: int) -> None:
        self.coordinator.consumer_leave(member.group_id, member.member_id, now_ms)
        member.positions.clear()
        self._remove(member)
        log.info("group %s: HTTP member %s left", member.group_id, member.member_id)

    def beat(self, member: HttpMember, now: Callable[[], int], *,
             apply: bool = True) -> Sequence[tuple[str, int]] | None:
        """One heartbeat for ``member`` reporting its held partitions as owned.

        With ``apply`` the answered assignment becomes the member's (and a revocation is acknowledged
        at once with a second heartbeat); without, the assignment is returned for the caller to
        apply. Raises MemberRefused; a member the coordinator no longer knows is forgotten here too.
        """
        for _ in range(3):  # the heartbeat, and at most two acknowledgements of revocations
            now_ms = now()
            # The session timeout goes with every heartbeat: the coordinator takes its default otherwise.
            result = self.coordinator.consumer_heartbeat(
                member.group_id, member.member_id, member.epoch, now_ms=now_ms, owned=sorted(member.positions),
                session_timeout_ms=member.session_timeout_ms)
            member.last_seen_ms = now_ms
            if result.error:
                error = HeartbeatError(result.error)
                if error in _MEMBERSHIP_LOST:
                    self._remove(member)
                    log.info("group %s: HTTP member %s lost its membership (%s): %s", member.group_id,
                             member.member_id, error.name, result.message or "")
                raise MemberRefused(error, result.message or error.name)
            member.epoch = result.member_epoch
            if result.heartbeat_interval_ms > 0:
                member.heartbeat_interval_ms = result.heartbeat_interval_ms
            if result.assignment is None:
                return None
            if not apply:
                return result.assignment
            if not self.apply_assignment(member, result.assignment):
                return None
        return None

    @staticmethod
    def apply_assignment(member: HttpMember, assignment: Sequence[tuple[str, int]]) -> bool:
        """Make ``assignment`` the member's held partitions; True if any partition was taken away."""
        new = {(str(t), int(p)) for t, p in assignment}
        revoked = [tp for tp in member.positions if tp not in new]
        for tp in revoked:
            del member.positions[tp]
        for tp in sorted(new):
            member.positions.setdefault(tp, None)
        if revoked:
            log.info("group %s member %s epoch %d: revoked %s", member.group_id, member.member_id, member.epoch,
                     ", ".join(f"{t}-{p}" for t, p in sorted(revoked)))
        return bool(revoked)

    # ------------------------------------------------------------------ positions

    def position(self, member: HttpMember, tp: TopicPartition) -> int | None:
        """The member's position in a held partition, starting it at the committed offset (else per
        auto_offset_reset) when the partition is new to the member. None: the partition cannot be read."""
        position = member.positions.get(tp)
        if position is not None:
            return position
        try:
            start, end = self._log_bounds(*tp)
        except StorageError:
            return None
        committed = self.coordinator.fetch_offsets(member.group_id, [tp]).get(tp)
        if committed is not None and start <= committed.offset <= end:
            position = committed.offset
        else:
            position = start if member.auto_offset_reset == "earliest" else end
            if committed is not None:
                log.info("group %s member %s: committed offset %d of %s-%d is outside the log [%d, %d]; "
                         "starting at the %s offset %d", member.group_id, member.member_id, committed.offset,
                         tp[0], tp[1], start, end, member.auto_offset_reset, position)
        member.positions[tp] = position
        return position

    def reset(self, member: HttpMember, tp: TopicPartition) -> int | None:
        """Move the member's position per auto_offset_reset (its position fell outside the log)."""
        try:
            start, end = self._log_bounds(*tp)
        except StorageError:
            return None
        position = start if member.auto_offset_reset == "earliest" else end
        member.positions[tp] = position
        log.info("group %s member %s: position of %s-%d is outside the log; now at the %s offset %d",
                 member.group_id, member.member_id, tp[0], tp[1], member.auto_offset_reset, position)
        return position

    def positions(self, member: HttpMember) -> list[tuple[TopicPartition, int]]:
        out = []
        for tp in sorted(member.positions):
            position = self.position(member, tp)
            if position is not None:
                out.append((tp, position))
        return out

    @staticmethod
    def advance(member: HttpMember, advanced: Mapping[TopicPartition, int]) -> None:
        """Records up to these offsets were handed out; partitions revoked meanwhile stay dropped."""
        for tp, offset in advanced.items():
            if tp in member.positions:
                member.positions[tp] = offset

    # ------------------------------------------------------------------ commits

    def commit(self, member: HttpMember, offsets: dict[TopicPartition, OffsetCommitInput] | None,
               epoch: int | None, now: Callable[[], int]
               ) -> tuple[dict[TopicPartition, OffsetCommitInput], asyncio.Future[dict[TopicPartition, GroupError]]
                          | None]:
        """Start a commit of ``offsets`` (None: the member's positions) for the member, as of the
        partitions it holds now; returns what is committed and the future of its result (None when
        there is nothing to commit). Call with the member's lock."""
        if epoch is not None and epoch != member.epoch:
            raise MemberRefused(HeartbeatError.STALE_MEMBER_EPOCH,
                                f"member_epoch {epoch} is not the member's current epoch {member.epoch}; "
                                f"poll and commit again")
        # The heartbeat proves the member is still in the group at its epoch. Its partitions are checked
        # as they were before any revocation it brings: the coordinator does not give them away before
        # the next heartbeat acknowledges.
        assignment = self.beat(member, now, apply=False)
        if offsets is None:
            offsets = {tp: OffsetCommitInput(pos) for tp, pos in sorted(member.positions.items()) if pos is not None}
        foreign = sorted(tp for tp in offsets if tp not in member.positions)
        if foreign:
            if assignment is not None:
                self.apply_assignment(member, assignment)
            raise MemberRefused(HeartbeatError.FENCED_MEMBER_EPOCH,
                                f"member {member.member_id!r} of group {member.group_id!r} does not hold "
                                f"{', '.join(f'{t}-{p}' for t, p in foreign)}; nothing was committed")
        # The member epoch is the commit's generation (KIP-848).
        waiting = (self.coordinator.commit_offsets(member.group_id, member.epoch, member.member_id, offsets, now())
                   if offsets else None)
        if assignment is not None and self.apply_assignment(member, assignment):
            self.beat(member, now)
        return offsets, waiting
