"""The fetch session cache and its rules (logbroker/kafka/fetch_sessions.py), without a broker."""

from __future__ import annotations

import random

from logbroker.kafka.fetch_sessions import (
    EVICTION_MS,
    SHARDS,
    FetchSession,
    FetchSessionCache,
    FetchSessionShard,
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
    cache = FetchSessionCache(100 * SHARDS, rng=random.Random(1))
    sessions = [cache.create(parts(("t", 0)), "c", now_ms=0) for _ in range(50)]
    ids = {s.id for s in sessions if s is not None}
    assert len(ids) == 50 and all(0 < i <= 0x7FFFFFFF for i in ids)
    assert all(s is not None and s.epoch == 1 for s in sessions)
    assert len(cache) == 50 and cache.created == 50
    assert all(cache.get(i, now_ms=1) is not None for i in ids)  # each id finds its shard


def test_no_slots_means_no_sessions() -> None:
    cache = FetchSessionCache(0)
    assert cache.create(parts(("t", 0)), "c", now_ms=0) is None
    assert len(cache) == 0


def test_fewer_slots_than_shards_means_no_sessions() -> None:
    """Kafka splits the slots between its shards: with 7, every shard has none."""
    cache = FetchSessionCache(SHARDS - 1)
    assert all(cache.create(parts(("t", 0)), "c", now_ms=0) is None for _ in range(SHARDS))


def test_shards_are_filled_in_turn() -> None:
    cache = FetchSessionCache(SHARDS, rng=random.Random(6))
    first = [cache.create(parts(("t", 0)), f"c{i}", now_ms=0) for i in range(SHARDS)]
    assert all(s is not None for s in first) and len(cache) == SHARDS
    # Every shard holds one fresh session now: the next newcomer gets none, and nobody is evicted.
    assert cache.create(parts(("t", 0)), "late", now_ms=1) is None
    assert cache.evicted == 0 and all(s is not None and cache.get(s.id, now_ms=2) is s for s in first)


def shard(slots: int, seed: int) -> FetchSessionShard:
    return FetchSessionShard(slots, 1, 1 << 20, random.Random(seed))


def test_a_full_shard_keeps_fresh_sessions() -> None:
    """Kafka's rule: a consumer cannot evict a session younger than EVICTION_MS that is not stale."""
    cache = shard(2, 2)
    a = cache.create(parts(("t", 0)), "a", 0, False)
    b = cache.create(parts(("t", 0)), "b", 1, False)
    assert a is not None and b is not None
    assert cache.create(parts(("t", 0), ("t", 1), ("t", 2)), "c", 1000, False) is None
    assert set(cache.sessions) == {a.id, b.id} and cache.evicted == 0


def test_the_least_recently_used_goes_once_stale() -> None:
    cache = shard(2, 3)
    a = cache.create(parts(("t", 0)), "a", 0, False)
    b = cache.create(parts(("t", 0)), "b", 0, False)
    assert a is not None and b is not None
    cache.touch(a, EVICTION_MS)  # a used again; b untouched since 0
    c = cache.create(parts(("t", 0)), "c", EVICTION_MS + 1, False)
    assert c is not None and set(cache.sessions) == {a.id, c.id} and cache.evicted == 1


def test_long_lived_sessions_go_by_worth() -> None:
    """Sessions older than EVICTION_MS (when last used) are evictable by anyone: the one with the
    fewest partitions goes, and only for a newcomer with more (a tie keeps the old one)."""
    cache = shard(2, 4)
    big = cache.create(parts(("t", 0), ("t", 1), ("t", 2)), "big", 0, False)
    small = cache.create(parts(("t", 0), ("t", 1)), "small", 0, False)
    assert big is not None and small is not None
    now = EVICTION_MS + 10
    cache.touch(big, now)
    cache.touch(small, now)
    assert cache.create(parts(("t", 0)), "one", now + 1, False) is None
    assert cache.create(parts(("u", 0), ("u", 1)), "two", now + 1, False) is None
    three = cache.create(parts(("u", 0), ("u", 1), ("u", 2)), "three", now + 2, False)
    assert three is not None and set(cache.sessions) == {big.id, three.id} and cache.evicted == 1


def test_a_follower_evicts_a_consumer_session_at_once() -> None:
    cache = shard(1, 5)
    consumer = cache.create(parts(("t", 0), ("t", 1)), "consumer", 0, False)
    assert consumer is not None
    follower = cache.create(parts(("t", 0)), "broker-1", 1, True)
    assert follower is not None and follower.privileged and set(cache.sessions) == {follower.id}
    # A fresh follower's session is kept from consumers and from other followers alike.
    assert cache.create(parts(("t", 0)), "consumer", 3, False) is None
    assert cache.create(parts(("t", 0)), "broker-2", 3, True) is None


def test_remove() -> None:
    cache = FetchSessionCache(SHARDS)
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
