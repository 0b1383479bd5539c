"""logbroker/cluster/fetcher.py: how a follower cuts its log from the leader's OffsetForLeaderEpoch answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logbroker.broker import Broker
from logbroker.cluster.fetcher import ReplicaFetcher
from logbroker.records import RecordInput
from tests.test_broker import batch, make_broker

TP = ("t", 0)


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[Broker]:
    """A replica whose log holds offsets 0..4 written under leader epoch 3 and 5..6 under epoch 5."""
    b = make_broker(tmp_path)
    b.create_topic("t", 1, {})
    b.become_leader("t", 0, 3)
    for i in range(5):
        b.append("t", 0, batch(RecordInput(b"k", f"{i}".encode())))
    b.become_leader("t", 0, 5)
    for i in range(2):
        b.append("t", 0, batch(RecordInput(b"k", f"late{i}".encode())))
    yield b
    b.close()
    b.store.close()


def fetcher(broker: Broker, high_watermark: int) -> ReplicaFetcher:
    return ReplicaFetcher(broker, 2, 1, lambda: None, on_high_watermark=lambda tp, hw: None,
                          high_watermark=lambda tp: high_watermark, on_dropped=lambda tp: None,
                          wait_ms=500, max_bytes=1 << 20)


def test_the_end_of_our_latest_epoch_on_the_leader_cuts_the_log(follower: Broker) -> None:
    fetcher(follower, 0)._truncate(TP, 5, 6)
    assert follower.log_end_offset(*TP) == 6


def test_an_older_epoch_answered_cuts_at_the_smaller_end_of_that_epoch(follower: Broker) -> None:
    # KIP-279: the leader never had epoch 5; its epoch 3 ends at 7 there but at 5 here.
    fetcher(follower, 0)._truncate(TP, 3, 7)
    assert follower.log_end_offset(*TP) == 5
    assert follower.epoch_cache(*TP).entries == ((3, 0),)


def test_an_undefined_answer_cuts_back_to_the_high_watermark(follower: Broker) -> None:
    # Kafka's leader answers (-1, -1) for an epoch newer than its own latest; the follower keeps only
    # what is committed and fetches the rest again.
    fetcher(follower, 4)._truncate(TP, -1, -1)
    assert follower.log_end_offset(*TP) == 4
    fetcher(follower, 9)._truncate(TP, -1, -1)  # a high watermark past the log end cuts nothing
    assert follower.log_end_offset(*TP) == 4
