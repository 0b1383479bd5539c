"""logbroker/cluster/replicas.py: a leader's ISR and high watermark bookkeeping."""

from __future__ import annotations

import asyncio

import pytest

from logbroker.cluster.replicas import LeaderReplica
from logbroker.errors import NotEnoughReplicasAfterAppendError, NotLeaderOrFollowerError


def leader(isr: tuple[int, ...] = (1, 2, 3), hw: int = 0) -> LeaderReplica:
    return LeaderReplica(1, 3, (1, 2, 3), isr, 0, hw, now_ms=1000)


def test_high_watermark_is_the_smallest_log_end_of_the_isr() -> None:
    r = leader()
    r.follower_fetched(2, 10, 10, 1100)
    assert not r.advance(10)  # follower 3 is still at 0
    r.follower_fetched(3, 7, 10, 1100)
    assert r.advance(10) and r.high_watermark == 7
    r.follower_fetched(3, 4, 10, 1200)  # never backwards
    r.advance(10)
    assert r.high_watermark == 7


def test_a_lagging_follower_leaves_the_isr_and_rejoins_when_caught_up() -> None:
    r = leader()
    r.follower_fetched(2, 10, 10, 1500)
    r.follower_fetched(3, 2, 10, 1500)
    assert r.wanted_isr(10, 2000, lag_ms=3000) is None
    assert r.wanted_isr(10, 4400, lag_ms=3000) == (1, 2)  # 3 not caught up since 1000, 2 since 1500
    r.isr = (1, 2)
    r.advance(10)
    assert r.high_watermark == 10
    r.follower_fetched(2, 10, 10, 4700)
    r.follower_fetched(3, 10, 10, 4700)
    assert r.wanted_isr(10, 4700, lag_ms=3000) == (1, 2, 3)


@pytest.mark.parametrize("isr,error", [((1, 2, 3), None), ((1,), NotEnoughReplicasAfterAppendError)])
def test_acks_all_waiters_resolve_when_the_high_watermark_passes(isr: tuple[int, ...],
                                                                 error: type[BaseException] | None) -> None:
    async def scenario() -> None:
        r = leader(isr)
        fut = r.wait_for(5, min_insync_replicas=2)
        assert fut is not None and not fut.done()
        for f in (2, 3):
            r.follower_fetched(f, 5, 5, 1100)
        r.advance(5)
        assert fut.done()
        if error is None:
            assert fut.exception() is None
        else:
            assert isinstance(fut.exception(), error)

    asyncio.run(scenario())


def test_resigning_fails_the_waiters_with_not_leader() -> None:
    async def scenario() -> None:
        r = leader()
        fut = r.wait_for(5, 1)
        assert fut is not None
        r.resign("test")
        assert isinstance(fut.exception(), NotLeaderOrFollowerError)

    asyncio.run(scenario())


def test_a_follower_rejoins_only_past_the_start_of_the_leaders_epoch() -> None:
    r = LeaderReplica(1, 3, (1, 2), (1,), 0, 0, now_ms=1000, epoch_start_offset=8)
    r.advance(10)  # ISR {1}: the high watermark is the leader's log end
    r.high_watermark = 5  # as if the leader had not yet advanced past older data
    r.follower_fetched(2, 6, 10, 1100)
    assert r.wanted_isr(10, 1100, lag_ms=3000) is None  # past the high watermark, not the epoch start
    r.follower_fetched(2, 10, 10, 1200)
    assert r.wanted_isr(10, 1200, lag_ms=3000) == (1, 2)


def test_a_follower_that_never_fetched_does_not_join_the_isr_of_an_empty_partition() -> None:
    """An empty partition: a dead follower is assumed at offset 0, as caught up as it could be, but
    joins the ISR only once it fetched under this leader epoch."""
    r = LeaderReplica(1, 3, (1, 2, 3), (1, 3), 0, 0, now_ms=1000)
    assert r.wanted_isr(0, 1100, lag_ms=3000) is None  # 2 never fetched: stays out
    r.follower_fetched(2, 0, 0, 1200)
    assert r.wanted_isr(0, 1200, lag_ms=3000) == (1, 2, 3)


def test_a_reassignment_adds_and_removes_tracked_followers() -> None:
    r = leader()
    r.set_replicas((1, 2, 4), 2000)
    assert sorted(r.followers) == [2, 4] and r.followers[4].last_caught_up_ms == 2000
    r.follower_fetched(4, 0, 0, 2100)
    r.isr = (1, 2)
    assert r.wanted_isr(0, 2100, lag_ms=3000) == (1, 2, 4)


def test_a_follower_a_fetch_behind_a_leader_appending_all_the_time_stays_in_the_isr() -> None:
    """Under steady produce a follower's fetch never reaches the leader's log end as it is when the
    fetch arrives, only as it was at the follower's previous fetch: it is caught up as of that one."""
    r = leader()
    end = 0
    for now in range(1100, 40_000, 100):  # 39 s of fetches every 100 ms, the leader 50 records ahead
        behind = end
        end += 50
        r.follower_fetched(2, behind, end, now)
        r.follower_fetched(3, behind, end, now)
        assert r.wanted_isr(end, now, lag_ms=10_000) is None, now
    assert r.followers[2].last_caught_up_ms == 39_900 - 100  # the previous fetch's time


def test_a_follower_that_falls_further_behind_leaves_the_isr_after_the_lag_time() -> None:
    r = leader()
    end = 0
    for now in range(1100, 12_000, 100):
        end += 50
        r.follower_fetched(2, end - 50, end, now)  # keeps up, a fetch behind
        r.follower_fetched(3, end // 2, end, now)  # takes half of what the leader takes
    # Its second fetch (1200, offset 50) reached the leader's end at its first (1100): never since.
    assert r.followers[3].last_caught_up_ms == 1100
    assert r.wanted_isr(end, 11_900, lag_ms=10_000) == (1, 2)


def test_caught_up_time_never_moves_back() -> None:
    r = leader()
    r.follower_fetched(2, 10, 10, 2000)
    r.follower_fetched(2, 10, 20, 2100)  # reached the previous end (10): caught up as of 2000
    assert r.followers[2].last_caught_up_ms == 2000
    r.follower_fetched(2, 12, 30, 2200)  # short of the previous end (20): unchanged
    assert r.followers[2].last_caught_up_ms == 2000
    r.follower_fetched(2, 30, 30, 2300)
    assert r.followers[2].last_caught_up_ms == 2300
