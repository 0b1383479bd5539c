"""Tests for logbroker/kafka/error_codes.py against kafka-python's copy of Kafka's error table."""

from __future__ import annotations

import inspect
from typing import Any

import kafka.errors

from logbroker.kafka.error_codes import RETRIABLE, ErrorCode

# kafka-python spells a few codes differently from Kafka's Errors.java.
KAFKA_PYTHON_NAMES = {
    "UNKNOWN_SERVER_ERROR": "UNKNOWN",
    "NONE": "NO_ERROR",
    "NOT_LEADER_OR_FOLLOWER": "NOT_LEADER_FOR_PARTITION",
    "MESSAGE_TOO_LARGE": "MESSAGE_SIZE_TOO_LARGE",
    "INVALID_TOPIC_EXCEPTION": "INVALID_TOPIC",
    "INVALID_REPLICA_ASSIGNMENT": "INVALID_REPLICATION_ASSIGNMENT",
}
# Errors.java marks CorruptRecordException retriable; kafka-python does not.
RETRIABLE_DIFFERENCES = {ErrorCode.CORRUPT_MESSAGE}


def _kafka_python_table() -> dict[int, tuple[str, bool]]:
    table: dict[int, tuple[str, bool]] = {}
    cls: Any
    for _, cls in inspect.getmembers(kafka.errors, inspect.isclass):
        if issubclass(cls, kafka.errors.BrokerResponseError) and getattr(cls, "errno", None) is not None:
            table[cls.errno] = (cls.message, cls.retriable)
    return table


def test_codes_and_names_match_kafka() -> None:
    theirs = _kafka_python_table()
    assert int(ErrorCode.UNSUPPORTED_VERSION) == 35
    assert int(ErrorCode.TOPIC_ALREADY_EXISTS) == 36
    assert int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) == 3
    assert max(ErrorCode) >= 120
    for code in ErrorCode:
        if code in theirs:
            name, retriable = theirs[code]
            assert KAFKA_PYTHON_NAMES.get(code.name, code.name) == name
            if code not in RETRIABLE_DIFFERENCES:
                assert code.retriable == retriable, code
    assert set(theirs) <= {int(c) for c in ErrorCode}


def test_retriable_set() -> None:
    assert ErrorCode.NOT_LEADER_OR_FOLLOWER.retriable
    assert ErrorCode.CORRUPT_MESSAGE in RETRIABLE
    assert not ErrorCode.UNSUPPORTED_VERSION.retriable
    assert not ErrorCode.NONE.retriable
