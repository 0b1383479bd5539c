"""Log compaction (``cleanup.policy=compact``): keep only the latest record of each key.

Follows Kafka's ``LogCleaner``/``Cleaner`` for one partition:

1. The cleanable range is the longest prefix of closed segments (never the active one) whose
   newest record is at least ``min.compaction.lag.ms`` old.
2. Whether to clean: the dirty part of that range (from the first dirty offset, i.e. the end of the
   previous cleaning, on) must make up at least ``min.cleanable.dirty.ratio`` of its bytes, unless a
   dirty segment's newest record is older than ``max.compaction.lag.ms`` or the caller forces it.
3. Pass one decodes the range's records (``segments.records``) into a map key -> last offset.
4. Pass two rewrites each group of consecutive segments (at most ``segment.bytes`` together, offsets
   within int32 of the first base offset) into one ``.cleaned`` segment, batch by batch:
   a record is kept iff it has a key, it is the latest for its key, and it is not a tombstone (null
   value) whose batch is older than ``delete.retention.ms``. A batch keeping all its records is copied
   byte for byte; one keeping some is re-encoded with ``rebuild_batch`` (same offsets, timestamps,
   producer fields and lastOffsetDelta); one keeping none is dropped, except that the last batch of
   each producer id stays as an empty batch so its sequence number survives (Kafka's
   ``retainLastBatchSequence``). Offsets are never changed, so they stay increasing with gaps.
5. ``Log.replace_segments`` swaps the cleaned segment in crash-safely (``.cleaned`` -> ``.swap`` ->
   final names; recovery finishes or discards an interrupted swap).

Off the data path: ``compact`` chooses the segments and swaps the results in; the two passes are a
``CleaningPlan`` handed to a runner. The plan names segment files only (closed segments, whose bytes
never change) and the runner writes nothing but ``.cleaned`` files, so it may run in this thread
(``clean``, the default), or in a child process (``segments/cleaner.py``: the broker's choice, so
that decoding records never holds the interpreter lock the event loop needs), and killing it at any
point leaves only files recovery deletes. The swap takes ``Log.lock`` briefly (``segments/log.py``).

Simplifications, stated: transactional and control batches are copied unchanged (aborted
transactional data is not removed); the tombstone horizon is the batch's maxTimestamp plus
``delete.retention.ms`` rather than Kafka's KIP-534 horizon recorded at the first cleaning; the key map
is a plain dict (memory grows with distinct keys, where Kafka bounds it with
``log.cleaner.dedupe.buffer.size`` and cleans in several rounds).

The first dirty offset is the caller's to keep between runs (Kafka's ``cleaner-offset-checkpoint``;
see ``Store.cleaner_offset``); ``CompactionStats.next_dirty_offset`` is the value to store.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from segments.batch import BatchHeader, validate
from segments.config import LogConfig
from segments.errors import StorageError
from segments.records import decode_records, rebuild_batch
from segments.segment import CLEANED_SUFFIX, FILE_KINDS, LogSegment, segment_file_name

if TYPE_CHECKING:
    from segments.log import Log

logger = logging.getLogger(__name__)

_INT32_MAX = 2**31 - 1
# Cleaned batches are written to the new segment in chunks of about this many bytes.
_WRITE_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class CompactionStats:
    """What one compaction of a log did (all zero when it did not run)."""

    segments_cleaned: int = 0
    segments_written: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    records_before: int = 0
    records_removed: int = 0
    tombstones_removed: int = 0
    batches_removed: int = 0
    next_dirty_offset: int = 0  # end of the cleaned range: where the next cleaning's dirty part starts

    @property
    def bytes_removed(self) -> int:
        return self.bytes_before - self.bytes_after

    @property
    def ran(self) -> bool:
        return self.segments_cleaned > 0


class CompactionAbortedError(StorageError):
    """A compaction was asked to stop (shutdown) before it finished; its output is discarded."""


Cancelled = Callable[[], bool]
"""Polled between batches: True asks a running cleaning to stop."""


@dataclass(frozen=True, slots=True)
class CleaningPlan:
    """What to clean, by file: picklable, so a child process can run it.

    ``groups`` lists, per cleaned segment to write, the (base offset, size in bytes) of the old
    segments it replaces; ``segments`` is every cleanable segment (pass one reads all of them).
    """

    directory: Path
    config: LogConfig
    now_ms: int
    groups: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def segments(self) -> list[tuple[int, int]]:
        return [segment for group in self.groups for segment in group]


@dataclass(frozen=True, slots=True)
class CleaningResult:
    """What ``clean`` wrote: per group the cleaned segment's size, and the counters."""

    sizes: tuple[int, ...]
    records_before: int
    records_removed: int
    tombstones_removed: int
    batches_removed: int


CleaningRunner = Callable[[CleaningPlan, Cancelled], CleaningResult]
"""Runs ``clean`` somewhere (this thread, a child process) and returns its result."""


def run_here(plan: CleaningPlan, cancelled: Cancelled) -> CleaningResult:
    """The default runner: ``clean`` in the calling thread."""
    return clean(plan, cancelled)


def cleanable_segments(log: Log, config: LogConfig, now_ms: int) -> list[LogSegment]:
    """The oldest closed segments whose newest record is at least ``min.compaction.lag.ms`` old."""
    lag = config.min_compaction_lag_ms
    out: list[LogSegment] = []
    for segment in log.closed_segments():
        if lag > 0 and segment.size > 0 and segment.max_timestamp > now_ms - lag:
            break
        out.append(segment)
    return out


def dirty_ratio(segments: Sequence[LogSegment], first_dirty_offset: int) -> float:
    """Dirty bytes / all bytes of ``segments`` (Kafka's cleanable ratio); 0.0 when they are empty."""
    total = dirty = 0
    for segment in segments:
        total += segment.size
        if segment.base_offset >= first_dirty_offset or segment.next_offset > first_dirty_offset:
            dirty += segment.size
    return dirty / total if total else 0.0


def needs_compaction(log: Log, config: LogConfig, now_ms: int, first_dirty_offset: int = 0) -> bool:
    """Whether ``compact`` would run now without ``force`` (policy, dirty ratio, max lag)."""
    if not config.compact:
        return False
    segments = cleanable_segments(log, config, now_ms)
    dirty = [s for s in segments if s.next_offset > first_dirty_offset and s.size > 0]
    if not dirty:
        return False
    if dirty_ratio(segments, first_dirty_offset) >= config.min_cleanable_dirty_ratio:
        return True
    max_lag = config.max_compaction_lag_ms
    return any(now_ms - s.max_timestamp > max_lag for s in dirty if s.max_timestamp >= 0)


def _batches(segment: LogSegment, cancelled: Cancelled) -> Iterator[tuple[BatchHeader, bytes]]:
    """Each batch of a closed segment with its bytes, CRC-checked (one pread per batch)."""
    for position, header in segment.iter_batches():
        if cancelled():
            raise CompactionAbortedError(f"compaction of {segment.directory} stopped")
        data = segment.read_bytes(position, header.size)
        validate(data)
        yield header, data


def _group(segments: Sequence[LogSegment], max_bytes: int) -> list[list[LogSegment]]:
    """Consecutive segments merged into one cleaned segment: total size and offset span bounded."""
    groups: list[list[LogSegment]] = []
    current: list[LogSegment] = []
    size = 0
    for segment in segments:
        if current and (
            size + segment.size > max_bytes or segment.next_offset - 1 - current[0].base_offset > _INT32_MAX
        ):
            groups.append(current)
            current, size = [], 0
        current.append(segment)
        size += segment.size
    if current:
        groups.append(current)
    return groups


@dataclass(slots=True)
class _Counters:
    records_before: int = 0
    records_removed: int = 0
    tombstones_removed: int = 0
    batches_removed: int = 0


class _SegmentWriter:
    """Buffers cleaned batches and appends them to the cleaned segment in chunks."""

    __slots__ = ("_buffer", "_largest", "_max_ts", "_offset_of_max", "now_ms", "segment")

    def __init__(self, segment: LogSegment, now_ms: int) -> None:
        self.segment = segment
        self.now_ms = now_ms
        self._buffer = bytearray()
        self._largest = -1
        self._max_ts = -1
        self._offset_of_max = segment.base_offset

    def add(self, header: BatchHeader, data: bytes) -> None:
        if header.max_timestamp > self._max_ts:
            self._max_ts, self._offset_of_max = header.max_timestamp, header.base_offset
        self._buffer += data
        self._largest = header.last_offset
        if len(self._buffer) >= _WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        self.segment.append(self._largest, self._max_ts, self._offset_of_max, self._buffer, now_ms=self.now_ms)
        self._buffer = bytearray()
        self._max_ts = -1


def compact(
    log: Log,
    config: LogConfig | None,
    now_ms: int,
    *,
    first_dirty_offset: int = 0,
    force: bool = False,
    runner: CleaningRunner = run_here,
    cancelled: Cancelled | None = None,
) -> CompactionStats:
    """Compact ``log``'s cleanable segments when due (see the module docstring); returns what changed.

    ``config`` None means the log's own. Runs only under ``cleanup.policy`` ``compact``; ``force``
    skips the dirty-ratio/lag check (not the policy). Blocking file work: call it from a cleaner
    thread, never concurrently with another compaction of the same log. ``runner`` runs the two
    passes (see ``CleaningRunner``); ``cancelled`` is polled to stop early (CompactionAbortedError).
    Raises ReplacedSegmentsError (``segments.log``) when the log changed under it; nothing is lost.
    """
    config = config if config is not None else log.config
    if not config.compact:
        return CompactionStats(next_dirty_offset=first_dirty_offset)
    if not force and not needs_compaction(log, config, now_ms, first_dirty_offset):
        return CompactionStats(next_dirty_offset=first_dirty_offset)
    segments = cleanable_segments(log, config, now_ms)
    if not segments:
        return CompactionStats(next_dirty_offset=first_dirty_offset)
    end_offset = segments[-1].next_offset
    groups = _group(segments, config.segment_bytes)
    plan = CleaningPlan(log.path, config, now_ms,
                        tuple(tuple((s.base_offset, s.size) for s in group) for group in groups))
    result = runner(plan, cancelled if cancelled is not None else _never)
    written = 0
    try:
        for group, size in zip(groups, result.sizes, strict=True):
            log.replace_segments(group, log.open_cleaned_segment(group[0].base_offset, size))
            written += 1
    except BaseException:
        # Groups not swapped in yet leave nothing behind (a committed swap is recovery's to finish).
        for group in groups[written:]:
            remove_cleaned(log.path, group[0].base_offset)
        raise
    bytes_before = sum(s.size for s in segments)
    bytes_after = sum(result.sizes)
    stats = CompactionStats(
        segments_cleaned=len(segments),
        segments_written=written,
        bytes_before=bytes_before,
        bytes_after=bytes_after,
        records_before=result.records_before,
        records_removed=result.records_removed,
        tombstones_removed=result.tombstones_removed,
        batches_removed=result.batches_removed,
        next_dirty_offset=end_offset,
    )
    logger.info(
        "%s: compacted %d segment(s) into %d: %d -> %d bytes, %d of %d records removed (%d tombstones)",
        log.path,
        stats.segments_cleaned,
        written,
        bytes_before,
        bytes_after,
        stats.records_removed,
        stats.records_before,
        stats.tombstones_removed,
    )
    return stats


def _never() -> bool:
    return False


def remove_cleaned(directory: Path, base_offset: int) -> None:
    for kind in FILE_KINDS:
        with contextlib.suppress(OSError):
            (directory / segment_file_name(base_offset, kind, CLEANED_SUFFIX)).unlink(missing_ok=True)


def clean(plan: CleaningPlan, cancelled: Cancelled = _never) -> CleaningResult:
    """Both passes over the plan's segment files: write one fsynced ``.cleaned`` segment per group.

    Touches no ``Log``: reads closed segment files by name and writes only ``.cleaned`` files (all
    removed again when it fails or is cancelled). Safe in any thread or process.
    """
    directory, config = plan.directory, plan.config
    old = [LogSegment.open(directory, base, config, size=size) for base, size in plan.segments]
    try:
        # Pass one: the latest offset of every key, and each producer's last batch.
        latest: dict[bytes, int] = {}
        last_batch_of_producer: dict[int, int] = {}
        for segment in old:
            for header, data in _batches(segment, cancelled):
                if header.producer_id >= 0:
                    last_batch_of_producer[header.producer_id] = header.base_offset
                if header.is_control or header.is_transactional:
                    continue
                for record in decode_records(header, data):
                    if record.key is not None:
                        latest[record.key] = record.offset
        # Pass two: rewrite group by group.
        horizon = plan.now_ms - config.delete_retention_ms
        counters = _Counters()
        sizes: list[int] = []
        position = 0
        for group in plan.groups:
            base = group[0][0]
            remove_cleaned(directory, base)
            cleaned = LogSegment.create(directory, base, config, suffix=CLEANED_SUFFIX)
            try:
                writer = _SegmentWriter(cleaned, plan.now_ms)
                for segment in old[position : position + len(group)]:
                    for header, data in _batches(segment, cancelled):
                        out = _clean_batch(header, data, latest, last_batch_of_producer, horizon, counters)
                        if out is not None:
                            writer.add(header, out)
                writer.flush()
                cleaned.seal()
                cleaned.flush(force=True)
            finally:
                cleaned.close()
            position += len(group)
            sizes.append(cleaned.size)
    except BaseException:
        for group in plan.groups:
            remove_cleaned(directory, group[0][0])
        raise
    finally:
        for segment in old:
            segment.close()
    return CleaningResult(tuple(sizes), counters.records_before, counters.records_removed,
                          counters.tombstones_removed, counters.batches_removed)


def _clean_batch(
    header: BatchHeader,
    data: bytes,
    latest: dict[bytes, int],
    last_batch_of_producer: dict[int, int],
    horizon_ms: int,
    counters: _Counters,
) -> bytes | None:
    """The batch's bytes after compaction (the same object when nothing changed), or None to drop it."""
    if header.is_control or header.is_transactional:
        return data
    records = decode_records(header, data)
    counters.records_before += len(records)
    expired = header.max_timestamp < horizon_ms
    kept = []
    for record in records:
        if record.key is None or latest.get(record.key) != record.offset:
            continue
        if record.value is None and expired:
            counters.tombstones_removed += 1
            continue
        kept.append(record)
    counters.records_removed += len(records) - len(kept)
    if len(kept) == len(records):
        return data
    if kept:
        return rebuild_batch(header, kept)
    if header.producer_id >= 0 and last_batch_of_producer.get(header.producer_id) == header.base_offset:
        # Keeps lastOffsetDelta and the sequence numbers so the producer is not seen as out of order.
        return rebuild_batch(header, [])
    counters.batches_removed += 1
    return None
