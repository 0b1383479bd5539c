"""Loading a partition directory at start-up (Kafka's ``LogLoader``): leftovers, swaps, torn tails.

Recovery runs in numbered passes over the directory, each safe to interrupt and rerun:

    pass  what                                          why
    1     delete ``*.tmp``, ``*.cleaned``, ``*.deleted`` unfinished index rewrites, uncommitted
                                                        compaction output, half-deleted segments
    2     finish swaps: for ``<B>.log.swap``, delete the  a ``.swap`` log is compaction output that
          segments it covers, rename ``.swap`` -> final  was fsynced before being renamed (commit)
    3     open segments lazily; delete index files        an index is derived data; a missing one is
          without a log; rebuild missing indexes          rebuilt from the log's batch headers
    4     from the segment holding the recovery point:    bytes after the recovery point may be torn
          CRC-check every batch, cut the file at the      or garbage after a crash; segments after a
          first bad one, delete later segments, rebuild   cut one cannot follow it without a gap
          the indexes, fsync
    5     make the last segment active (create one if none)

After a clean shutdown with a recovery point, pass 4 scans nothing. A valid batch before the first
corruption is never dropped, and nothing after it is ever served. Every cut is reported and logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from segments.batch import HEADER_SIZE, LOG_OVERHEAD, BatchHeader, peek_size, validate
from segments.config import LogConfig
from segments.errors import CorruptBatchError
from segments.segment import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    FILE_KINDS,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SWAP_SUFFIX,
    TIME_INDEX_SUFFIX,
    TMP_SUFFIX,
    LogSegment,
    OpenSegmentCache,
    fsync_directory,
    parse_segment_file_name,
    segment_file_name,
)

logger = logging.getLogger(__name__)

_INT32_MAX = 2**31 - 1
# Recovery reads a segment this much at a time (more for a larger batch, never past the file end).
_RECOVERY_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Cut:
    """Bytes recovery removed from a segment's log file."""

    segment: str  # log file name
    base_offset: int
    position: int  # where the file was cut
    bytes: int  # how many bytes were removed
    reason: str


@dataclass(slots=True)
class RecoveryReport:
    """What loading a log directory did."""

    path: Path
    scanned_segments: int = 0
    scanned_bytes: int = 0
    cuts: list[Cut] = field(default_factory=list)
    deleted_segments: list[str] = field(default_factory=list)  # later segments dropped after a cut
    rebuilt_indexes: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)  # leftovers of interrupted operations
    completed_swaps: list[str] = field(default_factory=list)

    @property
    def lost_bytes(self) -> int:
        return sum(cut.bytes for cut in self.cuts)

    @property
    def truncated(self) -> bool:
        """Whether recovery removed any data."""
        return bool(self.cuts or self.deleted_segments)


@dataclass(slots=True)
class LoadedLog:
    segments: list[LogSegment]
    log_start_offset: int
    log_end_offset: int
    recovery_point: int
    report: RecoveryReport


class CrcScan:
    """Iterates the valid batches of a log file with full CRC checks, stopping at the first bad byte.

    After iteration, ``valid_bytes`` is the length of the valid prefix and ``reason`` why the scan
    stopped early (None when the whole file was valid). Besides ``batch.validate``'s checks, offsets
    must not go backwards and must fit the segment (baseOffset is not covered by the CRC).
    """

    __slots__ = ("base_offset", "file_size", "path", "reason", "valid_bytes")

    def __init__(self, path: Path, base_offset: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self.valid_bytes = 0
        self.file_size = 0
        self.reason: str | None = None

    def __iter__(self) -> Iterator[tuple[int, BatchHeader]]:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            yield from self._scan(fd)
        finally:
            os.close(fd)

    def _scan(self, fd: int) -> Iterator[tuple[int, BatchHeader]]:
        file_size = self.file_size = os.fstat(fd).st_size
        expected = self.base_offset
        buf = b""
        buf_start = 0
        pos = 0
        while pos < file_size:
            off = pos - buf_start
            if len(buf) - off < LOG_OVERHEAD:
                buf, buf_start, off = os.pread(fd, _RECOVERY_CHUNK, pos), pos, 0
            size = peek_size(buf, off)
            if size < 0:
                self.reason = f"torn batch header: {file_size - pos} bytes at the end"
                return
            if size < HEADER_SIZE:
                self.reason = f"batch length {size - LOG_OVERHEAD} at position {pos} is below the minimum"
                return
            if size > file_size - pos:
                self.reason = f"torn batch at position {pos}: declares {size} bytes, {file_size - pos} remain"
                return
            if len(buf) - off < size:
                buf, buf_start, off = os.pread(fd, max(_RECOVERY_CHUNK, size), pos), pos, 0
            try:
                header = validate(buf, off)
            except CorruptBatchError as exc:
                self.reason = str(exc).replace(f"position {off}", f"position {pos}")
                return
            if header.base_offset < expected:
                self.reason = f"batch at position {pos} has offset {header.base_offset}, expected >= {expected}"
                return
            if header.last_offset - self.base_offset > _INT32_MAX:
                self.reason = f"batch at position {pos} has offset {header.last_offset} beyond the segment's range"
                return
            yield pos, header
            expected = header.next_offset
            pos += size
            self.valid_bytes = pos


class LogLoader:
    """Brings one partition directory to a consistent state and opens its segments.

    Invariants on return: segments are sorted by base offset and do not overlap; every segment at or
    after the recovery point holds only CRC-valid batches; every segment has its index files; the
    last segment is the active one.
    """

    __slots__ = ("cache", "clean", "config", "log_start_offset", "path", "recovery_point", "report")

    def __init__(
        self,
        path: Path,
        config: LogConfig,
        *,
        recovery_point: int | None = None,
        log_start_offset: int | None = None,
        clean: bool = False,
        cache: OpenSegmentCache | None = None,
    ) -> None:
        self.path = path
        self.config = config
        self.recovery_point = recovery_point
        self.log_start_offset = log_start_offset
        self.clean = clean
        self.cache = cache
        self.report = RecoveryReport(path)

    def load(self) -> LoadedLog:
        self.path.mkdir(parents=True, exist_ok=True)
        changed = self._remove_leftovers()
        changed |= self._complete_swaps()
        if changed:
            fsync_directory(self.path)
        segments, missing_indexes = self._open_segments()
        scan = not (self.clean and self.recovery_point is not None)
        scanned: set[int] = set()
        if scan:
            segments, scanned = self._recover(segments)
        for segment in segments:
            if segment.base_offset in missing_indexes and segment.base_offset not in scanned:
                logger.warning("%s: segment %s has no index files; rebuilding them", self.path, segment.path.name)
                segment.rebuild_indexes(segment.iter_batches(stop_at_corruption=True))
                self.report.rebuilt_indexes.append(segment.path.name)
        if not segments:
            base = max(self.log_start_offset or 0, self.recovery_point or 0)
            segments = [LogSegment.create(self.path, base, self.config, cache=self.cache)]
            fsync_directory(self.path)
        segments[-1].activate()
        log_end_offset = segments[-1].next_offset
        log_start_offset = max(self.log_start_offset or 0, segments[0].base_offset)
        if scan:
            recovery_point = log_end_offset
        else:
            assert self.recovery_point is not None
            recovery_point = min(self.recovery_point, log_end_offset)
        return LoadedLog(segments, log_start_offset, log_end_offset, recovery_point, self.report)

    # ---------------------------------------------------------------- pass 1

    def _remove_leftovers(self) -> bool:
        removed = False
        for entry in os.scandir(self.path):
            name = entry.name
            parsed = parse_segment_file_name(name)
            leftover = name.endswith(TMP_SUFFIX) or (
                parsed is not None and parsed[2] in (CLEANED_SUFFIX, DELETED_SUFFIX)
            )
            if leftover and entry.is_file():
                os.unlink(entry.path)
                self.report.removed_files.append(name)
                logger.info("%s: removed leftover file %s", self.path, name)
                removed = True
        return removed

    # ---------------------------------------------------------------- pass 2

    def _complete_swaps(self) -> bool:
        names = os.listdir(self.path)
        swap_logs: list[int] = []
        orphans: list[str] = []
        for name in names:
            parsed = parse_segment_file_name(name)
            if parsed is None or parsed[2] != SWAP_SUFFIX:
                continue
            if parsed[1] == LOG_SUFFIX:
                swap_logs.append(parsed[0])
            elif segment_file_name(parsed[0], LOG_SUFFIX, SWAP_SUFFIX) not in names:
                orphans.append(name)
        for name in orphans:
            # The log is renamed last, both into and out of .swap: an index .swap without its log
            # is either uncommitted (the log was still .cleaned) or already superseded.
            os.unlink(self.path / name)
            self.report.removed_files.append(name)
        for base in sorted(swap_logs):
            self._complete_swap(base)
        return bool(orphans or swap_logs)

    def _complete_swap(self, base: int) -> None:
        swap_path = self.path / segment_file_name(base, LOG_SUFFIX, SWAP_SUFFIX)
        scan = CrcScan(swap_path, base)
        next_offset = base
        for _, header in scan:
            next_offset = header.next_offset
        if scan.reason is not None:
            self._record_cut(swap_path.name, base, scan.valid_bytes, scan.file_size - scan.valid_bytes, scan.reason)
            os.truncate(swap_path, scan.valid_bytes)
        # The swap replaces every segment whose base offset it covers (at least its own name).
        covered_until = max(next_offset, base + 1)
        for name in os.listdir(self.path):
            parsed = parse_segment_file_name(name)
            if parsed is not None and parsed[2] == "" and base <= parsed[0] < covered_until:
                os.unlink(self.path / name)
        for kind in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX):
            source = self.path / segment_file_name(base, kind, SWAP_SUFFIX)
            if source.exists():
                os.replace(source, self.path / segment_file_name(base, kind))
        self.report.completed_swaps.append(swap_path.name)
        logger.info("%s: completed interrupted segment swap %s", self.path, swap_path.name)

    # ---------------------------------------------------------------- pass 3

    def _open_segments(self) -> tuple[list[LogSegment], set[int]]:
        files: dict[int, dict[str, os.DirEntry[str]]] = {}
        for entry in os.scandir(self.path):
            parsed = parse_segment_file_name(entry.name)
            if parsed is not None and parsed[2] == "":
                files.setdefault(parsed[0], {})[parsed[1]] = entry
        segments: list[LogSegment] = []
        missing_indexes: set[int] = set()
        for base in sorted(files):
            kinds = files[base]
            log_entry = kinds.get(LOG_SUFFIX)
            if log_entry is None:
                for entry in kinds.values():
                    os.unlink(entry.path)
                    self.report.removed_files.append(entry.name)
                continue
            segment = LogSegment.open(
                self.path, base, self.config, cache=self.cache, size=log_entry.stat().st_size
            )
            if not all(kind in kinds for kind in FILE_KINDS):
                missing_indexes.add(base)
            segments.append(segment)
        return segments, missing_indexes

    # ---------------------------------------------------------------- pass 4

    def _recover(self, segments: list[LogSegment]) -> tuple[list[LogSegment], set[int]]:
        point = self.recovery_point or 0
        first = 0
        for i, segment in enumerate(segments):
            if segment.base_offset <= point:
                first = i
        expected = segments[first - 1].next_offset if first > 0 else 0
        kept = segments[:first]
        scanned: set[int] = set()
        for i in range(first, len(segments)):
            segment = segments[i]
            if segment.base_offset < expected:
                self._delete_from(segments[i:], f"segment starts at {segment.base_offset}, below {expected}")
                break
            scan = CrcScan(segment.path, segment.base_offset)
            segment.rebuild_indexes(iter(scan))
            scanned.add(segment.base_offset)
            self.report.scanned_segments += 1
            self.report.scanned_bytes += scan.valid_bytes
            if segment.path.name not in self.report.rebuilt_indexes:
                self.report.rebuilt_indexes.append(segment.path.name)
            kept.append(segment)
            if scan.reason is not None:
                lost = scan.file_size - scan.valid_bytes
                segment.cut_to(scan.valid_bytes)
                self._record_cut(segment.path.name, segment.base_offset, scan.valid_bytes, lost, scan.reason)
                segment.flush(force=True)
                self._delete_from(segments[i + 1 :], f"follows the corruption in {segment.path.name}")
                break
            # What was read may only be in the page cache (the process died, not the machine): fsync
            # it before the recovery point moves past it.
            segment.flush(force=True)
            expected = segment.next_offset
        return kept, scanned

    def _delete_from(self, segments: list[LogSegment], reason: str) -> None:
        for segment in segments:
            logger.warning("%s: deleting segment %s (%d bytes): %s", self.path, segment.path.name, segment.size,
                           reason)
            self.report.deleted_segments.append(segment.path.name)
            segment.delete()
        if segments:
            fsync_directory(self.path)

    def _record_cut(self, name: str, base: int, position: int, lost: int, reason: str) -> None:
        self.report.cuts.append(Cut(name, base, position, lost, reason))
        logger.warning("%s: cut %d bytes from %s at position %d: %s", self.path, lost, name, position, reason)


def recover(path: Path, config: LogConfig, recovery_point: int | None = None) -> RecoveryReport:
    """Recover a log directory in place (cut torn tails, rebuild indexes) and report what was done."""
    loaded = LogLoader(path, config, recovery_point=recovery_point).load()
    for segment in loaded.segments:
        segment.close()
    return loaded.report
