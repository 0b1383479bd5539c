"""One log segment: a ``.log`` file of record batches plus its ``.index`` and ``.timeindex``.

Files of a segment whose first offset is B (Kafka ``LogSegment``; names are B as 20 digits)::

    file                          content
    <B>.log                       record batches v2 back to back, exactly as on the wire
                                  (layout in ``segments/batch.py``), offsets increasing
    <B>.index                     sparse offset -> position entries (``segments/index.py``)
    <B>.timeindex                 sparse timestamp -> offset entries (``segments/index.py``)
    <B>.<kind>.cleaned            compaction output not yet committed (deleted by recovery)
    <B>.<kind>.swap               committed compaction output being installed (finished by recovery)
    <B>.<kind>.deleted            a segment being deleted (deleted by recovery)

Segments are opened lazily: a segment found on disk holds no file descriptor and no index in memory
until it is read, and an ``OpenSegmentCache`` bounds how many inactive segments keep theirs. Every
descriptor is owned by a ``FileHandle`` that closes it when the last reference goes, and each
``FileRange`` handed to the network layer references its handle, so evicting, deleting or replacing
a segment never closes a descriptor that a pending ``sendfile`` still uses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from segments.batch import HEADER_SIZE, LOG_OVERHEAD, BatchHeader, read_header
from segments.config import LogConfig
from segments.errors import CorruptBatchError, LogClosedError
from segments.index import CorruptIndexError, OffsetIndex, TimeIndex

logger = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
FILE_KINDS = (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX)
CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"
DELETED_SUFFIX = ".deleted"
TMP_SUFFIX = ".tmp"

NO_TIMESTAMP = -1  # Kafka's RecordBatch.NO_TIMESTAMP
_INT32_MAX = 2**31 - 1
_PREFIX = struct.Struct(">qi")  # baseOffset, batchLength
_MAX_TS = struct.Struct(">q")
_MAX_TS_AT = 35
# Header scans read this much at a time: enough for the headers of every small batch between two
# index entries (index.interval.bytes is 4096 by default) in one pread.
_SCAN_CHUNK = 16 * 1024


def segment_file_name(base_offset: int, kind: str, suffix: str = "") -> str:
    """``00000000000000000042.log`` (+ ``.swap`` etc.)."""
    return f"{base_offset:020d}{kind}{suffix}"


def parse_segment_file_name(name: str) -> tuple[int, str, str] | None:
    """(base offset, kind, extra suffix) of a segment file name, or None for other files.

    ``00000000000000000042.index.swap`` -> (42, ".index", ".swap").
    """
    digits, rest = name[:20], name[20:]
    if len(digits) != 20 or not digits.isdigit():
        return None
    for kind in FILE_KINDS:
        if rest == kind or rest.startswith(kind + "."):
            return int(digits), kind, rest[len(kind) :]
    return None


class FileHandle:
    """An open file descriptor, closed when the last reference to this object goes.

    Segments and ``FileRange`` objects share handles, so a descriptor stays valid for as long as
    anybody may still ``sendfile`` from it, even after the segment was evicted or deleted.
    """

    __slots__ = ("fd", "path")

    def __init__(self, path: Path, flags: int) -> None:
        self.path = path
        self.fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.close(self.fd)


@dataclass(frozen=True, slots=True)
class FileRange:
    """A byte range of a segment's log file, ready for ``os.sendfile(sock, fileno, position, length)``.

    Holds the file's ``FileHandle``: the descriptor stays open while this range is referenced.
    """

    fileno: int
    position: int
    length: int
    handle: FileHandle | None = field(default=None, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        """Length in bytes; the network codec treats objects with ``nbytes`` as file parts."""
        return self.length

    def read(self) -> bytes:
        """The bytes of the range (off the hot path: tests, HTTP, tools)."""
        chunks: list[bytes] = []
        position, remaining = self.position, self.length
        while remaining > 0:
            chunk = os.pread(self.fileno, remaining, position)
            if not chunk:
                break
            chunks.append(chunk)
            position += len(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class OpenSegmentCache:
    """Least-recently-used bounds on the segments that keep files and indexes open.

    Two bounds, both counted in segments:

    - ``max_open``: segments holding a file descriptor, active ones included. An active segment
      evicted here drops only its descriptor (its indexes and tail state stay in memory, it
      reopens its file read-write on the next append or read), so any number of partitions can
      be served within a fixed descriptor budget.
    - ``max_inactive``: inactive segments holding a descriptor or their indexes (memory); an
      evicted inactive segment drops both.

    Share one cache between many logs to bound a whole data directory. Thread-safe: the event loop
    and worker threads (compaction, topic creation and deletion) may touch segments at once. The
    lock guards only the two lists; evicted segments are released after it is let go, so a
    segment's own locks are never taken under it.
    """

    __slots__ = ("_active", "_inactive", "_lock", "max_inactive", "max_open")

    def __init__(self, max_open: int = 64, max_inactive: int | None = None) -> None:
        self.max_open = max(1, max_open)
        self.max_inactive = max(1, min(self.max_open, max_inactive if max_inactive is not None else max_open))
        self._active: OrderedDict[LogSegment, None] = OrderedDict()
        self._inactive: OrderedDict[LogSegment, None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._active) + len(self._inactive)

    def touch(self, segment: LogSegment) -> None:
        """``segment`` was just used (O(1) and one uncontended lock; on the produce path once per append)."""
        evicted: list[LogSegment] = []
        with self._lock:
            mine, other = (self._active, self._inactive) if segment.active else (self._inactive, self._active)
            if other:
                other.pop(segment, None)
            mine[segment] = None
            mine.move_to_end(segment)
            while len(self._inactive) > self.max_inactive:
                evicted.append(self._inactive.popitem(last=False)[0])
            while len(self._active) + len(self._inactive) > self.max_open:
                # Inactive segments go first: an active one is likely to be appended to again soon.
                victims = self._inactive if self._inactive else self._active
                evicted.append(victims.popitem(last=False)[0])
        for victim in evicted:
            victim.release()

    def discard(self, segment: LogSegment) -> None:
        with self._lock:
            self._active.pop(segment, None)
            self._inactive.pop(segment, None)


@dataclass(slots=True)
class TailState:
    """What a scan of a segment's last batches tells: next offset and largest timestamp."""

    next_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int


class LogSegment:
    """One ``.log``/``.index``/``.timeindex`` triple.

    Invariants: batches in the log file are whole, valid (checked on append or by recovery) and in
    increasing offset order, all >= ``base_offset``; only the active segment is appended to, always
    at ``size``; index entries point at batch starts below ``size``; ``size`` in memory is the
    authority (bytes past it, e.g. from a failed write, are never served and are overwritten).
    """

    __slots__ = (
        "__weakref__",
        "_bytes_since_index",
        "_cache",
        "_closed",
        "_handle",
        "_index_lock",
        "_indexes_dirty",
        "_log_dirty",
        "_offset_index",
        "_rolling_ms",
        "_size",
        "_tail",
        "_time_index",
        "active",
        "base_offset",
        "config",
        "directory",
        "suffix",
    )

    def __init__(
        self,
        directory: Path,
        base_offset: int,
        config: LogConfig,
        *,
        cache: OpenSegmentCache | None = None,
        suffix: str = "",
        size: int | None = None,
    ) -> None:
        self.directory = directory
        self.base_offset = base_offset
        self.config = config
        self.suffix = suffix
        self.active = False
        self._cache = cache
        self._size = size
        self._handle: FileHandle | None = None
        self._offset_index: OffsetIndex | None = None
        self._time_index: TimeIndex | None = None
        self._tail: TailState | None = None
        self._rolling_ms: int | None = None
        self._bytes_since_index = 0
        self._log_dirty = False
        self._indexes_dirty = False
        self._closed = False
        self._index_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LogSegment({self.path})"

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls,
        directory: Path,
        base_offset: int,
        config: LogConfig,
        *,
        cache: OpenSegmentCache | None = None,
        suffix: str = "",
    ) -> LogSegment:
        """Create the empty files of a new active segment (indexes preallocated)."""
        segment = cls(directory, base_offset, config, cache=cache, suffix=suffix, size=0)
        segment._handle = FileHandle(segment.path, os.O_CREAT | os.O_EXCL | os.O_RDWR)
        segment._touch()
        for path in (segment.index_path, segment.time_index_path):
            path.unlink(missing_ok=True)
        offset_index = OffsetIndex(segment.index_path, base_offset, config.segment_index_bytes)
        time_index = TimeIndex(segment.time_index_path, base_offset, config.segment_index_bytes)
        offset_index.create_file()
        time_index.create_file()
        segment._offset_index, segment._time_index = offset_index, time_index
        segment._tail = TailState(base_offset, NO_TIMESTAMP, base_offset)
        segment.active = True
        return segment

    @classmethod
    def open(
        cls,
        directory: Path,
        base_offset: int,
        config: LogConfig,
        *,
        cache: OpenSegmentCache | None = None,
        suffix: str = "",
        size: int | None = None,
    ) -> LogSegment:
        """An existing segment, opened lazily: no file is touched here."""
        return cls(directory, base_offset, config, cache=cache, suffix=suffix, size=size)

    # ------------------------------------------------------------------ files and state

    def _file_path(self, kind: str) -> Path:
        return self.directory / segment_file_name(self.base_offset, kind, self.suffix)

    @property
    def path(self) -> Path:
        return self._file_path(LOG_SUFFIX)

    @property
    def index_path(self) -> Path:
        return self._file_path(INDEX_SUFFIX)

    @property
    def time_index_path(self) -> Path:
        return self._file_path(TIME_INDEX_SUFFIX)

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError(f"segment {self.path} is closed")

    def _touch(self) -> None:
        if self._cache is not None:
            self._cache.touch(self)

    def _file(self) -> FileHandle:
        self._check_open()
        handle = self._handle
        if handle is None:
            handle = FileHandle(self.path, os.O_RDWR if self.active else os.O_RDONLY)
            self._handle = handle
        self._touch()
        return handle

    @property
    def size(self) -> int:
        """Bytes of valid batches in the log file."""
        if self._size is None:
            self._size = os.stat(self.path).st_size
        return self._size

    def _indexes(self) -> tuple[OffsetIndex, TimeIndex]:
        offset_index, time_index = self._offset_index, self._time_index
        if offset_index is None or time_index is None:
            self._check_open()
            offset_index, time_index = self._load_indexes()
            self._offset_index, self._time_index = offset_index, time_index
        if not self.active:  # an active segment's indexes are never dropped; its descriptor is touched in _file
            self._touch()
        return offset_index, time_index

    def _load_indexes(self) -> tuple[OffsetIndex, TimeIndex]:
        index_bytes = self.config.segment_index_bytes
        try:
            return (
                OffsetIndex.load(self.index_path, self.base_offset, index_bytes, self.size),
                TimeIndex.load(self.time_index_path, self.base_offset, index_bytes),
            )
        except CorruptIndexError as exc:
            logger.warning("rebuilding indexes of segment %s: %s", self.path, exc)
        self.rebuild_indexes(self.iter_batches(stop_at_corruption=True))
        assert self._offset_index is not None and self._time_index is not None
        return self._offset_index, self._time_index

    def has_loaded_indexes(self) -> bool:
        return self._offset_index is not None

    def _tail_state(self) -> TailState:
        tail = self._tail
        if tail is None:
            tail = self._scan_tail()
            self._tail = tail
        return tail

    def _scan_tail(self) -> TailState:
        """Next offset and largest timestamp from the last index entries and the batches after them."""
        offset_index, time_index = self._indexes()
        _, start = offset_index.last_entry()
        max_ts, offset_of_max = NO_TIMESTAMP, self.base_offset
        last_time = time_index.last_entry()
        if last_time is not None:
            max_ts, offset_of_max = last_time
            start = min(start, offset_index.lookup(offset_of_max)[1])
        else:
            start = 0
        next_offset = self.base_offset
        for _, header in self.iter_batches(start):
            next_offset = header.next_offset
            if header.max_timestamp > max_ts:
                max_ts, offset_of_max = header.max_timestamp, header.base_offset
        return TailState(next_offset, max_ts, offset_of_max)

    @property
    def next_offset(self) -> int:
        """One past the last offset of the last batch (``base_offset`` when empty)."""
        return self._tail_state().next_offset

    @property
    def max_timestamp(self) -> int:
        """Largest batch maxTimestamp in the segment (-1 when empty)."""
        return self._tail_state().max_timestamp

    @property
    def offset_of_max_timestamp(self) -> int:
        """Base offset of the first batch holding ``max_timestamp``."""
        return self._tail_state().offset_of_max_timestamp

    @property
    def rolling_ms(self) -> int | None:
        """When the active segment's ``segment.ms`` clock started (its first append), or None."""
        if self._rolling_ms is None and self.active and self.size > 0:
            # Reopened: Kafka's rule, the first batch's maxTimestamp stands in for the first append.
            header = read_header(os.pread(self._file().fd, HEADER_SIZE, 0))
            self._rolling_ms = header.max_timestamp
        return self._rolling_ms

    def is_full(self) -> bool:
        """Whether an index has reached ``segment.index.bytes`` (the log then rolls)."""
        offset_index, time_index = self._indexes()
        return offset_index.is_full or time_index.is_full

    def can_hold_offset(self, offset: int) -> bool:
        """Whether ``offset`` is expressible relative to the base offset (int32, as in Kafka)."""
        return 0 <= offset - self.base_offset <= _INT32_MAX

    # ------------------------------------------------------------------ append

    def append(
        self,
        largest_offset: int,
        max_timestamp: int,
        offset_of_max_ts: int,
        data: bytes | bytearray | memoryview,
        *,
        now_ms: int | None = None,
    ) -> int:
        """Write ``data`` (whole, valid, offset-assigned batches) at the end; returns its position.

        HOT PATH: one ``pwrite``; per batch only the 12-byte prefix (and maxTimestamp when an index
        entry is due) is read, to place sparse index entries every ``index.interval.bytes``.
        """
        handle, position = self.reserve(largest_offset)
        view = memoryview(data).cast("B")
        write_at(handle, position, view)
        self.record_append(position, view, largest_offset, max_timestamp, offset_of_max_ts, now_ms=now_ms)
        return position

    def reserve(self, largest_offset: int) -> tuple[FileHandle, int]:
        """Where the next append goes: the file (held, so an eviction cannot close it meanwhile) and
        the position (the end of the valid bytes). The caller writes there with ``write_at`` and then
        calls ``record_append``; until then no reader sees the bytes (``size`` has not moved).
        Only one append may be between ``reserve`` and ``record_append`` at a time."""
        self._check_open()
        if not self.active:
            raise ValueError(f"segment {self.path} is not active")
        if not self.can_hold_offset(largest_offset):
            raise ValueError(f"offset {largest_offset} does not fit segment {self.base_offset}")
        self._indexes()
        self._tail_state()
        return self._file(), self.size

    def record_append(
        self,
        position: int,
        view: memoryview,
        largest_offset: int,
        max_timestamp: int,
        offset_of_max_ts: int,
        *,
        now_ms: int | None = None,
    ) -> None:
        """Account for ``view``, written at ``position`` by ``write_at``: sparse index entries, the
        tail state and the size (from here readers see the bytes)."""
        offset_index, time_index = self._indexes()
        tail = self._tail_state()
        total = len(view)
        interval = self.config.index_interval_bytes
        since = self._bytes_since_index
        if since + total > interval:
            run_max, run_offset = tail.max_timestamp, tail.offset_of_max_timestamp
            rel = 0
            while rel < total:
                base, length = _PREFIX.unpack_from(view, rel)
                batch_max = _MAX_TS.unpack_from(view, rel + _MAX_TS_AT)[0]
                if batch_max > run_max:
                    run_max, run_offset = batch_max, base
                if since > interval:
                    offset_index.append(base, position + rel)
                    time_index.maybe_append(run_max, run_offset)
                    since = 0
                since += length + LOG_OVERHEAD
                rel += length + LOG_OVERHEAD
        else:
            since += total
        self._bytes_since_index = since
        if max_timestamp > tail.max_timestamp:
            tail.max_timestamp, tail.offset_of_max_timestamp = max_timestamp, offset_of_max_ts
        tail.next_offset = largest_offset + 1
        if self._rolling_ms is None and position == 0:
            self._rolling_ms = now_ms if now_ms is not None else max_timestamp
        self._size = position + total
        self._log_dirty = True
        self._indexes_dirty = True

    # ------------------------------------------------------------------ read

    def iter_batches(
        self, start_position: int = 0, end_position: int | None = None, *, stop_at_corruption: bool = False
    ) -> Iterator[tuple[int, BatchHeader]]:
        """(position, header) of each batch from ``start_position``, reading headers only (no CRC).

        Reads ``_SCAN_CHUNK`` bytes at a time, so small batches cost one pread per chunk and large
        ones one pread each. Raises CorruptBatchError on a header that is cut or out of bounds,
        unless ``stop_at_corruption``.
        """
        end = self.size if end_position is None else min(end_position, self.size)
        # Hold the handle, not just its number: between yields the segment may be evicted from the
        # open-file cache, and a bare descriptor could then be closed and reused by another file.
        handle = self._file()
        fd = handle.fd
        buf = b""
        buf_start = start_position
        pos = start_position
        while pos < end:
            off = pos - buf_start
            if off + HEADER_SIZE > len(buf):
                buf = os.pread(fd, max(_SCAN_CHUNK, HEADER_SIZE), pos)
                buf_start, off = pos, 0
            try:
                if len(buf) - off < HEADER_SIZE or pos + HEADER_SIZE > end:
                    raise CorruptBatchError(f"{self.path}: truncated batch header at position {pos}")
                header = read_header(buf, off)
                if pos + header.size > end:
                    raise CorruptBatchError(f"{self.path}: batch at position {pos} runs past {end}")
            except CorruptBatchError:
                if stop_at_corruption:
                    return
                raise
            yield pos, header
            pos += header.size

    def translate_offset(self, offset: int, max_position: int | None = None) -> tuple[int, BatchHeader] | None:
        """Position and header of the first batch whose last offset is >= ``offset``, or None."""
        offset_index, _ = self._indexes()
        _, start = offset_index.lookup(max(offset, self.base_offset))
        for position, header in self.iter_batches(start, max_position):
            if header.last_offset >= offset:
                return position, header
        return None

    def _batch_boundary_before(self, limit: int, start: int, end: int) -> int:
        """The largest batch boundary <= ``limit`` and >= ``start``, found from the nearest index entry."""
        offset_index, _ = self._indexes()
        _, position = offset_index.lookup_position(limit)
        boundary = max(position, start)
        for position, header in self.iter_batches(boundary, end):
            if position + header.size > limit:
                return position
            boundary = position + header.size
        return boundary

    def read(
        self, start_offset: int, max_bytes: int, max_position: int | None = None, *, min_one_batch: bool = True,
        whole_batches: bool = True,
    ) -> FileRange | None:
        """Whole batches from the one holding ``start_offset``, at most ``max_bytes`` of them.

        HOT PATH: an index lookup plus a short header scan at each end of the range; no record
        bytes are read. With ``min_one_batch`` the first batch is returned even when larger than
        ``max_bytes`` (KIP-74). ``max_position`` (a batch boundary) caps the range. None when no
        batch at or after ``start_offset`` lies below ``max_position``.

        ``whole_batches=False`` is Kafka 4.1's fetch slice (``LogSegment.read``, and what it
        answers): ``max_bytes`` from the batch holding ``start_offset`` when that first batch fits
        in them (or always, with ``min_one_batch``), so the range may end inside a batch (Kafka's
        clients drop a partial batch at the end); an empty range when the first batch does not fit.
        """
        end = self.size if max_position is None else min(max_position, self.size)
        found = self.translate_offset(start_offset, end)
        if found is None:
            return None
        start, first = found
        limit = start + (max(max_bytes, first.size) if min_one_batch else max_bytes)
        if not whole_batches:
            stop = min(end, limit) if limit - start >= first.size else start
            handle = self._file()
            return FileRange(handle.fd, start, stop - start, handle)
        stop = end if limit >= end else self._batch_boundary_before(limit, start, end)
        if stop <= start:
            return None
        handle = self._file()
        return FileRange(handle.fd, start, stop - start, handle)

    def read_bytes(self, position: int = 0, length: int | None = None) -> bytes:
        """Raw bytes of the log file (off the hot path: compaction, tools, tests)."""
        end = self.size if length is None else min(self.size, position + length)
        handle = self._file()
        return FileRange(handle.fd, position, max(0, end - position), handle).read()

    def find_offset_by_timestamp(self, timestamp: int, start_offset: int | None = None) -> tuple[int, int] | None:
        """(offset, maxTimestamp) of the first batch at/after ``start_offset`` with maxTimestamp >= ``timestamp``.

        The offset is the batch's base offset (or ``start_offset`` when that falls inside it).
        """
        start_offset = self.base_offset if start_offset is None else start_offset
        offset_index, time_index = self._indexes()
        entry = time_index.lookup_before(timestamp)
        from_offset = max(entry[1] if entry is not None else self.base_offset, start_offset)
        _, position = offset_index.lookup(from_offset)
        for _, header in self.iter_batches(position):
            if header.last_offset >= start_offset and header.max_timestamp >= timestamp:
                return max(header.base_offset, start_offset), header.max_timestamp
        return None

    # ------------------------------------------------------------------ truncate, indexes

    def truncate_to(self, offset: int) -> int:
        """Remove every batch whose last offset is >= ``offset``; returns the bytes removed."""
        found = self.translate_offset(offset)
        if found is None:
            return 0
        position, header = found
        offset_index, time_index = self._indexes()
        removed = self.size - position
        os.ftruncate(self._file().fd, position)
        self._size = position
        offset_index.truncate_to_position(position)
        time_index.truncate_to_offset(header.base_offset)
        self._tail = self._scan_tail()
        self._bytes_since_index = 0
        if position == 0:
            self._rolling_ms = None
        self._log_dirty = True
        self._indexes_dirty = True
        return removed

    def rebuild_indexes(self, batches: Iterator[tuple[int, BatchHeader]] | list[tuple[int, BatchHeader]]) -> None:
        """Recreate both indexes (and the tail state) from the batches of the log file, then write them."""
        index_bytes = self.config.segment_index_bytes
        offset_index = OffsetIndex(self.index_path, self.base_offset, index_bytes)
        time_index = TimeIndex(self.time_index_path, self.base_offset, index_bytes)
        interval = self.config.index_interval_bytes
        since = 0
        max_ts, offset_of_max, next_offset = NO_TIMESTAMP, self.base_offset, self.base_offset
        for position, header in batches:
            if header.max_timestamp > max_ts:
                max_ts, offset_of_max = header.max_timestamp, header.base_offset
            if since > interval:
                offset_index.append(header.base_offset, position)
                time_index.maybe_append(max_ts, offset_of_max)
                since = 0
            since += header.size
            next_offset = header.next_offset
        if max_ts != NO_TIMESTAMP:
            # The final entry makes the last one the segment's maximum (harmless while active).
            time_index.maybe_append(max_ts, offset_of_max)
        offset_index.rewrite_file(sync=False)
        time_index.rewrite_file(sync=False)
        self._offset_index, self._time_index = offset_index, time_index
        self._tail = TailState(next_offset, max_ts, offset_of_max)
        self._bytes_since_index = since
        self._indexes_dirty = True

    def cut_to(self, position: int) -> None:
        """Recovery: drop the bytes from ``position`` on (a torn or corrupt tail)."""
        os.truncate(self.path, position)
        self._size = position
        self._log_dirty = True

    # ------------------------------------------------------------------ lifecycle

    def seal(self) -> None:
        """Stop being the active segment: record the final largest timestamp, trim the indexes."""
        if not self.active:
            return
        offset_index, time_index = self._indexes()
        tail = self._tail_state()
        if self.size > 0 and tail.max_timestamp != NO_TIMESTAMP:
            time_index.maybe_append(tail.max_timestamp, tail.offset_of_max_timestamp)
        with self._index_lock:
            offset_index.write_to_file(trim=True, sync=False)
            time_index.write_to_file(trim=True, sync=False)
        self.active = False
        self._indexes_dirty = True
        self._touch()

    def flush(self, *, indexes: bool = True, force: bool = False) -> None:
        """fsync the log file and, with ``indexes``, the index files. May run on a flusher thread.

        Only what was written since the last flush is synced, unless ``force``.
        """
        if self._closed:
            return
        handle = self._handle
        if self._log_dirty or force:
            # Cleared first: an append racing with the fsync marks the segment dirty again.
            self._log_dirty = False
            if handle is None:
                handle = FileHandle(self.path, os.O_RDONLY)
            try:
                os.fsync(handle.fd)
            except BaseException:
                self._log_dirty = True
                raise
        if indexes and (self._indexes_dirty or force):
            self._indexes_dirty = False
            with self._index_lock:
                for index, path in ((self._offset_index, self.index_path), (self._time_index, self.time_index_path)):
                    if index is not None:
                        index.write_to_file(trim=not self.active, sync=True)
                    elif path.exists():
                        _fsync_path(path)

    def needs_flush(self) -> bool:
        return self._log_dirty or self._indexes_dirty

    def activate(self) -> None:
        """Become the active segment again (the log was truncated back into it, or reopened)."""
        if self.active:
            return
        if self._cache is not None:
            self._cache.discard(self)
        self._handle = None  # reopened read-write on next use
        self._rolling_ms = None
        self._bytes_since_index = 0
        self.active = True

    def release(self) -> None:
        """Cache eviction: drop the descriptor, and the in-memory indexes of an inactive segment.

        An active segment keeps its indexes and tail state (appends need them and they are not
        on disk yet) and reopens its file read-write on next use.
        """
        self._handle = None
        if self.active:
            return
        self._offset_index = None
        self._time_index = None

    def close(self) -> None:
        """Write the indexes trimmed (and the final time index entry) and let go of the files."""
        if self._closed:
            return
        if self.active:
            self.seal()
        if self._cache is not None:
            self._cache.discard(self)
        self._closed = True
        self._handle = None
        self._offset_index = None
        self._time_index = None

    def abandon(self) -> None:
        """Let go of the files without sealing or writing the indexes (the data is being deleted)."""
        if self._cache is not None:
            self._cache.discard(self)
        self.active = False
        self._closed = True
        self._handle = None
        self._offset_index = None
        self._time_index = None

    def delete(self) -> None:
        """Remove the segment's files. Open ``FileRange``s keep reading the unlinked file."""
        self._closed = True
        if self._cache is not None:
            self._cache.discard(self)
        self._handle = None
        self._offset_index = None
        self._time_index = None
        for kind in FILE_KINDS:
            self._file_path(kind).unlink(missing_ok=True)

    def rename_suffix(self, suffix: str) -> None:
        """Rename the segment's existing files to carry ``suffix`` (e.g. ``.swap``, ``.deleted``, ``""``).

        The log file is renamed last, so that its name marks the step as done. The caller fsyncs
        the directory.
        """
        for kind in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX):
            old = self._file_path(kind)
            new = self.directory / segment_file_name(self.base_offset, kind, suffix)
            with contextlib.suppress(FileNotFoundError):
                os.replace(old, new)
        self.suffix = suffix
        if self._offset_index is not None:
            self._offset_index.path = self.index_path
        if self._time_index is not None:
            self._time_index.path = self.time_index_path


def write_at(handle: FileHandle, position: int, view: memoryview) -> None:
    """``pwrite`` all of ``view`` at ``position``. HOT PATH (the kernel's copy into the page cache).

    On an error the bytes written past ``position`` are cut again (best effort: bytes past a
    segment's ``size`` are never served and the next append overwrites them), then it raises.
    """
    fd = handle.fd
    total = len(view)
    written = 0
    try:
        while written < total:
            written += os.pwrite(fd, view[written:], position + written)
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, position)
        raise


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: Path) -> None:
    """Make renames and unlinks in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
