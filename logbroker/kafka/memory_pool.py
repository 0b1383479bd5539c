"""The bound on request bytes held in memory across every connection (Kafka's ``queued.max.request.bytes``).

Kafka gives its socket server one memory pool: a request's buffer is taken from it, and while the
pool is empty the broker stops reading from its sockets (it mutes them) until processed requests
give their bytes back. This pool does the same with the bytes actually received, not the sizes
peers declare: a connection reads only what the pool grants, and bytes are returned when a request
is answered or its connection closes. Invariants:

- ``used`` is the sum of the grants not yet released, in bytes; it never exceeds ``limit`` (a grant
  is cut down to what is left, and nothing is granted while nothing is left).
- A limit of -1 (Kafka's default) means unbounded: grants are never cut and nobody waits.

Single event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio


class RequestMemoryPool:
    """Bytes of received requests (partial or in flight) held across connections."""

    __slots__ = ("_freed", "limit", "used", "waits")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.waits = 0  # times a connection had to wait for bytes (a stat, for /metrics and tests)
        self._freed: asyncio.Event | None = None

    @property
    def bounded(self) -> bool:
        return self.limit >= 0

    def try_acquire(self, wanted: int) -> int:
        """Reserve up to ``wanted`` bytes without waiting; 0 when none are left."""
        if self.limit < 0:
            self.used += wanted
            return wanted
        granted = min(wanted, self.limit - self.used)
        if granted <= 0:
            return 0
        self.used += granted
        return granted

    async def acquire(self, wanted: int) -> int:
        """Reserve up to ``wanted`` bytes, waiting while none are left; returns the bytes granted (>= 1)."""
        if not self.bounded:
            self.used += wanted
            return wanted
        while self.used >= self.limit:
            self.waits += 1
            if self._freed is None:
                self._freed = asyncio.Event()
            await self._freed.wait()
        granted = min(wanted, self.limit - self.used)
        self.used += granted
        return granted

    def release(self, nbytes: int) -> None:
        """Give back ``nbytes`` of earlier grants; wakes the connections waiting for bytes."""
        if nbytes <= 0:
            return
        self.used -= nbytes
        freed = self._freed
        if freed is not None and self.used < self.limit:
            self._freed = None
            freed.set()
