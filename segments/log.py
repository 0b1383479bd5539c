"""One partition's log: a directory of segments (Kafka's ``LocalLog``/``UnifiedLog`` storage part).

Directory ``<topic>-<partition>/`` holds the segment files described in ``segments/segment.py``;
the segment with the highest base offset is the active one, the only one appended to. Offsets are
assigned here, densely, from the log end offset. Recovery on open is ``segments/recovery.py``.

Threading (Kafka's ``UnifiedLog.lock`` and ``LogCleaner`` threads): the event loop appends and
reads; a cleaner thread runs retention and compaction (``segments/retention.py``, ``compaction.py``);
the group-commit thread runs ``flush``. ``Log.lock`` (re-entrant) guards the segment list, the log
start and end offsets and the names of segment files. Every method that reads or changes them takes
it, for a short time: the loop never waits long on it.

- Appends change only the active segment, and only the loop appends; the cleaner touches closed
  segments only, whose bytes never change, so it reads them without the lock.
- With an append writer (``use_writer``, ``segments/writer.py``) a large append's write runs on the
  writer thread: ``append`` takes the offsets (``_next_offset``) and returns; the thread rolls when
  due and records the segment under the lock, ``pwrite``s without it, then moves the segment size
  and ``log_end_offset`` under it. Readers see only ``log_end_offset``, so never unwritten bytes.
  What changes the active segment from the loop (roll, truncation, close, delete) first ``drain``s.
  A failed write bumps ``_generation``: the writes queued behind it fail, and ``_next_offset``
  returns to the log end.
- The cleaner builds a cleaned segment (``.cleaned`` files) without the lock, fsyncs it, and only
  then takes the lock for the swap (``replace_segments``): renames plus two directory fsyncs, no data
  fsync, no unlink. The old segments' files are unlinked after the lock is let go; retention
  likewise renames the segments it deletes to ``.deleted`` under the lock and unlinks them after.
- A reader (fetch) holds ``FileRange``s, each referencing its file's descriptor, so a swap,
  retention or the open-segment cache never closes a file being sent; a fetch racing a swap has
  taken its ranges either before it (old segments, still readable after they are renamed or
  unlinked) or after it (the new segment, whole and fsynced before it joined the list).
- ``flush`` copies the segment list under the lock and fsyncs without it; a segment swapped out
  meanwhile is skipped.
- ``close`` and ``delete`` take the lock; a cleaner finding the log closed, or its segments no
  longer in the list (DeleteRecords, truncation), abandons its output (``ReplacedSegmentsError``).

Lock order: ``Log.lock``, then a segment's index lock, then the ``OpenSegmentCache`` lock (which
never calls back into a segment while held).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from segments.batch import (
    HEADER_SIZE,
    BatchHeader,
    peek_size,
    read_header,
    set_base_offset,
    validate,
    validate_produced,
)
from segments.config import LogConfig
from segments.errors import (
    CorruptBatchError,
    InvalidRecordError,
    LogClosedError,
    LogStorageError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
)
from segments.producer_state import delete_snapshots_above
from segments.records import Record, decode_batch
from segments.recovery import LogLoader, RecoveryReport
from segments.segment import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    NO_TIMESTAMP,
    SWAP_SUFFIX,
    FileRange,
    LogSegment,
    OpenSegmentCache,
    fsync_directory,
    write_at,
)
from segments.writer import AppendWriter, WriteTicket

logger = logging.getLogger(__name__)

AppendListener = Callable[[int], None]
"""Called after every append with the new log end offset (e.g. to wake fetch waiters)."""

# Inactive segments of one log that may keep their files open when no shared cache is given.
DEFAULT_OPEN_SEGMENTS = 8


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[Log, _P], _R]) -> Callable[Concatenate[Log, _P], _R]:
    """Run a ``Log`` method under ``Log.lock`` (see the module docstring)."""

    @wraps(method)
    def locked(self: Log, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.lock:
            return method(self, *args, **kwargs)

    return locked


class ReplacedSegmentsError(StorageError):
    """A cleaned segment can no longer be swapped in: the log was closed, or the segments it replaces
    left the log meanwhile (DeleteRecords, truncation). The cleaned output is discarded."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    first_offset: int
    last_offset: int
    max_timestamp: int  # largest batch maxTimestamp appended (-1 if none carried one)
    offset_of_max_timestamp: int  # base offset of the first batch carrying it
    position_bytes: int  # where the bytes went in the segment (-1 while the write is pending)
    segment_base_offset: int  # (-1 while the write is pending)
    size_bytes: int
    # With an append writer: the write's outcome (the bytes are not in the file when ``append``
    # returns); None when the write was done inline.
    written: WriteTicket | None = None


@dataclass(frozen=True, slots=True)
class ReadResult:
    ranges: list[FileRange]
    log_start_offset: int
    log_end_offset: int

    @property
    def nbytes(self) -> int:
        return sum(r.length for r in self.ranges)

    @property
    def high_watermark(self) -> int:
        """A single node commits everything it has: the high watermark is the log end offset."""
        return self.log_end_offset

    def read_bytes(self) -> bytes:
        """The bytes of all ranges (off the hot path: tests, HTTP, tools)."""
        return b"".join(r.read() for r in self.ranges)


class Log:
    """A partition log.

    Invariants: segments are sorted by base offset, do not overlap, and the last is active;
    ``log_start_offset`` <= ``log_end_offset``; the first segment holds ``log_start_offset`` (whole
    segments below it are deleted); ``recovery_point`` <= ``log_end_offset`` and every byte below it
    has been fsynced; batches on disk carry their final offsets, dense for produced data.
    """

    __slots__ = (
        "_bases",
        "_cache",
        "_closed",
        "_config",
        "_generation",
        "_inflight",
        "_listeners",
        "_log_end_offset",
        "_log_start_offset",
        "_next_offset",
        "_recovery_point",
        "_segments",
        "_settled",
        "_writer",
        "lock",
        "path",
        "recovery_report",
        "truncations",
    )

    def __init__(
        self,
        path: Path,
        config: LogConfig,
        segments: list[LogSegment],
        *,
        log_start_offset: int,
        log_end_offset: int,
        recovery_point: int,
        cache: OpenSegmentCache,
        recovery_report: RecoveryReport,
    ) -> None:
        self.path = path
        self._config = config
        self._segments = segments
        self._bases = [s.base_offset for s in segments]
        self._log_start_offset = log_start_offset
        self._log_end_offset = log_end_offset
        self._recovery_point = recovery_point
        self._cache = cache
        self._listeners: list[AppendListener] = []
        self._closed = False
        self.recovery_report = recovery_report
        # Moves on every truncation, before its producer snapshots are removed: a snapshot taken
        # before it and written after it is stale (``Broker.write_producer_snapshots`` checks).
        self.truncations = 0
        self.lock = threading.RLock()
        # Appends handed to an append writer (``use_writer``): offsets are assigned from
        # ``_next_offset`` at once, while ``_log_end_offset`` (what readers see) moves only once the
        # bytes are in the file. ``_inflight`` counts writes submitted and not yet performed;
        # ``_generation`` moves when a write fails, failing the writes queued behind it.
        self._writer: AppendWriter | None = None
        self._next_offset = log_end_offset
        self._inflight = 0
        self._generation = 0
        self._settled = threading.Condition(self.lock)

    @classmethod
    def open(
        cls,
        path: Path,
        config: LogConfig,
        *,
        now_ms: int,
        recovery_point: int | None = None,
        log_start_offset: int | None = None,
        clean: bool = False,
        cache: OpenSegmentCache | None = None,
    ) -> Log:
        """Open (creating if needed) the log in ``path``, recovering it unless it was closed cleanly.

        ``recovery_point`` and ``log_start_offset`` come from the store's checkpoints; ``clean``
        means the store was shut down cleanly, so with a recovery point nothing is scanned.
        """
        cache = cache if cache is not None else OpenSegmentCache(DEFAULT_OPEN_SEGMENTS)
        loader = LogLoader(
            path, config, recovery_point=recovery_point, log_start_offset=log_start_offset, clean=clean,
            cache=cache,
        )
        try:
            loaded = loader.load()
        except CorruptBatchError as exc:
            if not clean:
                raise
            # A "clean" directory whose active segment does not parse was not clean after all.
            logger.warning("%s: clean shutdown marker but unreadable log tail (%s); recovering", path, exc)
            loader = LogLoader(
                path, config, recovery_point=recovery_point, log_start_offset=log_start_offset, clean=False,
                cache=cache,
            )
            loaded = loader.load()
        log = cls(
            path,
            config,
            loaded.segments,
            log_start_offset=loaded.log_start_offset,
            log_end_offset=loaded.log_end_offset,
            recovery_point=loaded.recovery_point,
            cache=cache,
            recovery_report=loaded.report,
        )
        if log._log_start_offset > log._log_end_offset:
            # Everything below the checkpointed start offset is gone: start empty there (Kafka does too).
            log._truncate_fully(log._log_start_offset)
        log._forget_snapshots_above_end()
        return log

    def _forget_snapshots_above_end(self) -> None:
        """Producer snapshots beyond the log end describe batches it lost (a truncation, a torn tail)."""
        self.truncations += 1
        for removed in delete_snapshots_above(self.path, self._log_end_offset):
            logger.info("%s: removed producer snapshot %s, beyond the log end %d", self.path, removed.name,
                        self._log_end_offset)

    # ------------------------------------------------------------------ properties

    @property
    def config(self) -> LogConfig:
        return self._config

    @config.setter
    def config(self, config: LogConfig) -> None:
        self._config = config
        for segment in self._segments:
            segment.config = config

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        """The offset the next appended record gets."""
        return self._log_end_offset

    @property
    def recovery_point(self) -> int:
        """Every offset below it is fsynced; recovery after a crash scans from here."""
        return self._recovery_point

    @property
    def size_bytes(self) -> int:
        with self.lock:
            return sum(s.size for s in self._segments)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def segments(self) -> tuple[LogSegment, ...]:
        with self.lock:
            return tuple(self._segments)

    @property
    def active_segment(self) -> LogSegment:
        return self._segments[-1]

    def closed_segments(self) -> list[LogSegment]:
        """Every segment but the active one, oldest first (what retention and compaction may touch)."""
        with self.lock:
            return self._segments[:-1]

    def add_append_listener(self, listener: AppendListener) -> None:
        self._listeners.append(listener)

    def remove_append_listener(self, listener: AppendListener) -> None:
        self._listeners.remove(listener)

    def use_writer(self, writer: AppendWriter | None) -> None:
        """Hand later appends' writes to ``writer`` (None: write inline, in ``append``)."""
        with self.lock:
            self.drain()
            self._writer = writer

    @property
    def pending_writes(self) -> int:
        """Appends whose bytes are not in the file yet."""
        return self._inflight

    def drain(self) -> None:
        """Wait until every submitted write is performed (before the active segment changes under
        them: roll, truncation, close). Blocks; on the event loop only on those rare paths."""
        with self.lock:
            while self._inflight:
                self._settled.wait()

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError(f"log {self.path} is closed")

    # ------------------------------------------------------------------ append

    def append(self, data: bytes | bytearray | memoryview, *, now_ms: int) -> AppendResult:
        """Validate produced batches, assign their offsets and write them with one write.

        HOT PATH: per batch a CRC check and an 8-byte rewrite of baseOffset in ``data`` (which must be
        writable to avoid a copy; ``bytes`` are copied); no record is decoded.
        Raises CorruptBatchError, RecordTooLargeError, InvalidRecordError.
        """
        self._check_open()
        buf = _writable(data)
        total = len(buf)
        if total == 0:
            raise InvalidRecordError("no record batch to append")
        max_message_bytes = self._config.max_message_bytes
        first_offset = next_offset = self._next_offset
        max_timestamp, offset_of_max = NO_TIMESTAMP, first_offset
        pos = 0
        while pos < total:
            size = peek_size(buf, pos)
            if size > max_message_bytes:
                raise RecordTooLargeError(
                    f"batch of {size} bytes at position {pos} exceeds max.message.bytes {max_message_bytes}"
                )
            header = validate_produced(buf, pos)
            set_base_offset(buf, pos, next_offset)
            if header.max_timestamp > max_timestamp:
                max_timestamp, offset_of_max = header.max_timestamp, next_offset
            next_offset += header.last_offset_delta + 1
            pos += header.size
        writer = self._writer
        if writer is None or (total < writer.min_bytes and not self._inflight):
            # A small append costs less written here than handed over (a thread switch each way).
            return self._write(buf, first_offset, next_offset, max_timestamp, offset_of_max, now_ms, dense=True)
        return self._submit(writer, buf, first_offset, next_offset, max_timestamp, offset_of_max, now_ms)

    def _submit(
        self,
        writer: AppendWriter,
        data: bytearray | memoryview,
        first_offset: int,
        next_offset: int,
        max_timestamp: int,
        offset_of_max: int,
        now_ms: int,
    ) -> AppendResult:
        """Hand the write to the append writer (HOT PATH): the offsets are taken now, the log end
        moves when the bytes are in the file (``_AsyncWrite``)."""
        ticket = WriteTicket()
        with self.lock:
            if self._next_offset != first_offset:
                # A failed write reset the next offset while this append was being validated.
                raise LogStorageError(f"cannot append to {self.path}: an earlier write failed")
            self._next_offset = next_offset
            self._inflight += 1
            write = _AsyncWrite(self, self._generation, data, first_offset, next_offset, max_timestamp,
                                offset_of_max, now_ms, ticket)
            try:
                writer.submit(write)
            except RuntimeError as exc:
                self._next_offset = first_offset
                self._inflight -= 1
                raise LogClosedError(f"log {self.path} is closing: {exc}") from exc
        return AppendResult(first_offset, next_offset - 1, max_timestamp, offset_of_max, -1, -1, len(data),
                            ticket)

    def _perform(self, write: _AsyncWrite) -> None:
        """The writer thread's part of an append: roll if due, ``pwrite`` without ``lock`` (readers and
        the loop's next appends go on meanwhile), then move the segment size and the log end."""
        try:
            with self.lock:
                if write.generation != self._generation or self._closed:
                    raise LogStorageError(f"cannot append to {self.path}: an earlier write failed"
                                          if not self._closed else f"log {self.path} is closed")
                last_offset = write.next_offset - 1
                segment = self._maybe_roll(len(write.data), write.first_offset, last_offset, write.now_ms)
                handle, position = segment.reserve(last_offset)
            view = memoryview(write.data).cast("B")
            write_at(handle, position, view)
            with self.lock:
                segment.record_append(position, view, last_offset, write.max_timestamp, write.offset_of_max,
                                      now_ms=write.now_ms)
                self._log_end_offset = write.next_offset
                self._inflight -= 1
                self._settled.notify_all()
        except Exception as exc:
            error = exc if isinstance(exc, StorageError) else LogStorageError(
                f"cannot append to {self.path}: {getattr(exc, 'strerror', None) or exc}", getattr(exc, "errno", None))
            with self.lock:
                if write.generation == self._generation:
                    # The writes queued behind this one carry offsets past the hole: they fail too
                    # (their generation is now stale), and the next append starts at the log end.
                    self._generation += 1
                    self._next_offset = self._log_end_offset
                    logger.error("%s: write of offsets %d..%d failed: %s", self.path, write.first_offset,
                                 write.next_offset - 1, error)
                self._inflight -= 1
                self._settled.notify_all()
            write.error = error

    def append_as_is(self, data: bytes | bytearray | memoryview, *, now_ms: int | None = None) -> AppendResult:
        """Append batches that already carry offsets (replication, tools), keeping them.

        Batches must be valid, in increasing offset order, and start at or after the log end.
        Gaps (from compaction) are allowed. Raises CorruptBatchError or InvalidRecordError.
        """
        self._check_open()
        total = len(data)
        if total == 0:
            raise InvalidRecordError("no record batch to append")
        self.drain()  # written inline, after every write already submitted
        expected = self._log_end_offset
        first_offset = -1
        max_timestamp, offset_of_max = NO_TIMESTAMP, expected
        pos = 0
        while pos < total:
            header = validate(data, pos)
            if header.base_offset < expected:
                raise InvalidRecordError(
                    f"batch offset {header.base_offset} is below the expected {expected} (log {self.path})"
                )
            if first_offset < 0:
                first_offset = header.base_offset
            if header.max_timestamp > max_timestamp:
                max_timestamp, offset_of_max = header.max_timestamp, header.base_offset
            expected = header.next_offset
            pos += header.size
        now = now_ms if now_ms is not None else max(max_timestamp, 0)
        return self._write(data, first_offset, expected, max_timestamp, offset_of_max, now)

    def _write(
        self,
        data: bytes | bytearray | memoryview,
        first_offset: int,
        next_offset: int,
        max_timestamp: int,
        offset_of_max: int,
        now_ms: int,
        *,
        dense: bool = False,
    ) -> AppendResult:
        last_offset = next_offset - 1
        try:
            with self.lock:  # a roll changes the segment list
                if dense and first_offset != self._next_offset:
                    # A pending write failed while this append was validated, taking its offsets back.
                    raise LogStorageError(f"cannot append to {self.path}: an earlier write failed")
                segment = self._maybe_roll(len(data), first_offset, last_offset, now_ms)
                position = segment.append(last_offset, max_timestamp, offset_of_max, data, now_ms=now_ms)
                self._log_end_offset = self._next_offset = next_offset
        except StorageError:
            raise
        except OSError as exc:
            # The segment cut any partial write, and the log end offset has not moved: nothing was
            # appended, and the next append (once the disk has room) writes where this one failed.
            raise LogStorageError(f"cannot append to {self.path}: {exc.strerror or exc}", exc.errno) from exc
        self._notify_listeners(next_offset)
        return AppendResult(
            first_offset, last_offset, max_timestamp, offset_of_max, position, segment.base_offset, len(data)
        )

    def _notify_listeners(self, next_offset: int) -> None:
        for listener in self._listeners:
            try:
                listener(next_offset)
            except Exception:
                logger.exception("append listener of %s failed", self.path)

    def _maybe_roll(self, size: int, first_offset: int, last_offset: int, now_ms: int) -> LogSegment:
        """The segment to append to, rolling first when Kafka would (``LogSegment.shouldRoll``)."""
        segment = self._segments[-1]
        config = self._config
        if segment.size == 0:
            if not segment.can_hold_offset(last_offset) or not segment.can_hold_offset(first_offset):
                return self._roll_at(first_offset)
            return segment
        rolling_ms = segment.rolling_ms
        if (
            segment.size + size > config.segment_bytes
            or (rolling_ms is not None and now_ms - rolling_ms > config.segment_ms - config.segment_jitter_ms)
            or segment.is_full()
            or not segment.can_hold_offset(last_offset)
        ):
            return self._roll_at(first_offset)
        return segment

    def roll(self, now_ms: int | None = None) -> LogSegment:
        """Start a new active segment at the log end (no-op when the active one is empty)."""
        with self.lock:
            self._check_open()
            self.drain()
            return self._roll_at(self._log_end_offset)

    def _roll_at(self, base_offset: int) -> LogSegment:
        active = self._segments[-1]
        if active.size == 0:
            if active.base_offset == base_offset:
                return active
            # An empty active segment cannot hold the next offsets: replace it.
            self._segments.pop()
            self._bases.pop()
            active.delete()
        else:
            active.seal()
        segment = LogSegment.create(self.path, base_offset, self._config, cache=self._cache)
        self._segments.append(segment)
        self._bases.append(base_offset)
        logger.debug("%s: rolled new segment at offset %d", self.path, base_offset)
        return segment

    # ------------------------------------------------------------------ read

    @_locked
    def read(self, offset: int, max_bytes: int, *, max_offset: int | None = None, min_one_batch: bool = True,
             whole_batches: bool = True) -> ReadResult:
        """File ranges of whole batches from the one holding ``offset``, about ``max_bytes`` in all.

        HOT PATH: no record bytes pass through Python. The first batch is returned even when larger
        than ``max_bytes`` (unless ``min_one_batch`` is false); further batches (across segments)
        only while the total stays within it. Only batches below ``max_offset`` (exclusive, e.g. a
        high watermark) are returned.

        ``whole_batches=False`` reads as Kafka's fetch does (``LocalLog.read``): one segment's bytes,
        ``max_bytes`` of them when there are that many, possibly ending inside a batch, and none
        when the first batch is over ``max_bytes`` (without ``min_one_batch``).
        Raises OffsetOutOfRangeError when ``offset`` is below the log start or above the log end.
        """
        self._check_open()
        start, end = self._log_start_offset, self._log_end_offset
        if offset < start or offset > end:
            raise OffsetOutOfRangeError(offset, start, end)
        limit = end if max_offset is None else min(max_offset, end)
        ranges: list[FileRange] = []
        if offset >= limit:
            return ReadResult(ranges, start, end)
        segments = self._segments
        i = max(0, bisect_right(self._bases, offset) - 1)
        budget = max_bytes
        while i < len(segments):
            segment = segments[i]
            i += 1
            if segment.base_offset >= limit:
                break
            max_position = segment.size
            if limit < end:
                found = segment.translate_offset(limit)
                if found is not None:
                    max_position = found[0]
            part = segment.read(offset, budget, max_position, min_one_batch=min_one_batch and not ranges,
                                whole_batches=whole_batches)
            if part is None:
                if ranges and max_position > 0:
                    break  # the next batch does not fit the remaining budget
                continue  # nothing at or after ``offset`` here (or an empty segment): look further
            if not whole_batches:
                if part.length:
                    ranges.append(part)
                break  # one segment per read, as Kafka's
            ranges.append(part)
            budget -= part.length
            if budget <= 0 or part.position + part.length < max_position:
                break
        return ReadResult(ranges, start, end)

    @_locked
    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, maxTimestamp) of the first batch whose maxTimestamp >= ``timestamp``, or None.

        Batch granularity: the offset is the batch's base offset (or the log start offset when that
        falls inside it); a caller wanting the exact record decodes that one batch.
        """
        self._check_open()
        start = self._log_start_offset
        for i, segment in enumerate(self._segments):
            if i + 1 < len(self._segments) and self._bases[i + 1] <= start:
                continue
            if segment.size == 0 or segment.max_timestamp < timestamp:
                continue
            found = segment.find_offset_by_timestamp(timestamp, max(start, segment.base_offset))
            if found is not None:
                return found
        return None

    @_locked
    def max_timestamp_offset(self) -> tuple[int, int] | None:
        """(offset, timestamp) of the batch with the largest maxTimestamp (ListOffsets MAX_TIMESTAMP).

        The earliest such batch wins; its base offset is returned (batch granularity, as above).
        """
        self._check_open()
        start = self._log_start_offset
        best: tuple[int, int] | None = None
        for i, segment in enumerate(self._segments):
            if i + 1 < len(self._segments) and self._bases[i + 1] <= start:
                continue
            if segment.size == 0 or segment.max_timestamp == NO_TIMESTAMP:
                continue
            if best is None or segment.max_timestamp > best[1]:
                best = (max(segment.offset_of_max_timestamp, start), segment.max_timestamp)
        return best

    # ------------------------------------------------------------------ record lookups (off the hot path)

    def record_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record at or after ``offset_for_timestamp``'s batch whose
        timestamp is >= ``timestamp`` (Kafka ListOffsets by time), or None.

        The time index finds the batch; only that batch is decoded.
        """
        found = self.offset_for_timestamp(timestamp)
        if found is None:
            return None
        for record in self._records_of_batch_at(found[0]):
            if record.offset >= found[0] and record.timestamp >= timestamp:
                return record.offset, record.timestamp
        return found

    def max_timestamp_record(self) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record holding the log's largest timestamp (ListOffsets
        MAX_TIMESTAMP, KIP-734), or None when no batch carries a timestamp.

        Kafka answers with the record's own offset, not its batch's base offset: the batch holding
        the maximum is located from the segment's tail state and only that batch is decoded.
        """
        found = self.max_timestamp_offset()
        if found is None:
            return None
        offset, max_timestamp = found
        for record in self._records_of_batch_at(offset):
            if record.offset >= offset and record.timestamp == max_timestamp:
                return record.offset, record.timestamp
        return found

    def _records_of_batch_at(self, offset: int) -> list[Record]:
        """The decoded records of the batch holding ``offset`` (empty when there is none)."""
        result = self.read(offset, 1)
        if not result.ranges:
            return []
        first = result.ranges[0]
        data = os.pread(first.fileno, first.length, first.position)
        return decode_batch(data) if len(data) >= HEADER_SIZE else []

    def batch_headers_from(self, offset: int) -> Iterator[BatchHeader]:
        """Headers of the batches from the one holding ``offset`` to the log end, reading 61 bytes per
        batch and no records (producer-state rebuild). Batches wholly below ``offset`` are skipped."""
        end = self._log_end_offset
        while offset < end:
            result = self.read(offset, 64 * 1024 * 1024)
            if not result.ranges:
                return
            for part in result.ranges:
                pos, stop = part.position, part.position + part.length
                while pos + HEADER_SIZE <= stop:
                    header = read_header(os.pread(part.fileno, HEADER_SIZE, pos))
                    if header.next_offset > offset:
                        yield header
                        offset = header.next_offset
                    pos += header.size
            if offset >= end:
                return

    # ------------------------------------------------------------------ truncation and deletion

    @_locked
    def truncate_to(self, offset: int) -> None:
        """Remove every batch whose last offset is >= ``offset`` (a follower's truncation).

        The log end becomes the offset after the last kept batch: ``offset`` itself when it is a
        batch boundary, as Kafka's truncation points are.
        """
        self._check_open()
        self.drain()
        if offset >= self._log_end_offset:
            return
        if offset <= self._segments[0].base_offset:
            self._truncate_fully(offset)
            return
        while self._segments[-1].base_offset >= offset:
            self._segments.pop().delete()
            self._bases.pop()
        segment = self._segments[-1]
        segment.activate()
        removed = segment.truncate_to(offset)
        self._log_end_offset = self._next_offset = segment.next_offset
        self._log_start_offset = min(self._log_start_offset, self._log_end_offset)
        self._recovery_point = min(self._recovery_point, self._log_end_offset)
        logger.info("%s: truncated to offset %d (%d bytes removed from the active segment)", self.path,
                    self._log_end_offset, removed)
        self._forget_snapshots_above_end()

    @_locked
    def _truncate_fully(self, offset: int) -> None:
        """Delete every segment and start empty at ``offset``."""
        self.drain()
        for segment in self._segments:
            segment.delete()
        self._segments = [LogSegment.create(self.path, offset, self._config, cache=self._cache)]
        self._bases = [offset]
        self._log_start_offset = self._log_end_offset = self._recovery_point = self._next_offset = offset
        self._forget_snapshots_above_end()
        fsync_directory(self.path)
        logger.info("%s: truncated fully, starting at offset %d", self.path, offset)

    @_locked
    def delete_records_before(self, offset: int) -> None:
        """Advance the log start offset to ``offset`` (DeleteRecords) and drop whole segments below it."""
        self._check_open()
        if offset > self._log_end_offset:
            raise OffsetOutOfRangeError(offset, self._log_start_offset, self._log_end_offset)
        if offset <= self._log_start_offset:
            return
        self._log_start_offset = offset
        if offset == self._log_end_offset and self._segments[-1].size > 0:
            self.drain()
            if offset == self._log_end_offset:
                self._roll_at(offset)
        doomed = [s for i, s in enumerate(self._segments[:-1]) if self._bases[i + 1] <= offset]
        if doomed:
            self._remove_segments(doomed)

    def delete_segments(self, segments: Sequence[LogSegment]) -> None:
        """Delete the oldest closed segments (retention); the log start offset moves past them.

        ``segments`` must be a prefix of ``closed_segments()``. Under ``lock`` the segments leave the
        list and their files are renamed ``.deleted``; the unlinks (slow for large files) and the
        directory fsync follow without it. A crash in between leaves ``.deleted`` files to recovery.
        """
        doomed = list(segments)
        with self.lock:
            self._check_open()
            if not doomed:
                return
            if doomed != self._segments[: len(doomed)] or len(doomed) >= len(self._segments):
                raise ValueError("only the oldest closed segments can be deleted, oldest first")
            self._detach_segments(doomed)
            self._log_start_offset = max(self._log_start_offset, self._bases[0])
        self._unlink_segments(doomed)

    def _remove_segments(self, doomed: list[LogSegment]) -> None:
        self._detach_segments(doomed)
        self._unlink_segments(doomed)

    def _detach_segments(self, doomed: list[LogSegment]) -> None:
        """Take the oldest segments out of the list and rename their files ``.deleted`` (under ``lock``)."""
        count = len(doomed)
        del self._segments[:count]
        del self._bases[:count]
        for segment in doomed:
            logger.info("%s: deleting segment %s (%d bytes)", self.path, segment.path.name, segment.size)
            segment.rename_suffix(DELETED_SUFFIX)

    def _unlink_segments(self, doomed: list[LogSegment]) -> None:
        for segment in doomed:
            segment.delete()
        fsync_directory(self.path)

    # ------------------------------------------------------------------ compaction support

    @_locked
    def create_cleaned_segment(self, base_offset: int) -> LogSegment:
        """A new segment (``*.cleaned`` files) for compaction output; fill it with ``append``."""
        self._check_open()
        for suffix in (CLEANED_SUFFIX, SWAP_SUFFIX):
            for name in ("log", "index", "timeindex"):
                (self.path / f"{base_offset:020d}.{name}{suffix}").unlink(missing_ok=True)
        return LogSegment.create(self.path, base_offset, self._config, cache=self._cache, suffix=CLEANED_SUFFIX)

    def open_cleaned_segment(self, base_offset: int, size: int) -> LogSegment:
        """The ``.cleaned`` segment a cleaning wrote at ``base_offset`` (``compaction.clean``), for
        ``replace_segments``; its files are opened on first use."""
        return LogSegment.open(self.path, base_offset, self._config, cache=self._cache, suffix=CLEANED_SUFFIX,
                               size=size)

    def replace_segments(self, old: Sequence[LogSegment], new: LogSegment) -> None:
        """Replace consecutive closed segments by ``new`` (made by ``create_cleaned_segment``), crash-safely.

        May run on a cleaner thread while the loop appends and reads. Without the lock: seal and
        fsync ``new``. Under ``lock`` (the only part a reader can wait on): check that ``old`` is
        still a run of closed segments of this open log (else ``ReplacedSegmentsError``: ``new`` is
        deleted and nothing changes); rename ``new`` ``.cleaned`` -> ``.swap`` and fsync the
        directory (the commit point: from here recovery finishes the swap, and before it deletes
        the ``.cleaned`` files); rename the old segments' files to ``.deleted`` and fsync the
        directory; rename ``new`` to its final names; put it in the list. After the lock: fsync
        the directory and unlink the ``.deleted`` files (recovery deletes leftovers).
        """
        old = list(old)
        if not old:
            raise ValueError("no segments to replace")
        if new.base_offset != old[0].base_offset or new.suffix != CLEANED_SUFFIX:
            raise ValueError("the new segment must be a cleaned segment with the first old segment's base offset")
        new.seal()
        new.flush(force=True)
        try:
            with self.lock:
                first = self._check_replaceable(old, new)
                new.rename_suffix(SWAP_SUFFIX)
                fsync_directory(self.path)
                for segment in old:
                    segment.rename_suffix(DELETED_SUFFIX)
                fsync_directory(self.path)
                new.rename_suffix("")
                self._segments[first : first + len(old)] = [new]
                self._bases[first : first + len(old)] = [new.base_offset]
                new.config = self._config
        except ReplacedSegmentsError:
            new.delete()
            raise
        fsync_directory(self.path)
        for segment in old:
            segment.delete()
        logger.info("%s: replaced %d segment(s) from offset %d with a cleaned segment of %d bytes", self.path,
                    len(old), new.base_offset, new.size)

    def _check_replaceable(self, old: list[LogSegment], new: LogSegment) -> int:
        """Where ``old`` starts in the segment list; raises when ``new`` can no longer replace it."""
        if self._closed:
            raise ReplacedSegmentsError(f"log {self.path} was closed during compaction")
        try:
            first = self._segments.index(old[0])
        except ValueError:
            raise ReplacedSegmentsError(f"{old[0]} left {self.path} during compaction") from None
        if self._segments[first : first + len(old)] != old or first + len(old) >= len(self._segments):
            raise ReplacedSegmentsError(f"the segments compacted into {new} are no longer closed segments")
        following = self._bases[first + len(old)]
        if new.size and new.next_offset > following:
            raise ValueError(f"the new segment runs past the next segment's base offset {following}")
        return first

    # ------------------------------------------------------------------ durability and lifecycle

    def flush(self, up_to: int | None = None) -> None:
        """fsync everything below ``up_to`` (default: the log end) and advance the recovery point.

        May run on a flusher thread while the loop appends. The active segment's index files are not
        synced: recovery always rebuilds the index of the segment holding the recovery point.
        """
        if self._closed:
            return
        with self.lock:
            target = self._log_end_offset if up_to is None else min(up_to, self._log_end_offset)
            segments = list(self._segments)
        for segment in segments:
            try:
                if segment.active:
                    if segment.base_offset < target or segment.needs_flush():
                        segment.flush(indexes=False)
                elif segment.needs_flush():
                    segment.flush()
            except FileNotFoundError:
                # Swapped out by compaction (or deleted by retention) since the copy: nothing to sync.
                with self.lock:
                    if segment in self._segments:
                        raise
        if target > self._recovery_point:
            self._recovery_point = target

    @_locked
    def close(self) -> None:
        """Flush everything, write the indexes trimmed and let go of the files (a clean shutdown)."""
        if self._closed:
            return
        self.drain()
        active = self._segments[-1]
        active.seal()
        self.flush()
        for segment in self._segments:
            segment.close()
        self._recovery_point = self._log_end_offset
        self._closed = True
        self._listeners.clear()

    @_locked
    def abandon(self) -> None:
        """Let go of the files without writing anything more to them: for a log whose data is being
        deleted when ``close`` could not write its indexes (a full disk)."""
        for segment in self._segments:
            segment.abandon()
        self._closed = True
        self._listeners.clear()

    @_locked
    def delete(self) -> None:
        """Delete every segment file and, if nothing else is left in it, the directory."""
        self.drain()
        for segment in self._segments:
            segment.delete()
        self._closed = True
        self._listeners.clear()
        # Other files (e.g. the store's metadata) may live here; then the store removes the directory.
        with contextlib.suppress(OSError):
            os.rmdir(self.path)


class _AsyncWrite:
    """One append handed to the append writer: its bytes (a view the caller keeps unchanged until
    the ticket finishes), offsets, and outcome."""

    __slots__ = ("data", "error", "first_offset", "generation", "log", "max_timestamp", "next_offset", "now_ms",
                 "offset_of_max", "ticket")

    def __init__(self, log: Log, generation: int, data: bytearray | memoryview, first_offset: int, next_offset: int,
                 max_timestamp: int, offset_of_max: int, now_ms: int, ticket: WriteTicket) -> None:
        self.log = log
        self.generation = generation
        self.data: bytes | bytearray | memoryview = data
        self.first_offset = first_offset
        self.next_offset = next_offset
        self.max_timestamp = max_timestamp
        self.offset_of_max = offset_of_max
        self.now_ms = now_ms
        self.ticket = ticket
        self.error: BaseException | None = None

    def perform(self) -> None:
        self.log._perform(self)

    def publish(self) -> None:
        self.data = b""  # the caller's buffer may be reused from here
        if self.error is None:
            self.log._notify_listeners(self.next_offset)
        self.ticket.finish(self.error)


def _writable(data: bytes | bytearray | memoryview) -> bytearray | memoryview:
    if isinstance(data, bytearray):
        return data
    if isinstance(data, memoryview) and not data.readonly:
        return data
    return bytearray(data)
