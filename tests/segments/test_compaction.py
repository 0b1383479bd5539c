from __future__ import annotations

from pathlib import Path

import pytest

from segments.batch import iter_batches
from segments.compaction import cleanable_segments, compact, dirty_ratio, needs_compaction
from segments.config import LogConfig
from segments.log import Log
from segments.records import Record, RecordInput, build_batch, decode_batches
from segments.segment import CLEANED_SUFFIX, SWAP_SUFFIX

DAY = 86_400_000
COMPACT = LogConfig.from_props({"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"})


def rec(key: bytes | None, value: bytes | None, ts: int = 1000) -> RecordInput:
    return RecordInput(key, value, timestamp=ts)


def all_records(log: Log) -> list[Record]:
    data = log.read(log.log_start_offset, 1 << 30).read_bytes()
    return list(decode_batches(data))


def kv(records: list[Record]) -> list[tuple[int, bytes | None, bytes | None]]:
    return [(r.offset, r.key, r.value) for r in records]


def build(path: Path, config: LogConfig, batches: list[list[RecordInput]], *, roll_each: bool = True) -> Log:
    log = Log.open(path, config, now_ms=0)
    for records in batches:
        log.append(build_batch(records), now_ms=1000)
        if roll_each:
            log.roll(1000)
    return log


def test_keeps_latest_per_key_and_offsets(tmp_path: Path) -> None:
    log = build(
        tmp_path / "t-0",
        COMPACT,
        [
            [rec(b"a", b"1"), rec(b"b", b"1"), rec(b"a", b"2")],  # offsets 0-2
            [rec(b"c", b"1"), rec(b"b", b"2")],  # 3-4
            [rec(b"a", b"3"), rec(None, b"nokey")],  # 5-6
        ],
    )
    log.append(build_batch([rec(b"c", b"2")]), now_ms=1000)  # active segment, offset 7: not cleaned
    end = log.log_end_offset
    stats = compact(log, None, now_ms=2000)
    assert stats.ran and stats.segments_cleaned == 3
    assert stats.records_before == 7 and stats.records_removed == 4
    assert stats.next_dirty_offset == 7
    assert stats.bytes_after < stats.bytes_before
    # c@3 survives: its newer version is in the active segment, which compaction does not see.
    assert kv(all_records(log)) == [(3, b"c", b"1"), (4, b"b", b"2"), (5, b"a", b"3"), (7, b"c", b"2")]
    assert log.log_end_offset == end and log.log_start_offset == 0
    # Reading from a removed offset starts at the next remaining batch.
    assert next(decode_batches(log.read(1, 1000).read_bytes())).offset == 3
    assert not list((tmp_path / "t-0").glob(f"*{CLEANED_SUFFIX}"))
    assert not list((tmp_path / "t-0").glob(f"*{SWAP_SUFFIX}"))
    log.close()
    again = Log.open(tmp_path / "t-0", COMPACT, now_ms=3000)  # full recovery scan accepts the result
    assert kv(all_records(again)) == [(3, b"c", b"1"), (4, b"b", b"2"), (5, b"a", b"3"), (7, b"c", b"2")]
    again.close()


def test_partially_kept_batch_keeps_header_fields(tmp_path: Path) -> None:
    log = Log.open(tmp_path / "t-0", COMPACT, now_ms=0)
    log.append(build_batch([rec(b"k", b"1", 10), rec(b"x", b"1", 20), rec(b"k", b"2", 30)], compression=1), now_ms=0)
    log.roll(0)
    compact(log, None, now_ms=100)
    data = log.read(0, 1 << 20).read_bytes()
    [(_, header)] = list(iter_batches(data))
    assert header.base_offset == 0 and header.last_offset == 2  # lastOffsetDelta kept
    assert header.record_count == 2 and header.compression == 1
    assert kv(list(decode_batches(data))) == [(1, b"x", b"1"), (2, b"k", b"2")]
    assert [r.timestamp for r in decode_batches(data)] == [20, 30]
    log.close()


def test_tombstones_expire_after_delete_retention(tmp_path: Path) -> None:
    config = COMPACT.with_overrides({"delete.retention.ms": str(DAY)})
    log = build(tmp_path / "t-0", config, [[rec(b"a", b"1", 1000)], [rec(b"a", None, 1000), rec(b"b", b"1", 1000)]])
    stats = compact(log, None, now_ms=1000 + DAY // 2)
    assert stats.tombstones_removed == 0
    assert kv(all_records(log)) == [(1, b"a", None), (2, b"b", b"1")]
    stats = compact(log, None, now_ms=1001 + DAY, force=True)
    assert stats.tombstones_removed == 1
    assert kv(all_records(log)) == [(2, b"b", b"1")]
    log.close()


def test_emptied_batch_dropped_unless_last_of_producer(tmp_path: Path) -> None:
    log = Log.open(tmp_path / "t-0", COMPACT, now_ms=0)
    log.append(build_batch([rec(b"a", b"1")], producer_id=7, producer_epoch=0, base_sequence=0), now_ms=0)
    log.append(build_batch([rec(b"b", b"1")], producer_id=7, producer_epoch=0, base_sequence=1), now_ms=0)
    log.append(build_batch([rec(b"a", b"2"), rec(b"b", b"2")]), now_ms=0)
    log.roll(0)
    stats = compact(log, None, now_ms=10)
    batches = [h for _, h in iter_batches(log.read(0, 1 << 20).read_bytes())]
    # The producer's first batch is gone; its last stays as an empty batch keeping offset and sequence.
    assert stats.batches_removed == 1
    assert [(h.base_offset, h.record_count, h.last_offset, h.base_sequence) for h in batches] == [
        (1, 0, 1, 1),
        (2, 2, 3, -1),
    ]
    log.close()


def test_min_compaction_lag_limits_range(tmp_path: Path) -> None:
    config = COMPACT.with_overrides({"min.compaction.lag.ms": "500"})
    log = Log.open(tmp_path / "t-0", config, now_ms=0)
    for ts in (100, 200, 900):
        log.append(build_batch([rec(b"k", str(ts).encode(), ts)]), now_ms=ts)
        log.roll(ts)
    assert [s.base_offset for s in cleanable_segments(log, config, now_ms=1000)] == [0, 1]
    compact(log, None, now_ms=1000)
    # Offset 0 is superseded by offset 1 within the range; offset 2 is too young to take part.
    assert kv(all_records(log)) == [(1, b"k", b"200"), (2, b"k", b"900")]
    log.close()


def test_delete_policy_does_nothing_and_dirty_ratio(tmp_path: Path) -> None:
    log = build(tmp_path / "t-0", LogConfig(), [[rec(b"a", b"1")], [rec(b"a", b"2")]])
    assert not compact(log, None, now_ms=10, force=True).ran
    strict = COMPACT.with_overrides({"min.cleanable.dirty.ratio": "0.9"})
    segments = cleanable_segments(log, strict, 10)
    assert dirty_ratio(segments, 0) == 1.0
    assert dirty_ratio(segments, 1) == pytest.approx(0.5)
    assert needs_compaction(log, strict, 10, first_dirty_offset=0)
    assert not needs_compaction(log, strict, 10, first_dirty_offset=1)
    assert not needs_compaction(log, strict, 10, first_dirty_offset=2)
    lagged = strict.with_overrides({"max.compaction.lag.ms": "5"})
    assert needs_compaction(log, lagged, 10_000, first_dirty_offset=1)
    assert not compact(log, strict, 10, first_dirty_offset=1).ran
    log.close()


def test_compact_delete_policy_and_grouping(tmp_path: Path) -> None:
    config = COMPACT.with_overrides({"cleanup.policy": "compact,delete", "internal.segment.bytes": "100000"})
    batches = [[rec(b"k%d" % (i % 3), b"v%d" % i)] for i in range(12)]
    log = build(tmp_path / "t-0", config, batches)
    assert len(log.closed_segments()) == 12
    stats = compact(log, None, now_ms=5000)
    assert stats.segments_cleaned == 12 and stats.segments_written == 1
    assert len(log.closed_segments()) == 1 and log.closed_segments()[0].base_offset == 0
    assert kv(all_records(log)) == [(9, b"k0", b"v9"), (10, b"k1", b"v10"), (11, b"k2", b"v11")]
    log.close()


def test_everything_removed_leaves_empty_segment(tmp_path: Path) -> None:
    config = COMPACT.with_overrides({"delete.retention.ms": "0"})
    log = build(tmp_path / "t-0", config, [[rec(b"a", b"1", 0)], [rec(b"a", None, 0), rec(None, b"x", 0)]])
    log.append(build_batch([rec(b"z", b"1")]), now_ms=0)
    compact(log, None, now_ms=10)
    assert kv(all_records(log)) == [(3, b"z", b"1")]
    assert log.log_start_offset == 0 and log.log_end_offset == 4
    log.close()


def test_failure_before_swap_leaves_log_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = build(tmp_path / "t-0", COMPACT, [[rec(b"a", b"1")], [rec(b"a", b"2")]])
    before = kv(all_records(log))

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Log, "replace_segments", boom)
    with pytest.raises(OSError):
        compact(log, None, now_ms=10)
    monkeypatch.undo()
    assert kv(all_records(log)) == before
    assert not list((tmp_path / "t-0").glob(f"*{CLEANED_SUFFIX}"))
    assert compact(log, None, now_ms=10).records_removed == 1
    log.close()
