"""The consumer embedded protocol (logbroker/groups/assignment.py), checked against kafka-python's encoder."""

from __future__ import annotations

import pytest

from logbroker.groups.assignment import parse_assignment, parse_subscription
from logbroker.groups.schema import RecordFormatError
from tests.groups.fakes import assignment, subscription


def test_subscription_v0() -> None:
    assert parse_subscription(subscription("a", "b")).topics == ("a", "b")


def test_assignment_v0() -> None:
    assert parse_assignment(assignment({"a": [0, 2], "b": [1]})) == [("a", 0), ("a", 2), ("b", 1)]
    assert parse_assignment(b"") == []


def test_kafka_python_encodings() -> None:
    from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment as A
    from kafka.protocol.consumer.metadata import ConsumerProtocolSubscription as S

    sub = S(version=1, topics=["x", "y"], user_data=None, owned_partitions=[S.TopicPartition(topic="x",
                                                                                              partitions=[1, 2])])
    parsed = parse_subscription(bytes(sub.encode()))
    assert parsed.topics == ("x", "y") and parsed.owned_partitions == (("x", 1), ("x", 2))
    a = A(version=0, assigned_partitions=[A.TopicPartition(topic="x", partitions=[1, 2])], user_data=None)
    assert parse_assignment(bytes(a.encode())) == [("x", 1), ("x", 2)]


def test_truncated() -> None:
    with pytest.raises(RecordFormatError):
        parse_subscription(subscription("a")[:-3])
    with pytest.raises(RecordFormatError):
        parse_assignment(b"\x00")
