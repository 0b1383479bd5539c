"""Producer-id allocation that never repeats an id across restarts.

Ids are handed out from blocks; the end of the current block is written crash-safely to
``<data_dir>/producer-id-block`` before any id of it is used, so after a crash the next start
begins above every id that could have been given out.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

BLOCK = 1000


class ProducerIdAllocator:
    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / "producer-id-block"
        try:
            self._next = int(self._path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            self._next = 0
        self._block_end = self._next
        # In a cluster, blocks come from the cluster (Kafka's /latest_producer_id_block), so no two
        # brokers hand out the same id: a blocking callable returning a fresh block [start, end).
        self.claim_block: Callable[[], tuple[int, int]] | None = None
        self._claiming = asyncio.Lock()  # one block claim at a time: concurrent requests share it

    async def allocate_async(self) -> int:
        """``allocate`` on the event loop: a cluster's block is claimed in a worker thread."""
        claim = self.claim_block
        if claim is not None and self._next >= self._block_end:
            async with self._claiming:
                if self._next >= self._block_end:  # not claimed by a request that held the lock before
                    self._next, self._block_end = await asyncio.to_thread(claim)
        return self.allocate()

    def allocate(self) -> int:
        if self.claim_block is not None:
            if self._next >= self._block_end:
                self._next, self._block_end = self.claim_block()
            pid = self._next
            self._next += 1
            return pid
        if self._next >= self._block_end:
            self._block_end = self._next + BLOCK
            tmp = self._path.with_suffix(".tmp")
            with open(tmp, "w", encoding="ascii") as f:
                f.write(str(self._block_end))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        pid = self._next
        self._next += 1
        return pid
