"""Share groups (KIP-932) with librdkafka's ShareConsumer (confluent-kafka 2.16) against a real
`logbroker serve`: consumers sharing one partition each get distinct records, acknowledged records are
not delivered again, records of a consumer closed without acknowledging them go to the others, and
the start offset is described and altered with the admin APIs (raw requests, as kafka-share-groups
sends them)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, NewTopic

from logbroker.kafka.api_keys import ApiKey
from tests.conftest import BrokerProcess
from tests.interop.rawclient import RawClient
from tests.interop.share_member import RETRIABLE, find_coordinator, kafka_uuid

# librdkafka 2.16 generates member ids in standard base64, so about half hold '+' or '/'; Kafka 4.1.1
# parses a ShareFetch's member id as a URL-safe UUID and answers those with UNKNOWN_SERVER_ERROR
# (KAFKA-19846, fixed after 4.1.1). The same outcomes are compared on both brokers with raw requests
# in test_share_protocol.py and with Kafka's Java client in test_share_java.py.
LIBRDKAFKA_ON_KAFKA_411 = pytest.mark.logbroker_only(
    "Kafka 4.1.1 refuses ShareFetch from librdkafka member ids holding '+' or '/' (KAFKA-19846)")


def _offset(m: Any) -> int:
    offset = m.offset()
    assert offset is not None
    return int(offset)


# Kafka refuses session timeouts, heartbeat intervals and lock durations below its minimums
# (45 s, 5 s, 15 s by default), so the minimums are lowered beside the values.
FAST = {"group_share_session_timeout_ms": "3000", "group_share_min_session_timeout_ms": "1000",
        "group_share_heartbeat_interval_ms": "300", "group_share_min_heartbeat_interval_ms": "100",
        "group_share_record_lock_duration_ms": "2000", "group_share_min_record_lock_duration_ms": "1000",
        "offsets_topic_num_partitions": "2", "share_coordinator_state_topic_num_partitions": "2"}


def setup_topic(broker: BrokerProcess, topic: str, n: int) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(20)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, value=b"%d" % i)
    assert p.flush(30) == 0


def start_at(broker: BrokerProcess, group: str, topic: str, offset: int) -> dict[str, Any]:
    with RawClient(broker.port) as raw:
        return raw.call(ApiKey.ALTER_SHARE_GROUP_OFFSETS, 0, {"group_id": group, "topics": [
            {"topic_name": topic, "partitions": [{"partition_index": 0, "start_offset": offset}]}]})


def start_offset(broker: BrokerProcess, group: str, topic: str) -> int:
    with RawClient(broker.port) as raw:
        r = raw.call(ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, 0, {"groups": [{"group_id": group, "topics": None}]})
    parts = {(t["topic_name"], p["partition_index"]): p["start_offset"]
             for g in r["groups"] for t in g["topics"] for p in t["partitions"]}
    return int(parts[(topic, 0)])


def consumer(broker: BrokerProcess, group: str, topic: str, explicit: bool = False) -> ShareConsumer:
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group}
    if explicit:
        conf["share.acknowledgement.mode"] = "explicit"
    c = ShareConsumer(conf)
    c.subscribe([topic])
    return c


@LIBRDKAFKA_ON_KAFKA_411
def test_share_consumers_split_a_partition_and_acks_stick(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(**FAST)
    setup_topic(broker, "jobs", 60)
    assert start_at(broker, "workers", "jobs", 0)["error_code"] == 0
    consumers = [consumer(broker, "workers", "jobs") for _ in range(3)]
    seen: dict[int, list[int]] = {}
    deadline = time.time() + 30
    while time.time() < deadline and len(seen) < 60:
        for i, c in enumerate(consumers):
            for m in c.poll(0.3):
                assert m.error() is None, m.error()
                seen.setdefault(_offset(m), []).append(i)
    for c in consumers:
        c.commit_sync(10)  # implicit mode: what the last poll returned is accepted
        c.close()
    assert sorted(seen) == list(range(60))
    assert all(len(who) == 1 for who in seen.values()), {o: w for o, w in seen.items() if len(w) > 1}
    deadline = time.time() + 10
    while time.time() < deadline and start_offset(broker, "workers", "jobs") != 60:
        time.sleep(0.2)
    assert start_offset(broker, "workers", "jobs") == 60
    # Nothing acknowledged comes back, also after a restart.
    broker.restart()
    assert start_offset(broker, "workers", "jobs") == 60
    late = consumer(broker, "workers", "jobs")
    assert [m.offset() for m in late.poll(2)] == []
    late.close()


@LIBRDKAFKA_ON_KAFKA_411
def test_records_of_a_closed_consumer_are_redelivered(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(**FAST)
    setup_topic(broker, "tasks", 5)
    start_at(broker, "q", "tasks", 0)
    first = consumer(broker, "q", "tasks", explicit=True)
    got: list[int] = []
    deadline = time.time() + 15
    while time.time() < deadline and not got:
        got = [_offset(m) for m in first.poll(0.5)]
    assert got
    first.close()  # nothing acknowledged: the records are released
    second = consumer(broker, "q", "tasks")
    again: list[int] = []
    deadline = time.time() + 15
    while time.time() < deadline and len(again) < 5:
        again += [_offset(m) for m in second.poll(0.5)]
    second.close()
    assert set(got) <= set(again) and sorted(again) == list(range(5))


@LIBRDKAFKA_ON_KAFKA_411
def test_explicit_acks_on_several_partitions(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """Acknowledgements ride on the next ShareFetch; a partition answered with only its
    acknowledgement result still carries (empty) records, which librdkafka requires."""
    broker: BrokerProcess = broker_factory(**FAST)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("multi", 4, 1)])["multi"].result(20)
    with RawClient(broker.port) as raw:
        raw.call(ApiKey.ALTER_SHARE_GROUP_OFFSETS, 0, {"group_id": "acks", "topics": [
            {"topic_name": "multi", "partitions": [{"partition_index": p, "start_offset": 0} for p in range(4)]}]})
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(200):
        producer.produce("multi", value=b"%d" % i, partition=i % 4)
    assert producer.flush(30) == 0
    consumers = [consumer(broker, "acks", "multi", explicit=True) for _ in range(2)]
    acked: list[int] = []
    failures: list[object] = []

    def on_commit(offsets: dict[Any, set[int]], exc: object) -> None:
        if exc is not None:
            failures.append(exc)
        acked.extend(o for found in offsets.values() for o in found)

    for c in consumers:
        c.set_acknowledgement_commit_callback(on_commit)
    seen: list[int] = []
    deadline = time.time() + 20
    while time.time() < deadline and (len(seen) < 200 or len(acked) < 200):
        for c in consumers:  # once all are seen, polls only carry acknowledgements
            for m in c.poll(0.2):
                assert m.error() is None, m.error()
                seen.append(int(m.value() or b""))
                c.acknowledge(m)
    for c in consumers:
        c.close()
    assert sorted(seen) == list(range(200))
    assert not failures and len(acked) == 200


def test_protocol_refusals(broker: BrokerProcess) -> None:
    """What a client gets for requests outside the protocol's rules (ShareGroupDescribe's and
    ShareGroupHeartbeat's answers as Apache Kafka 4.1 gives them)."""
    with RawClient(broker.port) as raw:
        find_coordinator(raw, "nope", time.monotonic() + 30)  # Kafka creates __consumer_offsets on the first
        deadline = time.monotonic() + 30
        while True:  # Kafka answers COORDINATOR_LOAD_IN_PROGRESS while __consumer_offsets loads
            group = raw.call(ApiKey.SHARE_GROUP_DESCRIBE, 1, {"group_ids": ["nope"],
                                                             "include_authorized_operations": False})["groups"][0]
            if group["error_code"] not in RETRIABLE or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert (group["error_code"], group["group_state"], group["group_epoch"]) == (69, "", 0)
        beat = raw.call(ApiKey.SHARE_GROUP_HEARTBEAT, 1, {"group_id": "g", "member_id": "", "member_epoch": 0,
                                                          "rack_id": None, "subscribed_topic_names": ["t"]})
        assert beat["error_code"] == 42 and beat["assignment"] is None
        member_id = kafka_uuid()  # a member id in Kafka's form (KAFKA-19846)
        fetch = raw.call(ApiKey.SHARE_FETCH, 1, {
            "group_id": "g", "member_id": member_id, "share_session_epoch": 5, "max_wait_ms": 0, "min_bytes": 1,
            "max_bytes": 1000, "max_records": 5, "batch_size": 5, "topics": [], "forgotten_topics_data": []})
        assert fetch["error_code"] == 122  # SHARE_SESSION_NOT_FOUND
        ack = raw.call(ApiKey.SHARE_ACKNOWLEDGE, 1, {"group_id": "g", "member_id": member_id, "share_session_epoch": 0,
                                                     "topics": []})
        assert ack["error_code"] == 123  # INVALID_SHARE_SESSION_EPOCH: acknowledging cannot open a session
