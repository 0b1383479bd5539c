"""A consumer-protocol group's records in ``__consumer_offsets`` (KIP-848), so that a coordinator that
restarts, or takes the group over from another broker, carries on with the group's members instead
of making every member join again.

The records are Kafka 4.1's (layouts in ``schema.py``): the group's epoch (type 3) and its target
assignment's epoch (6); per member its subscription and client details (5), its target assignment
(7) and its current assignment with its epochs and reconciliation state (8). ``sync`` writes, in one
batch, every record whose content changed since the group's last write and a tombstone for each
record of a member that is gone (a heartbeat at an epoch > 0 that moved neither of the group's
epochs compares only its own member's records); ``tombstones`` gives the records that delete a
group, ``delete`` writes them for a group that is gone.

What a coordinator reads back (``restore``) is a state the group was in after some heartbeat: the
batches are appended in order and become durable in order. A member whose last change was not yet
durable when the broker stopped is ahead of that state; its next heartbeat is fenced
(FENCED_MEMBER_EPOCH) and it joins again, as every member did before these records existed.
ConsumerGroupHeartbeat is answered only once its batch, and any write of the group still in flight,
is durable (``GroupCoordinator.consumer_heartbeat_recorded``, ``after_writes``), as Kafka answers
once its records are committed.

A write that fails makes every record of the group unknown here (the log may lack any of them,
tombstones included): the coordinator's tick writes the group whole again a second later. Records
read back that no member owns any more (a member's record without its others) or that a group of
another type holds the id of (``adopt``) are deleted by the next write. A group's whole records
go in one batch, so a group whose records outgrow the topic's ``max.message.bytes`` (thousands of
members) cannot be written whole again after a failed write.

Members the HTTP front heartbeats for (``ConsumerMember.recorded`` False) are not written: their
positions live in the broker's memory, so they cannot outlive it, and restoring them would only
hold their partitions until their sessions expired.

Sessions are not recorded (Kafka does not record them either): a restored member gets a fresh
session timeout from the moment the group is loaded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping

from logbroker.groups.consumer_group import ConsumerGroup, ConsumerMember, MemberState
from logbroker.groups.errors import GroupError
from logbroker.groups.loader import Replayed
from logbroker.groups.record_writer import OnDone, Records, RecordWriter
from logbroker.groups.schema import (
    CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION,
    CONSUMER_MEMBER_METADATA_KEY_VERSION,
    CONSUMER_TARGET_MEMBER_KEY_VERSION,
    ConsumerCurrentAssignment,
    ConsumerMemberMetadata,
    ConsumerTopicPartitions,
    encode_consumer_current_value,
    encode_consumer_group_key,
    encode_consumer_group_value,
    encode_consumer_member_key,
    encode_consumer_member_value,
    encode_consumer_target_epoch_key,
    encode_consumer_target_epoch_value,
    encode_consumer_target_value,
)

log = logging.getLogger(__name__)

RETRY_MS = 1000  # wait after a failed write before the group is written again from the tick

TopicPartition = tuple[str, int]

# Kafka's MemberState codes (org.apache.kafka.coordinator.group.modern.MemberState).
STATE_CODES = {MemberState.STABLE: 0, MemberState.UNREVOKED_PARTITIONS: 1, MemberState.UNRELEASED_PARTITIONS: 2}
STATES = {code: state for state, code in STATE_CODES.items()}

# What one group's records hold, compared field by field before anything is encoded:
# ("group", "") -> epoch, ("target", "") -> assignment epoch, (record type, member id) -> the member's part.
_Slot = tuple[str | int, str]
_State = dict[_Slot, object]
_UNKNOWN = object()  # a slot whose record may or may not be in the log (its write failed)
_GROUP: _Slot = ("group", "")
_TARGET: _Slot = ("target", "")
_MEMBER_TYPES = (CONSUMER_MEMBER_METADATA_KEY_VERSION, CONSUMER_TARGET_MEMBER_KEY_VERSION,
                 CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION)


class ConsumerGroupLog:
    def __init__(self, writer: RecordWriter, topic_id_of: Callable[[str], uuid.UUID | None]) -> None:
        self._writer = writer
        self._topic_id_of = topic_id_of
        # What the log holds (or is being written) per group, updated in place as writes are made.
        self._recorded: dict[str, _State] = {}
        self._retry_at: dict[str, int] = {}  # groups to write again from then on (a write failed, a load)
        self._in_flight: dict[str, int] = {}  # group -> writes made and not yet answered
        self._waiting: dict[str, list[OnDone]] = {}  # answered once the group's writes in flight are
        self._failed: dict[str, GroupError] = {}  # the first failure among the writes in flight

    # ------------------------------------------------------------------ writing

    def sync(self, group: ConsumerGroup, now_ms: int, on_done: OnDone | None = None, *,
             member_id: str | None = None) -> bool:
        """Write what changed in the group since its last write; False when nothing had (``on_done``
        is then not called). With ``member_id``, and the group's epochs as recorded, only that
        member's records are compared (a heartbeat changes no other member's unless the epochs move):
        a large group's heartbeats do not each compare every member."""
        group_id = group.group_id
        recorded = self._recorded.setdefault(group_id, {})
        if member_id is not None and recorded.get(_GROUP) == group.group_epoch \
                and recorded.get(_TARGET) == group.assignment_epoch:
            member = group.members.get(member_id)
            wanted = _member_state(group, member) if member is not None else {}
            gone = [slot for slot in _member_slots(member_id) if slot in recorded and slot not in wanted]
        else:
            self._retry_at.pop(group_id, None)  # the whole group is compared now
            wanted = _state_of(group)
            gone = [slot for slot in recorded if slot not in wanted]
        changed = [(slot, value) for slot, value in wanted.items() if recorded.get(slot, _UNKNOWN) != value]
        if not changed and not gone:
            return False
        records: list[tuple[bytes, bytes | None]] = [self._record(group_id, slot, value) for slot, value in changed]
        records.extend((self._key(group_id, slot), None) for slot in gone)
        for slot, value in changed:
            recorded[slot] = value
        for slot in gone:
            del recorded[slot]
        self._write(group_id, records, now_ms, gone, on_done)
        return True

    def _write(self, group_id: str, records: Records, now_ms: int, gone: Iterable[_Slot],
               on_done: OnDone | None) -> None:
        """Append; on failure every record of the group is taken as unknown (the log may lack any of
        them, tombstones of ``gone`` included) and written again from the tick."""
        tombstoned = list(gone)
        self._in_flight[group_id] = self._in_flight.get(group_id, 0) + 1

        def done(error: GroupError, base: int) -> None:
            if not error.ok:
                log.warning("consumer group %s: %d record(s) not written: %s", group_id, len(records), error.name)
                self._failed.setdefault(group_id, error)
                recorded = self._recorded.get(group_id)
                if recorded is not None:  # not forgotten meanwhile (no longer here, or deleted)
                    for slot in [*recorded, *tombstoned]:
                        recorded[slot] = _UNKNOWN
                    self._retry_at[group_id] = now_ms + RETRY_MS
            left = self._in_flight[group_id] - 1
            if left:
                self._in_flight[group_id] = left
            else:
                del self._in_flight[group_id]
                outcome = self._failed.pop(group_id, GroupError.NONE)
                for waiter in self._waiting.pop(group_id, []):
                    waiter(outcome, base)
            if on_done is not None:
                on_done(error, base)

        self._writer.write(group_id, records, now_ms, done)

    def after_writes(self, group_id: str, on_done: OnDone) -> bool:
        """Call ``on_done`` once the group's writes now in flight are answered (with the first error
        among them); False, and no call, when none is in flight."""
        if group_id not in self._in_flight:
            return False
        self._waiting.setdefault(group_id, []).append(on_done)
        return True

    def write_soon(self, group_id: str, now_ms: int) -> None:
        """Have the coordinator's next tick write whatever of the group differs from its records
        (after a load, where nothing is written: the load may run before the event loop does)."""
        self._retry_at[group_id] = now_ms

    def due(self, now_ms: int) -> list[str]:
        """Groups to write again now (a write failed, or they were just loaded), taken off the list:
        the caller syncs them."""
        ready = [g for g, at in self._retry_at.items() if at <= now_ms]
        for group_id in ready:
            del self._retry_at[group_id]
        return ready

    def recorded_groups(self, now_ms: int) -> list[str]:
        """The groups with records here, but those waiting to be written again later."""
        return [g for g in self._recorded if self._retry_at.get(g, now_ms) <= now_ms]

    def tombstones(self, group_id: str) -> Records:
        """The records deleting every record of the group this broker wrote or read back; the group
        is forgotten here."""
        recorded = self._recorded.pop(group_id, {})
        self._retry_at.pop(group_id, None)
        slots = set(recorded) | {_GROUP, _TARGET}
        return [(self._key(group_id, slot), None) for slot in sorted(slots, key=str)]

    def delete(self, group_id: str, now_ms: int) -> None:
        """Write the tombstones of a group that is gone (an empty one taken over by a classic
        member, or one whose id such a group held at the load); tried again from the tick a second
        after a write that failed."""
        slots = set(self._recorded.get(group_id, {})) | {_GROUP, _TARGET}
        records = self.tombstones(group_id)

        def done(error: GroupError, _base: int) -> None:
            if error.ok or error is GroupError.NOT_COORDINATOR:  # another broker owns them now
                return
            recorded = self._recorded.setdefault(group_id, {})  # a group of the id may be back meanwhile
            for slot in slots:
                recorded.setdefault(slot, _UNKNOWN)
            self._retry_at[group_id] = now_ms + RETRY_MS

        self._writer.write(group_id, records, now_ms, done)

    def forget(self, group_id: str) -> None:
        """This broker no longer coordinates the group (or its log is gone): write it anew when it does."""
        self._recorded.pop(group_id, None)
        self._retry_at.pop(group_id, None)

    def forget_all(self) -> None:
        self._recorded.clear()
        self._retry_at.clear()

    def _key(self, group_id: str, slot: _Slot) -> bytes:
        kind, member_id = slot
        if kind == "group":
            return encode_consumer_group_key(group_id)
        if kind == "target":
            return encode_consumer_target_epoch_key(group_id)
        assert isinstance(kind, int)
        return encode_consumer_member_key(kind, group_id, member_id)

    def _record(self, group_id: str, slot: _Slot, value: object) -> tuple[bytes, bytes]:
        kind = slot[0]
        key = self._key(group_id, slot)
        if kind == "group":
            assert isinstance(value, int)
            return key, encode_consumer_group_value(value)
        if kind == "target":
            assert isinstance(value, int)
            return key, encode_consumer_target_epoch_value(value)
        if kind == CONSUMER_MEMBER_METADATA_KEY_VERSION:
            assert isinstance(value, ConsumerMemberMetadata)
            return key, encode_consumer_member_value(value)
        if kind == CONSUMER_TARGET_MEMBER_KEY_VERSION:
            assert isinstance(value, frozenset)
            return key, encode_consumer_target_value(self._by_topic_id(value))
        assert isinstance(value, tuple)
        epoch, previous, state, assigned, revoking = value
        return key, encode_consumer_current_value(ConsumerCurrentAssignment(
            epoch, previous, STATE_CODES[state], self._by_topic_id(assigned), self._by_topic_id(revoking)))

    def _by_topic_id(self, partitions: Iterable[TopicPartition]) -> tuple[ConsumerTopicPartitions, ...]:
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(partitions):
            by_topic.setdefault(topic, []).append(partition)
        out = []
        for topic, numbers in by_topic.items():
            topic_id = self._topic_id_of(topic)
            if topic_id is not None:  # a topic deleted meanwhile: its partitions are nobody's now
                out.append(ConsumerTopicPartitions(topic_id, tuple(numbers)))
        return tuple(out)

    # ------------------------------------------------------------------ reading back

    def restore(self, replayed: Replayed, group_id: str, topic_names: Mapping[uuid.UUID, str], now_ms: int,
                session_timeout_ms: int) -> ConsumerGroup:
        """The group as its records left it. Partitions of topics no longer there (by id: a topic
        deleted, or deleted and made again) are left out; every member gets a fresh session of
        ``session_timeout_ms`` from ``now_ms``, and a member giving partitions back a fresh rebalance
        timeout."""
        group = ConsumerGroup(group_id, group_epoch=replayed.consumer_epochs.get(group_id) or 0,
                              assignment_epoch=replayed.consumer_target_epochs.get(group_id) or 0)

        def partitions(value: Iterable[ConsumerTopicPartitions] | None) -> frozenset[TopicPartition]:
            return frozenset((topic_names[t.topic_id], p) for t in value or () if t.topic_id in topic_names
                             for p in t.partitions)

        currents = replayed.consumer_current.get(group_id, {})
        targets = replayed.consumer_targets.get(group_id, {})
        for member_id, meta in replayed.consumer_members.get(group_id, {}).items():
            if meta is None:
                continue
            member = ConsumerMember(member_id, instance_id=meta.instance_id, rack_id=meta.rack_id,
                                    client_id=meta.client_id, client_host=meta.client_host,
                                    subscribed_topics=meta.subscribed_topics, subscribed_regex=meta.subscribed_regex,
                                    assignor=meta.assignor, rebalance_timeout_ms=meta.rebalance_timeout_ms)
            current = currents.get(member_id)
            if current is not None:
                member.epoch = current.epoch
                member.previous_epoch = current.previous_epoch
                member.state = STATES.get(current.state, MemberState.STABLE)
                member.assigned = partitions(current.assigned)
                member.revoking = partitions(current.revoking)
            member.session_timeout_ms = session_timeout_ms
            member.session_deadline_ms = now_ms + session_timeout_ms
            if member.revoking:
                member.revocation_deadline_ms = now_ms + member.rebalance_timeout_ms
            group.members[member_id] = member
            if meta.instance_id is not None:
                group.static_members[meta.instance_id] = member_id
            target = targets.get(member_id)
            if target is not None:
                group.target[member_id] = partitions(target)
        recorded = self._recorded[group_id] = _state_of(group)
        for slot in _replayed_slots(replayed, group_id):
            recorded.setdefault(slot, _UNKNOWN)  # a member's record without the others: deleted on the next write
        return group

    def adopt(self, replayed: Replayed, group_id: str) -> None:
        """A group's records read back that no group of this type will own (its id is held by a
        classic group with members): known here, so the next tick deletes them."""
        self._recorded[group_id] = dict.fromkeys({_GROUP, _TARGET, *_replayed_slots(replayed, group_id)}, _UNKNOWN)


def _state_of(group: ConsumerGroup) -> _State:
    """What the group's records should hold now (members not recorded left out)."""
    state: _State = {_GROUP: group.group_epoch, _TARGET: group.assignment_epoch}
    for member in group.members.values():
        state.update(_member_state(group, member))
    return state


def _member_state(group: ConsumerGroup, member: ConsumerMember) -> _State:
    """What one member's records should hold now (nothing for a member not recorded)."""
    if not member.recorded:
        return {}
    member_id = member.member_id
    return {
        (CONSUMER_MEMBER_METADATA_KEY_VERSION, member_id): ConsumerMemberMetadata(
            member.instance_id, member.rack_id, member.client_id, member.client_host, member.subscribed_topics,
            member.subscribed_regex, member.rebalance_timeout_ms, member.assignor),
        (CONSUMER_TARGET_MEMBER_KEY_VERSION, member_id): group.target.get(member_id, frozenset()),
        (CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION, member_id): (
            member.epoch, member.previous_epoch, member.state, member.assigned, member.revoking)}


def _member_slots(member_id: str) -> tuple[_Slot, ...]:
    return tuple((record_type, member_id) for record_type in _MEMBER_TYPES)


def _replayed_slots(replayed: Replayed, group_id: str) -> set[_Slot]:
    """The member records the log holds for the group (tombstones left out)."""
    slots: set[_Slot] = set()
    for record_type, by_member in ((CONSUMER_MEMBER_METADATA_KEY_VERSION, replayed.consumer_members),
                                   (CONSUMER_TARGET_MEMBER_KEY_VERSION, replayed.consumer_targets),
                                   (CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION, replayed.consumer_current)):
        slots.update((record_type, m) for m, value in by_member.get(group_id, {}).items() if value is not None)
    return slots

