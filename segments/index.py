"""Sparse offset and time indexes of one log segment (Kafka's ``OffsetIndex`` and ``TimeIndex``).

Both files are arrays of fixed-size big-endian entries. Offsets are stored relative to the
segment's base offset (the number in the file name), so an entry fits in 32 bits.

``<base>.index`` (Kafka ``OffsetIndex``), 8 bytes per entry::

    offset  size  field            meaning
    0       4     relativeOffset   base offset of a batch minus the segment's base offset (int32)
    4       4     position         byte position of that batch in the .log file (int32)

``<base>.timeindex`` (Kafka ``TimeIndex``), 12 bytes per entry::

    offset  size  field            meaning
    0       8     timestamp        largest batch maxTimestamp in the segment so far (int64, ms)
    8       4     relativeOffset   base offset of the batch that first reached it, relative (int32)

Files are preallocated to ``segment.index.bytes`` (rounded down to whole entries) when a segment is
created, so a file found after a crash may end in zero-filled entries; loading drops trailing
all-zero entries (dropping entries from a sparse index loses nothing but lookup speed) and then
checks the rest, raising ``CorruptIndexError`` so that the caller rebuilds the index from the log.
On close or roll the file is trimmed to its entries.

The entries live in memory as two ``array.array`` columns, searched with ``bisect`` (C speed, 4 or
8 bytes per value). The file is written by ``write_to_file``: entries are only appended, so only
the entries added since the previous write are written.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
import sys
import threading
from array import array
from bisect import bisect_left, bisect_right
from pathlib import Path

from segments.errors import StorageError

OFFSET_ENTRY_SIZE = 8
TIME_ENTRY_SIZE = 12
_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")
_INT32_MAX = 2**31 - 1
_BIG_ENDIAN = sys.byteorder == "big"


class CorruptIndexError(StorageError):
    """An index file failed its sanity check; it is rebuilt from the segment's log file."""


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CorruptIndexError(f"index file {path} is missing") from None


def _strip_zero_entries(data: bytes, entry_size: int) -> bytes:
    """Drop trailing all-zero entries left by preallocation."""
    end = len(data) - len(data) % entry_size
    zero = bytes(entry_size)
    while end >= entry_size and data[end - entry_size : end] == zero:
        end -= entry_size
    return data[:end]


def _offset_columns(data: bytes) -> tuple[array[int], array[int]]:
    """Split big-endian (int32, int32) entries into two native arrays."""
    both = array("i")
    both.frombytes(data)
    if not _BIG_ENDIAN:
        both.byteswap()
    return both[0::2], both[1::2]


def _time_columns(data: bytes) -> tuple[array[int], array[int]]:
    """Split big-endian (int64, int32) entries into two native arrays."""
    timestamps: array[int] = array("q")
    offsets: array[int] = array("i")
    for timestamp, offset in _TIME_ENTRY.iter_unpack(data):
        timestamps.append(timestamp)
        offsets.append(offset)
    return timestamps, offsets


def _is_increasing(values: array[int], strict: bool) -> bool:
    if strict:
        return all(a < b for a, b in itertools.pairwise(values))
    return all(a <= b for a, b in itertools.pairwise(values))


def _write_entries(path: Path, offset: int, data: bytes, *, size: int | None, sync: bool) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, offset)
            view = view[n:]
            offset += n
        if size is not None:
            os.ftruncate(fd, size)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


class _IndexFile:
    """Shared file handling: preallocation, incremental writes and trimming."""

    __slots__ = ("_lock", "_written", "base_offset", "max_entries", "path")

    entry_size = 0

    def __init__(self, path: Path, base_offset: int, max_index_bytes: int) -> None:
        self.path = path
        self.base_offset = base_offset
        # At least one entry, so a tiny segment.index.bytes cannot make every segment "full".
        self.max_entries = max(1, max_index_bytes // self.entry_size)
        self._written = 0  # entries already in the file (a prefix of the in-memory entries)
        self._lock = threading.Lock()  # write_to_file may run on a flusher thread

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def is_full(self) -> bool:
        return len(self) >= self.max_entries

    def _encode(self, start: int, stop: int) -> bytes:
        raise NotImplementedError

    def create_file(self) -> None:
        """Create an empty, preallocated file (sparse: ``ftruncate`` reserves no blocks)."""
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.ftruncate(fd, self.max_entries * self.entry_size)
        finally:
            os.close(fd)
        self._written = 0

    def write_to_file(self, *, trim: bool, sync: bool) -> None:
        """Write entries not yet in the file; ``trim`` cuts the file to its entries."""
        with self._lock:
            count = len(self)
            _write_entries(
                self.path,
                self._written * self.entry_size,
                self._encode(self._written, count),
                size=count * self.entry_size if trim else None,
                sync=sync,
            )
            self._written = count

    def rewrite_file(self, *, sync: bool) -> None:
        """Replace the file atomically with exactly the in-memory entries (after a rebuild)."""
        with self._lock:
            count = len(self)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.unlink(missing_ok=True)
            _write_entries(tmp, 0, self._encode(0, count), size=count * self.entry_size, sync=sync)
            os.replace(tmp, self.path)
            self._written = count

    def _truncate_entries(self, keep: int) -> None:
        """Forget entries from ``keep`` on, in memory and in the file.

        The file is cut at once so that it never holds entries the memory does not: stale entries
        left after the cut could otherwise pass the sanity check after a crash.
        """
        with self._lock:
            if keep < self._written:
                with contextlib.suppress(FileNotFoundError):
                    os.truncate(self.path, keep * self.entry_size)
                self._written = keep


class OffsetIndex(_IndexFile):
    """Maps offsets to byte positions in the segment's .log file.

    Invariants: the index is sparse (one entry per ``index.interval.bytes`` of log at most, each at
    the start of a batch); entries are relative offsets; relative offsets and positions both
    strictly increase; every position is the start of a batch below the log file's size. A lookup
    returns the largest entry <= the target, from which a scan of batch headers finds the target.
    """

    __slots__ = ("_offsets", "_positions")

    entry_size = OFFSET_ENTRY_SIZE

    def __init__(self, path: Path, base_offset: int, max_index_bytes: int) -> None:
        super().__init__(path, base_offset, max_index_bytes)
        self._offsets: array[int] = array("i")  # relative
        self._positions: array[int] = array("i")

    @classmethod
    def load(cls, path: Path, base_offset: int, max_index_bytes: int, log_size: int) -> OffsetIndex:
        """Read and sanity-check an existing file; raises CorruptIndexError."""
        raw = _read_file(path)
        if len(raw) % OFFSET_ENTRY_SIZE:
            raise CorruptIndexError(f"{path}: size {len(raw)} is not a multiple of {OFFSET_ENTRY_SIZE}")
        data = _strip_zero_entries(raw, OFFSET_ENTRY_SIZE)
        index = cls(path, base_offset, max_index_bytes)
        index._offsets, index._positions = _offset_columns(data)
        index._written = len(index)
        index.sanity_check(log_size)
        return index

    def sanity_check(self, log_size: int) -> None:
        offsets, positions = self._offsets, self._positions
        if offsets and (offsets[0] < 0 or positions[0] < 0):
            raise CorruptIndexError(f"{self.path}: negative first entry")
        if positions and positions[-1] >= max(log_size, 1):
            raise CorruptIndexError(f"{self.path}: position {positions[-1]} beyond log size {log_size}")
        if not (_is_increasing(offsets, strict=True) and _is_increasing(positions, strict=True)):
            raise CorruptIndexError(f"{self.path}: entries are not increasing")

    def __len__(self) -> int:
        return len(self._offsets)

    def _encode(self, start: int, stop: int) -> bytes:
        out = bytearray((stop - start) * OFFSET_ENTRY_SIZE)
        pack = _OFFSET_ENTRY.pack_into
        for i, k in enumerate(range(start, stop)):
            pack(out, i * OFFSET_ENTRY_SIZE, self._offsets[k], self._positions[k])
        return bytes(out)

    def append(self, offset: int, position: int) -> None:
        """Add an entry for the batch starting at ``position`` with base offset ``offset``."""
        relative = offset - self.base_offset
        if not 0 <= relative <= _INT32_MAX or position > _INT32_MAX:
            raise ValueError(f"entry ({offset}, {position}) does not fit segment {self.base_offset}")
        if self._offsets and (relative <= self._offsets[-1] or position <= self._positions[-1]):
            raise ValueError(f"index entry ({offset}, {position}) is not after the last entry")
        self._offsets.append(relative)
        self._positions.append(position)

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the largest entry with offset <= ``offset``; (base, 0) if none."""
        i = bisect_right(self._offsets, offset - self.base_offset) - 1
        if i < 0:
            return self.base_offset, 0
        return self.base_offset + self._offsets[i], self._positions[i]

    def lookup_position(self, position: int) -> tuple[int, int]:
        """(offset, position) of the largest entry with position <= ``position``; (base, 0) if none."""
        i = bisect_right(self._positions, position) - 1
        if i < 0:
            return self.base_offset, 0
        return self.base_offset + self._offsets[i], self._positions[i]

    def last_entry(self) -> tuple[int, int]:
        if not self._offsets:
            return self.base_offset, 0
        return self.base_offset + self._offsets[-1], self._positions[-1]

    def truncate_to_position(self, position: int) -> None:
        """Drop entries at or after ``position`` (the log file was cut there)."""
        keep = bisect_left(self._positions, position)
        del self._offsets[keep:]
        del self._positions[keep:]
        self._truncate_entries(keep)

    def clear(self) -> None:
        self.truncate_to_position(-1)


class TimeIndex(_IndexFile):
    """Maps timestamps to the offsets of the batches that first reached them.

    Invariants: the index is sparse; entries are relative offsets; an entry is added only when the
    segment's largest timestamp so far has grown, so timestamps strictly increase and offsets do not
    decrease; an entry (t, o) means every batch appended before it has maxTimestamp <= t and ``o``
    is the base offset of the first batch whose maxTimestamp is t. When a segment stops being active
    its final (largest timestamp, offset) is appended, so the last entry is the segment's maximum.
    """

    __slots__ = ("_offsets", "_timestamps")

    entry_size = TIME_ENTRY_SIZE

    def __init__(self, path: Path, base_offset: int, max_index_bytes: int) -> None:
        super().__init__(path, base_offset, max_index_bytes)
        self._timestamps: array[int] = array("q")
        self._offsets: array[int] = array("i")  # relative

    @classmethod
    def load(cls, path: Path, base_offset: int, max_index_bytes: int) -> TimeIndex:
        """Read and sanity-check an existing file; raises CorruptIndexError."""
        raw = _read_file(path)
        if len(raw) % TIME_ENTRY_SIZE:
            raise CorruptIndexError(f"{path}: size {len(raw)} is not a multiple of {TIME_ENTRY_SIZE}")
        data = _strip_zero_entries(raw, TIME_ENTRY_SIZE)
        index = cls(path, base_offset, max_index_bytes)
        index._timestamps, index._offsets = _time_columns(data)
        index._written = len(index)
        index.sanity_check()
        return index

    def sanity_check(self) -> None:
        if self._offsets and self._offsets[0] < 0:
            raise CorruptIndexError(f"{self.path}: negative relative offset")
        if not (_is_increasing(self._timestamps, strict=True) and _is_increasing(self._offsets, strict=False)):
            raise CorruptIndexError(f"{self.path}: entries are not increasing")

    def __len__(self) -> int:
        return len(self._offsets)

    def _encode(self, start: int, stop: int) -> bytes:
        out = bytearray((stop - start) * TIME_ENTRY_SIZE)
        pack = _TIME_ENTRY.pack_into
        for i, k in enumerate(range(start, stop)):
            pack(out, i * TIME_ENTRY_SIZE, self._timestamps[k], self._offsets[k])
        return bytes(out)

    def maybe_append(self, timestamp: int, offset: int) -> bool:
        """Add (timestamp, offset) if ``timestamp`` is larger than the last entry's."""
        if self._timestamps and timestamp <= self._timestamps[-1]:
            return False
        relative = offset - self.base_offset
        if not 0 <= relative <= _INT32_MAX:
            raise ValueError(f"offset {offset} does not fit segment {self.base_offset}")
        if self._offsets and relative < self._offsets[-1]:
            raise ValueError(f"time index offset {offset} is before the last entry")
        self._timestamps.append(timestamp)
        self._offsets.append(relative)
        return True

    def lookup_before(self, timestamp: int) -> tuple[int, int] | None:
        """(timestamp, offset) of the largest entry with timestamp strictly below ``timestamp``.

        Strictly below, because then every batch before the entry's offset has maxTimestamp
        < ``timestamp`` and a forward scan from that offset finds the earliest batch reaching it.
        """
        i = bisect_left(self._timestamps, timestamp) - 1
        if i < 0:
            return None
        return self._timestamps[i], self.base_offset + self._offsets[i]

    def last_entry(self) -> tuple[int, int] | None:
        if not self._timestamps:
            return None
        return self._timestamps[-1], self.base_offset + self._offsets[-1]

    def truncate_to_offset(self, offset: int) -> None:
        """Drop entries whose offset is >= ``offset``."""
        keep = bisect_left(self._offsets, offset - self.base_offset)
        del self._timestamps[keep:]
        del self._offsets[keep:]
        self._truncate_entries(keep)

    def clear(self) -> None:
        self.truncate_to_offset(self.base_offset - 1)
