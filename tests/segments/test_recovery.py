from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from segments.batch import iter_batches
from segments.log import Log
from segments.recovery import recover
from segments.segment import segment_file_name
from tests.segments.conftest import make_batch, small_config

CONFIG = small_config(segment_bytes=600)


def _build(path: Path, batches: int = 12) -> list[bytes]:
    """A log of ``batches`` 2-record batches, flushed and closed; returns the batches as stored."""
    log = Log.open(path, CONFIG, now_ms=0)
    for i in range(batches):
        log.append(make_batch(2, tag=i, timestamp=1_000 + i), now_ms=0)
    stored = log.read(0, 10**9).read_bytes()
    log.close()
    return [stored[p : p + h.size] for p, h in iter_batches(stored)]


def _contents(log: Log) -> bytes:
    return log.read(log.log_start_offset, 10**9).read_bytes()


def _log_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.log"))


def test_cut_last_batch_at_every_byte(tmp_path: Path) -> None:
    template = tmp_path / "template"
    batches = _build(template)
    last = batches[-1]
    for keep in range(len(last)):
        work = tmp_path / f"cut{keep}"
        shutil.copytree(template, work)
        active = _log_files(work)[-1]
        data = active.read_bytes()
        active.write_bytes(data[: len(data) - len(last) + keep])
        log = Log.open(work, CONFIG, now_ms=0)
        assert log.log_end_offset == 2 * (len(batches) - 1)
        assert _contents(log) == b"".join(batches[:-1])
        cuts = log.recovery_report.cuts
        assert (len(cuts) == 1) == (keep > 0)
        if keep:
            assert cuts[0].bytes == keep and cuts[0].segment == active.name
        log.close()
        shutil.rmtree(work)


def test_flipped_byte_keeps_the_valid_prefix_and_drops_later_segments(tmp_path: Path) -> None:
    template = tmp_path / "template"
    batches = _build(template, batches=30)
    files = _log_files(template)
    assert len(files) >= 3
    first_data = files[0].read_bytes()
    victim_file = files[1]
    victim_batches = list(iter_batches(victim_file.read_bytes()))
    pos, header = victim_batches[1]
    victim_base = int(victim_file.name[:20])
    index_of_victim = next(i for i, b in enumerate(batches) if b == victim_file.read_bytes()[pos : pos + header.size])
    for offset_in_batch in (0, 8, 13, 16, 17, 21, 30, 40, header.size - 1):
        work = tmp_path / f"flip{offset_in_batch}"
        shutil.copytree(template, work)
        target = work / victim_file.name
        data = bytearray(target.read_bytes())
        data[pos + offset_in_batch] ^= 0x40
        target.write_bytes(bytes(data))
        log = Log.open(work, CONFIG, now_ms=0, recovery_point=victim_base)
        report = log.recovery_report
        expected = batches[:index_of_victim]
        if offset_in_batch == 13:  # partitionLeaderEpoch is outside the CRC: nothing to detect
            assert not report.truncated
            assert len(_contents(log)) == len(b"".join(batches))
        else:
            assert report.cuts and report.cuts[0].position == pos
            assert len(report.deleted_segments) == len(files) - 2
            assert _contents(log) == b"".join(expected)
        assert (work / files[0].name).read_bytes() == first_data  # before the recovery point: untouched
        log.close()


def test_garbage_tail_is_cut_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    batches = _build(tmp_path)
    active = _log_files(tmp_path)[-1]
    with active.open("ab") as f:
        f.write(b"\x00" * 100 + b"garbage" * 10)
    with caplog.at_level(logging.WARNING, logger="segments.recovery"):
        log = Log.open(tmp_path, CONFIG, now_ms=0, recovery_point=0)
    assert _contents(log) == b"".join(batches)
    assert log.recovery_report.lost_bytes == 170
    assert "cut 170 bytes" in caplog.text
    log.append(make_batch(1), now_ms=0)
    assert log.log_end_offset == 2 * len(batches) + 1


def test_clean_marker_with_torn_tail_falls_back_to_recovery(tmp_path: Path) -> None:
    batches = _build(tmp_path)
    active = _log_files(tmp_path)[-1]
    with active.open("ab") as f:
        f.write(make_batch(3)[:40])
    log = Log.open(tmp_path, CONFIG, now_ms=0, recovery_point=2 * len(batches), clean=True)
    assert _contents(log) == b"".join(batches)
    assert log.recovery_report.lost_bytes == 40


@pytest.mark.parametrize("kind", [".index", ".timeindex"])
@pytest.mark.parametrize("damage", ["delete", "garbage", "empty"])
@pytest.mark.parametrize("clean", [True, False])
def test_missing_or_corrupt_index_files_are_rebuilt(tmp_path: Path, kind: str, damage: str, clean: bool) -> None:
    batches = _build(tmp_path, batches=30)
    for path in tmp_path.glob(f"*{kind}"):
        if damage == "delete":
            path.unlink()
        elif damage == "garbage":
            path.write_bytes(b"\x7f\xff\xff\xf0" * 9)
        else:
            path.write_bytes(b"")
    log = Log.open(tmp_path, CONFIG, now_ms=0, recovery_point=60, clean=clean)
    assert not log.recovery_report.truncated
    assert _contents(log) == b"".join(batches)
    for offset in range(0, 60, 7):
        data = log.read(offset, 1).read_bytes()
        header = next(iter_batches(data))[1]
        assert header.base_offset <= offset <= header.last_offset
    assert log.offset_for_timestamp(1_010) == (18, 1_010)
    assert log.max_timestamp_offset() == (58, 1_030)
    log.close()
    for path in tmp_path.glob("*.log"):
        assert path.with_suffix(kind).exists()


def test_only_segments_from_the_recovery_point_are_scanned(tmp_path: Path) -> None:
    _build(tmp_path, batches=30)
    files = _log_files(tmp_path)
    last_base = int(files[-1].name[:20])
    log = Log.open(tmp_path, CONFIG, now_ms=0, recovery_point=last_base + 1)
    assert log.recovery_report.scanned_segments == 1
    log.close()
    log = Log.open(tmp_path, CONFIG, now_ms=0)
    assert log.recovery_report.scanned_segments == len(files)


def test_leftover_files_are_removed(tmp_path: Path) -> None:
    batches = _build(tmp_path)
    leftovers = [
        segment_file_name(999, ".log", ".cleaned"),
        segment_file_name(999, ".index", ".cleaned"),
        segment_file_name(0, ".log", ".deleted"),
        segment_file_name(0, ".index", ".tmp"),
        segment_file_name(5000, ".index"),  # index without a log
    ]
    for name in leftovers:
        (tmp_path / name).write_bytes(b"x" * 24)
    log = Log.open(tmp_path, CONFIG, now_ms=0, recovery_point=24)
    for name in leftovers:
        assert not (tmp_path / name).exists()
    assert _contents(log) == b"".join(batches)


def _prepare_swap(path: Path) -> tuple[list[bytes], list[Path], Path]:
    """A log plus the files of a cleaned segment replacing its first two segments (every other batch)."""
    log = Log.open(path, CONFIG, now_ms=0)
    for i in range(30):
        log.append(make_batch(2, tag=i), now_ms=0)
    old = log.closed_segments()[:2]
    rest = b"".join(s.read_bytes() for s in log.segments[2:])
    new = log.create_cleaned_segment(old[0].base_offset)
    kept = []
    for segment in old:
        data = segment.read_bytes()
        for p, h in list(iter_batches(data))[::2]:
            new.append(h.last_offset, h.max_timestamp, h.base_offset, data[p : p + h.size])
            kept.append(data[p : p + h.size])
    new.seal()
    new.flush()
    old_paths = [s.path for s in old]
    log.close()
    new.close()
    return [b"".join(kept), rest], old_paths, path


def _rename_all(path: Path, base: int, old_suffix: str, new_suffix: str, kinds: tuple[str, ...]) -> None:
    for kind in kinds:
        (path / segment_file_name(base, kind, old_suffix)).rename(path / segment_file_name(base, kind, new_suffix))


ALL = (".index", ".timeindex", ".log")


@pytest.mark.parametrize("step", ["cleaned", "index-swapped", "swapped", "old-renaming", "old-renamed",
                                  "old-deleted", "half-renamed"])
def test_interrupted_swap(tmp_path: Path, step: str) -> None:
    """A crash at each step of ``Log.replace_segments``: before the commit the old segments stay; after
    it (the ``.swap`` log file) the swap is finished, wherever the old files were (renamed
    ``.deleted`` one by one, or already unlinked)."""
    (kept, rest), old_paths, path = _prepare_swap(tmp_path)
    base = int(old_paths[0].name[:20])
    original = b"".join(p.read_bytes() for p in old_paths) + rest
    committed = kept + rest
    if step != "cleaned":
        _rename_all(path, base, ".cleaned", ".swap", (".index", ".timeindex") if step == "index-swapped" else ALL)
    if step in ("old-renaming", "old-renamed"):
        renamed = old_paths[:1] if step == "old-renaming" else old_paths
        for old in renamed:
            _rename_all(path, int(old.name[:20]), "", ".deleted", ALL)
    if step in ("old-deleted", "half-renamed"):
        for old in old_paths:
            for kind in ALL:
                old.with_suffix(kind).unlink()
    if step == "half-renamed":
        _rename_all(path, base, ".swap", "", (".index", ".timeindex"))
    log = Log.open(path, CONFIG, now_ms=0, recovery_point=60, clean=True)
    expected = original if step in ("cleaned", "index-swapped") else committed
    assert log.read(0, 10**9).read_bytes() == expected
    assert not any(p.name.endswith((".swap", ".cleaned")) for p in path.iterdir())
    assert log.log_end_offset == 60
    log.close()


def test_recover_function(tmp_path: Path) -> None:
    batches = _build(tmp_path)
    active = _log_files(tmp_path)[-1]
    with active.open("ab") as f:
        f.write(b"junk")
    report = recover(tmp_path, CONFIG)
    assert report.lost_bytes == 4 and report.cuts[0].reason.startswith("torn batch header")
    log = Log.open(tmp_path, CONFIG, now_ms=0, recovery_point=2 * len(batches), clean=True)
    assert _contents(log) == b"".join(batches)
