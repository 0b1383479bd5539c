"""Incremental fetch sessions (KIP-227), as Kafka's ``FetchSession``/``FetchSessionCache`` serve them.

Sans-IO: no sockets, no clock of its own (callers pass ``now_ms``); the Fetch handler
(``handlers/fetch.py``) drives it. A fetch request carries ``(session_id, session_epoch)``:

==========================  ==================================================================
session_id, session_epoch   meaning (Kafka's ``FetchMetadata``)
==========================  ==================================================================
any, -1 (FINAL_EPOCH)       a sessionless full fetch; a non-zero id also closes that session
any, 0 (INITIAL_EPOCH)      a full fetch that opens a new session (closing a non-zero id first);
                            the response carries the new id, or 0 when no slot could be had
id, n > 0                   an incremental fetch in session ``id``: the request lists only the
                            partitions whose fetch offset or max bytes changed and those to
                            forget; the response lists only partitions with news (records, a
                            moved high watermark or log start offset, an error). An unknown id
                            is FETCH_SESSION_ID_NOT_FOUND (70), an epoch other than the one
                            expected is INVALID_FETCH_SESSION_EPOCH (71).
==========================  ==================================================================

Invariants: a session's ``epoch`` is the epoch its next incremental request must carry (1 after
creation, then +1 per accepted request, wrapping from 2**31-1 to 1 as Kafka's ``nextEpoch``);
session ids are non-zero, positive and unique within the cache; the cache holds at most ``slots``
sessions (``max.incremental.fetch.session.cache.slots``), in ``SHARDS`` shards of ``slots // SHARDS``
each (Kafka's broker shards its cache, KAFKA-9401: with fewer than 8 slots there are no sessions).
A new session goes to the next shard in turn.

Eviction, as Kafka's ``FetchSessionCacheShard`` (KIP-227; ``tryEvict`` and ``touch`` in
core/src/main/scala/kafka/server/FetchSession.scala), when a full shard is asked for a session:

1. the least recently used session is evicted if it is stale, unused for more than
   ``EVICTION_MS`` (two minutes);
2. otherwise only an *evictable* session may go: for a follower's (privileged) request, any
   consumer's session or a follower's older than ``EVICTION_MS``; for a consumer's, any session
   older than ``EVICTION_MS``. Both judged when the session was last used;
3. of those, the least valuable goes (consumers' before followers', then fewer partitions, then
   the lower id), and only if it is not worth more than the new one (same order, new id 0);
   otherwise the newcomer gets no session (id 0) and fetches in full.

So fresh sessions are kept, and a client whose session was evicted gets error 70 and falls back
to a full fetch.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

INITIAL_EPOCH = 0
FINAL_EPOCH = -1
_MAX_EPOCH = 0x7FFFFFFF

# A partition of a session: (topic key, partition). The topic key is the topic id for Fetch v13+
# (requests name topics by id) and the topic name before.
PartitionKey = tuple[Hashable, int]


def next_epoch(epoch: int) -> int:
    """The epoch that follows ``epoch`` (Kafka's ``FetchMetadata.nextEpoch``)."""
    if epoch < 0:
        return FINAL_EPOCH
    return 1 if epoch == _MAX_EPOCH else epoch + 1


@dataclass(slots=True)
class SessionPartition:
    """One partition a fetch reads: what the client asked for, and what it was last told.

    ``high_watermark``/``log_start_offset`` are the values last sent to the client (-1: not yet, or
    after an error), so an incremental response can leave the partition out when nothing changed.
    """

    topic: str | None  # None when a topic id is unknown (the answer is UNKNOWN_TOPIC_ID)
    topic_id: object
    partition: int
    fetch_offset: int
    max_bytes: int
    high_watermark: int = -1
    log_start_offset: int = -1
    leader_epoch: int = -1  # the fetcher's CurrentLeaderEpoch (KIP-320), -1: not checked

    def must_respond(self, error_code: int, high_watermark: int, log_start_offset: int, nbytes: int) -> bool:
        """Whether an incremental response includes this partition; updates what was last sent
        (Kafka's ``CachedPartition.maybeUpdateResponseData``)."""
        respond = nbytes > 0
        if error_code:
            # An error is always sent, and forgetting the high watermark re-sends the partition
            # once the error clears.
            self.high_watermark = -1
            return True
        if high_watermark != self.high_watermark:
            self.high_watermark = high_watermark
            respond = True
        if log_start_offset != self.log_start_offset:
            self.log_start_offset = log_start_offset
            respond = True
        return respond


# A session unused this long is stale, and one created this long ago is evictable (Kafka's
# MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS).
EVICTION_MS = 120_000
# Kafka's broker splits the cache into this many shards (KAFKA-9401), each with slots // SHARDS.
SHARDS = 8


@dataclass(slots=True)
class FetchSession:
    """The partitions of one consumer's (or follower's) fetch, kept between its requests.

    ``evictable_by_all``/``evictable_by_privileged`` are judged at each use (``FetchSessionCache``)."""

    id: int
    epoch: int
    client_id: str | None
    last_used_ms: int
    partitions: dict[PartitionKey, SessionPartition] = field(default_factory=dict)
    privileged: bool = False  # a follower's (replica) fetch session
    created_ms: int = 0
    evictable_by_all: bool = False
    evictable_by_privileged: bool = False

    def worth(self) -> tuple[bool, int, int]:
        """Kafka's ``EvictableKey`` order: consumers' before followers', then size, then id."""
        return self.privileged, len(self.partitions), self.id

    def update(self, changed: Iterable[tuple[PartitionKey, SessionPartition]],
               forgotten: Iterable[PartitionKey]) -> None:
        """Apply an incremental request: add or update the listed partitions, drop forgotten ones."""
        for key, part in changed:
            cached = self.partitions.get(key)
            if cached is None:
                self.partitions[key] = part
            else:
                cached.fetch_offset = part.fetch_offset
                cached.max_bytes = part.max_bytes
                cached.leader_epoch = part.leader_epoch
        for key in forgotten:
            self.partitions.pop(key, None)


class FetchSessionShard:
    """One shard of the cache: at most ``slots`` sessions, ids in ``[low, high)``, least recently
    used first, evicted by Kafka's rule (the module docstring)."""

    def __init__(self, slots: int, low: int, high: int, rng: random.Random) -> None:
        self.slots = slots
        self.low, self.high = low, high
        self._rng = rng
        self.sessions: OrderedDict[int, FetchSession] = OrderedDict()
        self.evicted = 0

    def create(self, partitions: dict[PartitionKey, SessionPartition], client_id: str | None,
               now_ms: int, privileged: bool) -> FetchSession | None:
        if len(self.sessions) >= self.slots and not self._try_evict(privileged, len(partitions), now_ms):
            return None
        session = FetchSession(self._new_id(), next_epoch(INITIAL_EPOCH), client_id, now_ms, partitions,
                               privileged=privileged, created_ms=now_ms)
        self.sessions[session.id] = session
        self.touch(session, now_ms)
        return session

    def _try_evict(self, privileged: bool, size: int, now_ms: int) -> bool:
        oldest = next(iter(self.sessions.values()), None)
        if oldest is None:
            return False
        if now_ms - oldest.last_used_ms > EVICTION_MS:
            self._evict(oldest, "stale")
            return True
        candidates = [s for s in self.sessions.values()
                      if (s.evictable_by_privileged if privileged else s.evictable_by_all)]
        if not candidates:
            return False
        cheapest = min(candidates, key=FetchSession.worth)
        if (privileged, size, 0) < cheapest.worth():
            return False
        self._evict(cheapest, "less valuable than a new one")
        return True

    def _evict(self, session: FetchSession, why: str) -> None:
        del self.sessions[session.id]
        self.evicted += 1
        log.info("evicted fetch session %d of client %s (%d partitions, %s) to make room",
                 session.id, session.client_id, len(session.partitions), why)

    def touch(self, session: FetchSession, now_ms: int) -> None:
        """Mark ``session`` used now: most recently used, and its evictability judged again."""
        self.sessions.move_to_end(session.id)
        session.last_used_ms = now_ms
        old = now_ms - session.created_ms > EVICTION_MS
        session.evictable_by_all = old
        session.evictable_by_privileged = old or not session.privileged

    def _new_id(self) -> int:
        while True:
            candidate = self._rng.randrange(self.low, self.high)
            if candidate not in self.sessions:
                return candidate


class FetchSessionCache:
    """``SHARDS`` shards of ``slots // SHARDS`` sessions each, as Kafka's broker splits its cache
    (so fewer than ``SHARDS`` slots hold no session at all). New sessions go to the shards in turn;
    a session id names its shard (each shard owns an equal range of ids)."""

    def __init__(self, slots: int, *, rng: random.Random | None = None) -> None:
        self.slots = slots
        rng = rng or random.Random()
        id_range = _MAX_EPOCH // SHARDS
        self._shards = [FetchSessionShard(slots // SHARDS, max(1, i * id_range), (i + 1) * id_range, rng)
                        for i in range(SHARDS)]
        self._id_range = id_range
        self._next_shard = 0
        # Counters for tests and operators: sessions created, incremental fetches served.
        self.created = 0
        self.incremental_fetches = 0

    def __len__(self) -> int:
        return sum(len(shard.sessions) for shard in self._shards)

    @property
    def evicted(self) -> int:
        return sum(shard.evicted for shard in self._shards)

    def create(self, partitions: dict[PartitionKey, SessionPartition], client_id: str | None,
               now_ms: int, *, privileged: bool = False) -> FetchSession | None:
        """A new session holding ``partitions`` in the next shard, or None when that shard has no
        slot for it (none at all, or every session there is worth keeping). ``privileged``: a
        follower's fetch."""
        shard = self._shards[self._next_shard]
        self._next_shard = (self._next_shard + 1) % SHARDS
        session = shard.create(partitions, client_id, now_ms, privileged)
        if session is None:
            log.debug("no fetch session for client %s: its shard's %d slot(s) hold sessions worth keeping",
                      client_id, shard.slots)
            return None
        self.created += 1
        log.debug("created fetch session %d for client %s with %d partitions", session.id, client_id,
                  len(partitions))
        return session

    def _shard_of(self, session_id: int) -> FetchSessionShard | None:
        index = session_id // self._id_range
        return self._shards[index] if 0 <= index < SHARDS else None

    def get(self, session_id: int, now_ms: int) -> FetchSession | None:
        """The session with this id, marked as the most recently used; None if unknown."""
        shard = self._shard_of(session_id)
        session = shard.sessions.get(session_id) if shard is not None else None
        if session is not None and shard is not None:
            shard.touch(session, now_ms)
        return session

    def remove(self, session_id: int) -> FetchSession | None:
        shard = self._shard_of(session_id)
        return shard.sessions.pop(session_id, None) if shard is not None else None
