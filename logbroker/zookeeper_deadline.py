"""ZooKeeper work done for one client request, none of its calls waiting past one deadline.

kazoo's synchronous calls wait until ZooKeeper answers or kazoo declares the connection lost, and a
stalled server (a paused process, a saturated disk, a long collection pause) is noticed only when a
ping goes unanswered: up to two thirds of the session timeout, 12 s with the default 18 s. A
request that waits that long outlives the client's own ``request.timeout.ms``. The work a client
request asks of ZooKeeper outside the cluster's view pass (client quotas and SCRAM credentials in the
config znodes) goes through ``ZooKeeperDeadline`` instead: every call is sent with kazoo's
asynchronous API and waited for only until the deadline, so the worker thread itself is free again
by then (the request's answer does not merely stop waiting for it while it hangs on). Past the
deadline, or without a connection, the work stops with ClusterStateUnavailableError, which the
fronts answer REQUEST_TIMED_OUT (HTTP 503): what Kafka 4.1 answers a client whose request it
forwarded to a controller that did not answer in time (``ForwardingManagerImpl.onTimeout`` answers
the request's error response for a ``TimeoutException``; the broker's forwarding channel gives up
after 60 s). The limit is the broker's ``request.timeout.ms``.

A call abandoned at the deadline may still reach ZooKeeper later; a conditional write whose answer
was lost is read again by the next attempt, so nothing is applied twice.

Blocking: use it in a worker thread.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kazoo.client import KazooClient, TransactionRequest
from kazoo.protocol.states import ZnodeStat

from logbroker.errors import ClusterStateUnavailableError

log = logging.getLogger(__name__)


class ZooKeeperDeadline:
    """The kazoo calls of one piece of work, each waiting until a deadline at most. ZooKeeper's own
    refusals (NoNodeError, BadVersionError, ...) pass through as kazoo raises them."""

    def __init__(self, zk: KazooClient, timeout_s: float, what: str) -> None:
        """``what`` names the work in errors and the log line (``client quotas not read``). Raises
        ClusterStateUnavailableError at once without a connection (kazoo would hold the calls)."""
        if not zk.connected:
            raise ClusterStateUnavailableError(f"{what}: ZooKeeper is not connected")
        self.zk = zk
        self.timeout_s = timeout_s
        self.what = what
        self.deadline = time.monotonic() + timeout_s
        self._told = False

    def remaining(self) -> float:
        """Seconds left before the deadline (0 once past it)."""
        return max(0.0, self.deadline - time.monotonic())

    def expired(self) -> ClusterStateUnavailableError:
        """The error of work that ran out of time (logged the first time)."""
        if not self._told:
            self._told = True
            log.warning("%s: ZooKeeper did not answer within %.1fs", self.what, self.timeout_s)
        return ClusterStateUnavailableError(f"{self.what}: ZooKeeper did not answer within {self.timeout_s:.1f}s")

    def _wait(self, pending: Any) -> Any:
        left = self.remaining()
        if left <= 0:
            raise self.expired()
        try:
            return pending.get(timeout=left)
        except self.zk.handler.timeout_exception:
            raise self.expired() from None

    def get(self, path: str, watch: Any = None) -> tuple[bytes, ZnodeStat]:
        data, stat = self._wait(self.zk.get_async(path, watch))
        return data, stat

    def get_children(self, path: str, watch: Any = None) -> list[str]:
        return list(self._wait(self.zk.get_children_async(path, watch)))

    def create(self, path: str, value: bytes = b"", *, sequence: bool = False, makepath: bool = False) -> str:
        return str(self._wait(self.zk.create_async(path, value, sequence=sequence, makepath=makepath)))

    def set(self, path: str, value: bytes, version: int = -1) -> ZnodeStat:
        stat: ZnodeStat = self._wait(self.zk.set_async(path, value, version))
        return stat

    def delete(self, path: str, version: int = -1) -> None:
        self._wait(self.zk.delete_async(path, version))

    def ensure_path(self, path: str) -> None:
        self._wait(self.zk.ensure_path_async(path))

    def exists(self, path: str) -> ZnodeStat | None:
        stat: ZnodeStat | None = self._wait(self.zk.exists_async(path))
        return stat

    def transaction(self) -> BoundedTransaction:
        return BoundedTransaction(self, self.zk.transaction())

    def commit(self, tx: TransactionRequest) -> list[object]:
        """The transaction's results: one per operation, an exception for each that failed."""
        return list(self._wait(tx.commit_async()))


class BoundedTransaction:
    """A kazoo transaction whose ``commit`` waits until its work's deadline at most (the same calls
    as kazoo's, so code written against a ``KazooClient`` runs with a ``ZooKeeperDeadline``)."""

    def __init__(self, calls: ZooKeeperDeadline, tx: TransactionRequest) -> None:
        self._calls = calls
        self._tx = tx

    def check(self, path: str, version: int) -> None:
        self._tx.check(path, version)

    def create(self, path: str, value: bytes = b"") -> None:
        self._tx.create(path, value)

    def set_data(self, path: str, value: bytes, version: int = -1) -> None:
        self._tx.set_data(path, value, version)

    def delete(self, path: str, version: int = -1) -> None:
        self._tx.delete(path, version)

    def commit(self) -> list[object]:
        """The transaction's results: one per operation, an exception for each that failed."""
        return self._calls.commit(self._tx)


# What code written against kazoo's synchronous calls is given: the client itself (calls waiting
# as long as kazoo does), or one piece of work's deadline.
ZooKeeperCalls = KazooClient | ZooKeeperDeadline
