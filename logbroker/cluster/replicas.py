"""A leader's view of one partition's replicas: followers' log ends, the ISR, the high watermark.

Invariants (Kafka's ``Partition``/``Replica`` on the leader):
- the high watermark is the smallest log end offset among the ISR (the leader included), and it
  never moves back while this broker leads under one epoch;
- a follower's log end is the offset it last fetched from (a follower fetches from its log end);
- ``last_caught_up_ms`` is the latest time at which the leader's log end was no further than the
  follower's last fetch offset (Kafka's ``Replica.updateFetchState``): a fetch from the leader's
  log end as it is now makes it now; a fetch from the log end as it was at the follower's previous
  fetch makes it the time of that previous fetch. So a follower that keeps up with a leader taking
  appends all the time, each fetch a round trip behind, stays caught up. One not caught up for
  ``replica.lag.time.max.ms`` leaves the ISR, and one whose log end reaches the high watermark and
  the start of this leader epoch rejoins it (Kafka's ``isFollowerInSync``), once it has fetched
  under this epoch: a follower only assumed at offset 0 (a dead broker, an empty partition) never
  joins.
The ISR itself changes only through a conditional znode write made by ``node.py``; this class
proposes changes and applies the ones that were written.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from logbroker.errors import NotEnoughReplicasAfterAppendError, NotLeaderOrFollowerError


@dataclass(slots=True)
class _Follower:
    log_end_offset: int = 0
    last_caught_up_ms: int = 0
    leader_end_at_last_fetch: int = 0
    last_fetch_ms: int = 0
    fetched: bool = False  # it fetched from this leader under this epoch (only then may it join the ISR)


@dataclass(slots=True)
class _Waiter:
    end_offset: int
    min_insync_replicas: int
    future: asyncio.Future[None]


@dataclass(slots=True)
class LeaderReplica:
    """One partition this broker leads under ``leader_epoch``."""

    broker_id: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    zk_version: int  # of the partition's state znode, for the next conditional ISR write
    high_watermark: int
    now_ms: int
    epoch_start_offset: int = 0  # the log end when this epoch began
    followers: dict[int, _Follower] = field(default_factory=dict)
    waiters: list[_Waiter] = field(default_factory=list)
    isr_change_pending: bool = False

    def __post_init__(self) -> None:
        # Every follower gets a full lag period from the moment this broker becomes leader.
        for r in self.replicas:
            if r != self.broker_id:
                self.followers[r] = self._tracked(self.now_ms)

    def _tracked(self, now_ms: int) -> _Follower:
        return _Follower(last_caught_up_ms=now_ms, last_fetch_ms=now_ms)

    def set_replicas(self, replicas: tuple[int, ...], now_ms: int) -> None:
        """The assignment changed (a reassignment): track joining followers from now, forget leaving ones."""
        if replicas == self.replicas:
            return
        self.replicas = replicas
        for r in replicas:
            if r != self.broker_id and r not in self.followers:
                self.followers[r] = self._tracked(now_ms)
        for r in [r for r in self.followers if r not in replicas]:
            del self.followers[r]

    def follower_fetched(self, replica_id: int, fetch_offset: int, leader_end: int, now_ms: int) -> None:
        f = self.followers.get(replica_id)
        if f is None:
            return
        f.log_end_offset = fetch_offset
        f.fetched = True
        if fetch_offset >= leader_end:
            f.last_caught_up_ms = max(f.last_caught_up_ms, now_ms)
        elif fetch_offset >= f.leader_end_at_last_fetch:
            # It has what the leader had at its previous fetch: it was caught up as of that fetch.
            f.last_caught_up_ms = max(f.last_caught_up_ms, f.last_fetch_ms)
        f.leader_end_at_last_fetch = leader_end
        f.last_fetch_ms = now_ms

    def wanted_isr(self, leader_end: int, now_ms: int, lag_ms: int) -> tuple[int, ...] | None:
        """The ISR this leader should write, or None when it is right: laggards out, caught-up in."""
        isr = [r for r in self.isr if r == self.broker_id
               or now_ms - self.followers.get(r, _Follower()).last_caught_up_ms <= lag_ms]
        for r in self.replicas:
            f = self.followers.get(r)
            caught_up = (f is not None and f.fetched
                         and f.log_end_offset >= max(self.high_watermark, self.epoch_start_offset))
            if r not in isr and f is not None and caught_up and now_ms - f.last_caught_up_ms <= lag_ms:
                isr.append(r)
        if self.broker_id not in isr:
            isr.insert(0, self.broker_id)
        ordered = tuple(r for r in self.replicas if r in isr)
        return None if set(ordered) == set(self.isr) else ordered

    def advance(self, leader_end: int) -> bool:
        """Recompute the high watermark; True when it moved (waiters resolved)."""
        ends = [leader_end] + [self.followers[r].log_end_offset for r in self.isr if r in self.followers]
        new = max(self.high_watermark, min(ends))
        if new == self.high_watermark:
            return False
        self.high_watermark = new
        self._resolve()
        return True

    def wait_for(self, end_offset: int, min_insync_replicas: int) -> asyncio.Future[None] | None:
        if self.high_watermark >= end_offset:
            if len(self.isr) < min_insync_replicas:
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                fut.set_exception(self._too_few(min_insync_replicas))
                return fut
            return None
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append(_Waiter(end_offset, min_insync_replicas, fut))
        return fut

    def _too_few(self, min_isr: int) -> NotEnoughReplicasAfterAppendError:
        return NotEnoughReplicasAfterAppendError(
            f"the ISR {list(self.isr)} is smaller than min.insync.replicas {min_isr}")

    def _resolve(self) -> None:
        kept: list[_Waiter] = []
        for w in self.waiters:
            if w.future.done():
                continue
            if w.end_offset <= self.high_watermark:
                if len(self.isr) < w.min_insync_replicas:
                    w.future.set_exception(self._too_few(w.min_insync_replicas))
                else:
                    w.future.set_result(None)
            else:
                kept.append(w)
        self.waiters = kept

    def resign(self, reason: str) -> None:
        """Leadership is gone: every acks=all waiter fails with NOT_LEADER_OR_FOLLOWER (the producer retries)."""
        for w in self.waiters:
            if not w.future.done():
                w.future.set_exception(NotLeaderOrFollowerError(reason))
        self.waiters.clear()
