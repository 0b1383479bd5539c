"""The consumer embedded protocol (logbroker/groups/assignment.py), checked against kafka-python's encoder."""

from __future__ import annotations

import pytest

from logbroker.groups.assignment import (
    Subscription,
    encode_assignment,
    encode_subscription,
    parse_assignment,
    parse_subscription,
)
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


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_every_version_matches_kafka_python_both_ways(version: int) -> None:
    from kafka.protocol.consumer.metadata import ConsumerProtocolAssignment as A
    from kafka.protocol.consumer.metadata import ConsumerProtocolSubscription as S

    owned = [S.TopicPartition(topic="x", partitions=[1, 2])] if version >= 1 else []
    theirs = S(version=version, topics=["x", "y"], user_data=b"ud", owned_partitions=owned)
    ours = Subscription(("x", "y"), (("x", 1), ("x", 2)) if version >= 1 else ())
    assert encode_subscription(ours, version, b"ud") == bytes(theirs.encode())
    parsed = parse_subscription(bytes(theirs.encode()))
    assert parsed == ours
    a = A(version=version, assigned_partitions=[A.TopicPartition(topic="x", partitions=[1, 2]),
                                               A.TopicPartition(topic="z", partitions=[0])], user_data=None)
    assert encode_assignment([("x", 1), ("x", 2), ("z", 0)], version) == bytes(a.encode())
    assert parse_assignment(bytes(a.encode())) == [("x", 1), ("x", 2), ("z", 0)]


def test_newer_versions_are_read_as_v3() -> None:
    v3 = encode_subscription(Subscription(("t",), (("t", 0),)), 3)
    v9 = b"\x00\x09" + v3[2:] + b"fields of a later version"
    assert parse_subscription(v9) == Subscription(("t",), (("t", 0),))
    with pytest.raises(RecordFormatError):
        parse_subscription(b"\xff\xff" + v3[2:])


def test_encoders_round_trip() -> None:
    sub = Subscription(("a", "b"), (("a", 0), ("b", 3), ("a", 1)))
    assert parse_subscription(encode_subscription(sub)).owned_partitions == (("a", 0), ("a", 1), ("b", 3))
    assert parse_assignment(encode_assignment([])) == []
