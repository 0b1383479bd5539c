"""One classic group (JoinGroup/SyncGroup): its state, members and generation. Its committed
offsets are in ``offsets.OffsetStore``, as for every group type.

Follows Kafka's ``GroupMetadata``/``MemberMetadata`` (``core/.../coordinator/group/`` before
KIP-848; ``ClassicGroup`` since). Invariants:

- ``generation_id`` only grows; it is bumped each time a join phase completes (also to Empty).
- In Stable and CompletingRebalance ``protocol_name`` is the protocol every member supports and
  ``leader_id`` is a member; in Empty there are no members and neither is set.
- ``static_members`` maps each ``group.instance.id`` to the one member id currently holding it.
- A member awaits at most one JoinGroup and one SyncGroup response (``join_future``,
  ``sync_future``); a future is resolved exactly once and then dropped.

State machine (Kafka's ``GroupState`` with its valid previous states)::

    Empty                <- PreparingRebalance
    PreparingRebalance   <- Stable, CompletingRebalance, Empty
    CompletingRebalance  <- PreparingRebalance
    Stable               <- CompletingRebalance
    Dead                 <- any (the group was deleted or expired; it is no longer reachable)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from logbroker.groups.assignment import CONSUMER_PROTOCOL_TYPE, parse_subscription
from logbroker.groups.schema import RecordFormatError
from logbroker.groups.state import GroupState

TopicPartition = tuple[str, int]


_VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    GroupState.EMPTY: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.PREPARING_REBALANCE: frozenset({GroupState.STABLE, GroupState.COMPLETING_REBALANCE,
                                               GroupState.EMPTY}),
    GroupState.COMPLETING_REBALANCE: frozenset({GroupState.PREPARING_REBALANCE}),
    GroupState.STABLE: frozenset({GroupState.COMPLETING_REBALANCE}),
    GroupState.DEAD: frozenset(GroupState),
}


class IllegalStateTransition(RuntimeError):
    """A coordinator bug: a transition Kafka's state machine does not allow."""


@dataclass(slots=True)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    # Set while the member waits for a JoinGroup/SyncGroup response (asyncio futures of the loop).
    join_future: asyncio.Future[Any] | None = None
    sync_future: asyncio.Future[Any] | None = None
    deadline_ms: int = 0  # session expiry: last heartbeat + session timeout

    @property
    def awaiting_join(self) -> bool:
        return self.join_future is not None and not self.join_future.done()

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_future is not None and not self.sync_future.done()

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata(self, protocol: str | None) -> bytes:
        for name, data in self.protocols:
            if name == protocol:
                return data
        return b""


@dataclass(slots=True)
class ClassicGroup:
    group_id: str
    state: GroupState = GroupState.EMPTY
    state_since_ms: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    generation_id: int = 0
    leader_id: str | None = None
    members: dict[str, Member] = field(default_factory=dict)  # in join order
    pending_members: dict[str, int] = field(default_factory=dict)  # member id -> expiry (ms), KIP-394
    static_members: dict[str, str] = field(default_factory=dict)  # group.instance.id -> member id
    join_deadline_ms: int = 0  # when the current join phase completes even if members are missing
    # While the first rebalance of an Empty group waits group.initial.rebalance.delay.ms for more
    # members: how much of the rebalance timeout is left to extend it by (Kafka's DelayedInitialJoin).
    initial_remaining_ms: int | None = None
    new_member_added: bool = False

    def transition(self, new: GroupState, now_ms: int) -> None:
        if self.state not in _VALID_PREVIOUS[new]:
            raise IllegalStateTransition(f"group {self.group_id}: {self.state.value} -> {new.value}")
        self.state = new
        self.state_since_ms = now_ms

    def is_(self, *states: GroupState) -> bool:
        return self.state in states

    # ------------------------------------------------------------------ protocols

    def candidate_protocols(self) -> set[str]:
        """Protocols every member supports."""
        names: set[str] | None = None
        for m in self.members.values():
            names = set(m.protocol_names()) if names is None else names & set(m.protocol_names())
        return names or set()

    def supports(self, protocol_type: str, protocol_names: list[str]) -> bool:
        """Kafka's ``supportsProtocols``: an empty group takes any non-empty offer; otherwise the type
        must match and at least one protocol must be supported by every member."""
        if not self.members:
            return bool(protocol_type) and bool(protocol_names)
        return protocol_type == self.protocol_type and bool(self.candidate_protocols() & set(protocol_names))

    def select_protocol(self) -> str:
        """Each member votes for its most preferred candidate; the most votes win (ties: the first
        member's preference order, so the choice is deterministic)."""
        candidates = self.candidate_protocols()
        if not candidates:
            raise IllegalStateTransition(f"group {self.group_id} has no protocol every member supports")
        votes: Counter[str] = Counter()
        for m in self.members.values():
            votes[next(p for p in m.protocol_names() if p in candidates)] += 1
        best = max(votes.values())
        first = next(iter(self.members.values()))
        return next(p for p in first.protocol_names() if p in candidates and votes[p] == best)

    # ------------------------------------------------------------------ members

    def all_joined(self) -> bool:
        return not self.pending_members and all(m.awaiting_join for m in self.members.values())

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def static_member_fenced(self, member_id: str, instance_id: str | None) -> bool:
        if instance_id is None:
            return False
        current = self.static_members.get(instance_id)
        return current is not None and current != member_id

    def subscribed_topics(self) -> set[str] | None:
        """Topics the members of a consumer group subscribe to; None when unknown (not a consumer
        group or unreadable metadata)."""
        if self.protocol_type != CONSUMER_PROTOCOL_TYPE:
            return None
        topics: set[str] = set()
        for m in self.members.values():
            try:
                topics.update(parse_subscription(m.metadata(self.protocol_name)).topics)
            except RecordFormatError:
                return None
        return topics
