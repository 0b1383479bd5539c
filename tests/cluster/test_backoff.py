"""The follower's reconnect backoff (logbroker/cluster/backoff.py), Kafka's exponential backoff."""

from __future__ import annotations

import random

from logbroker.cluster.backoff import ReconnectBackoff


def test_the_wait_doubles_from_the_initial_up_to_the_maximum_with_20_percent_jitter() -> None:
    backoff = ReconnectBackoff(50, 1000, _random=random.Random(7))
    waits_ms = [backoff.next_wait_s() * 1000 for _ in range(8)]
    for wait, base in zip(waits_ms, [50, 100, 200, 400, 800, 1000, 1000, 1000], strict=True):
        assert 0.8 * base <= wait <= 1.2 * base, (wait, base)
    assert backoff.failures == 8
    assert len({round(w, 6) for w in waits_ms[5:]}) > 1  # jittered, not in step


def test_a_success_starts_the_count_again() -> None:
    backoff = ReconnectBackoff(50, 1000)
    for _ in range(10):
        backoff.next_wait_s()
    backoff.succeeded()
    assert backoff.failures == 0
    assert 40 <= backoff.next_wait_s() * 1000 <= 60


def test_an_initial_above_the_maximum_waits_the_initial() -> None:
    # Kafka's ExponentialBackoff: the ceiling is the larger of both.
    backoff = ReconnectBackoff(2000, 1000)
    assert 1600 <= backoff.next_wait_s() * 1000 <= 2400
