"""The share coordinator (KIP-932): the durable state of share-partitions, kept in ``__share_group_state``.

Kafka splits a share group's work three ways: the group coordinator (membership, on the leader of
the group's ``__consumer_offsets`` partition), the partition leader (the in-flight records of each
share-partition it leads) and the share coordinator, which stores each share-partition's state. This
is the last one. The state of a share-partition lives in the ``__share_group_state`` partition of its
key ``group:topicId:partition`` (``share_state.py``), and the leader of that partition coordinates it:
it answers ReadShareGroupState / WriteShareGroupState / InitializeShareGroupState /
DeleteShareGroupState for its keys and NOT_COORDINATOR for the others.

Alone, this broker owns every partition (``load`` reads them all at start-up). In a cluster it owns
the partitions it leads: ``take_partition`` replays one from this broker's replica of the topic when
it becomes leader, ``release_partition`` forgets its keys when it stops.

As Kafka 4.1.1 answers them (compared in tests/interop/test_share_coordinator_apis.py): a
share-partition's state exists once initialized (InitializeShareGroupState, refused with
FENCED_STATE_EPOCH when its state epoch is older than the stored one); reading or writing one that
is not is INVALID_REQUEST, deleting it is fine. A write with an older state epoch than the stored one
is FENCED_STATE_EPOCH, and reads and writes carry the share-partition's leader epoch: one older than
an epoch already seen for the key is FENCED_LEADER_EPOCH (a deposed leader can neither read nor
overwrite what its successor read). The newest epoch seen is stored in each state record, so a
new share coordinator that loads the record fences a deposed leader's late write at once. This
broker's own partition leaders write with ``create`` (their first write initializes the state), as
Kafka's group coordinator initializes share-partitions before their leaders write.

``write`` replaces the stored state with the one given (the WriteShareGroupState handler merges
the request's batches into the held ones first, as Kafka; a leader here always sends the whole
window of a share-partition, its start offset and every state batch above it, for which merging and
replacing are the same). A write is answered once its record is
durable and (in a cluster) held by the whole ISR, and only then is the new state what a read
returns.

Synchronous, on the event loop; writes answer through futures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logbroker.groups.errors import GroupError
from logbroker.groups.offsets_topic import GroupLog
from logbroker.groups.record_writer import RecordWriter, resolve
from logbroker.groups.share_state import (
    SHARE_STATE_TOPIC,
    SharePartitionKey,
    SharePartitionSnapshot,
    config_partition,
    encode_config_key,
    encode_config_value,
    encode_key,
    encode_value,
    replay,
    state_partition,
)

log = logging.getLogger(__name__)

# Kafka's error codes, as the share-coordinator APIs answer them.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
UNINITIALIZED = 42  # INVALID_REQUEST: Kafka's answer for a share-partition whose state was never initialized
FENCED_LEADER_EPOCH = 74
FENCED_STATE_EPOCH = 124
RETRIABLE = frozenset({14, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR})

_GROUP_ERRORS = {GroupError.NONE: NONE, GroupError.NOT_COORDINATOR: NOT_COORDINATOR}


def error_code(error: GroupError) -> int:
    """A write's outcome as a Kafka error code (storage failures: COORDINATOR_NOT_AVAILABLE)."""
    return _GROUP_ERRORS.get(error, COORDINATOR_NOT_AVAILABLE)


@dataclass(frozen=True, slots=True)
class StateSummary:
    """A share-partition's state without its batches (ReadShareGroupStateSummary)."""

    state_epoch: int
    leader_epoch: int
    start_offset: int


class ShareCoordinator:
    """The share-partition states of the ``__share_group_state`` partitions this broker owns."""

    def __init__(self, state_log: GroupLog, topic_id_of: Callable[[str], uuid.UUID | None],
                 loop: asyncio.AbstractEventLoop | None = None,
                 leader_of: Callable[[int], int] | None = None) -> None:
        self._writer = RecordWriter(state_log, loop)
        self._topic_id_of = topic_id_of
        self._leader_of = leader_of  # partition -> the broker leading it (-1: none)
        self._owned: set[int] | None = None  # None: every partition (one broker)
        self.states: dict[SharePartitionKey, SharePartitionSnapshot] = {}
        self.configs: dict[str, dict[str, str]] = {}  # share groups' configs (records of this broker's partitions)
        self._where: dict[SharePartitionKey, int] = {}  # the state partition each key's record is in
        self._epochs: dict[SharePartitionKey, int] = {}  # the newest leader epoch seen per key
        self._sequence = 0
        self._applied: dict[SharePartitionKey, int] = {}  # the sequence of the last write applied per key
        # Deletes appended and not yet durable, by the sequence of each: a write after one finds no state.
        self._deleting: dict[SharePartitionKey, int] = {}

    # ------------------------------------------------------------------ which keys are here
    def future(self) -> asyncio.Future[Any]:
        return self._writer.future()

    def partition_count(self) -> int:
        return self._writer.log.partition_count()

    def partition_of(self, group: str, topic: str, partition: int) -> int | None:
        """The state partition of a share-partition; None when its topic does not exist."""
        topic_id = self._topic_id_of(topic)
        if topic_id is None:
            return None
        return state_partition(group, topic_id, partition, self.partition_count())

    def owns(self, state_partition_index: int) -> bool:
        return self._owned is None or state_partition_index in self._owned

    def locate(self, state_partition_index: int) -> int:
        """The broker coordinating a state partition (its leader); -1 when none leads it."""
        return -1 if self._leader_of is None else self._leader_of(state_partition_index)

    async def ensure_topic(self) -> None:
        """Create ``__share_group_state`` if needed (in a cluster: registered with the cluster)."""
        await self._writer.log.ensure_topic_async()

    def coordinate_partitions(self, partitions: set[int]) -> None:
        """In a cluster: own only ``partitions`` (start-up passes none; leadership adds them)."""
        self._owned = set(partitions)

    def _home(self, key: SharePartitionKey) -> int | None:
        return self.partition_of(*key)

    def load(self) -> int:
        """Start-up of a single broker: every share-partition's state from the whole topic."""
        replayed = replay(self._writer.log, self._owned, self._home)
        self.states = dict(replayed.partitions)
        self._where = dict(replayed.where)
        self.configs = dict(replayed.configs)
        self._epochs = {key: s.leader_epoch for key, s in self.states.items() if s.leader_epoch >= 0}
        return len(self.states)

    def take_partition(self, partition: int) -> int:
        """This broker now leads ``partition``: load its share-partitions' states from its replica."""
        if self._owned is None:
            return 0
        self._owned.add(partition)
        replayed = replay(self._writer.log, {partition}, self._home)
        for key, snapshot in replayed.partitions.items():
            self.states[key] = snapshot
            self._where[key] = partition
            if snapshot.leader_epoch >= 0:  # the epochs its previous coordinator had seen
                self._epochs[key] = max(self._epochs.get(key, -1), snapshot.leader_epoch)
        self.configs.update(replayed.configs)
        log.info("share coordinator of %s-%d: loaded %d share-partition state(s)", SHARE_STATE_TOPIC, partition,
                 len(replayed.partitions))
        return len(replayed.partitions)

    def release_partition(self, partition: int) -> int:
        """This broker no longer leads ``partition``: forget its keys (their new coordinator reloads them)."""
        if self._owned is None:
            return 0
        self._owned.discard(partition)
        gone = [key for key, where in self._where.items() if where == partition]
        for key in gone:
            self.states.pop(key, None)
            self._where.pop(key, None)
            self._epochs.pop(key, None)
            self._applied.pop(key, None)
        if gone:
            log.info("no longer share coordinator of %s-%d: %d share-partition state(s) dropped", SHARE_STATE_TOPIC,
                     partition, len(gone))
        return len(gone)

    # ------------------------------------------------------------------ the coordinator's APIs
    def _check(self, group: str, topic: str, partition: int, leader_epoch: int) -> tuple[int, int]:
        """(error, state partition): NOT_COORDINATOR for a key of another broker's partition,
        UNINITIALIZED for a topic that does not exist (it can have no state), FENCED_LEADER_EPOCH for
        a leader epoch older than one seen."""
        where = self.partition_of(group, topic, partition)
        if where is None:
            where = self._where.get((group, topic, partition))  # its topic is gone; its record is still here
        if where is None:
            return UNINITIALIZED, -1
        if not self.owns(where):
            return NOT_COORDINATOR, where
        key = (group, topic, partition)
        if leader_epoch >= 0:
            if leader_epoch < self._epochs.get(key, -1):
                return FENCED_LEADER_EPOCH, where
            self._epochs[key] = leader_epoch
        return NONE, where

    def read(self, group: str, topic: str, partition: int, leader_epoch: int = -1
             ) -> tuple[int, SharePartitionSnapshot | None]:
        """ReadShareGroupState: the stored state, or an error (UNINITIALIZED: none stored)."""
        error, _ = self._check(group, topic, partition, leader_epoch)
        if error:
            return error, None
        held = self.states.get((group, topic, partition))
        return (NONE, held) if held is not None else (UNINITIALIZED, None)

    def read_summary(self, group: str, topic: str, partition: int) -> tuple[int, StateSummary | None]:
        """ReadShareGroupStateSummary: the stored state's epochs and start offset (the leader epoch
        is the newest seen for the key, 0 when none, as Kafka 4.1.1 answers after an
        initialization), or an error as ``read`` answers it. The asker is not a leader: no leader
        epoch is checked or recorded."""
        error, _ = self._check(group, topic, partition, -1)
        if error:
            return error, None
        key = (group, topic, partition)
        held = self.states.get(key)
        if held is None:
            return UNINITIALIZED, None
        return NONE, StateSummary(held.state_epoch, max(self._epochs.get(key, 0), 0), held.start_offset)

    def write(self, group: str, topic: str, partition: int, snapshot: SharePartitionSnapshot | None,
              now_ms: int, leader_epoch: int = -1, *, create: bool = False) -> asyncio.Future[int]:
        """WriteShareGroupState (None: DeleteShareGroupState): answered with an error code once the
        record is durable (and replicated); the state is applied then. ``create``: a state not
        initialized yet is made by this write (this broker's own leaders)."""
        fut: asyncio.Future[int] = self._writer.future()
        key = (group, topic, partition)
        error, where = self._check(group, topic, partition, leader_epoch)
        # A delete on its way is the state for the writes after it: one that does not create finds none,
        # as it would once the delete is durable. Else a leader's write retried meanwhile (its first
        # attempt lost to a leader epoch change) would be applied after the tombstone and bring back the
        # state of a share group deleted since.
        held = None if key in self._deleting else self.states.get(key)
        if snapshot is not None and not error:
            if held is None and not create:
                error = UNINITIALIZED
            elif held is not None and snapshot.state_epoch < held.state_epoch:
                error = FENCED_STATE_EPOCH
        if snapshot is None and error == UNINITIALIZED:
            error = NONE  # nothing to delete
        if error or where < 0:
            fut.set_result(error)
            return fut
        if snapshot is not None:  # stored with the newest leader epoch seen: a new coordinator fences at once
            snapshot = dataclasses.replace(snapshot, leader_epoch=max(self._epochs.get(key, -1), snapshot.leader_epoch))
        self._sequence += 1
        sequence = self._sequence
        value = None if snapshot is None else encode_value(snapshot)
        if snapshot is None:
            self._deleting[key] = sequence

        def done(outcome: GroupError, _base: int) -> None:
            code = error_code(outcome)
            if self._deleting.get(key) == sequence:
                del self._deleting[key]
            if code == NONE and sequence > self._applied.get(key, 0) and self.owns(where):
                self._applied[key] = sequence
                if snapshot is None:
                    self.states.pop(key, None)
                    self._where.pop(key, None)
                else:
                    self.states[key] = snapshot
                    self._where[key] = where
            resolve(fut, code)

        self._writer.write_to(where, [(encode_key(group, topic, partition), value)], now_ms, done,
                              what=f"share-partition {group}:{topic}:{partition}")
        return fut

    def initialize(self, group: str, topic: str, partition: int, state_epoch: int, start_offset: int,
                   now_ms: int) -> asyncio.Future[int]:
        """InitializeShareGroupState: a fresh state at ``start_offset`` (nothing in flight), refused
        with FENCED_STATE_EPOCH when ``state_epoch`` is older than the stored state's (Kafka 4.1.1
        takes an equal one)."""
        held = self.states.get((group, topic, partition))
        if held is not None and state_epoch < held.state_epoch:
            fut: asyncio.Future[int] = self._writer.future()
            fut.set_result(FENCED_STATE_EPOCH)
            return fut
        return self.write(group, topic, partition, SharePartitionSnapshot(start_offset, state_epoch, ()), now_ms,
                          create=True)

    def write_configs(self, group: str, configs: dict[str, str] | None, now_ms: int) -> asyncio.Future[int]:
        """A share group's configs (None or empty: deleted), answered once durable."""
        fut: asyncio.Future[int] = self._writer.future()
        where = config_partition(group, self.partition_count())
        if not self.owns(where):
            fut.set_result(NOT_COORDINATOR)
            return fut
        value = encode_config_value(configs) if configs else None

        def done(outcome: GroupError, _base: int) -> None:
            code = error_code(outcome)
            if code == NONE:
                if configs:
                    self.configs[group] = dict(configs)
                else:
                    self.configs.pop(group, None)
            resolve(fut, code)

        self._writer.write_to(where, [(encode_config_key(group), value)], now_ms, done, what=f"share group {group}")
        return fut
