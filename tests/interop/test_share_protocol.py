"""Share groups (KIP-932) at the protocol level, on logbroker and on Apache Kafka 4.1 alike: records
acquired with a lock and a delivery count, ACCEPT / RELEASE / REJECT, redelivery after the lock
expires, archiving at the delivery-count limit, ShareGroupDescribe, and the share-group offsets admin
APIs. Driven with raw requests (``share_member.ShareMember``) so delivery counts and
acknowledgement results are visible; the client-level tests are test_share_groups.py (librdkafka)
and test_share_java.py (Kafka's Java client and tools)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerHandle
from tests.interop.rawclient import RawClient
from tests.interop.share_member import (
    ACCEPT,
    GROUP_RESOURCE,
    REJECT,
    RELEASE,
    ShareMember,
    set_group_config,
    topic_id,
)
from tests.interop.test_protocol_edges import create_topic

# Both brokers refuse to start with session timeouts, heartbeat intervals and lock durations below
# their minimums (45 s, 5 s, 15 s by default), so the minimums are lowered beside the values.
SHARE_FAST = {"group_share_session_timeout_ms": "6000", "group_share_min_session_timeout_ms": "1000",
              "group_share_heartbeat_interval_ms": "300", "group_share_min_heartbeat_interval_ms": "100",
              "group_share_record_lock_duration_ms": "2000", "group_share_min_record_lock_duration_ms": "1000",
              "offsets_topic_num_partitions": "1", "share_coordinator_state_topic_num_partitions": "1"}
INVALID_RECORD_STATE = 121
NON_EMPTY_GROUP = 68
GROUP_CONFIG_SOURCE = 8  # DescribeConfigs' ConfigSource of a group's own config (GROUP_CONFIG)


def setup(broker: BrokerHandle, topic: str, n: int, group: str) -> uuid.UUID:
    """A one-partition topic holding records b"0".."n-1", and ``group`` reading it from the start."""
    with RawClient(broker.port) as c:
        create_topic(c, topic, 1)
        set_group_config(c, group, "share.auto.offset.reset", "earliest")
        tid = topic_id(c, topic)
    produce(broker, topic, [b"%d" % i for i in range(n)])
    return tid


def produce(broker: BrokerHandle, topic: str, values: list[bytes]) -> None:
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for v in values:
        p.produce(topic, value=v)
    assert p.flush(30) == 0


def member(broker: BrokerHandle, group: str, topic: str, tid: uuid.UUID) -> ShareMember:
    m = ShareMember(broker.port, group, [topic])
    m.join(tid)
    return m


def start_offsets(broker: BrokerHandle, group: str) -> dict[str, Any]:
    with RawClient(broker.port) as c:
        body = c.call(ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, 0, {"groups": [{"group_id": group, "topics": None}]})
    return dict(body["groups"][0])


def start_offset(broker: BrokerHandle, group: str, topic: str) -> int:
    described = start_offsets(broker, group)
    return next(int(p["start_offset"]) for t in described["topics"] if t["topic_name"] == topic
                for p in t["partitions"] if p["partition_index"] == 0)


def wait_start_offset(broker: BrokerHandle, group: str, topic: str, want: int, timeout_s: float = 10) -> None:
    """The described start offset reaches ``want``. Checked on logbroker only: Kafka 4.1 describes the
    start offset of the last state its share-partition wrote to the share coordinator, and writes it
    before applying the acknowledgement that moves it, so it lags one write behind (docs/REFERENCE.md)."""
    if broker.kind != "logbroker":
        return
    deadline = time.monotonic() + timeout_s
    while start_offset(broker, group, topic) != want:
        assert time.monotonic() < deadline, f"start offset {start_offset(broker, group, topic)}, not {want}"
        time.sleep(0.1)


def drained(m: ShareMember, tid: uuid.UUID) -> bool:
    """True when a fetch that waits a while acquires nothing."""
    return not m.fetch(tid, max_wait_ms=800).values


def test_accept_release_reject(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    tid = setup(broker, "jobs", 6, "crew")
    m = member(broker, "crew", "jobs", tid)
    got = m.fetch_until(tid, 6)
    assert got.values == {i: b"%d" % i for i in range(6)}
    assert set(got.delivery_counts.values()) == {1}
    assert m.lock_timeout_ms == 2000
    acked = m.acknowledge(tid, [(0, 1, ACCEPT), (2, 3, RELEASE), (4, 5, REJECT)])
    assert acked["error_code"] == 0
    assert [p["error_code"] for t in acked["responses"] for p in t["partitions"]] == [0]
    again = m.fetch_until(tid, 2)
    assert again.values == {2: b"2", 3: b"3"} and again.delivery_counts == {2: 2, 3: 2}
    # Acknowledgements also ride on the next ShareFetch.
    piggy = m.fetch(tid, acks=[(2, 3, ACCEPT)], max_wait_ms=300)
    assert piggy.acknowledge_error_code == 0 and piggy.values == {}
    assert drained(m, tid)
    wait_start_offset(broker, "crew", "jobs", 6)
    m.close_session()
    m.leave()
    m.close()


def test_lock_expiry_redelivers_to_another_member(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    tid = setup(broker, "slow", 3, "crew")
    first = member(broker, "crew", "slow", tid)
    second = member(broker, "crew", "slow", tid)
    assert first.fetch_until(tid, 3).delivery_counts == {0: 1, 1: 1, 2: 1}
    assert second.fetch(tid, max_wait_ms=200).values == {}  # all locked by the first
    time.sleep(2.5)  # the 2 s lock expires
    redelivered = second.fetch_until(tid, 3)
    assert redelivered.delivery_counts == {0: 2, 1: 2, 2: 2}
    # The first member's late acknowledgement is refused: those records are no longer its.
    late = first.acknowledge(tid, [(0, 2, ACCEPT)])
    assert [p["error_code"] for t in late["responses"] for p in t["partitions"]] == [INVALID_RECORD_STATE]
    assert second.acknowledge(tid, [(0, 2, ACCEPT)])["responses"][0]["partitions"][0]["error_code"] == 0
    wait_start_offset(broker, "crew", "slow", 3)
    for m in (first, second):
        m.leave()
        m.close()


def _idle(m: ShareMember, seconds: float) -> None:
    """Hold records without acknowledging them, heartbeating as a client does meanwhile: the
    session (6 s) must outlive both lock expiries on a busy machine."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        m.heartbeat()
        time.sleep(min(0.3, max(0.0, until - time.monotonic())))


def test_delivery_count_limit_archives(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(group_share_delivery_count_limit="2", **SHARE_FAST)
    tid = setup(broker, "poison", 2, "crew")
    m = member(broker, "crew", "poison", tid)
    assert m.fetch_until(tid, 2).delivery_counts == {0: 1, 1: 1}
    m.acknowledge(tid, [(0, 0, RELEASE), (1, 1, ACCEPT)])
    assert m.fetch_until(tid, 1).delivery_counts == {0: 2}
    m.acknowledge(tid, [(0, 0, RELEASE)])  # the second delivery was the last: archived, not redelivered
    assert drained(m, tid)
    wait_start_offset(broker, "crew", "poison", 2)
    # A lock that expires on the last delivery archives the record too.
    produce(broker, "poison", [b"late"])
    assert m.fetch_until(tid, 1).delivery_counts == {2: 1}
    _idle(m, 2.5)  # past the 2 s lock
    assert m.fetch_until(tid, 1).delivery_counts == {2: 2}
    _idle(m, 2.5)
    assert drained(m, tid)
    wait_start_offset(broker, "crew", "poison", 3)
    m.leave()
    m.close()


def test_describe_and_delete_offsets(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    tid = setup(broker, "admin", 5, "ops")
    members = [member(broker, "ops", "admin", tid) for _ in range(2)]
    for m in members:
        m.heartbeat()
    with RawClient(broker.port) as c:
        described = describe(c, "ops")
    assert (described["error_code"], described["group_state"], described["assignor_name"]) == (0, "Stable", "simple")
    assert described["group_epoch"] >= 2 and described["assignment_epoch"] == described["group_epoch"]
    assert sorted(x["member_id"] for x in described["members"]) == sorted(m.member_id for m in members)
    for x in described["members"]:
        assert x["subscribed_topic_names"] == ["admin"] and x["client_id"] == "share-member"
        assert [(t["topic_id"], t["topic_name"], t["partitions"])
                for t in x["assignment"]["topic_partitions"]] == [(tid, "admin", [0])]
    got = members[0].fetch_until(tid, 5)
    assert sorted(got.values) == [0, 1, 2, 3, 4]
    members[0].acknowledge(tid, [(0, 4, ACCEPT)])
    for m in members:
        m.close_session()
        assert m.leave()["error_code"] == 0
        m.close()
    with RawClient(broker.port) as c:
        deadline = time.monotonic() + 10
        while (state := describe(c, "ops"))["group_state"] != "Empty":
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert state["members"] == []
        listed = start_offsets(broker, "ops")
        assert [(t["topic_name"], t["topic_id"], [p["partition_index"] for p in t["partitions"]])
                for t in listed["topics"]] == [("admin", tid, [0])]
        deleted = c.call(ApiKey.DELETE_SHARE_GROUP_OFFSETS, 0, {"group_id": "ops", "topics": [{"topic_name": "admin"}]})
        assert deleted["error_code"] == 0
        assert [(t["topic_name"], t["topic_id"], t["error_code"]) for t in deleted["responses"]] == [("admin", tid, 0)]
        assert start_offsets(broker, "ops")["topics"] == []
        gone = c.call(ApiKey.DELETE_GROUPS, 2, {"groups_names": ["ops"]})
        assert gone["results"][0]["error_code"] == 0
        assert describe(c, "ops")["error_code"] == 69  # GROUP_ID_NOT_FOUND


def describe(c: RawClient, group: str) -> dict[str, Any]:
    body = c.call(ApiKey.SHARE_GROUP_DESCRIBE, 1, {"group_ids": [group], "include_authorized_operations": False})
    return dict(body["groups"][0])


@pytest.mark.logbroker_only("Kafka 4.1.1 answers AlterShareGroupOffsets with no results and leaves the start "
                            "offset as it was; the API is completed in 4.2 (KAFKA-16717)")
def test_alter_start_offset(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    tid = setup(broker, "replay", 5, "ops")
    m = member(broker, "ops", "replay", tid)
    with RawClient(broker.port) as c:
        busy = c.call(ApiKey.ALTER_SHARE_GROUP_OFFSETS, 0, {"group_id": "ops", "topics": [
            {"topic_name": "replay", "partitions": [{"partition_index": 0, "start_offset": 3}]}]})
        assert busy["error_code"] == NON_EMPTY_GROUP  # the start offset moves only while the group is empty
    got = m.fetch_until(tid, 5)
    m.fetch(tid, acks=[(0, 4, ACCEPT)], max_wait_ms=0)
    m.close_session()
    m.leave()
    m.close()
    assert sorted(got.values) == [0, 1, 2, 3, 4]
    wait_start_offset(broker, "ops", "replay", 5)
    with RawClient(broker.port) as c:
        moved = c.call(ApiKey.ALTER_SHARE_GROUP_OFFSETS, 0, {"group_id": "ops", "topics": [
            {"topic_name": "replay", "partitions": [{"partition_index": 0, "start_offset": 2}]}]})
    assert moved["error_code"] == 0
    assert [(t["topic_name"], t["topic_id"], [p["error_code"] for p in t["partitions"]])
            for t in moved["responses"]] == [("replay", tid, [0])]
    wait_start_offset(broker, "ops", "replay", 2)
    again = member(broker, "ops", "replay", tid)
    assert sorted(again.fetch_until(tid, 3).values) == [2, 3, 4]
    again.leave()
    again.close()



def test_deleting_a_share_group_keeps_its_configs(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """DeleteGroups deletes the group and its share-partitions' state but not its configs (Kafka 4.1.1
    keeps them until an admin deletes them): described as before, and a member joining the id again
    starts from them (share.auto.offset.reset earliest: every record, delivered once)."""
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    tid = setup(broker, "kept", 3, "again")
    first = member(broker, "again", "kept", tid)
    got = first.fetch_until(tid, 3)
    first.acknowledge(tid, [(0, 2, ACCEPT)])
    first.close_session()
    assert first.leave()["error_code"] == 0
    first.close()
    with RawClient(broker.port) as c:
        def described() -> list[tuple[str, str, int]]:
            body = c.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
                {"resource_type": GROUP_RESOURCE, "resource_name": "again",
                 "configuration_keys": ["share.auto.offset.reset"]}],
                "include_synonyms": False, "include_documentation": False})["results"][0]
            assert body["error_code"] == 0, body
            return [(e["name"], e["value"], e["config_source"]) for e in body["configs"]]

        before = described()
        assert before == [("share.auto.offset.reset", "earliest", GROUP_CONFIG_SOURCE)]
        deadline = time.monotonic() + 10
        while (gone := c.call(ApiKey.DELETE_GROUPS, 2, {"groups_names": ["again"]}))["results"][0]["error_code"]:
            assert gone["results"][0]["error_code"] == NON_EMPTY_GROUP and time.monotonic() < deadline, gone
            time.sleep(0.2)  # Kafka empties the group a moment after the leave is answered
        assert describe(c, "again")["error_code"] == 69  # GROUP_ID_NOT_FOUND
        assert described() == before
    second = member(broker, "again", "kept", tid)
    assert second.fetch_until(tid, 3).values == got.values  # from the start again, as configured
    second.leave()
    second.close()


def test_by_duration_starts_a_share_partition_at_the_first_record_that_young(  # type: ignore[no-untyped-def]
        broker_factory) -> None:
    """share.auto.offset.reset by_duration:PT1H (KIP-1106): the share-partition starts at the first
    record whose timestamp is at most an hour old, so three records stamped two hours ago are
    never delivered and the three stamped now are; a negative duration is INVALID_CONFIG."""
    broker: BrokerHandle = broker_factory(**SHARE_FAST)
    now_ms = int(time.time() * 1000)
    with RawClient(broker.port) as c:
        create_topic(c, "aged", 1)
        set_group_config(c, "recent", "share.auto.offset.reset", "by_duration:PT1H")
        refused = c.call(ApiKey.INCREMENTAL_ALTER_CONFIGS, 1, {"resources": [
            {"resource_type": GROUP_RESOURCE, "resource_name": "recent",
             "configs": [{"name": "share.auto.offset.reset", "config_operation": 0, "value": "by_duration:-PT1H"}]}],
            "validate_only": False})["responses"][0]
        tid = topic_id(c, "aged")
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(6):
        p.produce("aged", value=b"%d" % i, timestamp=now_ms - 7_200_000 if i < 3 else now_ms)
    assert p.flush(30) == 0
    m = member(broker, "recent", "aged", tid)
    got = m.fetch_until(tid, 3)
    assert got.values == {3: b"3", 4: b"4", 5: b"5"}
    assert drained(m, tid)
    m.close_session()
    m.leave()
    m.close()
    assert refused["error_code"] == ErrorCode.INVALID_CONFIG, refused
    assert "by_duration:<PnDTnHnMn.nS" in (refused["error_message"] or ""), refused
