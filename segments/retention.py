"""Time- and size-based retention: deleting a partition's oldest whole segments.

Matches Kafka's ``UnifiedLog.deleteOldSegments`` for ``cleanup.policy`` containing ``delete``:

- by time: a closed segment is deletable when ``now_ms - segment.max_timestamp > retention.ms``; the
  segment's largest batch timestamp is used, as Kafka does since KIP-33, so a segment is only
  deleted once its newest record has expired;
- by size: while the log is larger than ``retention.bytes``, the oldest closed segments go as long
  as the log stays at or above the limit without them;
- by log start offset (whatever the policy): a segment wholly below the log start offset (after
  DeleteRecords) is deleted.

Deletion always takes a prefix of the closed segments, oldest first, and stops at the first segment
that is not deletable; the active segment is never deleted. ``Log.delete_segments`` moves the log
start offset to the first remaining segment. Work is proportional to the number of segments; no
batch is read (the segment's largest timestamp is kept in memory by ``LogSegment``).

``sweep(store, now_ms)`` is the periodic pass over a whole data directory (Kafka's
``log.retention.check.interval.ms`` task plus the log cleaner): retention on every partition, then
compaction where the policy asks for it and the dirty ratio is reached. Nothing here reads the clock:
callers pass ``now_ms``. ``sweep_logs`` is the same pass over logs already opened, for a cleaner
thread (the broker opens the logs on its event loop and hands them over; see ``segments/log.py``
for what the thread may do to a log the loop is using).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from segments.checkpoint import TopicPartition
from segments.compaction import Cancelled, CleaningRunner, CompactionAbortedError, CompactionStats, compact, run_here
from segments.config import LogConfig
from segments.errors import LogClosedError, StorageError, UnknownTopicError
from segments.log import ReplacedSegmentsError

if TYPE_CHECKING:
    from segments.log import Log
    from segments.segment import LogSegment
    from segments.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionStats:
    """What one retention pass removed from a log."""

    segments_deleted: int = 0
    bytes_deleted: int = 0
    by_time: int = 0  # segments deleted because retention.ms passed
    by_size: int = 0  # segments deleted because of retention.bytes
    by_start_offset: int = 0  # segments wholly below the log start offset
    log_start_offset: int = 0  # the log start offset afterwards

    def __add__(self, other: RetentionStats) -> RetentionStats:
        return RetentionStats(
            self.segments_deleted + other.segments_deleted,
            self.bytes_deleted + other.bytes_deleted,
            self.by_time + other.by_time,
            self.by_size + other.by_size,
            self.by_start_offset + other.by_start_offset,
            max(self.log_start_offset, other.log_start_offset),
        )


def expired_by_time(segments: Sequence[LogSegment], retention_ms: int, now_ms: int) -> int:
    """How many of the oldest ``segments`` have their newest record older than ``retention.ms``."""
    if retention_ms < 0:
        return 0
    count = 0
    for segment in segments:
        # An empty segment has max_timestamp -1 and would always look expired; Kafka never deletes by
        # time a segment that holds nothing, and neither do we (it is harmless and rare).
        if segment.size == 0 or now_ms - segment.max_timestamp <= retention_ms:
            break
        count += 1
    return count


def excess_by_size(segments: Sequence[LogSegment], log_size: int, retention_bytes: int) -> int:
    """How many of the oldest ``segments`` to drop so the log stays >= ``retention.bytes`` without them."""
    if retention_bytes < 0:
        return 0
    diff = log_size - retention_bytes
    count = 0
    for segment in segments:
        if diff - segment.size < 0:
            break
        diff -= segment.size
        count += 1
    return count


def below_start_offset(segments: Sequence[LogSegment], following: Sequence[int], log_start_offset: int) -> int:
    """How many of the oldest ``segments`` end below ``log_start_offset`` (``following``: next bases)."""
    count = 0
    for next_base in following:
        if next_base > log_start_offset:
            break
        count += 1
    return min(count, len(segments))


def apply_retention(log: Log, config: LogConfig | None, now_ms: int) -> RetentionStats:
    """Delete the oldest closed segments of ``log`` that retention no longer keeps; never the active one.

    ``config`` None means the log's own. Time and size apply only when ``cleanup.policy`` includes
    ``delete``; segments below the log start offset go under any policy. Returns what was removed.
    """
    config = config if config is not None else log.config
    closed = log.closed_segments()
    if not closed:
        return RetentionStats(log_start_offset=log.log_start_offset)
    all_segments = log.segments
    following = [s.base_offset for s in all_segments[1 : len(closed) + 1]]
    by_start = below_start_offset(closed, following, log.log_start_offset)
    by_time = by_size = 0
    if config.delete:
        by_time = expired_by_time(closed, config.retention_ms, now_ms)
        by_size = excess_by_size(closed, log.size_bytes, config.retention_bytes)
    count = max(by_start, by_time, by_size)
    if count == 0:
        return RetentionStats(log_start_offset=log.log_start_offset)
    doomed = closed[:count]
    freed = sum(s.size for s in doomed)
    log.delete_segments(doomed)
    reasons = [name for name, n in (("time", by_time), ("size", by_size), ("start offset", by_start)) if n]
    logger.info(
        "%s: retention (%s) deleted %d segment(s), %d bytes; log start offset now %d",
        log.path,
        "/".join(reasons),
        count,
        freed,
        log.log_start_offset,
    )
    return RetentionStats(
        segments_deleted=count,
        bytes_deleted=freed,
        by_time=min(by_time, count),
        by_size=min(by_size, count),
        by_start_offset=min(by_start, count),
        log_start_offset=log.log_start_offset,
    )


@dataclass(frozen=True, slots=True)
class SweepStats:
    """Totals of one ``sweep`` over a data directory."""

    partitions: int = 0
    retention: RetentionStats = RetentionStats()
    compacted_partitions: int = 0
    compaction_bytes_removed: int = 0
    compaction_records_removed: int = 0
    errors: int = 0


def sweep(store: Store, now_ms: int, *, include_unopened: bool = True) -> SweepStats:
    """Apply retention, then compaction when due, to every partition of ``store``.

    With ``include_unopened`` (the default) partitions not yet opened are opened, since their old
    segments must expire too; the first sweep therefore opens every log. An error on one partition is
    logged and counted, and the sweep goes on with the others. Blocking file work, in the calling
    thread (the broker uses ``sweep_logs`` from a cleaner thread instead).
    """
    keys = list(store.partitions()) if include_unopened else sorted(store.open_logs())
    logs: dict[TopicPartition, Log] = {}
    errors = 0
    for topic, partition in keys:
        try:
            logs[(topic, partition)] = store.log(topic, partition, now_ms=now_ms)
        except (StorageError, OSError):
            logger.exception("opening %s-%d for retention failed", topic, partition)
            errors += 1
    stats = sweep_logs(store, logs, now_ms)
    return SweepStats(len(keys), stats.retention, stats.compacted_partitions, stats.compaction_bytes_removed,
                      stats.compaction_records_removed, stats.errors + errors)


def _not_cancelled() -> bool:
    return False


def sweep_logs(
    store: Store,
    logs: Mapping[TopicPartition, Log],
    now_ms: int,
    *,
    retention: bool = True,
    compaction: bool = True,
    runner: CleaningRunner = run_here,
    cancelled: Cancelled = _not_cancelled,
) -> SweepStats:
    """Retention and/or compaction of ``logs`` (opened already); safe from a cleaner thread.

    A log closed meanwhile (its topic deleted, the broker stopping) or changed under a compaction
    (DeleteRecords) is skipped quietly: the next pass sees it as it is then. ``cancelled`` stops the
    pass between logs and a running compaction between batches.
    """
    removed = RetentionStats()
    compacted = bytes_removed = records_removed = errors = 0
    for (topic, partition), log in logs.items():
        if cancelled():
            break
        if log.closed:
            continue
        try:
            config = log.config
            if retention:
                removed = removed + apply_retention(log, config, now_ms)
            if compaction and config.compact:
                stats: CompactionStats = compact(
                    log, config, now_ms, first_dirty_offset=store.cleaner_offset(topic, partition),
                    runner=runner, cancelled=cancelled,
                )
                if stats.ran:
                    store.set_cleaner_offset(topic, partition, stats.next_dirty_offset)
                    compacted += 1
                    bytes_removed += stats.bytes_removed
                    records_removed += stats.records_removed
        except (ReplacedSegmentsError, CompactionAbortedError, LogClosedError, UnknownTopicError) as exc:
            logger.info("retention/compaction of %s-%d skipped: %s", topic, partition, exc)
        except (StorageError, OSError, ValueError):
            if log.closed:  # the topic went away under the pass
                logger.info("retention/compaction of %s-%d skipped: the log was closed", topic, partition)
                continue
            logger.exception("retention/compaction of %s-%d failed", topic, partition)
            errors += 1
    return SweepStats(len(logs), removed, compacted, bytes_removed, records_removed, errors)
