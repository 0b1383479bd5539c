"""Replication across three real brokers with real clients (confluent-kafka)."""

from __future__ import annotations

import json
import signal

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from tests.cluster.conftest import Cluster, wait_until

TOPIC = "orders"


def create_topic(bootstrap: str, name: str, partitions: int = 1, rf: int = 3,
                 config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, rf, config=config or {})], operation_timeout=10)
    futures[name].result(timeout=20)


def produce(bootstrap: str, topic: str, values: list[bytes], **extra: object) -> list[int]:
    """Produce idempotently with acks=all; returns the offsets acknowledged, in order."""
    acked: list[int] = []
    errors: list[object] = []

    def done(err: KafkaError | None, msg: object) -> None:
        if err is not None:
            errors.append(err)
        else:
            acked.append(msg.offset())  # type: ignore[attr-defined]

    conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
            "message.timeout.ms": 60000, "linger.ms": 5, **extra}
    p = Producer(conf)
    for v in values:
        p.produce(topic, v, callback=done)
        p.poll(0)
    assert p.flush(90) == 0, "records left unacknowledged"
    assert not errors, errors
    return acked


def consume(bootstrap: str, topic: str, count: int, timeout: float = 60) -> list[bytes]:
    import time

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{time.monotonic_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            value = msg.value()
            assert value is not None
            out.append(value)
    finally:
        c.close()
    return out


def test_metadata_lists_every_broker_leader_replicas_and_isr(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    state = wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3 and cluster.state(zk_client,
                       TOPIC, 0), 20, "a leader with a full ISR")
    assert isinstance(state, dict)
    admin = AdminClient({"bootstrap.servers": cluster.brokers[1].bootstrap})

    # A broker learns a state change from its ZooKeeper watch and a pass that follows it, so its
    # Metadata follows ZooKeeper by a moment (Kafka's ZooKeeper-era brokers learn ISR changes through
    # isr_change_notification and the controller's UpdateMetadata, seconds later): wait for the ISR.
    def full_isr() -> object:
        part = admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions[0]
        return sorted(part.isrs) == [1, 2, 3] and part

    part = wait_until(full_isr, 20, "Metadata to show the full ISR")
    md = admin.list_topics(TOPIC, timeout=10)
    assert sorted(md.brokers) == [1, 2, 3]
    assert part.leader == state["leader"]  # type: ignore[attr-defined]
    assert sorted(part.replicas) == [1, 2, 3]  # type: ignore[attr-defined]
    assignment = json.loads(zk_client.get(f"/brokers/topics/{TOPIC}")[0])
    assert sorted(assignment["partitions"]["0"]) == [1, 2, 3]


def test_acks_all_produce_is_replicated_and_consumed(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    values = [f"v{i}".encode() for i in range(200)]
    acked = produce(cluster.bootstrap, TOPIC, values)
    assert acked == list(range(200))
    assert consume(cluster.bootstrap, TOPIC, 200) == values


def test_leader_killed_new_leader_elected_no_acked_record_lost(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    first = [f"a{i}".encode() for i in range(100)]
    produce(cluster.bootstrap, TOPIC, first)
    old = cluster.state(zk_client, TOPIC, 0)
    cluster.brokers[int(old["leader"])].stop(signal.SIGKILL)
    new = wait_until(lambda: (s := cluster.state(zk_client, TOPIC, 0))["leader"] not in (old["leader"], -1) and s,
                     30, "a new leader")
    assert isinstance(new, dict)
    assert new["leader_epoch"] > old["leader_epoch"]
    second = [f"b{i}".encode() for i in range(100)]
    produce(cluster.bootstrap, TOPIC, second)
    got = consume(cluster.bootstrap, TOPIC, 200)
    assert got == first + second


@pytest.mark.slow
def test_one_producer_continues_through_a_leader_kill_exactly_once(cluster: Cluster, zk_client: KazooClient) -> None:
    """One idempotent acks=all producer keeps sending while the leader is killed with SIGKILL: every
    record it got an acknowledgement for is consumed exactly once, in order (2000 records, bounded)."""
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    leader = int(cluster.state(zk_client, TOPIC, 0)["leader"])
    acked: list[bytes] = []
    errors: list[object] = []

    def done(err: KafkaError | None, msg: object) -> None:
        if err is not None:
            errors.append(err)
        else:
            acked.append(msg.value())  # type: ignore[attr-defined]

    p = Producer({"bootstrap.servers": cluster.bootstrap, "enable.idempotence": True, "acks": "all",
                  "message.timeout.ms": 60000, "linger.ms": 5})
    killed = False
    for i in range(2000):
        p.produce(TOPIC, b"r%05d" % i, callback=done)
        p.poll(0)
        if i % 50 == 49:
            p.flush(30)
        if not killed and len(acked) >= 500:
            cluster.brokers[leader].stop(signal.SIGKILL)
            killed = True
    assert p.flush(90) == 0, "records left unacknowledged"
    assert killed and not errors, errors
    got = consume(cluster.bootstrap, TOPIC, len(acked), timeout=60)
    assert got == sorted(acked) == [b"r%05d" % i for i in range(2000)]
    assert int(cluster.state(zk_client, TOPIC, 0)["leader"]) != leader


def test_deleting_a_topic_removes_it_from_the_cluster_and_every_broker(
        cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, TOPIC)
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR")
    produce(cluster.bootstrap, TOPIC, [b"x"] * 10)
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    admin.delete_topics([TOPIC], operation_timeout=10)[TOPIC].result(timeout=20)
    assert zk_client.exists(f"/brokers/topics/{TOPIC}") is None
    assert zk_client.exists(f"/config/topics/{TOPIC}") is None
    wait_until(lambda: not any((b.data_dir / f"{TOPIC}-0").exists() for b in cluster.brokers.values()), 20,
               "every broker's copy deleted")
    create_topic(cluster.bootstrap, TOPIC)  # the name can be used again
    wait_until(lambda: len(cluster.state(zk_client, TOPIC, 0)["isr"]) == 3, 20, "a full ISR again")
    assert produce(cluster.bootstrap, TOPIC, [b"y"]) == [0]


def test_a_partition_led_alone_answers_acks_all_and_serves_consumers(
        cluster: Cluster, zk_client: KazooClient) -> None:
    """RF=1 in a cluster: the leader is the whole ISR, so its own appends move the high watermark
    (no follower fetch ever does): acks=all and acks=1 are answered and consumers see the records."""
    create_topic(cluster.bootstrap, TOPIC, partitions=3, rf=1)
    wait_until(lambda: all(len(cluster.state(zk_client, TOPIC, p)["isr"]) == 1 for p in range(3)), 20,
               "a leader for each partition")
    values = [f"v{i}".encode() for i in range(60)]
    produce(cluster.bootstrap, TOPIC, values[:30], **{"message.timeout.ms": 20000})
    produce(cluster.bootstrap, TOPIC, values[30:], acks="1",
            **{"enable.idempotence": False, "message.timeout.ms": 20000})
    assert sorted(consume(cluster.bootstrap, TOPIC, 60)) == sorted(values)
