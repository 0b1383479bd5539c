from __future__ import annotations

from pathlib import Path

import pytest

from segments.batch import iter_batches, set_base_offset
from segments.errors import (
    CorruptBatchError,
    InvalidRecordError,
    LogClosedError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
)
from segments.log import Log
from segments.records import decode_batches
from segments.segment import LogSegment
from tests.segments.conftest import make_batch, small_config


def _open(path: Path, **overrides: int) -> Log:
    return Log.open(path, small_config(**overrides), now_ms=0)


def _offsets(data: bytes) -> list[int]:
    return [r.offset for r in decode_batches(data)]


def test_append_assigns_dense_offsets(tmp_path: Path) -> None:
    log = _open(tmp_path)
    first = log.append(make_batch(3), now_ms=1)
    second = log.append(bytearray(make_batch(2, timestamp=5_000)), now_ms=2)
    assert (first.first_offset, first.last_offset) == (0, 2)
    assert (second.first_offset, second.last_offset, second.max_timestamp) == (3, 4, 5_001)
    assert log.log_end_offset == 5
    assert _offsets(log.read(0, 10**6).read_bytes()) == [0, 1, 2, 3, 4]


def test_append_several_batches_in_one_call(tmp_path: Path) -> None:
    log = _open(tmp_path)
    data = memoryview(bytearray(make_batch(2) + make_batch(3) + make_batch(1)))
    result = log.append(data, now_ms=0)
    assert (result.first_offset, result.last_offset) == (0, 5)
    assert [h.base_offset for _, h in iter_batches(data)] == [0, 2, 5]  # rewritten in place


def test_append_rejects_bad_input(tmp_path: Path) -> None:
    log = _open(tmp_path, max_message_bytes=200)
    with pytest.raises(RecordTooLargeError):
        log.append(make_batch(1, value_size=500), now_ms=0)
    bad = bytearray(make_batch(2))
    bad[-1] ^= 0xFF
    with pytest.raises(CorruptBatchError):
        log.append(bad, now_ms=0)
    with pytest.raises(CorruptBatchError):
        log.append(make_batch(1) + b"xx", now_ms=0)
    with pytest.raises(InvalidRecordError):
        log.append(b"", now_ms=0)
    assert log.log_end_offset == 0 and log.size_bytes == 0


def test_read_ranges_and_errors(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=500)
    sizes = []
    for i in range(30):
        sizes.append(log.append(make_batch(2, tag=i), now_ms=0).size_bytes)
    assert len(log.segments) > 2
    with pytest.raises(OffsetOutOfRangeError):
        log.read(61, 100)
    assert log.read(60, 100).ranges == []
    everything = log.read(0, 10**9)
    assert len(everything.ranges) == len(log.segments)  # spans segments
    assert _offsets(everything.read_bytes()) == list(range(60))
    one = log.read(33, 1)
    assert _offsets(one.read_bytes()) == [32, 33]
    budget = sizes[0] * 5 + 1
    five = log.read(0, budget)
    assert _offsets(five.read_bytes()) == list(range(10))
    assert five.nbytes == sizes[0] * 5
    capped = log.read(0, 10**9, max_offset=7)
    assert _offsets(capped.read_bytes()) == list(range(6))  # the batch holding 7 is excluded
    assert log.read(8, 10**9, max_offset=8).ranges == []


def test_roll_by_size_time_and_index(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=10**6, segment_ms=1_000, segment_index_bytes=10**6)
    log.append(make_batch(1), now_ms=0)
    log.append(make_batch(1), now_ms=1_000)
    assert len(log.segments) == 1
    log.append(make_batch(1), now_ms=1_001)
    assert len(log.segments) == 2
    assert log.segments[-1].base_offset == 2

    log2 = _open(tmp_path / "b", segment_bytes=300)
    for _ in range(10):
        log2.append(make_batch(1, value_size=50), now_ms=0)
    assert all(s.size <= 300 for s in log2.segments)
    assert len(log2.segments) > 3

    log3 = _open(tmp_path / "c", segment_index_bytes=16, index_interval_bytes=1, segment_bytes=10**6)
    for _ in range(12):
        log3.append(make_batch(1), now_ms=0)
    assert len(log3.segments) > 2
    assert _offsets(log3.read(0, 10**9).read_bytes()) == list(range(12))


def test_explicit_roll_and_closed_segments(tmp_path: Path) -> None:
    log = _open(tmp_path)
    log.append(make_batch(2), now_ms=0)
    active = log.roll(0)
    assert active.base_offset == 2 and log.roll(0) is active  # empty active: no new segment
    assert log.closed_segments() == [log.segments[0]]


def test_timestamps(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=400)
    for i in range(20):
        log.append(make_batch(2, timestamp=1_000 + 10 * i), now_ms=0)
    log.append(make_batch(1, timestamp=500), now_ms=0)  # out of order
    assert log.offset_for_timestamp(0) == (0, 1_001)
    assert log.offset_for_timestamp(1_055) == (12, 1_061)
    assert log.offset_for_timestamp(10**9) is None
    assert log.max_timestamp_offset() == (38, 1_191)
    log.delete_records_before(13)
    assert log.offset_for_timestamp(0) == (13, 1_061)


def test_truncate_to(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=400)
    for _ in range(20):
        log.append(make_batch(2), now_ms=0)
    log.flush()
    log.truncate_to(13)  # inside batch 12..13: the batch goes
    assert log.log_end_offset == 12
    assert log.recovery_point == 12
    assert log.segments[-1].active
    assert _offsets(log.read(0, 10**9).read_bytes()) == list(range(12))
    log.append(make_batch(2), now_ms=0)
    assert _offsets(log.read(0, 10**9).read_bytes()) == list(range(14))
    log.truncate_to(0)
    assert (log.log_start_offset, log.log_end_offset, len(log.segments)) == (0, 0, 1)


def test_producer_snapshots_beyond_the_log_end_go_with_a_truncation_and_at_open(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=400)
    for _ in range(10):
        log.append(make_batch(2), now_ms=0)
    for offset in (6, 12, 20):
        (tmp_path / f"{offset:020d}.snapshot").write_text('{"producers": []}')
    truncations = log.truncations
    log.truncate_to(12)
    assert sorted(p.name for p in tmp_path.glob("*.snapshot")) == [f"{6:020d}.snapshot", f"{12:020d}.snapshot"]
    assert log.truncations > truncations
    log.close()
    (tmp_path / f"{30:020d}.snapshot").write_text('{"producers": []}')  # e.g. the tail was lost in a crash
    reopened = _open(tmp_path, segment_bytes=400)
    assert reopened.log_end_offset == 12
    assert sorted(p.name for p in tmp_path.glob("*.snapshot")) == [f"{6:020d}.snapshot", f"{12:020d}.snapshot"]
    reopened.close()


def test_delete_records_before(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=400)
    for _ in range(20):
        log.append(make_batch(2), now_ms=0)
    segments_before = len(log.segments)
    log.delete_records_before(15)
    assert log.log_start_offset == 15
    assert len(log.segments) < segments_before
    assert log.segments[0].base_offset <= 15
    with pytest.raises(OffsetOutOfRangeError):
        log.read(14, 100)
    assert _offsets(log.read(15, 10**9).read_bytes())[0] == 14  # whole batch holding 15
    log.delete_records_before(40)
    assert (log.log_start_offset, log.log_end_offset, log.size_bytes) == (40, 40, 0)
    with pytest.raises(OffsetOutOfRangeError):
        log.delete_records_before(41)


def test_delete_segments(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=400)
    for _ in range(20):
        log.append(make_batch(2), now_ms=0)
    closed = log.closed_segments()
    with pytest.raises(ValueError):
        log.delete_segments(closed[1:2])
    log.delete_segments(closed[:2])
    assert log.log_start_offset == closed[2].base_offset
    assert not closed[0].path.exists()
    with pytest.raises(ValueError):
        log.delete_segments(list(log.segments))


def test_replace_segments(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=400)
    for i in range(20):
        log.append(make_batch(2, tag=i), now_ms=0)
    old = log.closed_segments()[:2]
    kept = [b for s in old for _, b in _batches(s)][1::2]  # pretend compaction keeps every other batch
    new = log.create_cleaned_segment(old[0].base_offset)
    for data in kept:
        _append_raw(new, data)
    log.replace_segments(old, new)
    assert log.segments[0] is new and new.path.name.endswith(".log")
    assert not any(p.name.endswith((".cleaned", ".swap")) for p in tmp_path.iterdir())
    assert log.read(0, 10**9).read_bytes().startswith(b"".join(kept))
    log.close()
    reopened = Log.open(tmp_path, small_config(segment_bytes=400), now_ms=0, recovery_point=0)
    assert not reopened.recovery_report.truncated
    assert reopened.read(0, 10**9).read_bytes().startswith(b"".join(kept))


def _batches(segment: LogSegment) -> list[tuple[int, bytes]]:
    data = segment.read_bytes()
    return [(h.base_offset, data[p : p + h.size]) for p, h in iter_batches(data)]


def _append_raw(segment: LogSegment, data: bytes) -> None:
    headers = [h for _, h in iter_batches(data)]
    segment.append(headers[-1].last_offset, max(h.max_timestamp for h in headers), headers[0].base_offset, data)


def test_append_as_is(tmp_path: Path) -> None:
    log = _open(tmp_path)
    data = bytearray(make_batch(3))
    set_base_offset(data, 0, 10)
    result = log.append_as_is(data)
    assert (result.first_offset, log.log_end_offset) == (10, 13)
    assert _offsets(log.read(10, 100).read_bytes()) == [10, 11, 12]
    with pytest.raises(InvalidRecordError):
        log.append_as_is(data)
    set_base_offset(data, 0, 2**31 + 100)  # too far for the active segment's relative offsets: rolls
    log.append_as_is(data)
    assert log.segments[-1].base_offset == 2**31 + 100


def test_flush_advances_recovery_point(tmp_path: Path) -> None:
    log = _open(tmp_path)
    log.append(make_batch(5), now_ms=0)
    assert log.recovery_point == 0
    log.flush(3)
    assert log.recovery_point == 3
    log.flush()
    assert log.recovery_point == 5
    log.flush(2)
    assert log.recovery_point == 5


def test_listeners(tmp_path: Path) -> None:
    log = _open(tmp_path)
    seen: list[int] = []
    log.add_append_listener(seen.append)

    def failing(_: int) -> None:
        raise ZeroDivisionError

    log.add_append_listener(failing)  # a failing listener does not fail the append
    log.append(make_batch(2), now_ms=0)
    log.remove_append_listener(seen.append)
    log.append(make_batch(2), now_ms=0)
    assert seen == [2]


def test_clean_reopen_scans_nothing(tmp_path: Path) -> None:
    config = small_config(segment_bytes=400)
    log = Log.open(tmp_path, config, now_ms=0)
    for _ in range(20):
        log.append(make_batch(2), now_ms=0)
    log.close()
    with pytest.raises(LogClosedError):
        log.append(make_batch(1), now_ms=0)
    reopened = Log.open(tmp_path, config, now_ms=0, recovery_point=log.recovery_point, clean=True)
    assert reopened.recovery_report.scanned_segments == 0
    assert reopened.log_end_offset == 40 and reopened.recovery_point == 40
    assert sum(s.has_loaded_indexes() for s in reopened.segments) <= 1  # only the active one
    reopened.append(make_batch(1), now_ms=0)
    assert _offsets(reopened.read(0, 10**9).read_bytes()) == list(range(41))


def test_log_start_offset_checkpoint(tmp_path: Path) -> None:
    log = _open(tmp_path)
    log.append(make_batch(10), now_ms=0)
    log.close()
    reopened = Log.open(tmp_path, small_config(), now_ms=0, recovery_point=10, log_start_offset=4, clean=True)
    assert reopened.log_start_offset == 4
    reopened.close()
    beyond = Log.open(tmp_path, small_config(), now_ms=0, recovery_point=10, log_start_offset=50, clean=True)
    assert (beyond.log_start_offset, beyond.log_end_offset, beyond.size_bytes) == (50, 50, 0)


def test_delete(tmp_path: Path) -> None:
    log = _open(tmp_path / "p")
    log.append(make_batch(1), now_ms=0)
    log.delete()
    assert not (tmp_path / "p").exists()


def test_read_stops_when_the_next_segments_first_batch_does_not_fit(tmp_path: Path) -> None:
    log = _open(tmp_path, segment_bytes=10**6)
    small = log.append(make_batch(1), now_ms=0).size_bytes
    log.roll(0)
    log.append(make_batch(1, value_size=300), now_ms=0)
    log.roll(0)
    log.append(make_batch(1), now_ms=0)
    assert _offsets(log.read(0, small + 100).read_bytes()) == [0]


def test_a_disk_that_refuses_a_write_raises_a_storage_error_and_appends_nothing(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from segments.errors import LogStorageError

    log = _open(tmp_path)
    log.append(bytearray(make_batch(2)), now_ms=1)
    real_pwrite = os.pwrite

    def full(fd: int, data: object, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(LogStorageError, match="No space left on device") as caught:
        log.append(bytearray(make_batch(3)), now_ms=2)
    assert caught.value.errno == errno.ENOSPC
    assert log.log_end_offset == 2
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    log.append(bytearray(make_batch(3)), now_ms=3)
    assert log.log_end_offset == 5
    assert _offsets(log.read(0, 1 << 20).read_bytes()) == [0, 1, 2, 3, 4]
    log.close()
