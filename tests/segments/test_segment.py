from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from segments.batch import iter_batches, read_header, set_base_offset
from segments.segment import (
    FileRange,
    LogSegment,
    OpenSegmentCache,
    parse_segment_file_name,
    segment_file_name,
)
from tests.segments.conftest import make_batch, small_config


def _fill(segment: LogSegment, first_offset: int, batches: int, records: int = 3, ts: int = 1_000) -> list[bytes]:
    """Append ``batches`` batches one append each; returns the batches with their offsets."""
    written = []
    offset = first_offset
    for i in range(batches):
        data = bytearray(make_batch(records, timestamp=ts + i * 10, tag=i))
        set_base_offset(data, 0, offset)
        segment.append(offset + records - 1, ts + i * 10 + records - 1, offset, data, now_ms=5)
        written.append(bytes(data))
        offset += records
    return written


def test_file_names() -> None:
    assert segment_file_name(42, ".log") == "00000000000000000042.log"
    assert parse_segment_file_name("00000000000000000042.index.swap") == (42, ".index", ".swap")
    assert parse_segment_file_name("00000000000000000042.timeindex") == (42, ".timeindex", "")
    assert parse_segment_file_name("42.log") is None
    assert parse_segment_file_name("00000000000000000042.txt") is None


def test_append_and_read_whole_batches(tmp_path: Path) -> None:
    segment = LogSegment.create(tmp_path, 100, small_config())
    written = _fill(segment, 100, 20)
    assert segment.next_offset == 160
    assert segment.size == sum(map(len, written))
    assert len(segment._indexes()[0]) > 3  # sparse entries every index.interval.bytes
    for target in (100, 101, 102, 103, 131, 159):
        found = segment.translate_offset(target)
        assert found is not None
        assert found[1].base_offset <= target <= found[1].last_offset
        rng = segment.read(target, 1)  # smaller than a batch: still one whole batch
        assert rng is not None
        assert rng.read() == written[(target - 100) // 3]
    rng = segment.read(103, 3 * len(written[0]) + 5)
    assert rng is not None and rng.read() == b"".join(written[1:4])
    assert segment.read(160, 100) is None
    assert segment.read(100, 10**9) == FileRange(rng.fileno, 0, segment.size)
    capped = segment.read(100, 10**9, max_position=len(written[0]) * 2)
    assert capped is not None and capped.read() == b"".join(written[:2])
    assert segment.read(100, 1, min_one_batch=False) is None


def test_find_offset_by_timestamp(tmp_path: Path) -> None:
    segment = LogSegment.create(tmp_path, 0, small_config())
    _fill(segment, 0, 10)  # batch i has timestamps 1000+10i .. 1000+10i+2
    assert segment.max_timestamp == 1092
    assert segment.offset_of_max_timestamp == 27
    assert segment.find_offset_by_timestamp(0) == (0, 1002)
    assert segment.find_offset_by_timestamp(1002) == (0, 1002)
    assert segment.find_offset_by_timestamp(1003) == (3, 1012)
    assert segment.find_offset_by_timestamp(1090) == (27, 1092)
    assert segment.find_offset_by_timestamp(1093) is None
    assert segment.find_offset_by_timestamp(1003, start_offset=4) == (4, 1012)


def test_truncate_to(tmp_path: Path) -> None:
    segment = LogSegment.create(tmp_path, 0, small_config())
    written = _fill(segment, 0, 10)
    removed = segment.truncate_to(9)
    assert removed == sum(map(len, written[3:]))
    assert segment.next_offset == 9
    assert segment.max_timestamp == 1022
    assert segment.size == sum(map(len, written[:3]))
    assert segment.truncate_to(100) == 0
    # Offset inside a batch: the whole batch goes.
    segment.truncate_to(4)
    assert segment.next_offset == 3
    _fill(segment, 3, 2, ts=5000)
    assert segment.next_offset == 9 and segment.max_timestamp == 5012
    assert [h.base_offset for _, h in iter_batches(segment.read_bytes())] == [0, 3, 6]


def test_seal_trims_indexes_and_reopen_lazily(tmp_path: Path) -> None:
    config = small_config()
    segment = LogSegment.create(tmp_path, 0, config)
    assert segment.index_path.stat().st_size == config.segment_index_bytes
    written = _fill(segment, 0, 15)
    segment.seal()
    segment.flush()
    assert segment.index_path.stat().st_size % 8 == 0
    assert segment.index_path.stat().st_size < config.segment_index_bytes
    segment.close()
    reopened = LogSegment.open(tmp_path, 0, config)
    assert reopened._handle is None and not reopened.has_loaded_indexes()
    assert reopened.next_offset == 45
    assert reopened.max_timestamp == 1142
    rng = reopened.read(44, 1)
    assert rng is not None and rng.read() == written[-1]


def test_corrupt_index_is_rebuilt_on_load(tmp_path: Path) -> None:
    config = small_config()
    segment = LogSegment.create(tmp_path, 0, config)
    _fill(segment, 0, 15)
    segment.close()
    (tmp_path / segment_file_name(0, ".index")).write_bytes(b"\xff" * 16)
    reopened = LogSegment.open(tmp_path, 0, config)
    for target in range(45):
        found = reopened.translate_offset(target)
        assert found is not None and found[1].base_offset <= target <= found[1].last_offset


def test_cache_bounds_open_files_and_ranges_outlive_eviction(tmp_path: Path) -> None:
    config = small_config()
    cache = OpenSegmentCache(max_open=2)
    segments = []
    for base in (0, 100, 200, 300):
        segment = LogSegment.create(tmp_path, base, config, cache=cache)
        _fill(segment, base, 2)
        segment.close()
        segments.append(LogSegment.open(tmp_path, base, config, cache=cache))
    ranges = [s.read(s.base_offset, 1) for s in segments]
    assert len(cache) == 2
    assert sum(s._handle is not None for s in segments) == 2
    # Evicted segments dropped their handles, but the ranges still hold the descriptors open.
    for s, rng in zip(segments, ranges, strict=True):
        assert rng is not None
        assert read_header(rng.read()).base_offset == s.base_offset
    fd = ranges[0].fileno if ranges[0] is not None else -1
    del ranges
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_delete_keeps_outstanding_range_readable(tmp_path: Path) -> None:
    segment = LogSegment.create(tmp_path, 0, small_config())
    written = _fill(segment, 0, 3)
    rng = segment.read(0, 10**6)
    segment.delete()
    assert not segment.path.exists() and not segment.index_path.exists()
    assert rng is not None and rng.read() == b"".join(written)


def test_rename_suffix(tmp_path: Path) -> None:
    segment = LogSegment.create(tmp_path, 7, small_config(), suffix=".cleaned")
    _fill(segment, 7, 2)
    segment.rename_suffix(".swap")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "00000000000000000007.index.swap",
        "00000000000000000007.log.swap",
        "00000000000000000007.timeindex.swap",
    ]
    segment.seal()
    assert segment.read(7, 1) is not None


def test_append_to_inactive_segment_fails(tmp_path: Path) -> None:
    segment = LogSegment.create(tmp_path, 0, small_config())
    _fill(segment, 0, 1)
    segment.seal()
    with pytest.raises(ValueError):
        _fill(segment, 3, 1)


def test_open_segment_cache_is_safe_across_threads(tmp_path: Path) -> None:
    """Worker threads and the event loop touch one cache at once: the bounds hold, nothing is lost
    from the lists' bookkeeping, and every segment still reads its records after the storm."""
    import sys
    import threading

    config = small_config()
    cache = OpenSegmentCache(max_open=4, max_inactive=2)
    segments = []
    for base in range(0, 1600, 100):
        segment = LogSegment.create(tmp_path, base, config, cache=cache)
        _fill(segment, base, 2)
        segment.close()
        segments.append(LogSegment.open(tmp_path, base, config, cache=cache))
    errors: list[BaseException] = []

    def worker(mine: list[LogSegment]) -> None:
        try:
            for _ in range(300):
                for s in mine:
                    assert s.read(s.base_offset, 1) is not None
                    assert len(cache) <= 4
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(segments[i::4],)) for i in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows: races show
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
    assert len(cache) <= 4 and len(cache._inactive) <= 2
    assert not set(cache._active) & set(cache._inactive)
    for s in segments:
        rng = s.read(s.base_offset, 1 << 20)
        assert rng is not None and rng.length > 0
