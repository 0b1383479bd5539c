"""Committed offsets of every group, whatever its type (Kafka's ``OffsetMetadataManager``).

Invariants:

- ``of(group)`` holds only commits that reached ``__consumer_offsets`` durably: a commit is applied
  when its write completes, not when it arrives (Kafka does the same), so OffsetFetch never shows an
  offset a crash could take back.
- A commit whose write completes late never overwrites a newer one: each value carries the offset
  of the record that brought it (``record_offset``), and the larger one wins.
- Deletions (OffsetDelete, group deletion, expiry) drop the values at once and append tombstones.

Who may commit (the member and its generation or epoch) is decided by the group's own protocol
before a commit gets here; this module checks what every commit must satisfy: metadata size and a
partition that exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from logbroker.groups.errors import GroupError
from logbroker.groups.record_writer import RecordWriter, resolve
from logbroker.groups.schema import OffsetCommitValue, encode_offset_commit_key, encode_offset_commit_value

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]

OFFSET_METADATA_MAX_BYTES = 4096  # offset.metadata.max.bytes (Kafka's default)


@dataclass(frozen=True, slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int
    expire_timestamp: int = -1
    # Offset of the record in __consumer_offsets that carried this commit (see the invariants).
    record_offset: int = -1


@dataclass(frozen=True, slots=True)
class OffsetCommitInput:
    offset: int
    leader_epoch: int = -1
    metadata: str | None = ""


class OffsetStore:
    """Every group's committed offsets, by group id. Not thread-safe: call it from the event loop."""

    def __init__(self, writer: RecordWriter, partition_exists: Callable[[str, int], bool],
                 metadata_max_bytes: int = OFFSET_METADATA_MAX_BYTES) -> None:
        self._writer = writer
        self._partition_exists = partition_exists
        self._metadata_max_bytes = metadata_max_bytes
        self._offsets: dict[str, dict[TopicPartition, CommittedOffset]] = {}

    def of(self, group_id: str) -> Mapping[TopicPartition, CommittedOffset]:
        """The group's committed offsets (do not mutate); empty for a group without any."""
        return self._offsets.get(group_id, {})

    def group_ids(self) -> list[str]:
        return list(self._offsets)

    def fetch(self, group_id: str,
              partitions: Iterable[TopicPartition] | None) -> dict[TopicPartition, CommittedOffset | None]:
        """Committed offsets of ``partitions`` (None: every partition with a commit); None per
        partition without one. Unknown groups have no commits (Kafka answers -1, not an error)."""
        offsets = self.of(group_id)
        if partitions is None:
            return dict(sorted(offsets.items()))
        return {tp: offsets.get(tp) for tp in partitions}

    def restore(self, group_id: str, offsets: dict[TopicPartition, CommittedOffset]) -> None:
        """Start-up: the group's offsets as replayed from ``__consumer_offsets``."""
        if offsets:
            self._offsets[group_id] = offsets

    def forget(self, group_id: str) -> None:
        """Drop the group's offsets from memory only (another broker coordinates it now)."""
        self._offsets.pop(group_id, None)

    def apply(self, group_id: str, tp: TopicPartition, value: CommittedOffset) -> None:
        group = self._offsets.setdefault(group_id, {})
        current = group.get(tp)
        if current is None or current.record_offset <= value.record_offset:
            group[tp] = value

    # ------------------------------------------------------------------ writes

    def commit(self, group_id: str, offsets: Mapping[TopicPartition, OffsetCommitInput], now_ms: int,
               fut: asyncio.Future[dict[TopicPartition, GroupError]],
               still_current: Callable[[], bool] = lambda: True) -> None:
        """Append the offsets and answer ``fut`` once they are durable, applying them then (unless
        ``still_current()`` says the group was deleted or replaced meanwhile)."""
        results: dict[TopicPartition, GroupError] = {}
        valid: dict[TopicPartition, CommittedOffset] = {}
        records: list[tuple[bytes, bytes | None]] = []
        for tp, commit in offsets.items():
            metadata = commit.metadata or ""
            if len(metadata.encode("utf-8")) > self._metadata_max_bytes:
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
            resolve(fut, results)
            return

        def done(error: GroupError, base_offset: int) -> None:
            if error.ok and still_current():
                for i, (tp, value) in enumerate(valid.items()):
                    self.apply(group_id, tp, _with_record_offset(value, base_offset + i))
            for tp in valid:
                results[tp] = error
            resolve(fut, results)

        self._writer.write(group_id, records, now_ms, done)

    def delete(self, group_id: str, partitions: Sequence[TopicPartition], now_ms: int,
               done: Callable[[GroupError], None]) -> None:
        """Drop the offsets of ``partitions`` (those the group has) and append their tombstones."""
        group = self._offsets.get(group_id, {})
        deleting = [tp for tp in partitions if tp in group]
        if not deleting:
            done(GroupError.NONE)
            return
        for tp in deleting:
            del group[tp]
        if not group:
            self._offsets.pop(group_id, None)
        log.info("group %s: deleting offsets of %d partition(s)", group_id, len(deleting))
        self._writer.write(group_id, self.tombstones(group_id, deleting), now_ms, lambda e, _b: done(e))

    def clear(self) -> None:
        """Forget every group's offsets (their records are gone: ``__consumer_offsets`` was deleted)."""
        self._offsets.clear()

    def drop(self, group_id: str) -> list[tuple[bytes, bytes | None]]:
        """Forget every offset of the group; returns their tombstones for the caller to write."""
        return self.tombstones(group_id, list(self._offsets.pop(group_id, {})))

    def expire(self, group_id: str, now_ms: int, retention_ms: int, empty_since_ms: int | None
               ) -> list[tuple[bytes, bytes | None]]:
        """Kafka 2.1+ (KIP-211): drop the offsets of an empty group ``retention_ms`` after it became
        empty (``empty_since_ms``; None: after each commit). Returns the tombstones to write."""
        group = self._offsets.get(group_id, {})
        expired = [tp for tp, c in group.items()
                   if (c.expire_timestamp if c.expire_timestamp >= 0 else
                       max(c.commit_timestamp, empty_since_ms if empty_since_ms is not None else -1)
                       + retention_ms) <= now_ms]
        for tp in expired:
            del group[tp]
        if not group:
            self._offsets.pop(group_id, None)
        if expired:
            log.info("group %s: %d offset(s) expired", group_id, len(expired))
        return self.tombstones(group_id, expired)

    @staticmethod
    def tombstones(group_id: str, partitions: Iterable[TopicPartition]) -> list[tuple[bytes, bytes | None]]:
        return [(encode_offset_commit_key(group_id, t, p), None) for t, p in partitions]


def _with_record_offset(value: CommittedOffset, record_offset: int) -> CommittedOffset:
    return CommittedOffset(value.offset, value.leader_epoch, value.metadata, value.commit_timestamp,
                           value.expire_timestamp, record_offset)
