"""Appends whose write runs on the append writer thread (``segments/writer.py``, ``Log._perform``).

The rules under test: offsets are assigned in append order and the bytes land in that order; no
reader sees an offset before its bytes are in the file; a write that fails after ``append`` returned
fails it and the writes queued behind it, and the next append takes the offsets back; a crash with
writes in flight recovers to whole batches.
"""

from __future__ import annotations

import errno
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import segments.log as log_module
from segments.errors import LogStorageError
from segments.log import AppendResult, Log
from segments.records import decode_batches
from segments.segment import FileHandle, write_at
from segments.writer import AppendWriter
from tests.segments.conftest import make_batch, small_config


@pytest.fixture
def writer() -> Iterator[AppendWriter]:
    w = AppendWriter()
    yield w
    w.close(5)


def _open(path: Path, writer: AppendWriter | None = None, **overrides: int) -> Log:
    log = Log.open(path, small_config(**overrides), now_ms=0)
    log.use_writer(writer)
    return log


def _settled(result: AppendResult, timeout: float = 5.0) -> BaseException | None:
    """Wait for the write of ``result`` (its ticket, finished on the writer thread here)."""
    ticket = result.written
    assert ticket is not None, "the append was written inline"
    done = threading.Event()
    ticket.add_done_callback(lambda _error: done.set())
    assert done.wait(timeout), "the write never finished"
    return ticket.error


class GatedWrites:
    """Replaces ``write_at`` in ``segments.log``: each write waits for ``release`` (optionally after
    writing ``partial`` of its bytes), or fails with ``fail`` set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.partial: float | None = None
        self.fail: OSError | None = None
        self.calls = 0
        self._real = write_at
        monkeypatch.setattr(log_module, "write_at", self)

    def __call__(self, handle: FileHandle, position: int, view: memoryview) -> None:
        self.calls += 1
        if self.partial is not None:
            self._real(handle, position, view[: int(len(view) * self.partial)])
        self.entered.set()
        assert self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        self._real(handle, position, view)


def test_offsets_are_assigned_at_once_and_bytes_land_in_order(tmp_path: Path, writer: AppendWriter) -> None:
    log = _open(tmp_path, writer)
    results = [log.append(bytearray(make_batch(3, tag=i)), now_ms=i) for i in range(50)]
    assert [(r.first_offset, r.last_offset) for r in results] == [(3 * i, 3 * i + 2) for i in range(50)]
    assert all(_settled(r) is None for r in results)
    log.drain()
    assert log.log_end_offset == 150 and log.pending_writes == 0
    assert [r.offset for r in decode_batches(log.read(0, 10**7).read_bytes())] == list(range(150))
    assert writer.writes == 50


def test_readers_never_see_offsets_whose_bytes_are_not_written(tmp_path: Path, writer: AppendWriter,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    log = _open(tmp_path, writer)
    log.append(bytearray(make_batch(2)), now_ms=0)
    log.drain()
    woken: list[int] = []
    log.add_append_listener(woken.append)
    gate = GatedWrites(monkeypatch)
    pending = log.append(bytearray(make_batch(4)), now_ms=1)
    assert gate.entered.wait(5)
    # Offsets 2..5 are taken, but the bytes are not in the file: readers see the old end only.
    assert (pending.first_offset, pending.last_offset) == (2, 5)
    assert log.log_end_offset == 2 and log.pending_writes == 1
    assert log.read(2, 10**6).ranges == []
    assert log.active_segment.size == len(make_batch(2))
    assert woken == []
    # The loop's next append is not held up by the write in progress.
    behind = log.append(bytearray(make_batch(1)), now_ms=2)
    assert behind.first_offset == 6
    gate.release.set()
    assert _settled(pending) is None and _settled(behind) is None
    assert log.log_end_offset == 7
    assert woken == [6, 7]
    assert [r.offset for r in decode_batches(log.read(0, 10**6).read_bytes())] == list(range(7))


def test_a_failed_write_fails_the_writes_behind_it_and_the_offsets_are_taken_again(
        tmp_path: Path, writer: AppendWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _open(tmp_path, writer)
    log.append(bytearray(make_batch(2)), now_ms=0)
    log.drain()
    size_before = log.active_segment.size
    gate = GatedWrites(monkeypatch)
    gate.fail = OSError(errno.ENOSPC, "No space left on device")
    failing = log.append(bytearray(make_batch(3)), now_ms=1)
    assert gate.entered.wait(5)
    queued = [log.append(bytearray(make_batch(1)), now_ms=2) for _ in range(3)]
    assert [r.first_offset for r in queued] == [5, 6, 7]  # the append returned before the failure
    gate.release.set()
    error = _settled(failing)
    assert isinstance(error, LogStorageError) and error.errno == errno.ENOSPC
    for result in queued:
        assert isinstance(_settled(result), LogStorageError)
    assert log.log_end_offset == 2 and log.active_segment.size == size_before
    # Room again: the next append writes where the failed one would have, with its offsets.
    gate.fail = None
    again = log.append(bytearray(make_batch(2, tag=9)), now_ms=3)
    assert again.first_offset == 2
    assert _settled(again) is None
    assert [r.offset for r in decode_batches(log.read(0, 10**6).read_bytes())] == [0, 1, 2, 3]


def test_a_crash_with_writes_in_flight_recovers_to_whole_batches(tmp_path: Path, writer: AppendWriter,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    log = _open(live, writer)
    for i in range(5):
        log.append(bytearray(make_batch(2, tag=i)), now_ms=i)
    log.drain()
    log.flush()
    gate = GatedWrites(monkeypatch)
    gate.partial = 0.5  # half of the next write reaches the file, then the process "dies"
    log.append(bytearray(make_batch(5, value_size=200)), now_ms=9)
    log.append(bytearray(make_batch(1)), now_ms=10)
    assert gate.entered.wait(5)
    shutil.copytree(live, crashed)  # the files as a kill -9 would leave them
    gate.release.set()
    log.drain()
    recovered = Log.open(crashed, small_config(), now_ms=20)
    assert recovered.log_end_offset == 10
    assert [r.offset for r in decode_batches(recovered.read(0, 10**6).read_bytes())] == list(range(10))
    recovered.close()
    log.close()


def test_roll_truncate_and_close_wait_for_pending_writes(tmp_path: Path, writer: AppendWriter) -> None:
    log = _open(tmp_path, writer, segment_bytes=2_000)
    results = [log.append(bytearray(make_batch(2, value_size=100)), now_ms=i) for i in range(40)]
    log.truncate_to(30)
    assert log.log_end_offset == 30 and log.pending_writes == 0
    assert all(_settled(r) is None for r in results)
    assert len(log.segments) > 1  # the writer rolled segments as appends filled them
    after = log.append(bytearray(make_batch(1)), now_ms=50)
    assert after.first_offset == 30
    log.close()
    assert log.log_end_offset == 31
    reopened = Log.open(tmp_path, small_config(segment_bytes=2_000), now_ms=60)
    assert reopened.log_end_offset == 31
    reopened.close()
