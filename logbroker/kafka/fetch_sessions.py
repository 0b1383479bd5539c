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
sessions (``max.incremental.fetch.session.cache.slots``) and evicts the least recently used one to
make room, so a client whose session was evicted gets error 70 and falls back to a full fetch.
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


@dataclass(slots=True)
class FetchSession:
    """The partitions of one consumer's (or follower's) fetch, kept between its requests."""

    id: int
    epoch: int
    client_id: str | None
    last_used_ms: int
    partitions: dict[PartitionKey, SessionPartition] = field(default_factory=dict)

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


class FetchSessionCache:
    """At most ``slots`` sessions by id, least recently used first (Kafka's ``FetchSessionCache``,
    with plain LRU eviction instead of its privileged/stale split)."""

    def __init__(self, slots: int, *, rng: random.Random | None = None) -> None:
        self.slots = slots
        self._rng = rng or random.Random()
        self._sessions: OrderedDict[int, FetchSession] = OrderedDict()
        # Counters for tests and operators: sessions created/evicted, incremental fetches served.
        self.created = 0
        self.evicted = 0
        self.incremental_fetches = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, partitions: dict[PartitionKey, SessionPartition], client_id: str | None,
               now_ms: int) -> FetchSession | None:
        """A new session holding ``partitions``, or None when the cache has no slots at all."""
        if self.slots <= 0:
            return None
        while len(self._sessions) >= self.slots:
            old_id, old = self._sessions.popitem(last=False)
            self.evicted += 1
            log.info("evicted fetch session %d of client %s (%d partitions) to make room",
                     old_id, old.client_id, len(old.partitions))
        session_id = self._new_id()
        session = FetchSession(session_id, next_epoch(INITIAL_EPOCH), client_id, now_ms, partitions)
        self._sessions[session_id] = session
        self.created += 1
        log.debug("created fetch session %d for client %s with %d partitions", session_id, client_id,
                  len(partitions))
        return session

    def get(self, session_id: int, now_ms: int) -> FetchSession | None:
        """The session with this id, marked as the most recently used; None if unknown."""
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
            session.last_used_ms = now_ms
        return session

    def remove(self, session_id: int) -> FetchSession | None:
        return self._sessions.pop(session_id, None)

    def _new_id(self) -> int:
        while True:
            candidate = self._rng.randint(1, _MAX_EPOCH)
            if candidate not in self._sessions:
                return candidate
