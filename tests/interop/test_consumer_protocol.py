"""The KIP-848 consumer group protocol with librdkafka (confluent-kafka, ``group.protocol=consumer``)
against a real `logbroker serve`: the broker assigns partitions, members join and leave while records
flow, nothing is consumed twice within a generation, commits resume, and AdminClient describes the
group (ConsumerGroupDescribe) while classic groups still describe through DescribeGroups."""

from __future__ import annotations

import signal
import time
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupState, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from logbroker.kafka.api_keys import ApiKey
from tests.conftest import BrokerHandle
from tests.interop.rawclient import RawClient
from tests.interop.share_member import find_coordinator, kafka_uuid
from tests.interop.test_protocol_edges import RETRIABLE, create_topic

# Both brokers refuse to start with a session timeout or heartbeat interval below its minimums (45 s
# and 5 s by default), so the minimums come down with them.
FAST = {"group_consumer_session_timeout_ms": "3000", "group_consumer_heartbeat_interval_ms": "300",
        "group_consumer_min_session_timeout_ms": "3000", "group_consumer_min_heartbeat_interval_ms": "300",
        "offsets_topic_num_partitions": "2", "group_initial_rebalance_delay_ms": "0"}


def create(broker: BrokerHandle, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(20)


def produce(broker: BrokerHandle, topic: str, partitions: int, start: int, n: int) -> None:
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(start, start + n):
        p.produce(topic, value=b"%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def consumer(broker: BrokerHandle, group: str, **extra: object) -> Consumer:
    conf: dict[str, object] = {"bootstrap.servers": broker.bootstrap, "group.id": group,
                               "group.protocol": "consumer", "auto.offset.reset": "earliest",
                               "enable.auto.commit": False, "group.remote.assignor": "uniform"}
    conf.update(extra)
    return Consumer(conf)


def commit(m: Consumer) -> None:
    """Commit what ``m`` consumed. A member whose epoch moved meanwhile (partitions came or went in a
    reconciliation) gets STALE_MEMBER_EPOCH until its next heartbeat brings the new epoch (Kafka
    answers that under load; librdkafka's heartbeat runs in its own thread), so it tries again."""
    deadline = time.monotonic() + 10
    while True:
        try:
            m.commit(asynchronous=False)
            return
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.STALE_MEMBER_EPOCH or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def drain(members: list[Consumer], seen: list[tuple[int, int]], until: float, want: int) -> None:
    """Consume and commit until ``want`` records were seen, nothing arrived for 3 s, or ``until``."""
    idle_since = time.monotonic()
    while len(seen) < want and time.monotonic() < until and time.monotonic() - idle_since < 3:
        before = len(seen)
        for m in members:
            good = [x for x in m.consume(num_messages=500, timeout=0.05) if x.error() is None]
            seen.extend((x.partition(), x.offset()) for x in good)  # type: ignore[misc]
            if good:
                commit(m)
        if len(seen) > before:
            idle_since = time.monotonic()


def settle(members: list[Consumer], want: list[int], until: float, seen: list[tuple[int, int]]) -> list[int]:
    """Keep consuming (and recording, and committing) until the members own ``want`` partitions each."""
    sizes: list[int] = []
    while time.monotonic() < until:
        for m in members:
            good = [x for x in m.consume(num_messages=100, timeout=0.05) if x.error() is None]
            seen.extend((x.partition(), x.offset()) for x in good)  # type: ignore[misc]
            if good:
                commit(m)
        sizes = sorted(len(m.assignment()) for m in members)
        if sizes == want:
            break
    return sizes


def test_members_join_and_leave_while_records_flow(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory(**FAST)
    topic = "kip848"
    create(broker, topic, 6)
    produce(broker, topic, 6, 0, 3000)
    a = consumer(broker, "g848")
    a.subscribe([topic])
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 40
    drain([a], seen, deadline, 1000)
    assert settle([a], [6], deadline, seen) == [6]
    b, c = consumer(broker, "g848"), consumer(broker, "g848")
    b.subscribe([topic])
    c.subscribe([topic])
    produce(broker, topic, 6, 3000, 3000)
    drain([a, b, c], seen, deadline, 6000)
    assert settle([a, b, c], [2, 2, 2], deadline, seen) == [2, 2, 2]
    owned = [{(tp.topic, tp.partition) for tp in m.assignment()} for m in (a, b, c)]
    assert not (owned[0] & owned[1]) and not (owned[0] & owned[2]) and not (owned[1] & owned[2])
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive until the result is in
    group = admin.describe_consumer_groups(["g848"])["g848"].result(10)
    assert group.state == ConsumerGroupState.STABLE
    assert len(group.members) == 3
    assert sorted(len(m.assignment.topic_partitions) for m in group.members) == [2, 2, 2]
    c.close()  # leaves with epoch -1: its partitions move at once
    produce(broker, topic, 6, 6000, 3000)
    drain([a, b], seen, deadline, 9000)
    assert settle([a, b], [3, 3], deadline, seen) == [3, 3]
    # Never twice: each record was committed right after it was read, and a partition reached its new
    # owner only after the old one gave it up, so none came back.
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted({(p, o) for p in range(6) for o in range(1500)})  # every record arrived
    a.close()
    b.close()
    # Resume from the committed offsets: only records produced after the commits arrive.
    produce(broker, topic, 6, 9000, 12)
    r = consumer(broker, "g848")
    r.subscribe([topic])
    late: list[tuple[int, int]] = []
    drain([r], late, time.monotonic() + 20, 12)
    committed = r.committed([TopicPartition(topic, p) for p in range(6)], timeout=10)
    r.close()
    assert len(late) == 12
    assert sum(tp.offset for tp in committed) == 9012


def test_every_record_exactly_once(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory(**FAST)
    topic = "kip848-once"
    create(broker, topic, 6)
    produce(broker, topic, 6, 0, 3000)
    a = consumer(broker, "g-once")
    a.subscribe([topic])
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 30
    drain([a], seen, deadline, 1000)
    b = consumer(broker, "g-once")
    b.subscribe([topic])
    drain([a, b], seen, deadline, 3000)
    a.close()
    b.close()
    assert sorted(seen) == sorted((p, o) for p in range(6) for o in range(500))


def test_stalled_member_partitions_move_and_new_partitions_are_picked_up(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory(**FAST)
    topic = "kip848-grow"
    create(broker, topic, 2)
    a, b = consumer(broker, "g-grow"), consumer(broker, "g-grow", **{"max.poll.interval.ms": 4000})
    a.subscribe([topic])
    b.subscribe([topic])
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 40
    assert settle([a, b], [1, 1], deadline, seen) == [1, 1]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_partitions([NewPartitions(topic, 4)])[topic].result(10)
    assert settle([a, b], [2, 2], deadline, seen) == [2, 2]
    # b stops polling: librdkafka keeps heartbeating from its own thread, so the broker's session
    # timeout never fires; after max.poll.interval.ms b leaves and a owns all (session expiry itself
    # is covered by tests/groups/test_consumer.py).
    assert settle([a], [4], deadline, seen) == [4]
    b.close()
    a.close()


def test_regex_subscription_and_classic_describe_fallback(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory(**FAST)
    create(broker, "rx-one", 2)
    a = consumer(broker, "g-rx")
    a.subscribe(["^rx-.*"])
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 30
    assert settle([a], [2], deadline, seen) == [2]
    create(broker, "rx-two", 1)
    assert settle([a], [3], deadline, seen) == [3]
    a.close()
    # A classic group is still described (librdkafka falls back to DescribeGroups on GROUP_ID_NOT_FOUND).
    classic = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-classic", "session.timeout.ms": 6000})
    classic.subscribe(["rx-one"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not classic.assignment():
        classic.consume(num_messages=10, timeout=0.1)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    group = admin.describe_consumer_groups(["g-classic"])["g-classic"].result(10)
    classic.close()
    assert group.state == ConsumerGroupState.STABLE
    assert len(group.members) == 1


def test_list_groups_shows_both_protocols(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker = broker_factory(**FAST)
    create(broker, "listed", 2)
    modern = consumer(broker, "g-modern")
    modern.subscribe(["listed"])
    seen: list[tuple[int, int]] = []
    assert settle([modern], [2], time.monotonic() + 30, seen) == [2]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    listed = admin.list_consumer_groups().result(10)
    by_id = {g.group_id: g for g in listed.valid}
    assert "g-modern" in by_id
    assert by_id["g-modern"].state == ConsumerGroupState.STABLE
    modern.close()


def _heartbeat(c: RawClient, body: dict[str, object], deadline: float) -> dict[str, Any]:
    """ConsumerGroupHeartbeat v1, again while the coordinator is loading or moving (a client retries)."""
    while True:
        answer = dict(c.call(ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, body))
        if answer["error_code"] not in RETRIABLE:
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)


def _described(c: RawClient, group: str) -> tuple[int, int, dict[str, tuple[int, list[int]]]]:
    """The group's epoch, assignment epoch, and each member's epoch and assigned partitions."""
    body = c.call(ApiKey.CONSUMER_GROUP_DESCRIBE, 0, {"group_ids": [group], "include_authorized_operations": False})
    g = body["groups"][0]
    assert g["error_code"] == 0, g
    members = {m["member_id"]: (m["member_epoch"], sorted(p for t in m["assignment"]["topic_partitions"]
                                                           for p in t["partitions"]))
               for m in g["members"]}
    return g["group_epoch"], g["assignment_epoch"], members


def test_a_group_and_its_members_outlive_a_kill_of_the_broker(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """A consumer-protocol group's members, epochs and assignments are records in __consumer_offsets,
    written before the heartbeat that made them is answered: after kill -9 and a start, the member
    carries on at its epoch with its partitions (no UNKNOWN_MEMBER_ID, no new group epoch), and the
    group describes as before."""
    broker = broker_factory(offsets_topic_num_partitions="2", group_initial_rebalance_delay_ms="0")
    member = kafka_uuid()
    with RawClient(broker.port) as c:
        create_topic(c, "kept-orders", 2)
        find_coordinator(c, "kept", time.monotonic() + 30)
        joined = _heartbeat(c, {"group_id": "kept", "member_id": member, "member_epoch": 0, "instance_id": None,
                                "rack_id": None, "rebalance_timeout_ms": 30000,
                                "subscribed_topic_names": ["kept-orders"], "subscribed_topic_regex": None,
                                "server_assignor": "uniform", "topic_partitions": []}, time.monotonic() + 30)
        assert joined["error_code"] == 0, joined
        epoch = joined["member_epoch"]
        owned = joined["assignment"]["topic_partitions"]
        assert sorted(p for t in owned for p in t["partitions"]) == [0, 1]
        before = _described(c, "kept")
    assert before[2] == {member: (epoch, [0, 1])}
    broker.restart(signal.SIGKILL)
    with RawClient(broker.port) as c:
        find_coordinator(c, "kept", time.monotonic() + 60)
        again = _heartbeat(c, {"group_id": "kept", "member_id": member, "member_epoch": epoch,
                               "instance_id": None, "rack_id": None, "rebalance_timeout_ms": -1,
                               "subscribed_topic_names": None, "subscribed_topic_regex": None,
                               "server_assignor": None, "topic_partitions": owned}, time.monotonic() + 60)
        after = _described(c, "kept")
    assert (again["error_code"], again["member_epoch"]) == (0, epoch), again
    assert after == before
