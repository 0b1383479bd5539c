"""Bringing a store's in-memory copy up to date whenever it is told that something changed.

A cluster's SCRAM credentials, ACLs and group configs are kept in ZooKeeper and copied in memory by
every broker; a change notice (or a lost connection) signals the store from kazoo's thread, and the
store's catch-up reads what changed in a worker thread (``logbroker/zookeeper_notices.py``).
``ChangeFollower`` runs that catch-up on the event loop's side: one at a time, once more when told
again meanwhile (signals arriving during a catch-up are never lost, and a burst of them costs one
more read, not one each), and, while ZooKeeper does not answer (a ClusterStateUnavailableError or
any other StorageError), again every ``retry_s`` until it does: only a catch-up that reaches
ZooKeeper re-arms the store's watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from segments.errors import StorageError

log = logging.getLogger(__name__)

RETRY_S = 1.0  # the wait before a catch-up ZooKeeper did not answer runs again


class ChangeFollower:
    """Runs ``catch_up`` when ``signal`` is called (from any thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, catch_up: Callable[[], Awaitable[None]], what: str,
                 spawn: Callable[[Coroutine[Any, Any, None], str], None], retry_s: float = RETRY_S) -> None:
        """``spawn`` runs a coroutine as a task its owner keeps (and logs the failure of); ``what``
        names the work in log lines (``ACL reload``)."""
        self._loop = loop
        self._catch_up = catch_up
        self.what = what
        self._spawn = spawn
        self.retry_s = retry_s
        self._running = False
        self._again = False
        self._closed = False

    def close(self) -> None:
        """No catch-up from now on (the broker stops; closing its ZooKeeper client fires the watches)."""
        self._closed = True

    def signal(self) -> None:
        """Something changed: catch up (thread-safe; kazoo's thread calls it)."""
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to update
            self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        if self._closed:
            return
        if self._running:
            self._again = True
            return
        self._running = True
        self._spawn(self._run(), self.what)

    async def _run(self) -> None:
        failures = 0
        try:
            self._again = True
            while self._again and not self._closed:
                self._again = False
                try:
                    await self._catch_up()
                except StorageError as exc:  # ZooKeeper away or too slow: tried again
                    failures += 1
                    # Said once per outage, not every retry.
                    log.log(logging.WARNING if failures == 1 else logging.DEBUG, "%s: %s; trying again every %.0fs",
                            self.what, exc, self.retry_s)
                    self._again = True
                    await asyncio.sleep(self.retry_s)
                    continue
                if failures:
                    log.info("%s done after %d failed attempt(s)", self.what, failures)
                    failures = 0
        finally:
            self._running = False
