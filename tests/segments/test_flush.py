from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path

import pytest

from segments.config import LogConfig
from segments.errors import LogTruncatedError
from segments.flush import Durability, Flushable, GroupCommitter, flush_log


class FakeLog:
    """A Flushable whose fsync is an injected function; tracks written and synced offsets."""

    def __init__(self, fsync: Callable[[FakeLog], None], name: str = "log") -> None:
        self.name = name
        self._fsync = fsync
        self._end = 0
        self._recovery_point = 0
        self.synced_end = 0
        self._lock = threading.Lock()

    @property
    def log_end_offset(self) -> int:
        return self._end

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    def write(self, count: int = 1) -> int:
        with self._lock:
            self._end += count
            return self._end - 1

    def truncate_to(self, offset: int) -> None:
        with self._lock:
            self._end = min(self._end, offset)
            self._recovery_point = min(self._recovery_point, offset)

    def flush(self, up_to: int | None = None) -> None:
        target = self._end if up_to is None else up_to
        self._fsync(self)
        self.synced_end = max(self.synced_end, target)
        self._recovery_point = max(self._recovery_point, target)


class CountingFsync:
    def __init__(self, delay_s: float = 0.002, fail: BaseException | None = None) -> None:
        self.delay_s = delay_s
        self.fail = fail
        self.calls = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()  # set once an fsync has started (and is held at the gate, if any)

    def __call__(self, log: FakeLog) -> None:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        time.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail


def test_concurrent_appends_share_fsyncs_and_resolve_after_sync() -> None:
    fsync = CountingFsync()
    logs = [FakeLog(fsync, f"p{i}") for i in range(4)]
    committer = GroupCommitter()
    violations: list[str] = []
    futures: list[Future[int]] = []
    futures_lock = threading.Lock()

    def producer(seed: int) -> None:
        for i in range(100):
            log = logs[(seed + i) % len(logs)]
            offset = log.write()
            future = committer.request(log, offset)

            def check(f: Future[int], log: FakeLog = log, offset: int = offset) -> None:
                if log.synced_end <= offset:
                    violations.append(f"{log.name}@{offset} resolved before its fsync")

            future.add_done_callback(check)
            with futures_lock:
                futures.append(future)

    threads = [threading.Thread(target=producer, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _done, not_done = wait(futures, timeout=10)
    committer.close()
    assert not not_done
    assert not violations
    assert all(f.result() > 0 for f in futures)
    assert len(futures) == 800
    # Far fewer fsyncs than appends: each fsync covers everything written while the previous ran.
    assert fsync.calls < 800 / 4
    assert committer.stats.fsyncs == fsync.calls
    for log in logs:
        assert log.recovery_point == log.log_end_offset


def test_one_fsync_covers_writes_that_arrived_during_previous() -> None:
    fsync = CountingFsync(delay_s=0)
    fsync.gate = threading.Event()
    log = FakeLog(fsync)
    committer = GroupCommitter()
    first = committer.request(log, log.write())
    assert fsync.entered.wait(5)  # the flusher is now blocked inside the first fsync
    assert fsync.calls == 1
    later = [committer.request(log, log.write()) for _ in range(50)]
    assert not first.done()
    fsync.gate.set()
    wait([first, *later], timeout=5)
    committer.close()
    assert first.result() == 1
    assert all(f.result() == 51 for f in later)
    assert fsync.calls == 2


def test_request_does_not_block_the_caller() -> None:
    fsync = CountingFsync(delay_s=0)
    fsync.gate = threading.Event()
    log = FakeLog(fsync)
    committer = GroupCommitter()
    start = time.monotonic()
    futures = [committer.request(log, log.write()) for _ in range(100)]
    assert time.monotonic() - start < 0.5
    assert not any(f.done() for f in futures)
    fsync.gate.set()
    committer.close()
    assert all(f.done() for f in futures)


def test_already_durable_resolves_immediately() -> None:
    fsync = CountingFsync(delay_s=0)
    log = FakeLog(fsync)
    committer = GroupCommitter()
    offset = log.write()
    committer.request(log, offset).result(timeout=5)
    calls = fsync.calls
    assert committer.request(log, offset).result(timeout=0) == 1
    assert fsync.calls == calls
    with pytest.raises(ValueError):
        committer.request(log, 5)
    committer.close()


def test_errors_propagate_and_stick() -> None:
    fsync = CountingFsync(delay_s=0, fail=OSError(5, "EIO"))
    log = FakeLog(fsync)
    healthy = FakeLog(CountingFsync(delay_s=0))
    committer = GroupCommitter()
    bad = committer.request(log, log.write())
    good = committer.request(healthy, healthy.write())
    with pytest.raises(OSError):
        bad.result(timeout=5)
    assert good.result(timeout=5) == 1
    # Once an fsync failed, later fsyncs prove nothing: the log stays failed.
    fsync.fail = None
    again = committer.request(log, log.write())
    with pytest.raises(OSError):
        again.result(timeout=0)
    assert committer.stats.failures == 1
    committer.forget(log)
    assert committer.request(log, log.write()).result(timeout=5) == 3
    committer.close()


def test_a_wait_for_offsets_truncated_before_their_fsync_fails_and_the_flusher_goes_on() -> None:
    """A replica cut back to its leader's log while an fsync was awaited for offsets it dropped: the
    waiters fail with LogTruncatedError, and the flusher does not fsync the log again and again for
    offsets that will never be there (it did, spinning a thread and never answering them)."""
    fsync = CountingFsync(delay_s=0)
    log = FakeLog(fsync)
    log.write(3)
    cut = threading.Event()

    def truncated_then_flushed(flushable: Flushable) -> int:
        if not cut.is_set():
            cut.set()
            log.truncate_to(1)  # the truncation lands between the request and the fsync
        return flush_log(flushable)

    committer = GroupCommitter(truncated_then_flushed, threads=1)
    waited = committer.request(log, 2)
    with pytest.raises(LogTruncatedError, match="offset 2 was truncated"):
        waited.result(timeout=5)
    later = committer.request(log, log.write())  # the log goes on: offset 1 written again
    assert later.result(timeout=5) == 2
    committer.close(timeout=5)
    assert committer.closed
    assert fsync.calls == 2


def test_close_flushes_and_resolves_everything() -> None:
    fsync = CountingFsync(delay_s=0.01)
    logs = [FakeLog(fsync) for _ in range(3)]
    committer = GroupCommitter()
    futures = [committer.request(log, log.write()) for log in logs for _ in range(10)]
    committer.close()
    assert committer.closed
    assert all(f.done() and f.exception() is None for f in futures)
    assert all(log.recovery_point == 10 for log in logs)
    # After shutdown a request is served inline rather than lost.
    late = committer.request(logs[0], logs[0].write())
    assert late.result(timeout=0) == 11


def test_futures_cannot_be_cancelled_by_one_waiter() -> None:
    """Requests of one round may share a future, so cancelling it must not take it from the others."""
    fsync = CountingFsync(delay_s=0)
    fsync.gate = threading.Event()
    log = FakeLog(fsync)
    committer = GroupCommitter()
    first = committer.request(log, log.write())
    second = committer.request(log, log.write())
    third = committer.request(log, log.write())
    assert not second.cancel()
    fsync.gate.set()
    assert first.result(timeout=5) >= 1
    assert second.result(timeout=5) >= 2 and third.result(timeout=5) >= 3
    committer.close()
    assert log.recovery_point == 3


def test_requests_in_one_round_share_a_future() -> None:
    fsync = CountingFsync(delay_s=0)
    fsync.gate = threading.Event()
    log = FakeLog(fsync)
    committer = GroupCommitter()
    committer.request(log, log.write())  # the flusher takes this one and blocks in fsync
    assert fsync.entered.wait(5)
    waiting = [committer.request(log, log.write()) for _ in range(50)]
    assert len({id(f) for f in waiting}) == 1
    fsync.gate.set()
    assert all(f.result(timeout=5) >= 51 for f in waiting)
    committer.close()


def test_flush_log_reports_end_seen_before_fsync() -> None:
    seen: list[int] = []

    def fsync(log: FakeLog) -> None:
        log.write(5)  # an append racing with the fsync is not reported durable
        seen.append(log.log_end_offset)

    log = FakeLog(fsync)
    log.write(3)
    assert flush_log(log) == 3
    assert seen == [8]


def test_durability_always_fsyncs_inline() -> None:
    fsync = CountingFsync(delay_s=0)
    log = FakeLog(fsync)
    durability = Durability()
    config = LogConfig.from_props({"logbroker.flush.policy": "always"})
    future = durability.after_append(log, config, log.write(), now_ms=0)
    assert future.done() and future.result() == 1
    assert fsync.calls == 1
    kafka_style = LogConfig.from_props({"flush.messages": "1", "logbroker.flush.policy": "os"})
    assert durability.after_append(log, kafka_style, log.write(), now_ms=0).result(timeout=0) == 2
    assert fsync.calls == 2
    failing = FakeLog(CountingFsync(delay_s=0, fail=OSError("disk")))
    assert isinstance(durability.after_append(failing, config, failing.write(), now_ms=0).exception(), OSError)
    durability.close()


def test_durability_group_defers_to_flusher() -> None:
    fsync = CountingFsync(delay_s=0)
    log = FakeLog(fsync)
    durability = Durability()
    futures = [durability.after_append(log, LogConfig(), log.write(), now_ms=0) for _ in range(20)]
    durability.close()
    assert all(f.result(timeout=0) >= 1 for f in futures)
    assert log.recovery_point == 20


def test_durability_group_fsyncs_appends_no_one_waits_for_at_the_next_tick() -> None:
    """acks=0/1 appends under ``group`` are answered without an fsync and do not each wake the
    flusher: their log is fsynced once at the next tick, and an append someone waits for (acks=all)
    still gets its own fsync at once, which covers the earlier ones too."""
    fsync = CountingFsync(delay_s=0)
    log, quiet = FakeLog(fsync, "log"), FakeLog(fsync, "quiet")
    durability = Durability()
    answered = [durability.after_append(log, LogConfig(), log.write(), now_ms=0, wait=False) for _ in range(50)]
    assert [f.result(timeout=0) for f in answered] == list(range(1, 51))
    time.sleep(0.05)
    assert fsync.calls == 0 and log.recovery_point == 0
    durability.after_append(quiet, LogConfig(), quiet.write(), now_ms=0, wait=False)
    quiet.flush()  # made durable by something else before the tick: nothing left for it
    fsync.calls = 0
    assert durability.tick(1000) == 1
    deadline = time.monotonic() + 5
    while log.recovery_point < 50 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert log.recovery_point == 50 and fsync.calls == 1
    assert durability.tick(2000) == 0  # nothing new: no fsync
    durability.after_append(log, LogConfig(), log.write(), now_ms=2000, wait=False)
    waited = durability.after_append(log, LogConfig(), log.write(), now_ms=2000)
    assert waited.result(timeout=5) == 52 and log.recovery_point == 52
    assert durability.tick(3000) == 0  # the waited-for fsync covered the lazy append
    durability.close()


def test_durability_os_flush_messages_and_flush_ms() -> None:
    fsync = CountingFsync(delay_s=0)
    log = FakeLog(fsync)
    durability = Durability()
    config = LogConfig.from_props({"logbroker.flush.policy": "os", "flush.messages": "10", "flush.ms": "1000"})
    for i in range(9):
        assert durability.after_append(log, config, log.write(), now_ms=i).result(timeout=0) == i + 1
    time.sleep(0.05)
    assert fsync.calls == 0
    durability.after_append(log, config, log.write(), now_ms=9)
    deadline = time.monotonic() + 5
    while log.recovery_point < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert log.recovery_point == 10
    # flush.ms: data written at t=100 is flushed by the tick at t>=1009 (1000 ms after the last flush).
    durability.after_append(log, config, log.write(), now_ms=100)
    assert durability.tick(500) == 0
    assert durability.tick(1009) == 1
    assert durability.tick(1010) == 0
    durability.close()
    assert log.recovery_point == 11


def test_group_commit_with_real_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from segments.log import Log
    from segments.records import RecordInput, build_batch

    calls = 0
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        real_fsync(fd)

    log = Log.open(tmp_path / "t-0", LogConfig(), now_ms=0)
    committer = GroupCommitter()
    monkeypatch.setattr(os, "fsync", counting_fsync)
    futures = []
    for i in range(200):
        result = log.append(build_batch([RecordInput(b"k", b"v%d" % i, timestamp=1)]), now_ms=1)
        futures.append(committer.request(log, result.last_offset))
    wait(futures, timeout=10)
    committer.close()
    monkeypatch.undo()
    assert all(f.result() >= 1 for f in futures)
    assert log.recovery_point == log.log_end_offset == 200
    assert 1 <= calls < 200
    log.close()


@pytest.mark.parametrize("threads", [1, 4])
def test_a_round_fsyncs_its_logs_up_to_threads_at_once(threads: int) -> None:
    """Concurrent fsyncs of different files share the journal's commits; a log is never in two at once."""
    inside = 0
    most = 0
    lock = threading.Lock()

    def fsync(_log: FakeLog) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        with lock:
            inside -= 1

    logs = [FakeLog(fsync, f"p{i}") for i in range(6)]
    committer = GroupCommitter(threads=threads)
    # A first round held at its fsync, so that the six logs all fall into the next round.
    release = threading.Event()

    def held_fsync(_log: FakeLog) -> None:
        release.wait(5)

    blocker = FakeLog(held_fsync, "blocker")
    held = committer.request(blocker, blocker.write())
    time.sleep(0.05)
    futures = [committer.request(log, log.write()) for log in logs]
    release.set()
    wait([held, *futures], timeout=10)
    committer.close()
    assert all(f.result() == 1 for f in futures)
    assert most == min(threads, len(logs)), most
    with pytest.raises(ValueError):
        GroupCommitter(threads=0)
