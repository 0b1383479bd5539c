"""Start-up: the coordinator's state replayed from ``__consumer_offsets`` (Kafka's coordinator loader).

Records are applied in log order per partition: a later record for a key wins, a null value
(tombstone) deletes. What comes back is each group's last metadata record (classic groups: members,
generation, assignment), each consumer-protocol group's records (its epochs; each member's
subscription, target and current assignment), each group's committed offsets, and each share group's
epoch and initialized share-partitions. Unreadable records are skipped with a warning, never
fatal: the rest of the group state is still worth having.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from logbroker.groups.offsets import CommittedOffset
from logbroker.groups.offsets_topic import GroupLog
from logbroker.groups.schema import (
    CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION,
    CONSUMER_MEMBER_METADATA_KEY_VERSION,
    ConsumerCurrentAssignment,
    ConsumerGroupKey,
    ConsumerMemberKey,
    ConsumerMemberMetadata,
    ConsumerTargetEpochKey,
    ConsumerTopicPartitions,
    GroupMetadataKey,
    GroupMetadataValue,
    OffsetCommitKey,
    RecordFormatError,
    ShareGroupMetadataKey,
    ShareGroupPartitionsKey,
    ShareTopicPartitions,
    decode_consumer_current_value,
    decode_consumer_group_value,
    decode_consumer_member_value,
    decode_consumer_target_epoch_value,
    decode_consumer_target_value,
    decode_group_metadata_value,
    decode_key,
    decode_offset_commit_value,
    decode_share_group_metadata_value,
    decode_share_group_partitions_value,
)

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class Replayed:
    metadata: dict[str, GroupMetadataValue | None] = field(default_factory=dict)  # None: deleted
    offsets: dict[str, dict[TopicPartition, CommittedOffset]] = field(default_factory=dict)
    share_epochs: dict[str, int | None] = field(default_factory=dict)  # share groups; None: deleted
    share_partitions: dict[str, tuple[ShareTopicPartitions, ...] | None] = field(default_factory=dict)
    # Consumer-protocol groups (KIP-848); None: deleted (a tombstone).
    consumer_epochs: dict[str, int | None] = field(default_factory=dict)
    consumer_target_epochs: dict[str, int | None] = field(default_factory=dict)
    consumer_members: dict[str, dict[str, ConsumerMemberMetadata | None]] = field(default_factory=dict)
    consumer_targets: dict[str, dict[str, tuple[ConsumerTopicPartitions, ...] | None]] = field(default_factory=dict)
    consumer_current: dict[str, dict[str, ConsumerCurrentAssignment | None]] = field(default_factory=dict)
    applied: int = 0  # records applied

    def group_ids(self) -> list[str]:
        """Classic or offset-keeping groups that still exist: with metadata or offsets left after
        the tombstones."""
        return sorted(g for g in set(self.metadata) | set(self.offsets)
                      if self.metadata.get(g) is not None or self.offsets.get(g))

    def consumer_group_ids(self) -> list[str]:
        """Consumer-protocol groups that still exist (their epoch record is not a tombstone)."""
        return sorted(g for g, epoch in self.consumer_epochs.items() if epoch is not None)

    def share_group_ids(self) -> list[str]:
        """Share groups that still exist (their metadata record is not a tombstone)."""
        return sorted(g for g, epoch in self.share_epochs.items() if epoch is not None)


def replay(group_log: GroupLog, partitions: Collection[int] | None = None) -> Replayed:
    """The groups of ``partitions`` of the log (None: every partition)."""
    out = Replayed()
    for record in group_log.replay(partitions):
        try:
            key = decode_key(record.key)
            if isinstance(key, OffsetCommitKey):
                group_offsets = out.offsets.setdefault(key.group, {})
                tp = (key.topic, key.partition)
                if record.value is None:
                    group_offsets.pop(tp, None)
                else:
                    v = decode_offset_commit_value(record.value)
                    group_offsets[tp] = CommittedOffset(v.offset, v.leader_epoch, v.metadata, v.commit_timestamp,
                                                        v.expire_timestamp, record.offset)
            elif isinstance(key, GroupMetadataKey):
                out.metadata[key.group] = (None if record.value is None
                                           else decode_group_metadata_value(record.value))
            elif isinstance(key, ShareGroupMetadataKey):
                out.share_epochs[key.group] = (None if record.value is None
                                               else decode_share_group_metadata_value(record.value))
            elif isinstance(key, ShareGroupPartitionsKey):
                out.share_partitions[key.group] = (None if record.value is None
                                                   else decode_share_group_partitions_value(record.value))
            elif isinstance(key, ConsumerGroupKey):
                out.consumer_epochs[key.group] = (None if record.value is None
                                                  else decode_consumer_group_value(record.value))
            elif isinstance(key, ConsumerTargetEpochKey):
                out.consumer_target_epochs[key.group] = (None if record.value is None
                                                         else decode_consumer_target_epoch_value(record.value))
            elif isinstance(key, ConsumerMemberKey):
                _replay_member(out, key, record.value)
            else:
                continue
        except RecordFormatError as exc:
            log.warning("__consumer_offsets-%d offset %d: unreadable record skipped: %s", record.partition,
                        record.offset, exc)
            continue
        out.applied += 1
    return out


def _replay_member(out: Replayed, key: ConsumerMemberKey, value: bytes | None) -> None:
    if key.record_type == CONSUMER_MEMBER_METADATA_KEY_VERSION:
        out.consumer_members.setdefault(key.group, {})[key.member] = (
            None if value is None else decode_consumer_member_value(value))
    elif key.record_type == CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION:
        out.consumer_current.setdefault(key.group, {})[key.member] = (
            None if value is None else decode_consumer_current_value(value))
    else:
        out.consumer_targets.setdefault(key.group, {})[key.member] = (
            None if value is None else decode_consumer_target_value(value))
