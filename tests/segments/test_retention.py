from __future__ import annotations

from pathlib import Path

import pytest

from segments.config import LogConfig
from segments.errors import OffsetOutOfRangeError
from segments.log import Log
from segments.records import RecordInput, build_batch
from segments.retention import apply_retention, sweep

HOUR = 3_600_000


def batch(timestamp: int, count: int = 1, value: bytes = b"v" * 100) -> bytes:
    return build_batch([RecordInput(None, value, timestamp=timestamp) for _ in range(count)])


def make_log(path: Path, config: LogConfig, timestamps: list[int]) -> Log:
    """One closed segment per timestamp (each holding one 2-record batch), plus an active segment."""
    log = Log.open(path, config, now_ms=0)
    for ts in timestamps:
        log.append(batch(ts, 2), now_ms=ts)
        log.roll(ts)
    return log


def test_time_retention_deletes_expired_prefix(tmp_path: Path) -> None:
    config = LogConfig.from_props({"retention.ms": str(10 * HOUR)})
    log = make_log(tmp_path / "t-0", config, [1 * HOUR, 2 * HOUR, 3 * HOUR, 20 * HOUR])
    log.append(batch(1 * HOUR), now_ms=21 * HOUR)  # active segment, old timestamp: never deleted
    assert len(log.segments) == 5
    stats = apply_retention(log, config, now_ms=12 * HOUR + 1)
    # Segments whose newest record is older than 10 h at t=12h+1: the 1 h and 2 h ones.
    assert stats.segments_deleted == 2 and stats.by_time == 2
    assert log.log_start_offset == 4 == stats.log_start_offset
    assert [s.base_offset for s in log.segments] == [4, 6, 8]
    with pytest.raises(OffsetOutOfRangeError):
        log.read(0, 1000)
    assert log.read(4, 1000).ranges
    # Boundary: exactly retention.ms old is kept (Kafka deletes only when strictly older).
    assert apply_retention(log, config, now_ms=13 * HOUR).segments_deleted == 0
    stats = apply_retention(log, config, now_ms=1000 * HOUR)
    assert stats.segments_deleted == 2  # everything closed; the active segment stays
    assert [s.base_offset for s in log.segments] == [8]
    assert log.log_start_offset == 8 and log.log_end_offset == 9
    log.close()


def test_time_retention_stops_at_first_young_segment(tmp_path: Path) -> None:
    config = LogConfig.from_props({"retention.ms": str(HOUR)})
    # A segment with a future timestamp shields older ones behind it, as in Kafka.
    log = make_log(tmp_path / "t-0", config, [5 * HOUR, 1, 2])
    assert apply_retention(log, config, now_ms=3 * HOUR).segments_deleted == 0
    log.close()


def test_infinite_time_retention(tmp_path: Path) -> None:
    config = LogConfig.from_props({"retention.ms": "-1"})
    log = make_log(tmp_path / "t-0", config, [1, 2, 3])
    assert apply_retention(log, config, now_ms=10**15).segments_deleted == 0
    log.close()


def test_size_retention(tmp_path: Path) -> None:
    base = LogConfig.from_props({"retention.ms": "-1"})
    log = make_log(tmp_path / "t-0", base, [1, 2, 3, 4])
    seg = log.segments[0].size
    assert all(s.size == seg for s in log.closed_segments())
    total = log.size_bytes
    assert total == 4 * seg
    config = base.with_overrides({"retention.bytes": str(2 * seg + 10)})
    stats = apply_retention(log, config, now_ms=5)
    # Dropping a segment must not take the log below retention.bytes.
    assert stats.segments_deleted == 1 and stats.by_size == 1 and stats.bytes_deleted == seg
    assert log.size_bytes == 3 * seg
    assert apply_retention(log, config.with_overrides({"retention.bytes": "0"}), now_ms=5).segments_deleted == 3
    assert len(log.segments) == 1 and log.log_start_offset == 8
    log.close()


def test_compact_only_policy_keeps_old_segments(tmp_path: Path) -> None:
    config = LogConfig.from_props({"retention.ms": "1", "retention.bytes": "0", "cleanup.policy": "compact"})
    log = make_log(tmp_path / "t-0", config, [1, 2])
    assert apply_retention(log, config, now_ms=10**12).segments_deleted == 0
    log.close()


def test_segments_below_log_start_offset_go_under_any_policy(tmp_path: Path) -> None:
    config = LogConfig.from_props({"retention.ms": "-1", "cleanup.policy": "compact"})
    log = make_log(tmp_path / "t-0", config, [1, 2, 3])
    log.close()
    # Reopened with a checkpointed start offset inside the third segment [4, 6).
    log = Log.open(tmp_path / "t-0", config, now_ms=0, log_start_offset=5, clean=True)
    before = [s.base_offset for s in log.segments]
    stats = apply_retention(log, config, now_ms=0)
    assert log.segments[0].base_offset == 4
    assert stats.by_start_offset == stats.segments_deleted == len([b for b in before if b < 4])
    assert log.log_start_offset == 5
    log.close()


def test_retention_uses_log_config_by_default_and_empty_log(tmp_path: Path) -> None:
    config = LogConfig.from_props({"retention.ms": "10"})
    log = Log.open(tmp_path / "t-0", config, now_ms=0)
    assert apply_retention(log, None, now_ms=10**9).segments_deleted == 0
    log.append(batch(0), now_ms=0)
    log.roll(0)
    assert apply_retention(log, None, now_ms=11).segments_deleted == 1
    log.close()


def test_retention_survives_reopen(tmp_path: Path) -> None:
    config = LogConfig.from_props({"retention.ms": "100"})
    log = make_log(tmp_path / "t-0", config, [1, 2, 1000])
    apply_retention(log, config, now_ms=500)
    start = log.log_start_offset
    log.close()
    again = Log.open(tmp_path / "t-0", config, now_ms=600, log_start_offset=start, clean=True)
    assert again.log_start_offset == start == 4
    assert [s.base_offset for s in again.segments] == [4, 6]
    again.close()


def test_sweep_applies_retention_and_compaction(tmp_path: Path) -> None:
    from segments.store import Store

    store = Store.open(tmp_path, LogConfig(), now_ms=0)
    store.create_topic("events", 2, {"retention.ms": "1000"})
    store.create_topic("table", 1, {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"})
    events = store.log("events", 0)
    for ts in (10, 20):
        events.append(batch(ts), now_ms=ts)
        events.roll(ts)
    table = store.log("table", 0)
    for value in (b"1", b"2", b"3"):
        table.append(build_batch([RecordInput(b"k", value, timestamp=10)]), now_ms=10)
        table.roll(10)
    stats = sweep(store, now_ms=5000)
    assert stats.partitions == 3 and stats.errors == 0
    assert stats.retention.segments_deleted == 2 and events.log_start_offset == 2
    assert stats.compacted_partitions == 1 and stats.compaction_records_removed == 2
    assert store.cleaner_offset("table", 0) == 3
    # Nothing newly dirty: the second sweep does not compact again.
    assert sweep(store, now_ms=6000).compacted_partitions == 0
    store.close()
