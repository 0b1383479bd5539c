"""One consumer-protocol group (KIP-848): its epochs, target assignment and members. Its committed
offsets are in ``offsets.OffsetStore``, as for every group type.

The broker computes the assignment (no client leader), and each member moves towards its share of
it on its own heartbeats, incrementally: a partition leaves its old owner before it reaches its new
one. Follows Kafka's ``ConsumerGroup``, ``ConsumerGroupMember`` and ``CurrentAssignmentBuilder``
(``group-coordinator/.../consumer/``).

Invariants:

- ``group_epoch`` grows whenever what the assignment depends on changes: a member joins or is
  removed, a subscription or the chosen assignor changes, a subscribed topic appears or gains
  partitions. ``target`` is recomputed at once, so ``assignment_epoch == group_epoch`` after every
  call (Kafka may lag; its Assigning state never lasts here).
- A member's ``assigned`` and ``revoking`` are disjoint, and no partition is in the
  ``assigned | revoking`` of two members: a partition is handed to a member only when no other
  member holds it (``owners``). This is the protocol's safety property.
- ``epoch`` of a member is at most ``assignment_epoch``; ``previous_epoch`` is the epoch it had
  before its last bump (a heartbeat at that epoch is a retry after a lost response).
- ``static_members`` maps each ``instance_id`` to the member id holding it.

Member state machine (Kafka's ``MemberState``), driven by ``reconcile``::

    STABLE                 epoch == assignment_epoch and assigned == target
      | target changed
      v
    UNREVOKED_PARTITIONS   told to give up ``revoking`` (assigned shrank, epoch kept); waits until a
      |                    heartbeat's owned partitions exclude them (or the rebalance timeout fences it)
      v
    UNRELEASED_PARTITIONS  at the new epoch with every target partition that was free; the rest are
      |                    still held by members revoking them, and are added on later heartbeats
      v
    STABLE

A static member that leaves with epoch -2 keeps its partitions (``epoch`` = -2) until it rejoins
with the same instance id or its session times out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from logbroker.groups.state import GroupState

TopicPartition = tuple[str, int]

LEAVE_EPOCH = -1  # member_epoch of a member leaving for good
LEAVE_STATIC_EPOCH = -2  # member_epoch of a static member leaving for now (it will be back)


class MemberState(enum.Enum):
    STABLE = "stable"
    UNREVOKED_PARTITIONS = "unrevoked_partitions"
    UNRELEASED_PARTITIONS = "unreleased_partitions"


@dataclass(slots=True)
class ConsumerMember:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_topics: tuple[str, ...] = ()
    subscribed_regex: str | None = None
    assignor: str | None = None  # the server assignor the member asked for, if any
    rebalance_timeout_ms: int = 300_000
    session_timeout_ms: int = 45_000
    epoch: int = 0
    previous_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: frozenset[TopicPartition] = frozenset()  # what the member was told it owns
    revoking: frozenset[TopicPartition] = frozenset()  # taken away, not yet confirmed given up
    # The owned list of the heartbeat being handled; None when it did not carry one ("unchanged"),
    # which never confirms a revocation (as in Kafka: only an explicit list does).
    reported_owned: frozenset[TopicPartition] | None = None
    last_sent: frozenset[TopicPartition] | None = None  # the assignment last sent to it
    session_deadline_ms: int = 0
    revocation_deadline_ms: int | None = None
    # Whether the member's records are written to __consumer_offsets (``consumer_group_log.py``);
    # the HTTP front's members are not (their positions live in the broker's memory).
    recorded: bool = True

    def holds(self) -> frozenset[TopicPartition]:
        """Partitions this member may be consuming: its assignment and those it is revoking."""
        return self.assigned | self.revoking


@dataclass(slots=True)
class ConsumerGroup:
    group_id: str
    group_epoch: int = 0
    assignment_epoch: int = 0
    assignor_name: str = ""
    members: dict[str, ConsumerMember] = field(default_factory=dict)  # in join order
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    target: dict[str, frozenset[TopicPartition]] = field(default_factory=dict)
    # Partition count of every topic some member's subscription resolves to, as of the last assignment.
    partition_counts: dict[str, int] = field(default_factory=dict)
    # Each member's resolved topics, as of the last assignment.
    resolved: dict[str, frozenset[str]] = field(default_factory=dict)

    def owners(self, *, exclude: str | None = None) -> dict[TopicPartition, str]:
        """Partition -> the member holding it (assigned or still revoking)."""
        out: dict[TopicPartition, str] = {}
        for m in self.members.values():
            if m.member_id != exclude:
                for tp in m.holds():
                    out[tp] = m.member_id
        return out

    def state(self) -> GroupState:
        if not self.members:
            return GroupState.EMPTY
        if self.assignment_epoch < self.group_epoch:
            return GroupState.ASSIGNING
        for m in self.members.values():
            if m.epoch == LEAVE_STATIC_EPOCH:
                continue
            if m.epoch != self.assignment_epoch or m.state is not MemberState.STABLE:
                return GroupState.RECONCILING
        return GroupState.STABLE

    def remove(self, member: ConsumerMember) -> None:
        """Drop a member; what it held is free at once (it left, or is presumed dead)."""
        self.members.pop(member.member_id, None)
        self.target.pop(member.member_id, None)
        self.resolved.pop(member.member_id, None)
        if member.instance_id is not None and self.static_members.get(member.instance_id) == member.member_id:
            del self.static_members[member.instance_id]


def reconcile(group: ConsumerGroup, member: ConsumerMember, now_ms: int) -> None:
    """Move ``member`` one step towards its target (the state machine in the module docstring).

    Partitions are taken away first, with the epoch unchanged; only once the member confirms
    (``reported_owned`` no longer lists them) does it move to the group's assignment epoch and
    receive the target partitions no other member holds."""
    if member.epoch == LEAVE_STATIC_EPOCH:
        return
    if member.revoking:
        owned = member.reported_owned
        if owned is None or owned & member.revoking:
            return
        member.revoking = frozenset()
        member.revocation_deadline_ms = None
    target = group.target.get(member.member_id, frozenset())
    if member.epoch == group.assignment_epoch and member.assigned == target:
        member.state = MemberState.STABLE
        return
    to_revoke = member.assigned - target
    if to_revoke:
        member.assigned = member.assigned - to_revoke
        member.revoking = to_revoke
        member.revocation_deadline_ms = now_ms + member.rebalance_timeout_ms
        member.state = MemberState.UNREVOKED_PARTITIONS
        return
    taken = group.owners(exclude=member.member_id)
    member.assigned = member.assigned | frozenset(tp for tp in target if tp not in taken)
    if member.epoch != group.assignment_epoch:
        member.previous_epoch = member.epoch
        member.epoch = group.assignment_epoch
    member.state = MemberState.STABLE if member.assigned == target else MemberState.UNRELEASED_PARTITIONS
