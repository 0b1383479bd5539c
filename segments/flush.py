"""Durability policies: when appended bytes are fsynced, and when an append counts as durable.

A single node has no replica to fall back on, so by default an ``acks=all`` produce is answered only
once an fsync covering its bytes has completed. Three policies (topic config
``logbroker.flush.policy``, see ``segments/config.py``):

    policy   append path                          acks=all answered when
    always   fsync inside the append (blocking)   the append returns
    group    no fsync; registers with the flusher the flusher's next fsync of that log completes
             (an append nobody waits for, acks=0/1: its log is fsynced at the next ``tick``,
             once per log per tick, or sooner by an acks=all append's fsync)
    os       no fsync                             the append returns (page cache only); the log is
                                                  flushed in the background once flush.messages
                                                  offsets are unflushed or flush.ms has passed

Kafka's ``flush.messages=1`` is applied as ``always``.

Group commit: ``GroupCommitter`` owns ``threads`` background threads. An append calls
``request(log, last_offset)`` and gets a ``concurrent.futures.Future`` that resolves (with the log's
new recovery point) once an fsync covering ``last_offset`` has completed. Requests for one log merge
while they wait, so one fsync covers many appends and many producers, and a log with no new writes is
not flushed at all. A free thread takes the oldest waiting log whose fsync is not already running and
flushes it; requests that arrive for a log while its fsync runs wait for its next one. Up to
``threads`` logs are fsynced at once, and a log's waiters are resolved as soon as its own fsync
returns, without waiting for other logs' fsyncs (a round of all dirty logs did that, and made a
request arriving during the round wait for all of it first). Concurrent
fsyncs of different files share the filesystem's journal commits (ext4 writes one journal
transaction for all of them): four dirty partitions took 4 ms to fsync together against 18 ms one
after the other on this project's build machine, and an acks=all producer with one batch in flight
per partition (kafka-python's idempotent producer) waits a round per batch.

Failure: an fsync error fails every waiter of that log in that round, and the log stays failed: once
an fsync has failed the kernel may have dropped the dirty pages, so a later successful fsync would
not prove that earlier bytes are on disk (PostgreSQL's "fsyncgate"; Kafka takes the log directory
offline for the same reason). Later requests for that log fail immediately with the same error until
``forget(log)`` is called (after the log is reopened and recovered).

Threading: ``request``, ``flush_now`` and ``Durability.after_append`` are called from the event loop
and never block (except policy ``always``, whose point is to block). Futures are resolved on the
flusher thread, so asyncio callers wrap them with ``asyncio.wrap_future``. The flushing function runs on
the flusher thread, concurrently with appends on the loop thread; ``Log.flush`` must tolerate that.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Protocol

from segments.config import FLUSH_ALWAYS, FLUSH_GROUP, FLUSH_OS, LogConfig
from segments.errors import LogTruncatedError

logger = logging.getLogger(__name__)

DEFAULT_FLUSH_THREADS = 4


class Flushable(Protocol):
    """What durability needs from a partition log (``segments.log.Log`` satisfies it)."""

    @property
    def log_end_offset(self) -> int: ...

    @property
    def recovery_point(self) -> int: ...

    def flush(self, up_to: int | None = None) -> None: ...


FlushFn = Callable[[Flushable], int]
"""Fsync a log and return the offset below which every record is now durable (its recovery point)."""


def flush_log(log: Flushable) -> int:
    """The default FlushFn: ``log.flush`` up to the end offset seen before the fsync started.

    Reading the end offset first matters: bytes appended while the fsync runs may or may not be
    covered, so only what was written before it started is reported durable. ``Log.flush`` advances
    the log's recovery point itself.
    """
    end = log.log_end_offset
    log.flush(end)
    return max(end, log.recovery_point)


def _resolve(future: Future[int], result: int) -> None:
    # A future cancelled by its caller has nobody waiting any more.
    with contextlib.suppress(InvalidStateError):
        future.set_result(result)


def _fail(future: Future[int], exc: BaseException) -> None:
    with contextlib.suppress(InvalidStateError):
        future.set_exception(exc)


def done_future(result: int) -> Future[int]:
    future: Future[int] = Future()
    future.set_result(result)
    return future


def failed_future(exc: BaseException) -> Future[int]:
    future: Future[int] = Future()
    future.set_exception(exc)
    return future


@dataclass(slots=True)
class _Pending:
    """What one log needs from the next round: an fsync covering ``max_offset``.

    Every request for the log in the same round shares ``future`` (HOT PATH: an append costs a dict
    lookup, not a new cross-thread future): the round's fsync covers everything written before it
    starts, so one result answers them all.
    """

    log: Flushable
    max_offset: int
    future: Future[int] = field(default_factory=lambda: _shared_future())
    requests: int = 1


def _shared_future() -> Future[int]:
    """A future several waiters share: marked running, so no waiter can cancel it for the others."""
    future: Future[int] = Future()
    future.set_running_or_notify_cancel()
    return future


@dataclass(slots=True)
class CommitStats:
    """Counters for tests and metrics: rounds of the flusher, fsync calls, requests served."""

    rounds: int = 0
    fsyncs: int = 0
    requests: int = 0
    failures: int = 0


class GroupCommitter:
    """Background threads that batch fsyncs (group commit) across appends and partitions.

    Invariant: a future returned by ``request(log, n)`` resolves only after a call of the flush
    function for ``log`` that started after offset ``n`` was written has returned a durable offset
    greater than ``n``; it fails if that call raised. Logs are keyed by identity, and a log is never
    in two fsyncs at once: requests that arrive while its fsync runs wait, merged, for its next one.
    """

    def __init__(self, flush_fn: FlushFn = flush_log, *, name: str = "logbroker-flusher",
                 threads: int = DEFAULT_FLUSH_THREADS) -> None:
        """``threads``: how many logs are fsynced at once (1: one after the other)."""
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self._flush_fn = flush_fn
        self._cond = threading.Condition(threading.Lock())
        self._pending: dict[int, _Pending] = {}  # in arrival order: the oldest is served first
        self._running: set[int] = set()
        self._failed: dict[int, tuple[Flushable, BaseException]] = {}
        self._closing = False
        self._closed = False
        self.stats = CommitStats()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        self._alive = threads
        for thread in self._threads:
            thread.start()

    def request(self, log: Flushable, last_offset: int) -> Future[int]:
        """A future resolved once ``last_offset`` of ``log`` is fsynced. Never blocks (loop-safe).

        ``last_offset`` must already be written (below ``log.log_end_offset``). Resolves at once when
        the log's recovery point already covers it.
        """
        if last_offset < log.recovery_point:
            return done_future(log.recovery_point)
        if last_offset >= log.log_end_offset:
            raise ValueError(f"offset {last_offset} is not written yet (log end offset {log.log_end_offset})")
        key = id(log)
        with self._cond:
            failed = self._failed.get(key)
            if failed is not None:
                return failed_future(failed[1])
            closed = self._closed
            if not closed:
                self.stats.requests += 1
                pending = self._pending.get(key)
                if pending is not None:
                    if last_offset > pending.max_offset:
                        pending.max_offset = last_offset
                    pending.requests += 1
                    return pending.future
                pending = self._pending[key] = _Pending(log, last_offset)
                if key not in self._running:
                    self._cond.notify()
                return pending.future
        # Shutdown has finished: flush here rather than lose the promise.
        future: Future[int] = Future()
        try:
            _resolve(future, self._flush_fn(log))
        except Exception as exc:
            _fail(future, exc)
        return future

    def flush_now(self, log: Flushable) -> Future[int]:
        """Flush everything written to ``log`` so far in the background (periodic and shutdown flushes)."""
        end = log.log_end_offset
        if end <= log.recovery_point:
            return done_future(log.recovery_point)
        return self.request(log, end - 1)

    def forget(self, log: Flushable) -> None:
        """Drop the sticky failure of ``log`` (call after the log was closed and reopened)."""
        with self._cond:
            self._failed.pop(id(log), None)

    def failure(self, log: Flushable) -> BaseException | None:
        with self._cond:
            failed = self._failed.get(id(log))
        return failed[1] if failed is not None else None

    def close(self, timeout: float | None = None) -> None:
        """Flush every pending request, resolve every future, and stop the threads."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def _next(self) -> tuple[int, _Pending] | None:
        """The oldest pending log whose fsync is not running, taken (under the lock); None when
        there is none and the committer is closing with nothing left, so this thread ends."""
        while True:
            for key, pending in self._pending.items():
                if key not in self._running:
                    del self._pending[key]
                    self._running.add(key)
                    self.stats.rounds += 1
                    return key, pending
            if self._closing and not self._pending:
                self._alive -= 1
                if self._alive == 0:
                    self._closed = True
                return None
            self._cond.wait()

    def _run(self) -> None:
        # A log's fsync starts as soon as a thread is free, not with a round of all dirty logs: one
        # slow fsync does not hold back the requests of other logs that arrive while it runs.
        while True:
            with self._cond:
                taken = self._next()
            if taken is None:
                return
            self._flush_one(*taken)

    def _flush_one(self, key: int, pending: _Pending) -> None:
        log = pending.log
        try:
            durable = self._flush_fn(log)
        except Exception as exc:
            logger.error("fsync failed for %r; failing %d waiting requests: %s", log, pending.requests, exc)
            with self._cond:
                self.stats.fsyncs += 1
                self.stats.failures += 1
                self._failed[key] = (log, exc)
                self._running.discard(key)
                # Requests that arrived during the failed fsync fail too: their bytes may be lost.
                late = self._pending.pop(key, None)
                self._cond.notify_all()
            _fail(pending.future, exc)
            if late is not None:
                _fail(late.future, exc)
            return
        truncated: LogTruncatedError | None = None
        with self._cond:
            self.stats.fsyncs += 1
            self._running.discard(key)
            if durable > pending.max_offset:
                covered = True
            elif log.log_end_offset <= pending.max_offset:
                # The offsets waited for were truncated away (a replica cut back to its leader):
                # flushing again would never cover them, and this thread would spin on it.
                covered = False
                truncated = LogTruncatedError(
                    f"{log!r}: offset {pending.max_offset} was truncated before it was fsynced "
                    f"(log end offset now {log.log_end_offset}); the records are no longer in this "
                    f"copy of the log: send them again")
            else:
                # Not covered (the flush function reported less than was written): again, merged
                # with whatever arrived meanwhile so every waiter still gets one answer.
                covered = False
                again = self._pending.get(key)
                if again is None:
                    self._pending[key] = pending
                else:
                    again.max_offset = max(again.max_offset, pending.max_offset)
                    again.requests += pending.requests
                    waiting = pending.future

                    def forward(done: Future[int], target: Future[int] = waiting) -> None:
                        _copy_result(done, target)

                    again.future.add_done_callback(forward)
            self._cond.notify_all()
        if covered:
            _resolve(pending.future, durable)
        elif truncated is not None:
            logger.info("failing %d fsync waiter(s): %s", pending.requests, truncated)  # routine on failover
            _fail(pending.future, truncated)


def _copy_result(source: Future[int], target: Future[int]) -> None:
    if source.cancelled():
        target.cancel()
        return
    exc = source.exception()
    if exc is not None:
        _fail(target, exc)
    else:
        _resolve(target, source.result())


@dataclass(slots=True)
class _OsState:
    log: Flushable
    config: LogConfig
    last_flush_ms: int


class Durability:
    """Applies each topic's flush policy after an append; owns the group committer.

    The broker calls ``after_append`` right after ``Log.append`` and, for ``acks=all``, waits for the
    returned future (``asyncio.wrap_future``). ``tick(now_ms)`` runs the ``flush.ms`` timer of logs
    under policy ``os`` and is called periodically with the injected clock.
    """

    def __init__(self, committer: GroupCommitter | None = None, *, flush_fn: FlushFn = flush_log) -> None:
        self._flush_fn = flush_fn
        self.committer = committer if committer is not None else GroupCommitter(flush_fn)
        self._os_logs: dict[int, _OsState] = {}
        # Logs under ``group`` holding appends nobody waits for: fsynced at the next ``tick``.
        self._lazy: dict[int, Flushable] = {}

    def after_append(self, log: Flushable, config: LogConfig, last_offset: int, *, now_ms: int,
                     wait: bool = True) -> Future[int]:
        """Apply the policy for a batch ending at ``last_offset``; the future resolves when it holds.

        ``always``: fsync now, in the caller (blocking by design). ``group``: never blocks; resolves
        after the flusher's fsync; when no one waits for it (``wait`` false: acks=0 or 1) it is
        already resolved and the log is fsynced at the next ``tick``, so a stream of such appends
        costs one fsync per log per tick instead of one per flusher round. ``os``: already
        resolved; may schedule a background flush.
        """
        policy = config.flush_policy
        if policy == FLUSH_GROUP:
            if not wait:
                self._lazy[id(log)] = log
                return done_future(last_offset + 1)
            return self.committer.request(log, last_offset)
        if policy == FLUSH_ALWAYS:
            if last_offset < log.recovery_point:
                return done_future(log.recovery_point)
            failure = self.committer.failure(log)
            if failure is not None:
                return failed_future(failure)
            try:
                return done_future(self._flush_fn(log))
            except Exception as exc:
                logger.error("fsync failed for %r: %s", log, exc)
                return failed_future(exc)
        if policy != FLUSH_OS:
            raise ValueError(f"unknown flush policy {policy!r}")
        state = self._os_logs.get(id(log))
        if state is None or state.log is not log:
            state = self._os_logs[id(log)] = _OsState(log, config, now_ms)
        state.config = config
        # Kafka counts unflushed messages as logEndOffset - recoveryPoint.
        if log.log_end_offset - log.recovery_point >= config.flush_messages:
            self.committer.flush_now(log)
            state.last_flush_ms = now_ms
        return done_future(last_offset + 1)

    def tick(self, now_ms: int) -> int:
        """Schedule background flushes of ``os``-policy logs whose ``flush.ms`` has passed, and of
        ``group``-policy logs holding appends nobody waited for; returns how many."""
        scheduled = 0
        lazy, self._lazy = self._lazy, {}
        for log in lazy.values():
            if log.log_end_offset > log.recovery_point:
                self.committer.flush_now(log)
                scheduled += 1
        for state in list(self._os_logs.values()):
            if state.log.log_end_offset <= state.log.recovery_point:
                state.last_flush_ms = now_ms
                continue
            if now_ms - state.last_flush_ms >= state.config.flush_ms:
                self.committer.flush_now(state.log)
                state.last_flush_ms = now_ms
                scheduled += 1
        return scheduled

    def forget(self, log: Flushable) -> None:
        """Stop tracking a closed or deleted log."""
        self._os_logs.pop(id(log), None)
        self._lazy.pop(id(log), None)
        self.committer.forget(log)

    def close(self, timeout: float | None = None) -> None:
        """Flush everything pending and stop the flusher (logs under ``os`` are flushed by their close)."""
        self.committer.close(timeout)
        self._os_logs.clear()
        self._lazy.clear()


__all__ = [
    "CommitStats",
    "Durability",
    "FlushFn",
    "Flushable",
    "GroupCommitter",
    "done_future",
    "failed_future",
    "flush_log",
]
