from __future__ import annotations

from pathlib import Path

import pytest

from segments.index import OFFSET_ENTRY_SIZE, TIME_ENTRY_SIZE, CorruptIndexError, OffsetIndex, TimeIndex


def test_offset_index_lookup_is_largest_entry_not_above_target(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", 100, 1024)
    index.create_file()
    for i in range(1, 6):
        index.append(100 + i * 10, i * 1000)
    assert index.lookup(99) == (100, 0)
    assert index.lookup(105) == (100, 0)
    assert index.lookup(110) == (110, 1000)
    assert index.lookup(139) == (130, 3000)
    assert index.lookup(10_000) == (150, 5000)
    assert index.lookup_position(2999) == (120, 2000)
    assert index.lookup_position(3000) == (130, 3000)


def test_offset_index_rejects_non_increasing_entries(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", 0, 1024)
    index.append(5, 100)
    with pytest.raises(ValueError):
        index.append(5, 200)
    with pytest.raises(ValueError):
        index.append(6, 100)
    with pytest.raises(ValueError):
        index.append(2**31 + 1, 300)


def test_preallocated_file_is_trimmed_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "0.index"
    index = OffsetIndex(path, 0, 1024)
    index.create_file()
    assert path.stat().st_size == 1024
    index.append(3, 100)
    index.append(7, 300)
    index.write_to_file(trim=False, sync=False)
    assert path.stat().st_size == 1024
    # A crash here leaves zero-filled entries after the real ones; loading drops them.
    loaded = OffsetIndex.load(path, 0, 1024, log_size=1000)
    assert len(loaded) == 2 and loaded.lookup(8) == (7, 300)
    index.write_to_file(trim=True, sync=True)
    assert path.stat().st_size == 2 * OFFSET_ENTRY_SIZE


def test_truncation_cuts_the_file_too(tmp_path: Path) -> None:
    path = tmp_path / "0.index"
    index = OffsetIndex(path, 0, 1024)
    for i in range(1, 5):
        index.append(i, i * 100)
    index.write_to_file(trim=True, sync=False)
    index.truncate_to_position(250)
    assert len(index) == 2
    assert path.stat().st_size == 2 * OFFSET_ENTRY_SIZE
    index.append(9, 260)
    index.write_to_file(trim=False, sync=False)
    assert OffsetIndex.load(path, 0, 1024, 1000).last_entry() == (9, 260)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00" * 7,  # not whole entries
        (5).to_bytes(4, "big") + (100).to_bytes(4, "big") + (4).to_bytes(4, "big") + (200).to_bytes(4, "big"),
        (5).to_bytes(4, "big") + (5000).to_bytes(4, "big"),  # beyond the log
    ],
)
def test_corrupt_offset_index_is_detected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "0.index"
    path.write_bytes(content)
    with pytest.raises(CorruptIndexError):
        OffsetIndex.load(path, 0, 1024, log_size=1000)


def test_missing_index_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptIndexError):
        OffsetIndex.load(tmp_path / "nope.index", 0, 1024, 10)
    with pytest.raises(CorruptIndexError):
        TimeIndex.load(tmp_path / "nope.timeindex", 0, 1024)


def test_is_full(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "0.index", 0, 3 * OFFSET_ENTRY_SIZE + 5)
    assert index.max_entries == 3
    for i in range(3):
        assert not index.is_full
        index.append(i + 1, (i + 1) * 10)
    assert index.is_full
    time_index = TimeIndex(tmp_path / "0.timeindex", 0, 2 * TIME_ENTRY_SIZE)
    time_index.maybe_append(1, 1)
    time_index.maybe_append(2, 2)
    assert time_index.is_full


def test_time_index_keeps_only_growing_timestamps(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "0.timeindex", 10, 1024)
    assert index.maybe_append(100, 10)
    assert not index.maybe_append(100, 12)
    assert not index.maybe_append(90, 13)
    assert index.maybe_append(200, 15)
    assert index.lookup_before(100) is None
    assert index.lookup_before(101) == (100, 10)
    assert index.lookup_before(10**12) == (200, 15)
    assert index.last_entry() == (200, 15)
    index.truncate_to_offset(15)
    assert index.last_entry() == (100, 10)


def test_time_index_round_trip_and_corruption(tmp_path: Path) -> None:
    path = tmp_path / "0.timeindex"
    index = TimeIndex(path, 0, 1024)
    index.create_file()
    index.maybe_append(5, 1)
    index.maybe_append(9, 4)
    index.write_to_file(trim=False, sync=False)
    assert TimeIndex.load(path, 0, 1024).last_entry() == (9, 4)
    data = bytearray(path.read_bytes()[: 2 * TIME_ENTRY_SIZE])
    data[0:8] = (50).to_bytes(8, "big")  # first timestamp now above the second
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptIndexError):
        TimeIndex.load(path, 0, 1024)


def test_rewrite_file_replaces_content(tmp_path: Path) -> None:
    path = tmp_path / "0.index"
    path.write_bytes(b"garbage!" * 3)
    index = OffsetIndex(path, 0, 1024)
    index.append(1, 10)
    index.rewrite_file(sync=True)
    assert path.read_bytes() == (1).to_bytes(4, "big") + (10).to_bytes(4, "big")
    assert not (tmp_path / "0.index.tmp").exists()
