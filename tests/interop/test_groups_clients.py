"""Consumer groups with librdkafka (confluent-kafka, eager ``range`` and ``cooperative-sticky``),
aiokafka and ``kcat -G`` against a real `logbroker serve`; bad group requests on the wire."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import BrokerHandle, require_tool

FAST = {"group_initial_rebalance_delay_ms": "0", "offsets_topic_num_partitions": "4"}


def create_and_fill(broker: BrokerHandle, topic: str, partitions: int, n: int) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(20)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 10})
    for i in range(n):
        p.produce(topic, value=b"%d" % i, partition=i % partitions)
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def rd_consumer(broker: BrokerHandle, group: str, strategy: str, **extra: object) -> Consumer:
    conf: dict[str, object] = {"bootstrap.servers": broker.bootstrap, "group.id": group,
                               "auto.offset.reset": "earliest", "enable.auto.commit": False,
                               "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                               "partition.assignment.strategy": strategy}
    conf.update(extra)
    return Consumer(conf)


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_confluent_two_members_split_and_resume(broker_factory, strategy: str) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory(**FAST)
    topic = f"rd-{strategy}"
    create_and_fill(broker, topic, 4, 20_000)
    members = [rd_consumer(broker, "rd-group", strategy) for _ in range(2)]
    for m in members:
        m.subscribe([topic])
    seen: list[tuple[int | None, int | None]] = []
    deadline = time.monotonic() + 60
    while len(set(seen)) < 20_000 and time.monotonic() < deadline:
        for m in members:
            msgs = m.consume(num_messages=1000, timeout=0.1)
            good = [x for x in msgs if x.error() is None]
            seen += [(x.partition(), x.offset()) for x in good]
            if good:
                m.commit(asynchronous=False)
    # both members settle with two partitions each
    while time.monotonic() < deadline and sorted(len(m.assignment()) for m in members) != [2, 2]:
        for m in members:
            m.consume(num_messages=100, timeout=0.1)
    assert sorted(len(m.assignment()) for m in members) == [2, 2]
    assert len(seen) == 20_000 and len(set(seen)) == 20_000  # each record exactly once
    for m in members:
        m.close()
    # resume from committed offsets: nothing left to read, new records only
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(8):
        p.produce(topic, value=b"late", partition=i % 4)
    p.flush(10)
    c = rd_consumer(broker, "rd-group", strategy)
    c.subscribe([topic])
    late: list[bytes | None] = []
    deadline = time.monotonic() + 30
    while len(late) < 8 and time.monotonic() < deadline:
        late += [x.value() for x in c.consume(num_messages=100, timeout=0.2) if x.error() is None]
    committed = c.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    c.close()
    assert late == [b"late"] * 8
    assert sum(tp.offset for tp in committed) == 20_000


def test_confluent_commit_metadata_round_trip(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory(**FAST)
    create_and_fill(broker, "meta", 1, 5)
    c = rd_consumer(broker, "meta-group", "range")
    c.commit(offsets=[TopicPartition("meta", 0, 3, metadata="state-123")], asynchronous=False)
    got = c.committed([TopicPartition("meta", 0)], timeout=10)[0]
    assert (got.offset, got.metadata) == (3, "state-123")
    with pytest.raises(KafkaException):
        c.commit(offsets=[TopicPartition("meta", 0, 4, metadata="x" * 5000)], asynchronous=False)
    c.close()


def test_aiokafka_group_consumes_and_resumes(broker_factory) -> None:  # type: ignore[no-untyped-def]
    aiokafka = pytest.importorskip("aiokafka")
    broker = broker_factory(**FAST)
    create_and_fill(broker, "aio", 3, 3000)

    async def run(want: int) -> list[tuple[int, int]]:
        consumer = aiokafka.AIOKafkaConsumer("aio", bootstrap_servers=broker.bootstrap, group_id="aio-group",
                                             auto_offset_reset="earliest", enable_auto_commit=False,
                                             session_timeout_ms=6000, heartbeat_interval_ms=1000)
        await consumer.start()
        got: list[tuple[int, int]] = []
        try:
            deadline = time.monotonic() + 30
            while len(got) < want and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                for tp, msgs in batches.items():
                    got += [(tp.partition, m.offset) for m in msgs]
                if batches:
                    await consumer.commit()
        finally:
            await consumer.stop()
        return got

    first = asyncio.run(run(3000))
    assert len(first) == 3000 and len(set(first)) == 3000
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(3):
        p.produce("aio", value=b"more", partition=i)
    p.flush(10)
    assert sorted(asyncio.run(run(3))) == [(0, 1000), (1, 1000), (2, 1000)]


def test_kcat_balanced_consumer(broker_factory) -> None:  # type: ignore[no-untyped-def]
    kcat = require_tool("kcat")
    broker = broker_factory(**FAST)
    create_and_fill(broker, "kc", 2, 200)
    # (-o would override the committed offsets; a new group starts at the beginning through auto.offset.reset)
    cmd = [kcat, "-b", broker.bootstrap, "-G", "kc-group", "-f", "%p %o\n", "-X", "auto.offset.reset=earliest",
           "-X", "session.timeout.ms=6000"]
    out = subprocess.run([*cmd, "-c", "200", "kc"], capture_output=True, timeout=60, check=True).stdout.decode()
    got = Counter(tuple(map(int, line.split())) for line in out.splitlines() if line.strip())
    assert len(got) == 200 and set(got.values()) == {1}
    # the same group again: resumes after the committed offsets
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce("kc", value=b"x", partition=1)
    p.flush(10)
    out = subprocess.run([*cmd, "-c", "1", "kc"], capture_output=True, timeout=60, check=True).stdout.decode()
    assert out.split() == ["1", "100"]


def test_bad_group_requests_get_kafka_errors(broker_factory) -> None:  # type: ignore[no-untyped-def]
    from logbroker.kafka.api_keys import ApiKey
    from logbroker.kafka.error_codes import ErrorCode as E
    from tests.interop.rawclient import RawClient

    broker = broker_factory(**FAST)
    create_and_fill(broker, "bad", 1, 1)
    with RawClient(broker.port) as raw:
        # Kafka answers COORDINATOR_NOT_AVAILABLE until __consumer_offsets exists and is loaded; clients retry.
        deadline = time.monotonic() + 20
        while True:
            found = raw.call(ApiKey.FIND_COORDINATOR, 4, {"key_type": 0, "coordinator_keys": ["g", "h"]})
            codes = {c["error_code"] for c in found["coordinators"]}
            if codes != {E.COORDINATOR_NOT_AVAILABLE} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [(c["key"], c["node_id"], c["port"], c["error_code"]) for c in found["coordinators"]] == [
            ("g", 0, broker.port, 0), ("h", 0, broker.port, 0)]
        assert raw.call(ApiKey.FIND_COORDINATOR, 1, {"key": "g", "key_type": 0})["port"] == broker.port
        join = {"group_id": "g", "session_timeout_ms": 6000, "rebalance_timeout_ms": 6000, "member_id": "",
                "group_instance_id": None, "protocol_type": "consumer",
                "protocols": [{"name": "range", "metadata": b""}], "reason": None}
        while True:  # the coordinator may still be loading its partition of __consumer_offsets
            first = raw.call(ApiKey.JOIN_GROUP, 7, join)
            if first["error_code"] not in (E.NOT_COORDINATOR, E.COORDINATOR_LOAD_IN_PROGRESS) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert first["error_code"] == E.MEMBER_ID_REQUIRED and first["member_id"]
        joined = raw.call(ApiKey.JOIN_GROUP, 7, {**join, "member_id": first["member_id"]})
        assert joined["error_code"] == 0 and joined["generation_id"] == 1 and joined["leader"] == first["member_id"]
        member = joined["member_id"]
        assert raw.call(ApiKey.JOIN_GROUP, 7, {**join, "session_timeout_ms": 1})["error_code"] == \
            E.INVALID_SESSION_TIMEOUT
        assert raw.call(ApiKey.JOIN_GROUP, 7, {**join, "protocol_type": "connect"})["error_code"] == \
            E.INCONSISTENT_GROUP_PROTOCOL
        sync = {"group_id": "g", "generation_id": 1, "member_id": member, "group_instance_id": None,
                "protocol_type": "consumer", "protocol_name": "range",
                "assignments": [{"member_id": member, "assignment": b"\x00\x01plan"}]}
        assert raw.call(ApiKey.SYNC_GROUP, 5, {**sync, "generation_id": 9})["error_code"] == E.ILLEGAL_GENERATION
        assert raw.call(ApiKey.SYNC_GROUP, 5, sync)["assignment"] == b"\x00\x01plan"
        hb = {"group_id": "g", "generation_id": 1, "member_id": member, "group_instance_id": None}
        assert raw.call(ApiKey.HEARTBEAT, 4, hb)["error_code"] == 0
        assert raw.call(ApiKey.HEARTBEAT, 4, {**hb, "generation_id": 0})["error_code"] == E.ILLEGAL_GENERATION
        assert raw.call(ApiKey.HEARTBEAT, 4, {**hb, "member_id": "who"})["error_code"] == E.UNKNOWN_MEMBER_ID
        assert raw.call(ApiKey.HEARTBEAT, 0, {**hb, "group_id": "nope"})["error_code"] == E.UNKNOWN_MEMBER_ID
        commit = {"group_id": "g", "generation_id_or_member_epoch": 0, "member_id": member,
                  "group_instance_id": None, "topics": [{"name": "bad", "partitions": [
                      {"partition_index": 0, "committed_offset": 1, "committed_leader_epoch": -1,
                       "committed_metadata": "m"}]}]}
        codes = raw.call(ApiKey.OFFSET_COMMIT, 8, commit)["topics"][0]["partitions"][0]["error_code"]
        assert codes == E.ILLEGAL_GENERATION
        ok = raw.call(ApiKey.OFFSET_COMMIT, 8, {**commit, "generation_id_or_member_epoch": 1})
        assert ok["topics"][0]["partitions"][0]["error_code"] == 0
        fetched = raw.call(ApiKey.OFFSET_FETCH, 8, {"groups": [{"group_id": "g", "topics": None}],
                                                    "require_stable": True})
        part = fetched["groups"][0]["topics"][0]["partitions"][0]
        assert (part["committed_offset"], part["metadata"], part["error_code"]) == (1, "m", 0)
        described = raw.call(ApiKey.DESCRIBE_GROUPS, 5, {"groups": ["g", "nope"],
                                                         "include_authorized_operations": False})["groups"]
        assert [(d["group_state"], d["error_code"]) for d in described] == [("Stable", 0), ("Dead", 0)]
        listed = raw.call(ApiKey.LIST_GROUPS, 4, {"states_filter": ["Empty"]})
        assert listed["error_code"] == 0 and listed["groups"] == []
        assert raw.call(ApiKey.DELETE_GROUPS, 2, {"groups_names": ["g", "nope"]})["results"] == [
            {"group_id": "g", "error_code": E.NON_EMPTY_GROUP},
            {"group_id": "nope", "error_code": E.GROUP_ID_NOT_FOUND}]
        left = raw.call(ApiKey.LEAVE_GROUP, 5, {"group_id": "g", "members": [
            {"member_id": member, "group_instance_id": None, "reason": None},
            {"member_id": "ghost", "group_instance_id": None, "reason": None}]})
        assert [m["error_code"] for m in left["members"]] == [0, E.UNKNOWN_MEMBER_ID]
        assert raw.call(ApiKey.LEAVE_GROUP, 1, {"group_id": "g", "member_id": "ghost"})["error_code"] == \
            E.UNKNOWN_MEMBER_ID
        # the broker is still serving
        assert raw.call(ApiKey.LIST_GROUPS, 4, {"states_filter": ["Empty"]})["groups"][0]["group_id"] == "g"


def test_static_member_restart_keeps_its_partitions_without_a_rebalance(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """KIP-345: a static member (``group.instance.id``) that restarts within its session timeout gets
    its assignment back and the other member sees no revocation and no new assignment (Kafka replaces
    the old member id and answers the rejoin with the current generation)."""
    broker = broker_factory(**FAST)
    topic = "static"
    create_and_fill(broker, topic, 4, 100)
    events: dict[str, list[tuple[str, list[int]]]] = {"a": [], "b": [], "b2": []}

    def member(name: str, instance: str) -> Consumer:
        c = rd_consumer(broker, "static-group", "range", **{"group.instance.id": instance,
                                                           "session.timeout.ms": 20_000})

        def assigned(_c: Consumer, parts: list[TopicPartition]) -> None:
            events[name].append(("assign", sorted(p.partition for p in parts)))

        def revoked(_c: Consumer, parts: list[TopicPartition]) -> None:
            events[name].append(("revoke", sorted(p.partition for p in parts)))

        c.subscribe([topic], on_assign=assigned, on_revoke=revoked)
        return c

    def settle(members: list[Consumer], want: list[int], seconds: float) -> list[int]:
        deadline = time.monotonic() + seconds
        sizes: list[int] = []
        while time.monotonic() < deadline:
            for m in members:
                m.consume(num_messages=100, timeout=0.1)
            sizes = sorted(len(m.assignment()) for m in members)
            if sizes == want:
                break
        return sizes

    a = member("a", "instance-a")
    assert settle([a], [4], 30) == [4]  # a joins first: it is the leader
    b = member("b", "instance-b")
    assert settle([a, b], [2, 2], 30) == [2, 2]
    b_partitions = sorted(p.partition for p in b.assignment())
    settle([a, b], [9], 2)  # both stable for a while: no rebalance in flight
    a_before = list(events["a"])
    b.close()  # a static member leaves no LeaveGroup behind: the broker keeps its place

    b2 = member("b2", "instance-b")
    assert settle([a, b2], [2, 2], 30) == [2, 2]
    assert sorted(p.partition for p in b2.assignment()) == b_partitions
    settle([a, b2], [9], 3)  # a rebalance, if one were started, would reach a by now
    assert events["a"] == a_before, events["a"]  # no revocation, no new generation for a
    assert events["b2"] == [("assign", b_partitions)]
    a.close()
    b2.close()
