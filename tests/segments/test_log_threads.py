"""A log used by several threads at once, as in the broker: appends and fetches on one thread,
retention and compaction on a cleaner thread, fsyncs on a flusher thread (``segments/log.py``,
"Threading").

Every check compares with a plain model: the latest value appended for each key must be readable,
exactly once as the newest record of that key, after any interleaving of compactions.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments.cleaner import CleanerProcess
from segments.compaction import (
    Cancelled,
    CleaningPlan,
    CleaningResult,
    CleaningRunner,
    CompactionAbortedError,
    clean,
    compact,
    run_here,
)
from segments.config import LogConfig
from segments.log import Log, ReplacedSegmentsError
from segments.records import RecordInput, build_batch, decode_batches
from segments.retention import apply_retention

COMPACT = replace(LogConfig.from_props({"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"}),
                  segment_bytes=4096, index_interval_bytes=128, segment_index_bytes=1024)


def _config() -> LogConfig:
    assert COMPACT.compact
    return COMPACT


def latest_values(log: Log) -> dict[bytes, bytes | None]:
    """Key -> value of its newest record at or after the log start offset (what a consumer from the
    start sees), read through the log."""
    start = log.log_start_offset
    data = log.read(start, 1 << 30).read_bytes()
    out: dict[bytes, bytes | None] = {}
    offsets = []
    for record in decode_batches(data):
        assert record.key is not None
        offsets.append(record.offset)
        if record.offset >= start:
            out[record.key] = record.value
    assert offsets == sorted(set(offsets)), "offsets repeat or go backwards"
    return out


def test_appends_fetches_retention_and_compaction_race(tmp_path: Path) -> None:
    """Bounded stress: 3 s of appends and fetches on one thread while another compacts and applies
    retention and a third flushes; no exception anywhere, and no key's latest value lost."""
    log = Log.open(tmp_path / "t-0", _config(), now_ms=0)
    model: dict[bytes, bytes | None] = {}
    errors: list[BaseException] = []
    stop = threading.Event()
    compactions = [0]
    rng = random.Random(7)

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                while not stop.is_set():
                    fn()
            except BaseException as exc:  # reported below
                errors.append(exc)
                stop.set()
        return run

    def clean_once() -> None:
        try:
            if compact(log, None, now_ms=10_000, force=True).ran:
                compactions[0] += 1
        except ReplacedSegmentsError:
            pass
        apply_retention(log, None, now_ms=10_000)

    def flush_once() -> None:
        log.flush()
        time.sleep(0.001)

    cleaner = threading.Thread(target=guarded(clean_once))
    flusher = threading.Thread(target=guarded(flush_once))
    cleaner.start()
    flusher.start()
    deadline = time.monotonic() + 3.0
    appended = fetched = 0
    try:
        while time.monotonic() < deadline and not stop.is_set():
            records = []
            for _ in range(rng.randint(1, 5)):
                key = b"k%02d" % rng.randrange(40)
                value = None if rng.random() < 0.05 else os.urandom(rng.randint(1, 60))
                records.append(RecordInput(key, value, timestamp=1_000))
                model[key] = value
            log.append(build_batch(records), now_ms=1_000)
            appended += 1
            # A fetch from a random offset: whole batches that decode, from a file that is open.
            offset = rng.randint(log.log_start_offset, log.log_end_offset)
            for record in decode_batches(log.read(offset, 2048).read_bytes()):
                assert record.key is not None
            fetched += 1
    finally:
        stop.set()
        cleaner.join(30)
        flusher.join(30)
    assert not errors, errors
    assert compactions[0] > 0 and appended > 100 and fetched > 100
    # Tombstones stay (delete.retention.ms has not passed): the model's None is a null value read back.
    assert latest_values(log) == model
    log.close()
    reopened = Log.open(tmp_path / "t-0", _config(), now_ms=0, clean=False)
    assert latest_values(reopened) == model
    reopened.close()


def _fill(log: Log, rounds: int, keys: int = 20) -> dict[bytes, bytes | None]:
    model: dict[bytes, bytes | None] = {}
    for i in range(rounds):
        records = [RecordInput(b"k%02d" % ((i * 7 + j) % keys), b"v%d-%d" % (i, j), timestamp=1_000)
                   for j in range(4)]
        for r in records:
            model[r.key or b""] = r.value
        log.append(build_batch(records), now_ms=1_000)
    return model


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.sampled_from(["append", "compact", "delete_records", "roll", "reopen"]), min_size=1,
                    max_size=25))
def test_compaction_interleaved_with_log_changes_keeps_latest_values(tmp_path_factory: pytest.TempPathFactory,
                                                                     ops: list[str]) -> None:
    """Compactions between any appends, rolls, DeleteRecords and restarts keep every key's latest
    value at or above the log start offset (a plain model of key -> value)."""
    path = tmp_path_factory.mktemp("log") / "t-0"
    log = Log.open(path, _config(), now_ms=0)
    appended: list[tuple[int, bytes, bytes | None]] = []
    rounds = 0
    for op in ops:
        if op == "append":
            start = log.log_end_offset
            _fill(log, 3, keys=7 + rounds)
            rounds += 1
            data = log.read(start, 1 << 30).read_bytes()
            appended += [(r.offset, r.key or b"", r.value) for r in decode_batches(data)]
        elif op == "compact":
            compact(log, None, now_ms=10_000, force=True)
        elif op == "delete_records":
            log.delete_records_before((log.log_start_offset + log.log_end_offset) // 2)
        elif op == "roll":
            log.roll(1_000)
        else:
            log.close()
            log = Log.open(path, _config(), now_ms=0, log_start_offset=log.log_start_offset)
    expected: dict[bytes, bytes | None] = {}
    for offset, key, value in appended:
        if offset >= log.log_start_offset:
            expected[key] = value
    assert latest_values(log) == expected
    log.close()


def _paused_runner(entered: threading.Event, release: threading.Event) -> CleaningRunner:
    def runner(plan: CleaningPlan, cancelled: Cancelled) -> CleaningResult:
        result = clean(plan, cancelled)
        entered.set()
        assert release.wait(10)
        return result
    return runner


@pytest.mark.parametrize("change", ["delete_records", "close"])
def test_swap_is_abandoned_when_the_log_changed(tmp_path: Path, change: str) -> None:
    """DeleteRecords or a close while the cleaned segment is built: the swap is refused, the cleaned
    files are removed, and the log reads as the change left it."""
    log = Log.open(tmp_path, _config(), now_ms=0)
    for _ in range(6):
        _fill(log, 3)
        log.roll(1_000)
    entered, release = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            compact(log, None, now_ms=10_000, force=True, runner=_paused_runner(entered, release))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert entered.wait(10)
    before = log.read(log.log_end_offset - 1, 1 << 20).read_bytes() if change == "close" else b""
    if change == "delete_records":
        log.delete_records_before(log.closed_segments()[1].base_offset)
    else:
        log.close()
    release.set()
    thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], ReplacedSegmentsError)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".cleaned", ".swap", ".deleted"))]
    if change == "close":
        reopened = Log.open(tmp_path, _config(), now_ms=0)
        assert reopened.read(reopened.log_end_offset - 1, 1 << 20).read_bytes() == before
        reopened.close()
    else:
        assert latest_values(log)  # still readable from the new start
        log.close()


def test_fetch_holding_ranges_across_a_swap_reads_the_old_bytes(tmp_path: Path) -> None:
    """A fetch that took its file ranges before a swap sends the old segment's bytes whole."""
    log = Log.open(tmp_path, _config(), now_ms=0)
    for _ in range(4):
        _fill(log, 3, keys=2)
        log.roll(1_000)
    held = log.read(0, 1 << 30)
    expected = held.read_bytes()
    assert compact(log, None, now_ms=10_000, force=True).ran
    assert held.read_bytes() == expected  # old files are unlinked, the descriptors still read them
    assert len(log.read(0, 1 << 30).read_bytes()) < len(expected)
    log.close()


def test_cleaner_process_compacts_like_this_thread(tmp_path: Path) -> None:
    """The child-process runner writes the same cleaned log as the in-thread one."""
    logs = []
    for name in ("here", "child"):
        log = Log.open(tmp_path / name, _config(), now_ms=0)
        for _ in range(5):
            _fill(log, 4)
            log.roll(1_000)
        logs.append(log)
    cleaner = CleanerProcess()
    here = compact(logs[0], None, now_ms=10_000, force=True, runner=run_here)
    child = compact(logs[1], None, now_ms=10_000, force=True, runner=cleaner)
    assert here.ran and here == child
    assert logs[0].read(0, 1 << 30).read_bytes() == logs[1].read(0, 1 << 30).read_bytes()
    for log in logs:
        log.close()


def test_cancelled_cleaner_process_leaves_nothing(tmp_path: Path) -> None:
    """Cancelling a running child kills it; the log is untouched and no .cleaned file stays."""
    log = Log.open(tmp_path, replace(_config(), segment_bytes=1 << 22, segment_index_bytes=1 << 20), now_ms=0)
    batch = build_batch([RecordInput(b"k%d" % (j % 50), b"v" * 100, timestamp=1_000) for j in range(100)])
    for _ in range(3):
        while log.active_segment.size + len(batch) < 1 << 22:
            log.append(bytearray(batch), now_ms=1_000)
        log.roll(1_000)
    before = log.read(0, 1 << 30).read_bytes()

    def writing() -> bool:  # pass two has begun in the child
        return any(p.name.endswith(".cleaned") for p in tmp_path.iterdir())

    with pytest.raises(CompactionAbortedError):
        compact(log, None, now_ms=10_000, force=True, runner=CleanerProcess(), cancelled=writing)
    assert log.read(0, 1 << 30).read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".cleaned" in p.name]
    log.close()
