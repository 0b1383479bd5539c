"""Receive buffers kept for reuse by every connection of one listener.

Connections read requests straight into ``bytearray`` buffers (``FrameReader``) and hand the frames
on as views of them, so a produced batch reaches ``Log.append`` without a user-space copy. A fresh
buffer costs a page fault per 4 KiB the first time it is written (about as much CPU as receiving
the bytes), so buffers go back here when a connection moves past them and are taken again by the
next read that needs one. Invariants:

- A buffer is handed out again only when no view of it is alive: the frames cut from it were
  answered and dropped by everyone (checked with a resize, which CPython refuses while a buffer is
  exported). A buffer still in use stays cached and is looked at again on a later take.
- At most ``max_bytes`` of capacity and ``max_count`` buffers are kept; beyond that the oldest is
  dropped (left to the garbage collector). This memory is in addition to the request bytes that
  ``RequestMemoryPool`` bounds; it holds no request.
- Capacities are multiples of ``GRAIN`` so batches of similar size share buffers.

Single event loop; not thread-safe.
"""

from __future__ import annotations

from collections import deque

GRAIN = 64 * 1024


def rounded(nbytes: int) -> int:
    """``nbytes`` rounded up to a multiple of ``GRAIN`` (at least one grain)."""
    return max(GRAIN, -(-nbytes // GRAIN) * GRAIN)


def is_free(buf: bytearray) -> bool:
    """True when no memoryview of ``buf`` is alive (CPython refuses to resize an exported buffer)."""
    try:
        last = buf.pop()  # shrinking in place never reallocates; growing back by one fits again
    except BufferError:
        return False
    buf.append(last)
    return True


class BufferCache:
    """Free-list of receive buffers, reused only once every view of them is gone."""

    __slots__ = ("_bytes", "_free", "allocated", "max_bytes", "max_count", "reused")

    def __init__(self, max_bytes: int = 32 * 1024 * 1024, max_count: int = 64) -> None:
        self.max_bytes = max_bytes
        self.max_count = max_count
        self._free: deque[bytearray] = deque()
        self._bytes = 0
        self.reused = 0  # takes served from the cache (a stat, for tests and benchmarks)
        self.allocated = 0  # takes that had to allocate

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def take(self, nbytes: int, *, allocate: bool = True) -> bytearray | None:
        """A buffer of at least ``nbytes``: the smallest free cached one, else a new one of
        ``rounded(nbytes)`` (or None when ``allocate`` is false)."""
        best: bytearray | None = None
        for buf in self._free:
            if len(buf) >= nbytes and (best is None or len(buf) < len(best)) and is_free(buf):
                best = buf
                if len(buf) == rounded(nbytes):
                    break
        if best is not None:
            self._free.remove(best)
            self._bytes -= len(best)
            self.reused += 1
            return best
        if not allocate:
            return None
        self.allocated += 1
        return bytearray(rounded(nbytes))

    def give(self, buf: bytearray) -> None:
        """Keep ``buf`` for reuse once its views are gone (it may still be in use now)."""
        if len(buf) > self.max_bytes:
            return  # larger than the whole cache: keeping it would push every other buffer out
        self._free.append(buf)
        self._bytes += len(buf)
        while self._free and (self._bytes > self.max_bytes or len(self._free) > self.max_count):
            self._bytes -= len(self._free.popleft())
