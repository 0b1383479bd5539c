"""A share group's own records in ``__consumer_offsets``: its epoch and its initialized share-partitions.

The group coordinator keeps, as Kafka 4.1 does, two records per share group in the group's
``__consumer_offsets`` partition (layouts in ``schema.py``): ShareGroupMetadata (the group epoch) and
ShareGroupStatePartitionMetadata (the share-partitions whose state exists at the share coordinators:
here every one assigned to a member, or reset by AlterShareGroupOffsets, and not deleted since). A
broker that becomes the group's coordinator (the old one stopped or was killed) reads them back, so
the group is known there at once: listed, described, and its start offsets described
(DescribeShareGroupOffsets without topics) and deleted (DeleteGroups) from the same share-partitions
as before the move. Members are not recorded: they join the new coordinator afresh (their heartbeat
is answered UNKNOWN_MEMBER_ID, and they join again under the group epoch that was recorded).

Both records are written together whenever the epoch or the share-partitions changed since the last
write (``sync``: after a heartbeat, and for every group on the coordinator's tick); a write that
fails is tried again on a ``sync`` at least ``RETRY_MS`` later. DeleteGroups writes tombstones for both
(``tombstones``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from logbroker.groups.errors import GroupError
from logbroker.groups.loader import Replayed
from logbroker.groups.record_writer import OnDone, RecordWriter
from logbroker.groups.schema import (
    ShareTopicPartitions,
    encode_share_group_metadata_key,
    encode_share_group_metadata_value,
    encode_share_group_partitions_key,
    encode_share_group_partitions_value,
)
from logbroker.groups.share_group import ShareGroup

log = logging.getLogger(__name__)

RETRY_MS = 1000  # wait after a failed write before the next try (the tick runs every 100 ms)

TopicPartition = tuple[str, int]
Recorded = tuple[int, frozenset[TopicPartition]]


class ShareGroupLog:
    def __init__(self, writer: RecordWriter, topic_id_of: Callable[[str], uuid.UUID | None]) -> None:
        self._writer = writer
        self._topic_id_of = topic_id_of
        self._recorded: dict[str, Recorded] = {}  # what the log holds (or is being written) per group
        self._retry_at: dict[str, int] = {}  # groups whose last write failed: not tried again before then

    def sync(self, group: ShareGroup, now_ms: int) -> None:
        """Write the group's records if its epoch or share-partitions changed since the last write."""
        group_id = group.group_id
        state: Recorded = (group.group_epoch, frozenset(group.assigned))
        if self._recorded.get(group_id) == state or now_ms < self._retry_at.get(group_id, now_ms):
            return
        self._recorded[group_id] = state
        self._retry_at.pop(group_id, None)
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(state[1]):
            by_topic.setdefault(topic, []).append(partition)
        initialized = []
        for topic, partitions in by_topic.items():
            topic_id = self._topic_id_of(topic)
            if topic_id is not None:  # a topic deleted meanwhile has no share-partitions left
                initialized.append(ShareTopicPartitions(topic_id, topic, tuple(partitions)))
        partitions_value = encode_share_group_partitions_value(tuple(initialized))
        records = [(encode_share_group_metadata_key(group_id), encode_share_group_metadata_value(state[0])),
                   (encode_share_group_partitions_key(group_id), partitions_value)]

        def done(error: GroupError, _base: int) -> None:
            if not error.ok:
                log.warning("share group %s: its metadata (epoch %d, %d share-partition(s)) not written: %s",
                            group_id, state[0], len(state[1]), error.name)
                if self._recorded.get(group_id) == state:
                    del self._recorded[group_id]  # written again on a later sync
                    self._retry_at[group_id] = now_ms + RETRY_MS

        self._writer.write(group_id, records, now_ms, done)

    def tombstones(self, group_id: str, now_ms: int, on_done: OnDone) -> None:
        """Delete both records of a deleted group."""
        self._recorded.pop(group_id, None)
        self._retry_at.pop(group_id, None)
        self._writer.write(group_id, [(encode_share_group_metadata_key(group_id), None),
                                      (encode_share_group_partitions_key(group_id), None)], now_ms, on_done)

    def restore(self, replayed: Replayed, group_id: str) -> tuple[int, set[TopicPartition]]:
        """The recorded epoch and share-partitions of a group read back from the log; a topic deleted
        (or deleted and made again, with another id) since is left out."""
        epoch = replayed.share_epochs.get(group_id) or 0
        partitions: set[TopicPartition] = set()
        for t in replayed.share_partitions.get(group_id) or ():
            current = self._topic_id_of(t.topic)
            if current is not None and current != t.topic_id:
                log.info("share group %s: %s was recreated since its share-partitions were recorded; left out",
                         group_id, t.topic)
                continue
            partitions.update((t.topic, p) for p in t.partitions)
        self._recorded[group_id] = (epoch, frozenset(partitions))
        return epoch, partitions

    def forget(self, group_id: str) -> None:
        """This broker no longer coordinates the group (or its log is gone): write it anew when it does."""
        self._recorded.pop(group_id, None)
        self._retry_at.pop(group_id, None)

    def forget_all(self) -> None:
        self._recorded.clear()
        self._retry_at.clear()
