"""A Log driven through random operations, crashes included, compared with a plain list of batches."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from segments.batch import read_header, set_base_offset
from segments.errors import OffsetOutOfRangeError
from segments.log import Log
from tests.segments.conftest import make_batch, small_config

CONFIG = small_config(segment_bytes=512, index_interval_bytes=64, segment_index_bytes=64, segment_ms=10**6)


@dataclass
class StoredBatch:
    base_offset: int
    data: bytes

    @property
    def next_offset(self) -> int:
        return read_header(self.data).next_offset


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="logmachine-"))
        self.log: Log | None = Log.open(self.dir, CONFIG, now_ms=0)
        self.batches: list[StoredBatch] = []
        self.start = 0
        self.end = 0
        self.flushed = 0  # the model's recovery point
        self.now = 0
        self.tag = 0

    @property
    def open_log(self) -> Log:
        assert self.log is not None
        return self.log

    def teardown(self) -> None:
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------- operations

    @rule(shape=st.lists(st.tuples(st.integers(1, 4), st.integers(0, 120)), min_size=1, max_size=3),
          advance=st.integers(0, 10_000))
    def append(self, shape: list[tuple[int, int]], advance: int) -> None:
        self.now += advance
        parts = []
        for count, value_size in shape:
            self.tag += 1
            parts.append(make_batch(count, timestamp=self.now, value_size=value_size, tag=self.tag))
        result = self.open_log.append(bytearray(b"".join(parts)), now_ms=self.now)
        assert result.first_offset == self.end
        for part in parts:
            stored = bytearray(part)
            set_base_offset(stored, 0, self.end)
            batch = StoredBatch(self.end, bytes(stored))
            self.batches.append(batch)
            self.end = batch.next_offset
        assert result.last_offset == self.end - 1

    @rule(data=st.data(), max_bytes=st.integers(1, 1500))
    def read(self, data: st.DataObject, max_bytes: int) -> None:
        offset = data.draw(st.integers(self.start, self.end))
        got = self.open_log.read(offset, max_bytes).read_bytes()
        expected = b""
        for batch in self.batches:
            if batch.next_offset <= offset:
                continue
            if expected and len(expected) + len(batch.data) > max_bytes:
                break
            expected += batch.data
        assert got == expected

    @rule(delta=st.integers(1, 5))
    def read_out_of_range(self, delta: int) -> None:
        with pytest.raises(OffsetOutOfRangeError):
            self.open_log.read(self.end + delta, 100)
        if self.start > 0:
            with pytest.raises(OffsetOutOfRangeError):
                self.open_log.read(self.start - 1, 100)

    @rule()
    def roll(self) -> None:
        self.open_log.roll(self.now)

    @precondition(lambda self: any(self.start < b.next_offset < self.end for b in self.batches))
    @rule(data=st.data())
    def truncate(self, data: st.DataObject) -> None:
        boundaries = [b.next_offset for b in self.batches if self.start < b.next_offset < self.end]
        offset = data.draw(st.sampled_from(boundaries))
        self.open_log.truncate_to(offset)
        self.batches = [b for b in self.batches if b.next_offset <= offset]
        self.end = offset
        self.flushed = min(self.flushed, offset)

    @rule(data=st.data())
    def delete_records_before(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.start, self.end))
        self.open_log.delete_records_before(offset)
        self.start = offset

    @rule()
    def flush(self) -> None:
        self.open_log.flush()
        self.flushed = self.end
        assert self.open_log.recovery_point == self.end

    @rule()
    def reopen_clean(self) -> None:
        log = self.open_log
        log.close()
        self.log = Log.open(self.dir, CONFIG, now_ms=self.now, recovery_point=log.recovery_point,
                            log_start_offset=self.start, clean=True)
        assert self.log.recovery_report.scanned_segments == 0
        self.flushed = self.end

    @rule()
    def reopen_unclean(self) -> None:
        # The process died: nothing closed, nothing lost (pwrite reached the page cache).
        recovery_point = self.open_log.recovery_point
        self.log = None
        self.log = Log.open(self.dir, CONFIG, now_ms=self.now, recovery_point=recovery_point,
                            log_start_offset=self.start)
        assert not self.log.recovery_report.truncated
        self.flushed = self.end

    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        """The machine died: the active log file loses an arbitrary tail after the flush point."""
        log = self.open_log
        recovery_point = log.recovery_point
        active = log.active_segment
        if recovery_point > active.base_offset:
            found = active.translate_offset(recovery_point)
            flushed_position = found[0] if found is not None else active.size
        else:
            flushed_position = 0
        size = active.size
        base = active.base_offset
        cut = data.draw(st.integers(flushed_position, size))
        path = active.path
        self.log = None
        del log, active
        with path.open("r+b") as f:
            f.truncate(cut)
        self.log = Log.open(self.dir, CONFIG, now_ms=self.now, recovery_point=recovery_point,
                            log_start_offset=self.start)
        position = 0
        kept: list[StoredBatch] = []
        for batch in self.batches:
            if batch.base_offset >= base:
                position += len(batch.data)
                if position > cut:
                    break
            kept.append(batch)
        self.batches = kept
        self.end = kept[-1].next_offset if kept and kept[-1].base_offset >= base else max(base, self.start)
        if kept and kept[-1].base_offset < base:
            self.end = base
        truncated_fully = self.end < self.start
        if truncated_fully:
            self.batches, self.end = [], self.start
        self.flushed = self.end
        # Recovery cuts the torn part of the last batch the crash left behind.
        kept_in_active = sum(len(b.data) for b in kept if b.base_offset >= base)
        if not truncated_fully:
            assert self.log.recovery_report.lost_bytes == cut - kept_in_active

    # ---------------------------------------------------------------- invariants

    @invariant()
    def matches_model(self) -> None:
        log = self.open_log
        assert (log.log_start_offset, log.log_end_offset) == (self.start, self.end)
        assert log.recovery_point <= log.log_end_offset
        assert log.recovery_point >= min(self.flushed, self.end)
        expected = b"".join(b.data for b in self.batches if b.next_offset > self.start)
        assert log.read(self.start, 10**9).read_bytes() == expected
        assert log.size_bytes >= len(expected)
        segments = log.segments
        assert all(a.base_offset < b.base_offset for a, b in itertools.pairwise(segments))
        assert segments[-1].active and not any(s.active for s in segments[:-1])


LogMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLogMachine = LogMachine.TestCase
