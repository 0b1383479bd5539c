"""The test suite's safety net for confluent consumers a test leaves open (tests/confluent_leftovers.py)."""

from __future__ import annotations

from confluent_kafka import Consumer

from tests import confluent_leftovers


def test_consumers_a_test_leaves_open_are_closed_and_closed_ones_left_alone() -> None:
    assert issubclass(Consumer, confluent_leftovers.ClosedAtTestEnd)  # what test modules import
    already = Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "left-open-before"})
    before = confluent_leftovers.opened()
    left = Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "left-open"})
    closed = Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "closed"})
    closed.close()
    assert confluent_leftovers.close_left_open(before) == 1
    assert id(left) not in confluent_leftovers.opened()
    assert id(already) in confluent_leftovers.opened()  # not this test's: left to its owner
    already.close()
    assert confluent_leftovers.close_left_open(before) == 0
