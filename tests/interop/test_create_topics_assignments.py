"""CreateTopics with an explicit replica assignment on a single broker, on both brokers: accepted when
every replica is the broker itself, refused with Kafka 4.1's codes and messages otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerHandle, launch_broker
from tests.interop.rawclient import RawClient, wait_for_leaders

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[BrokerHandle]:
    base = tmp_path_factory.mktemp("assignments")
    b = launch_broker(broker_kind, base / "data", base / "broker.log", {})
    yield b
    b.stop()


def _node_id(c: RawClient) -> int:
    meta = c.call(ApiKey.METADATA, 12, {"topics": [], "allow_auto_topic_creation": False,
                                        "include_topic_authorized_operations": False})
    (only,) = meta["brokers"]
    return int(only["node_id"])


def _create(c: RawClient, assignments: list[tuple[int, list[int]]], *, partitions: int = -1,
            replication_factor: int = -1, validate_only: bool = False) -> tuple[str, dict[str, Any]]:
    name = f"assigned-{uuid.uuid4().hex[:8]}"
    body = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [{
        "name": name, "num_partitions": partitions, "replication_factor": replication_factor,
        "assignments": [{"partition_index": i, "broker_ids": ids} for i, ids in assignments], "configs": []}],
        "timeout_ms": 10000, "validate_only": validate_only})
    return name, body["topics"][0]


def test_an_assignment_naming_only_this_broker_creates_the_topic(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        me = _node_id(c)
        name, answer = _create(c, [(1, [me]), (0, [me]), (2, [me])])
        assert (answer["error_code"], answer["num_partitions"], answer["replication_factor"]) == (0, 3, 1), answer
        wait_for_leaders(c, name, 3)
        meta = c.call(ApiKey.METADATA, 12, {"topics": [{"name": name, "topic_id": None}],
                                            "allow_auto_topic_creation": False,
                                            "include_topic_authorized_operations": False})
        assert sorted((p["partition_index"], p["replica_nodes"]) for p in meta["topics"][0]["partitions"]) == \
            [(0, [me]), (1, [me]), (2, [me])]
        _, dry = _create(c, [(0, [me])], validate_only=True)
        assert (dry["error_code"], dry["num_partitions"]) == (0, 1)


def test_a_bad_assignment_is_refused_as_kafka_refuses_it(broker: BrokerHandle) -> None:
    with RawClient(broker.port) as c:
        me = _node_id(c)
        other = me + 100
        refused: dict[str, tuple[list[tuple[int, list[int]]], int, str]] = {
            "another broker": ([(0, [other])], ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                               f"The manual partition assignment includes broker {other}, but no such broker is "
                               "registered."),
            "this broker twice": ([(0, [me, me])], ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                  f"The manual partition assignment includes the broker {me} more than once."),
            "no replica": ([(0, [])], ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                           "The manual partition assignment includes an empty replica list."),
            "a partition twice": ([(0, [me]), (0, [me])], ErrorCode.INVALID_REPLICA_ASSIGNMENT,
                                  "Found multiple manual partition assignments for partition 0"),
        }
        names = []
        for what, (assignments, code, message) in refused.items():
            name, answer = _create(c, assignments)
            names.append(name)
            assert (answer["error_code"], answer["error_message"]) == (code, message), what
        name, gap = _create(c, [(0, [me]), (2, [me])])
        names.append(name)
        assert (gap["error_code"], gap["error_message"]) == (
            ErrorCode.INVALID_REPLICA_ASSIGNMENT, "partitions should be a consecutive 0-based integer sequence"), gap
        name, with_count = _create(c, [(0, [me])], partitions=1)
        names.append(name)
        assert (with_count["error_code"], with_count["error_message"]) == (
            ErrorCode.INVALID_REQUEST, "A manual partition assignment was specified, but numPartitions was not "
                                       "set to -1."), with_count
        name, with_factor = _create(c, [(0, [me])], replication_factor=1)
        names.append(name)
        assert (with_factor["error_code"], with_factor["error_message"]) == (
            ErrorCode.INVALID_REQUEST, "A manual partition assignment was specified, but replication factor was "
                                       "not set to -1."), with_factor
        listed = c.call(ApiKey.METADATA, 12, {"topics": None, "allow_auto_topic_creation": False,
                                              "include_topic_authorized_operations": False})
        assert not {t["name"] for t in listed["topics"]} & set(names)  # nothing refused was created
