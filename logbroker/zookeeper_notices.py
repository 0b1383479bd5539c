"""The watch of a store that keeps, in memory, a copy of znodes other brokers change.

Kafka's ZooKeeper mode announced every such change with a sequential notification znode
(``/config/changes/config_change_<seq>``, ``/kafka-acl-changes/acl_changes_<seq>``, ...), and every
broker watched the notification path. A ZooKeeper watch fires once; kazoo also fires every watch,
with an event of type NONE, when its connection drops, and forgets them all: a watch re-armed from
kazoo's own thread then waits for the reconnection, and fails for good when the session expired
meanwhile (the store hears of no change again). So the watch here only signals (``on_change``, from
kazoo's thread, which must never wait on ZooKeeper), and the store's catch-up, run in a worker thread
and retried by its caller until ZooKeeper answers (``logbroker/change_follower.py``), re-arms it with
the read that lists the notices, before it reads what changed: a notice posted meanwhile fires the
new watch.

A notice names what changed (an entity's config znode, an ACL resource), so a catch-up reads only
the notices posted since the last one it read (their names carry ZooKeeper's sequence number, zero
padded: name order is posting order) and then what they name. It reads everything again the first
time, after a connection loss (kazoo told of it), and when the last notice it read is gone: the
writers delete the oldest notices beyond a count, so ones newer than it may have gone unread.

Source: Kafka 3.x ``kafka.common.ZkNodeChangeNotificationListener`` (watch the path, process the
notices on each change and after a new session).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import EventType, WatchedEvent

from logbroker.zookeeper_deadline import ZooKeeperDeadline


@dataclass(frozen=True, slots=True)
class Pending:
    """What one catch-up must read: ``everything`` again, or only what ``names`` announce (the new
    notices, oldest first). Handed back to ``ChangeNotices.applied`` once read."""

    everything: bool
    names: list[str]
    _losses: int
    _newest: str | None


class ChangeNotices:
    """The notices on one ZooKeeper path, for one store (see the module docstring)."""

    def __init__(self, path: str, on_change: Callable[[], None]) -> None:
        self.path = path
        self.on_change = on_change
        self._losses = 0  # connection losses kazoo told of (its thread writes, a catch-up reads)
        self._caught_up = -1  # ``_losses`` at the last catch-up applied; -1: nothing read yet
        self._last: str | None = None  # the newest notice when the last catch-up listed them

    def _fired(self, event: WatchedEvent) -> None:
        """kazoo's thread: a notice was posted, or the connection dropped (the watch is gone either
        way). Only signal: the catch-up re-arms the watch."""
        if event.type == EventType.NONE:
            self._losses += 1
        self.on_change()

    def pending(self, calls: ZooKeeperDeadline) -> Pending:
        """Re-arm the watch and say what to read. Blocking (a worker thread, under the store's lock)."""
        losses = self._losses  # taken before the listing: a loss after it is seen by the next catch-up
        names = sorted(calls.get_children(self.path, watch=self._fired))
        newest = names[-1] if names else self._last
        last = self._last
        if self._caught_up != losses or (last is not None and last not in names):
            return Pending(True, [], losses, newest)
        return Pending(False, [n for n in names if last is None or n > last], losses, newest)

    def contents(self, calls: ZooKeeperDeadline, pending: Pending) -> list[bytes] | None:
        """The data of ``pending``'s notices, oldest first; None when one is gone already (deleted as
        too old: read everything then)."""
        out: list[bytes] = []
        for name in pending.names:
            try:
                data, _ = calls.get(f"{self.path}/{name}")
            except NoNodeError:
                return None
            out.append(data)
        return out

    def applied(self, pending: Pending) -> None:
        """The store has read what ``pending`` asked for."""
        self._caught_up = pending._losses
        self._last = pending._newest
