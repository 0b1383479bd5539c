"""Consumer-protocol groups: groups whose partitions the broker assigns (KIP-848), for Kafka's
ConsumerGroupHeartbeat and for the HTTP front's consumer groups (``http_members.py``).

``ConsumerGroups`` works on the coordinator's one group map (``coordinator.GroupCoordinator``),
where classic groups live too: a group id is one group or the other (an empty group of either kind
becomes the other kind when a member of the other protocol arrives, as in Kafka).

Synchronous and single-threaded like the classic protocol: every call takes ``now_ms`` and
answers at once (no futures: a heartbeat never waits, the member just comes back). ``tick(now_ms)``,
called periodically by the application, expires sessions and fences members that did not give
partitions back within their rebalance timeout.

One heartbeat, in order (Kafka's ``GroupMetadataManager.consumerGroupHeartbeat``):

1. Validate: group id; assignor name; a classic group with members holds the id (GROUP_ID_NOT_FOUND).
2. ``member_epoch`` -1 removes the member (-2: a static member leaves for now, keeping its
   partitions); 0 joins (a new member, a static member taking its instance id back, or a known
   member starting over after being fenced); > 0 must match the member's epoch, or be its previous
   epoch with owned partitions it was given (a retry after a lost response), else
   FENCED_MEMBER_EPOCH; an unknown member id is UNKNOWN_MEMBER_ID.
3. Refresh the session, apply changed subscription fields, and re-resolve every member's
   subscription against the current topics: any change bumps the group epoch and recomputes the
   target assignment (so topics created or grown later are picked up on the next heartbeat or tick).
4. ``group.reconcile`` moves the member one step (revoke first, then assign what is free).
5. The response carries the member's epoch, and its assignment when it changed since last sent (or
   the member joined, sent a full request, or retried at its previous epoch).

Regex subscriptions: Kafka evaluates ``subscribed_topic_regex`` with RE2/J; this broker uses
Python's ``re`` with ``fullmatch`` (the whole topic name must match, as in Kafka), and internal topics
(names starting with ``__``) never match.

Committed offsets of these groups are in ``offsets.OffsetStore`` like every group's; a commit
carries the member epoch as its generation (``validate_commit``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from logbroker.groups.assignors import ASSIGNORS, MemberSubscription
from logbroker.groups.classic_group import ClassicGroup
from logbroker.groups.consumer_group import (
    LEAVE_EPOCH,
    LEAVE_STATIC_EPOCH,
    ConsumerGroup,
    ConsumerMember,
    MemberState,
    TopicPartition,
    reconcile,
)
from logbroker.groups.description import GroupDescription, MemberDescription
from logbroker.groups.errors import GroupError, HeartbeatError
from logbroker.groups.group_configs import CONSUMER_HEARTBEAT_INTERVAL, CONSUMER_SESSION_TIMEOUT, config_int
from logbroker.groups.settings import ConsumerGroupSettings
from logbroker.groups.share_group import ShareGroup
from logbroker.groups.state import CONSUMER

log = logging.getLogger(__name__)

DEFAULT_REBALANCE_TIMEOUT_MS = 300_000  # a consumer's max.poll.interval.ms default


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    member_id: str
    member_epoch: int
    heartbeat_interval_ms: int
    assignment: list[TopicPartition] | None  # None: unchanged since the last one sent
    error: int = HeartbeatError.NONE  # a HeartbeatError (Kafka's error code)
    message: str | None = None


Group = ClassicGroup | ConsumerGroup | ShareGroup  # the one group map holds share groups too


class ConsumerGroups:
    """The consumer-protocol groups of the coordinator's group map. Not thread-safe: call it from the
    event loop."""

    def __init__(self, groups: dict[str, Group], topics: Callable[[], Mapping[str, int]],
                 settings: ConsumerGroupSettings | None = None) -> None:
        """``groups`` is the coordinator's map (shared with classic groups); ``topics`` returns every
        topic's partition count."""
        self._groups = groups
        self._topics = topics
        self.settings = settings or ConsumerGroupSettings()
        # A group's own configs (``group_configs.py``), set by the coordinator: a group's
        # consumer.session.timeout.ms and consumer.heartbeat.interval.ms replace the settings' values.
        self.configs_of: Callable[[str], Mapping[str, str]] = lambda group_id: {}
        self._patterns: dict[str, re.Pattern[str]] = {}

    # ------------------------------------------------------------------ queries

    def group(self, group_id: str) -> ConsumerGroup | None:
        """The live group (tests and tools; do not mutate)."""
        group = self._groups.get(group_id)
        return group if isinstance(group, ConsumerGroup) else None

    def describe(self, group_id: str) -> GroupDescription | None:
        group = self.group(group_id)
        return self.describe_group(group) if group is not None else None

    def describe_group(self, group: ConsumerGroup) -> GroupDescription:
        members = tuple(
            MemberDescription(m.member_id, m.instance_id, m.client_id, m.client_host, tuple(sorted(m.holds())),
                              tuple(sorted(group.target.get(m.member_id, frozenset()))), member_epoch=m.epoch,
                              rack_id=m.rack_id, subscribed_topics=m.subscribed_topics,
                              subscribed_regex=m.subscribed_regex, member_state=m.state.value)
            for m in group.members.values())
        return GroupDescription(group.group_id, CONSUMER, group.state().value, CONSUMER,
                                group.assignor_name or self.settings.assignors[0], group.group_epoch, members,
                                group.assignment_epoch)

    def subscribed_topics(self, group_id: str) -> set[str] | None:
        """Topics the group's members subscribe to (resolved); None when the group has no members."""
        group = self.group(group_id)
        if group is None or not group.members:
            return None
        return set().union(*group.resolved.values()) if group.resolved else set()

    def validate_commit(self, group: ConsumerGroup, member_id: str, member_epoch: int) -> GroupError:
        """OffsetCommit to a consumer group (Kafka's ``ConsumerGroup.validateOffsetCommit``): the member
        must exist and the epoch be its current one (or the one before, for a commit still in flight
        when the epoch moved). Epoch < 0 without a member id is a commit from outside the group
        protocol (an admin tool, a consumer assigning itself partitions): allowed only while the
        group has no members, as in Kafka."""
        if member_epoch < 0 and not group.members:
            return GroupError.NONE
        member = group.members.get(member_id)
        if member is None:
            return GroupError.UNKNOWN_MEMBER_ID
        if member_epoch != member.epoch and member_epoch != member.previous_epoch:
            return GroupError.STALE_MEMBER_EPOCH
        return GroupError.NONE

    def session_timeout_of(self, group_id: str) -> int:
        """The session timeout of the group's Kafka members: its own config, else the broker's."""
        return config_int(self.configs_of(group_id), CONSUMER_SESSION_TIMEOUT, self.settings.session_timeout_ms,
                          group_id)

    def restore_group(self, group: ConsumerGroup, now_ms: int) -> None:
        """Put a group read back from ``__consumer_offsets`` in the map, as it was: its members'
        subscriptions resolved against the topics as they are now, without a new epoch, unless the
        recorded target leaves a subscribed partition to nobody (a topic grew meanwhile, or its owner
        was a member not recorded) or is not of the group's epoch: then the target is computed again,
        at a new epoch."""
        topics = self._topics()
        group.resolved = {m.member_id: self._resolve(m, topics) for m in group.members.values()}
        group.partition_counts = {t: topics[t] for t in set().union(*group.resolved.values())} \
            if group.resolved else {}
        group.assignor_name = self._group_assignor(group)
        self._groups[group.group_id] = group
        wanted = {(t, p) for t, count in group.partition_counts.items() for p in range(count)}
        targeted: set[TopicPartition] = set().union(*group.target.values()) if group.target else set()
        if group.members and (not wanted <= targeted or group.assignment_epoch != group.group_epoch):
            self._refresh(group, now_ms, [f"{len(wanted - targeted)} partition(s) without an owner after the load"])

    # ------------------------------------------------------------------ heartbeat

    def heartbeat(self, group_id: str, member_id: str, member_epoch: int, *, now_ms: int,
                  subscribed_topics: list[str] | None = None, subscribed_regex: str | None = None,
                  owned: list[tuple[str, int]] | None = None, assignor: str | None = None,
                  instance_id: str | None = None, rebalance_timeout_ms: int = -1,
                  session_timeout_ms: int | None = None, client_id: str = "",
                  client_host: str = "", rack_id: str | None = None, recorded: bool = True) -> HeartbeatResult:
        """One ConsumerGroupHeartbeat (see the module docstring). ``member_id`` "" with epoch 0 joins
        with a generated id; any other id with epoch 0 joins under that id (KIP-1082 clients make
        their own). ``owned`` None and the subscription fields None mean "unchanged". ``recorded``
        False: a member joining now is not written to ``__consumer_offsets`` (the HTTP front's)."""
        own = self.configs_of(group_id) if group_id else {}
        interval = config_int(own, CONSUMER_HEARTBEAT_INTERVAL, self.settings.heartbeat_interval_ms, group_id)

        def fail(error: HeartbeatError, message: str, epoch: int = member_epoch) -> HeartbeatResult:
            return HeartbeatResult(member_id, epoch, interval, None, error, message)

        if not group_id:
            return fail(HeartbeatError.INVALID_GROUP_ID, "the group id is empty")
        if assignor is not None and assignor not in self.settings.assignors:
            return fail(HeartbeatError.UNSUPPORTED_ASSIGNOR,
                        f"assignor {assignor!r} is not one of {', '.join(self.settings.assignors)}")
        if subscribed_regex is not None:
            try:
                self._pattern(subscribed_regex)
            except re.error as exc:
                return fail(HeartbeatError.INVALID_REGULAR_EXPRESSION, f"invalid subscribed topic regex: {exc}")
        if member_epoch == LEAVE_STATIC_EPOCH and instance_id is None:
            group = self.group(group_id)
            member = group.members.get(member_id) if group is not None else None
            instance_id = member.instance_id if member is not None else None
            if instance_id is None:
                return fail(HeartbeatError.INVALID_REQUEST, "member epoch -2 is only for static members")
        if member_epoch < LEAVE_STATIC_EPOCH:
            return fail(HeartbeatError.INVALID_REQUEST, f"invalid member epoch {member_epoch}")
        owned_set = frozenset(owned) if owned is not None else None

        if member_epoch in (LEAVE_EPOCH, LEAVE_STATIC_EPOCH):
            return self._leave(group_id, member_id, member_epoch, interval, now_ms)

        group = self.group(group_id)
        if group is None:
            if member_epoch != 0:
                return fail(HeartbeatError.UNKNOWN_MEMBER_ID if member_id else HeartbeatError.GROUP_ID_NOT_FOUND,
                            f"group {group_id} has no member {member_id}")
            classic = self._groups.get(group_id)
            if isinstance(classic, ClassicGroup) and (classic.members or classic.pending_members):
                return fail(HeartbeatError.GROUP_ID_NOT_FOUND, f"group {group_id} is not a consumer group")
            group = ConsumerGroup(group_id)
            self._groups[group_id] = group  # an empty classic group becomes a consumer group (its offsets stay)
            log.info("consumer group %s created", group_id)

        send_assignment = False
        bump_reasons: list[str] = []
        if member_epoch == 0:
            joined = self._join(group, member_id, instance_id, owned_set, now_ms, interval, recorded)
            if isinstance(joined, HeartbeatResult):
                return joined
            member, is_new = joined
            if is_new:
                bump_reasons.append(f"member {member.member_id} joined")
            send_assignment = True
        else:
            found = group.members.get(member_id)
            if found is None:
                return fail(HeartbeatError.UNKNOWN_MEMBER_ID, f"group {group_id} has no member {member_id}")
            member = found
            if member.epoch == LEAVE_STATIC_EPOCH:
                return fail(HeartbeatError.FENCED_MEMBER_EPOCH, "the static member left; rejoin with epoch 0")
            if member_epoch > member.epoch or (member_epoch < member.epoch and (
                    member_epoch != member.previous_epoch or
                    (owned_set is not None and not owned_set <= member.holds()))):
                log.info("consumer group %s: member %s fenced: epoch %d, expected %d", group_id, member_id,
                         member_epoch, member.epoch)
                return fail(HeartbeatError.FENCED_MEMBER_EPOCH,
                            f"member epoch {member_epoch} is not the current epoch {member.epoch}")
            send_assignment = member_epoch < member.epoch
        member.session_timeout_ms = session_timeout_ms or config_int(own, CONSUMER_SESSION_TIMEOUT,
                                                                     self.settings.session_timeout_ms, group_id)
        if session_timeout_ms and 2 * interval >= session_timeout_ms:
            # A member with its own session (an HTTP member's join) heartbeats at the interval it is
            # told; one at least half its session would let the session lapse between two beats.
            interval = max(1, session_timeout_ms // 3)
        member.session_deadline_ms = now_ms + member.session_timeout_ms
        member.reported_owned = owned_set
        if client_id:
            member.client_id = client_id
        if client_host:
            member.client_host = client_host
        if rack_id is not None:
            member.rack_id = rack_id or None
        if rebalance_timeout_ms > 0:
            member.rebalance_timeout_ms = rebalance_timeout_ms
        if subscribed_topics is not None and tuple(subscribed_topics) != member.subscribed_topics:
            member.subscribed_topics = tuple(subscribed_topics)
            bump_reasons.append(f"member {member.member_id} subscribed to {sorted(subscribed_topics)}")
        if subscribed_regex is not None and (subscribed_regex or None) != member.subscribed_regex:
            member.subscribed_regex = subscribed_regex or None
            bump_reasons.append(f"member {member.member_id} subscribed to regex {subscribed_regex!r}")
        if assignor is not None and assignor != member.assignor:
            member.assignor = assignor
            bump_reasons.append(f"member {member.member_id} prefers assignor {assignor}")
        if owned is not None and rebalance_timeout_ms > 0 and (
                subscribed_topics is not None or subscribed_regex is not None):
            send_assignment = True  # a full request: the member may have lost track (Kafka resends too)
        self._refresh(group, now_ms, bump_reasons)
        reconcile(group, member, now_ms)
        assignment: list[TopicPartition] | None = None
        if send_assignment or member.assigned != member.last_sent:
            member.last_sent = member.assigned
            assignment = sorted(member.assigned)
        return HeartbeatResult(member.member_id, member.epoch, interval, assignment)

    def _join(self, group: ConsumerGroup, member_id: str, instance_id: str | None,
              owned: frozenset[TopicPartition] | None, now_ms: int,
              interval: int, recorded: bool) -> tuple[ConsumerMember, bool] | HeartbeatResult:
        """A heartbeat with epoch 0: (member, whether it is new to the group) or an error."""
        if instance_id is not None:
            holder_id = group.static_members.get(instance_id)
            holder = group.members.get(holder_id) if holder_id is not None else None
            if holder is not None and holder.member_id != member_id:
                if holder.epoch != LEAVE_STATIC_EPOCH:
                    return HeartbeatResult(member_id, 0, interval, None, HeartbeatError.UNRELEASED_INSTANCE_ID,
                                           f"instance id {instance_id} is held by live member {holder.member_id}")
                # The static member is back (typically a restarted process): a new member id takes
                # over the old member's partitions and epoch, without a rebalance (KIP-345's promise).
                new_id = member_id or str(uuid.uuid4())
                group.members.pop(holder.member_id)
                holder.member_id = new_id
                holder.epoch = holder.previous_epoch
                holder.revoking = frozenset()  # the old process is gone: nothing is left to give back
                holder.revocation_deadline_ms = None
                holder.last_sent = None
                holder.recorded = recorded
                group.members[new_id] = holder
                group.static_members[instance_id] = new_id
                if holder_id in group.target:
                    group.target[new_id] = group.target.pop(holder_id)
                if holder_id in group.resolved:
                    group.resolved[new_id] = group.resolved.pop(holder_id)
                log.info("consumer group %s: static member %s rejoined as %s (was %s)", group.group_id, instance_id,
                         new_id, holder_id)
                return holder, False
        existing = group.members.get(member_id) if member_id else None
        if existing is not None:
            # A known member starting over (it was fenced, or lost its state): it owns nothing now.
            existing.assigned = frozenset()
            existing.revoking = frozenset()
            existing.revocation_deadline_ms = None
            existing.previous_epoch = existing.epoch
            existing.epoch = 0
            existing.last_sent = None
            existing.recorded = recorded
            log.info("consumer group %s: member %s rejoined", group.group_id, member_id)
            return existing, False
        if len(group.members) >= self.settings.max_size:
            return HeartbeatResult(member_id, 0, interval, None, HeartbeatError.GROUP_MAX_SIZE_REACHED,
                                   f"group {group.group_id} has {len(group.members)} members already")
        member = ConsumerMember(member_id or str(uuid.uuid4()), instance_id=instance_id,
                                rebalance_timeout_ms=DEFAULT_REBALANCE_TIMEOUT_MS, recorded=recorded)
        group.members[member.member_id] = member
        if instance_id is not None:
            group.static_members[instance_id] = member.member_id
        log.info("consumer group %s: member %s (instance %s) joined", group.group_id, member.member_id, instance_id)
        return member, True

    def _leave(self, group_id: str, member_id: str, member_epoch: int, interval: int, now_ms: int) -> HeartbeatResult:
        group = self.group(group_id)
        member = group.members.get(member_id) if group is not None else None
        if group is None or member is None:
            return HeartbeatResult(member_id, member_epoch, interval, None, HeartbeatError.UNKNOWN_MEMBER_ID,
                                   f"group {group_id} has no member {member_id}")
        if member_epoch == LEAVE_STATIC_EPOCH:
            # Keep the partitions for the member's return; the session timeout still applies.
            if member.epoch != LEAVE_STATIC_EPOCH:
                member.previous_epoch = member.epoch
            member.epoch = LEAVE_STATIC_EPOCH
            member.revoking = frozenset()
            member.revocation_deadline_ms = None
            log.info("consumer group %s: static member %s (instance %s) left for now", group_id, member_id,
                     member.instance_id)
        else:
            self._remove(group, member, now_ms, "left the group")
        return HeartbeatResult(member_id, member_epoch, interval, None)

    def leave(self, group_id: str, member_id: str, now_ms: int) -> None:
        """The member leaves for good (as a heartbeat with epoch -1); unknown members are ignored."""
        group = self.group(group_id)
        member = group.members.get(member_id) if group is not None else None
        if group is not None and member is not None:
            self._remove(group, member, now_ms, "left the group")

    def _remove(self, group: ConsumerGroup, member: ConsumerMember, now_ms: int, reason: str) -> None:
        group.remove(member)
        log.info("consumer group %s: member %s removed (%s)", group.group_id, member.member_id, reason)
        self._refresh(group, now_ms, [f"member {member.member_id} removed: {reason}"])

    # ------------------------------------------------------------------ assignment

    def _pattern(self, regex: str) -> re.Pattern[str]:
        pattern = self._patterns.get(regex)
        if pattern is None:
            if len(self._patterns) > 1024:
                self._patterns.clear()
            pattern = self._patterns[regex] = re.compile(regex)
        return pattern

    def _resolve(self, member: ConsumerMember, topics: Mapping[str, int]) -> frozenset[str]:
        names = {t for t in member.subscribed_topics if t in topics}
        if member.subscribed_regex:
            pattern = self._pattern(member.subscribed_regex)
            names.update(t for t in topics if not t.startswith("__") and pattern.fullmatch(t))
        return frozenset(names)

    def _group_assignor(self, group: ConsumerGroup) -> str:
        """The assignor most members ask for (ties: the earlier in group.consumer.assignors); the
        configured default when none asks."""
        votes = Counter(m.assignor for m in group.members.values() if m.assignor in self.settings.assignors)
        if not votes:
            return self.settings.assignors[0]
        best = max(votes.values())
        return next(a for a in self.settings.assignors if votes.get(a) == best)

    def _refresh(self, group: ConsumerGroup, now_ms: int, reasons: Iterable[str]) -> None:
        """Re-resolve subscriptions against current topics; on any change (or ``reasons``) bump the
        group epoch and recompute the target assignment."""
        why = list(reasons)
        topics = self._topics()
        resolved = {m.member_id: self._resolve(m, topics) for m in group.members.values()}
        counts = {t: topics[t] for t in set().union(*resolved.values())} if resolved else {}
        if resolved != group.resolved:
            why.append("subscriptions resolve to other topics")
        if counts != group.partition_counts:
            why.append("partition counts changed")
        assignor = self._group_assignor(group)
        if assignor != group.assignor_name and group.members:
            why.append(f"assignor {assignor}")
        if not why:
            return
        group.resolved = resolved
        group.partition_counts = counts
        group.assignor_name = assignor
        group.group_epoch += 1
        subscriptions = {m.member_id: MemberSubscription(resolved[m.member_id],
                                                         group.target.get(m.member_id, frozenset()))
                         for m in group.members.values()}
        target = ASSIGNORS[assignor](subscriptions, counts)
        group.target = {member_id: frozenset(tps) for member_id, tps in target.items()}
        group.assignment_epoch = group.group_epoch
        log.info("consumer group %s: epoch %d, %d member(s), %d partition(s) assigned by %s (%s)", group.group_id,
                 group.group_epoch, len(group.members), sum(len(t) for t in group.target.values()), assignor,
                 "; ".join(why))

    # ------------------------------------------------------------------ time

    def tick(self, now_ms: int) -> list[ConsumerGroup]:
        """Evict members whose session expired and fence members that held on to revoked partitions
        past their rebalance timeout (their partitions move); pick up topic changes. Returns the
        groups that changed."""
        changed: list[ConsumerGroup] = []
        for group in [g for g in self._groups.values() if isinstance(g, ConsumerGroup)]:
            epoch = group.group_epoch
            for member in list(group.members.values()):
                if member.session_deadline_ms <= now_ms:
                    self._remove(group, member, now_ms,
                                 f"session expired after {member.session_timeout_ms} ms without a heartbeat")
                elif member.state is MemberState.UNREVOKED_PARTITIONS and member.revocation_deadline_ms is not None \
                        and member.revocation_deadline_ms <= now_ms:
                    self._remove(group, member, now_ms,
                                 f"did not give back {len(member.revoking)} partition(s) within its rebalance "
                                 f"timeout of {member.rebalance_timeout_ms} ms")
            if group.members:
                self._refresh(group, now_ms, ())
            if group.group_epoch != epoch:
                changed.append(group)
        return changed
