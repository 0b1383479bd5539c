"""The append writer: one thread per data directory that copies appended batches into segment files.

``Log.append`` (on the event loop) validates batches and assigns their offsets, then hands the bytes
to this thread and returns; the thread does the ``pwrite`` (the kernel's copy into the page cache,
which releases the interpreter lock) while the loop goes on receiving and answering. Kafka's request
handler threads do the same job; here one thread serves every log of a directory, in submission
order, so each log's writes stay in offset order.

What a submitted write promises, and when (``Log`` keeps the rules; this module only runs them):

- readers never see an offset whose bytes are not in the file: the log end offset and the segment
  size move only after the ``pwrite`` returned (``Log._finish_write`` on this thread, under
  ``Log.lock``);
- append listeners (fetch wake-ups), the caller's completion callbacks and the durability policy
  run after the write, on the thread ``dispatch`` names (the broker passes its loop's
  ``call_soon_threadsafe``; without one they run here). Completions are handed over once per round
  of writes, not once per write;
- a refused write (``OSError``: a full disk, an I/O error) fails that write and every write of the
  same log submitted before the failure was seen (their offsets lay past the hole); the log's next
  offset goes back to its end, so the next append writes where the failed one would have.

Single producer: only the event loop submits. ``close`` finishes every submitted write first.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)

Dispatch = Callable[[Callable[[], None]], object]
"""Runs a callable on the thread that owns the logs' listeners (e.g. ``loop.call_soon_threadsafe``)."""

WriteCallback = Callable[[BaseException | None], None]
"""Called once a write is finished: None when its bytes are in the file, else why they are not."""

# Writes finished before their completions are handed over at once (bounds the wait of the first).
_MAX_ROUND = 64


class PendingWrite(Protocol):
    """One submitted write (``segments.log.Log`` makes them)."""

    def perform(self) -> None:
        """Write the bytes and account for them (on the writer thread); never raises."""

    def publish(self) -> None:
        """Tell listeners and callbacks how it went (on the dispatch thread); never raises."""


class WriteTicket:
    """The outcome of one write, for the caller of ``Log.append``: callbacks run on the dispatch thread.

    Not thread-safe by itself: ``add_done_callback`` and ``finish`` are both called on the dispatch
    thread (the event loop), so a callback added after the finish runs at once.
    """

    __slots__ = ("_callbacks", "done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None
        self._callbacks: list[WriteCallback] = []

    def add_done_callback(self, callback: WriteCallback) -> None:
        if self.done:
            callback(self.error)
        else:
            self._callbacks.append(callback)

    def finish(self, error: BaseException | None) -> None:
        self.done, self.error = True, error
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(error)
            except Exception:
                logger.exception("append completion callback failed")


class AppendWriter:
    """The writer thread of one data directory (see the module docstring)."""

    def __init__(self, dispatch: Dispatch | None = None, *, min_bytes: int = 0,
                 name: str = "logbroker-writer") -> None:
        self._dispatch = dispatch
        # Appends smaller than this are written inline by ``Log.append`` when none of their log's
        # writes is pending: handing a small write over costs more than the copy it saves the loop.
        self.min_bytes = min_bytes
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[PendingWrite] = deque()
        self._closing = False
        self.rounds = 0  # rounds of writes handed over (a stat for tests and benchmarks)
        self.writes = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, write: PendingWrite) -> None:
        """Queue ``write`` behind every earlier one. Never blocks on the disk (loop-safe)."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the append writer is closed")
            self._queue.append(write)
            if len(self._queue) == 1:
                self._cond.notify()

    def close(self, timeout: float | None = None) -> None:
        """Finish every submitted write, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closing and not self._thread.is_alive()

    def _run(self) -> None:
        queue = self._queue
        while True:
            with self._cond:
                while not queue and not self._closing:
                    self._cond.wait()
                if not queue:
                    return
            done: list[PendingWrite] = []
            # Take writes one at a time (the loop may submit more meanwhile) and hand the round's
            # completions over together: one wake-up of the loop per round, not per write.
            while len(done) < _MAX_ROUND:
                with self._cond:
                    if not queue:
                        break
                    write = queue.popleft()
                write.perform()
                done.append(write)
            self.rounds += 1
            self.writes += len(done)
            self._hand_over(done)

    def _hand_over(self, done: list[PendingWrite]) -> None:
        def publish_all() -> None:
            for write in done:
                write.publish()

        if self._dispatch is None:
            publish_all()
            return
        try:
            self._dispatch(publish_all)
        except RuntimeError:
            # The loop is closed (shutdown): nobody is waiting for these answers any more.
            logger.debug("append completions dropped: the dispatch loop is closed")


__all__ = ["AppendWriter", "Dispatch", "PendingWrite", "WriteCallback", "WriteTicket"]
