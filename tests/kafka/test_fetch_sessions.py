"""The fetch session cache and its rules (logbroker/kafka/fetch_sessions.py), without a broker."""

from __future__ import annotations

import random

from logbroker.kafka.fetch_sessions import (
    FetchSession,
    FetchSessionCache,
    PartitionKey,
    SessionPartition,
    next_epoch,
)


def parts(*keys: PartitionKey, offset: int = 0) -> dict[PartitionKey, SessionPartition]:
    return {k: SessionPartition(str(k[0]), None, k[1], offset, 1 << 20) for k in keys}


def test_next_epoch_wraps_to_one_and_keeps_final() -> None:
    assert next_epoch(0) == 1
    assert next_epoch(41) == 42
    assert next_epoch(0x7FFFFFFF) == 1
    assert next_epoch(-1) == -1


def test_create_gives_unique_positive_ids_and_expects_epoch_one() -> None:
    cache = FetchSessionCache(100, rng=random.Random(1))
    sessions = [cache.create(parts(("t", 0)), "c", now_ms=0) for _ in range(50)]
    ids = {s.id for s in sessions if s is not None}
    assert len(ids) == 50 and all(0 < i <= 0x7FFFFFFF for i in ids)
    assert all(s is not None and s.epoch == 1 for s in sessions)
    assert len(cache) == 50 and cache.created == 50


def test_no_slots_means_no_sessions() -> None:
    cache = FetchSessionCache(0)
    assert cache.create(parts(("t", 0)), "c", now_ms=0) is None
    assert len(cache) == 0


def test_lru_eviction_keeps_the_recently_used() -> None:
    cache = FetchSessionCache(2, rng=random.Random(2))
    a = cache.create(parts(("t", 0)), "a", now_ms=0)
    b = cache.create(parts(("t", 0)), "b", now_ms=1)
    assert a is not None and b is not None
    assert cache.get(a.id, now_ms=2) is a  # a is now the most recently used
    c = cache.create(parts(("t", 0)), "c", now_ms=3)
    assert c is not None
    assert cache.get(b.id, now_ms=4) is None  # b was the least recently used
    assert cache.get(a.id, now_ms=5) is a and cache.get(c.id, now_ms=5) is c
    assert cache.evicted == 1 and len(cache) == 2


def test_remove() -> None:
    cache = FetchSessionCache(5)
    s = cache.create(parts(("t", 0)), "a", now_ms=0)
    assert s is not None
    assert cache.remove(s.id) is s
    assert cache.get(s.id, now_ms=0) is None
    assert cache.remove(s.id) is None


def test_update_adds_changes_and_forgets_partitions() -> None:
    session = FetchSession(7, 1, "c", 0, parts(("t", 0), ("t", 1)))
    session.update(parts(("t", 1), ("u", 0), offset=9).items(), [("t", 0)])
    assert list(session.partitions) == [("t", 1), ("u", 0)]
    assert session.partitions[("t", 1)].fetch_offset == 9
    assert session.partitions[("u", 0)].fetch_offset == 9


def test_must_respond_only_on_news() -> None:
    p = SessionPartition("t", None, 0, 0, 100)
    assert p.must_respond(0, 10, 0, 0)  # first answer: nothing was sent yet
    assert not p.must_respond(0, 10, 0, 0)  # nothing changed
    assert p.must_respond(0, 10, 0, 5)  # records
    assert p.must_respond(0, 11, 0, 0)  # the high watermark moved
    assert p.must_respond(0, 11, 3, 0)  # the log start offset moved
    assert not p.must_respond(0, 11, 3, 0)
    assert p.must_respond(6, -1, -1, 0)  # an error is always sent...
    assert p.must_respond(0, 11, 3, 0)  # ...and the partition is sent again once it clears
