"""Kafka's Java clients through a leader kill: Kafka's console producer (idempotent, acks=all) and
console consumer (in a group) against three real brokers while the leader of a partition is killed
with SIGKILL. Every acknowledged line reaches the group's consumer."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from kazoo.client import KazooClient

from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_replication import create_topic
from tests.interop.kafka_java import JVM_OPTS, Java, kafka_java  # noqa: F401 - the fixture

pytestmark = [pytest.mark.java]

PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
TOPIC = "jv"
COUNT = 1000


def test_java_producer_and_group_consumer_continue_through_a_leader_kill(
        cluster: Cluster, zk_client: KazooClient, kafka_java: Java, tmp_path: Path) -> None:  # noqa: F811
    create_topic(cluster.bootstrap, TOPIC, partitions=3)
    wait_until(lambda: all(len(cluster.state(zk_client, TOPIC, p)["isr"]) == 3 for p in range(3)), 30,
               "full ISRs")
    boot = cluster.bootstrap
    java = [kafka_java.java, *JVM_OPTS, "-cp", kafka_java.classpath]
    consumer = subprocess.Popen(
        [*java, CONSUMER, "--bootstrap-server", boot, "--topic", TOPIC, "--group", "jgroup", "--from-beginning",
         "--timeout-ms", "20000",  # exits once nothing came for 20 s
         "--consumer-property", "session.timeout.ms=10000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    producer = subprocess.Popen(
        [*java, PRODUCER, "--bootstrap-server", boot, "--topic", TOPIC,
         # The tool's own defaults (3 retries, 1.5 s request timeout) give up within a failover;
         # these are the Java producer's defaults.
         "--message-send-max-retries", "2147483647", "--request-timeout-ms", "30000",
         "--producer-property", "acks=all", "--producer-property", "enable.idempotence=true",
         "--producer-property", "delivery.timeout.ms=120000", "--producer-property", "linger.ms=5"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=(tmp_path / "producer.err").open("w"), text=True)
    try:
        assert producer.stdin is not None
        lines = [f"line-{i:05d}" for i in range(COUNT)]
        for line in lines[:COUNT // 2]:
            producer.stdin.write(line + "\n")
        producer.stdin.flush()
        # Wait until the first half is in, then kill the leader of partition 0. Each look uses a new
        # client: a librdkafka 2.16 handle keeps a partition it was once told had no leader as a
        # permanent error and does not ask again. Brokers used to list a new topic's partitions so for
        # about half a second after CreateTopics (docs/CLUSTER.md, "A new topic's first leaders"); a
        # new handle per look keeps this test apart from that cache.
        def first_half_in() -> bool:
            probe = Consumer({"bootstrap.servers": boot, "group.id": "probe", "enable.auto.commit": False})
            try:
                ends = [probe.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=5)[1] for p in range(3)]
            finally:
                probe.close()
            return sum(ends) >= COUNT // 2
        wait_until(first_half_in, 120, "the first half acknowledged")  # two JVMs start first
        victim = int(cluster.state(zk_client, TOPIC, 0)["leader"])
        cluster.brokers[victim].stop(signal.SIGKILL)
        for line in lines[COUNT // 2:]:
            producer.stdin.write(line + "\n")
        producer.stdin.close()
        producer.wait(150)
        errors = (tmp_path / "producer.err").read_text()
        assert producer.returncode == 0, errors[-3000:]
        assert "Error when sending message" not in errors, errors[-3000:]
        out, _ = consumer.communicate(timeout=150)
    finally:
        for proc in (producer, consumer):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    # Every line reached the group (after a rebalance a consumer may see a few again: at-least-once).
    got = [line for line in out.splitlines() if line.startswith("line-")]
    assert sorted(set(got)) == lines, f"{len(set(got))} distinct of {COUNT}"
    assert int(cluster.state(zk_client, TOPIC, 0)["leader"]) not in (victim, -1)
