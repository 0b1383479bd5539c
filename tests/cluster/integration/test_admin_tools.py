"""Kafka's own command-line tools against three real brokers: kafka-topics (create, add partitions,
describe with Replicas and Isr), kafka-leader-election (preferred) and kafka-reassign-partitions
(execute, then verify until complete)."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_replication import consume, produce
from tests.interop.kafka_java import Java, kafka_java  # noqa: F401 - the fixture

pytestmark = [pytest.mark.java]

TOPICS = "org.apache.kafka.tools.TopicCommand"
ELECTION = "org.apache.kafka.tools.LeaderElectionCommand"
REASSIGN = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
_ROW = re.compile(r"Partition:\s*(\d+)\s+Leader:\s*(-?\d+)\s+Replicas:\s*([\d,]+)\s+Isr:\s*([\d,]*)")


def _describe(java: Java, bootstrap: str, topic: str) -> dict[int, tuple[int, list[int], list[int]]]:
    """partition -> (leader, replicas, isr) as kafka-topics --describe prints them."""
    out = java.tool(TOPICS, "--bootstrap-server", bootstrap, "--describe", "--topic", topic).stdout
    return {int(p): (int(leader), [int(r) for r in replicas.split(",")], [int(r) for r in isr.split(",") if r])
            for p, leader, replicas, isr in _ROW.findall(out)}


def _full_isrs(cluster: Cluster, zk: KazooClient, topic: str, partitions: int, rf: int) -> bool:
    return all(len(cluster.state(zk, topic, p)["isr"]) == rf for p in range(partitions))


def test_kafka_topics_describe_and_add_partitions(cluster: Cluster, zk_client: KazooClient,
                                                  kafka_java: Java) -> None:  # noqa: F811
    boot = cluster.brokers[1].bootstrap
    kafka_java.tool(TOPICS, "--bootstrap-server", boot, "--create", "--topic", "grown", "--partitions", "1",
                    "--replication-factor", "3")
    wait_until(lambda: _full_isrs(cluster, zk_client, "grown", 1, 3), 30, "a full ISR")
    kafka_java.tool(TOPICS, "--bootstrap-server", boot, "--alter", "--topic", "grown", "--partitions", "3")
    assignment = json.loads(zk_client.get("/brokers/topics/grown")[0])
    assert sorted(assignment["partitions"]) == ["0", "1", "2"]
    assert all(sorted(r) == [1, 2, 3] for r in assignment["partitions"].values())
    wait_until(lambda: _full_isrs(cluster, zk_client, "grown", 3, 3), 30, "full ISRs of the new partitions")
    # Every broker describes the same leaders, replicas and ISRs as the partition states in ZooKeeper.
    for b in cluster.brokers.values():
        described = _describe(kafka_java, b.bootstrap, "grown")
        assert sorted(described) == [0, 1, 2], described
        for p, (leader, replicas, isr) in described.items():
            state = cluster.state(zk_client, "grown", p)
            assert leader == state["leader"] and sorted(isr) == sorted(state["isr"])
            assert replicas == assignment["partitions"][str(p)]
    produce(cluster.bootstrap, "grown", [b"x%d" % i for i in range(60)])
    assert sorted(consume(cluster.bootstrap, "grown", 60)) == sorted(b"x%d" % i for i in range(60))


def test_kafka_leader_election_moves_leadership_back_to_the_preferred_replica(
        cluster: Cluster, zk_client: KazooClient, kafka_java: Java) -> None:  # noqa: F811
    boot = cluster.bootstrap
    kafka_java.tool(TOPICS, "--bootstrap-server", boot, "--create", "--topic", "pref", "--partitions", "1",
                    "--replication-factor", "3")
    wait_until(lambda: _full_isrs(cluster, zk_client, "pref", 1, 3), 30, "a full ISR")
    preferred = json.loads(zk_client.get("/brokers/topics/pref")[0])["partitions"]["0"][0]
    assert cluster.state(zk_client, "pref", 0)["leader"] == preferred
    cluster.brokers[preferred].stop(signal.SIGKILL)
    wait_until(lambda: cluster.state(zk_client, "pref", 0)["leader"] not in (preferred, -1), 30, "another leader")
    produce(boot, "pref", [b"p%d" % i for i in range(50)])
    cluster.brokers[preferred].start(same_ports=True)
    wait_until(lambda: preferred in cluster.state(zk_client, "pref", 0)["isr"], 40, "the preferred replica in sync")
    assert cluster.state(zk_client, "pref", 0)["leader"] != preferred  # nothing moves it back on its own

    out = kafka_java.tool(ELECTION, "--bootstrap-server", cluster.bootstrap, "--election-type", "preferred",
                          "--topic", "pref", "--partition", "0").stdout
    assert "Successfully completed leader election (PREFERRED) for partitions pref-0" in out, out
    assert cluster.state(zk_client, "pref", 0)["leader"] == preferred
    # Asked again: nothing to do, and the tool says so.
    again = kafka_java.tool(ELECTION, "--bootstrap-server", cluster.bootstrap, "--election-type", "preferred",
                            "--topic", "pref", "--partition", "0").stdout
    assert "Valid replica already elected for partitions pref-0" in again, again
    assert consume(cluster.bootstrap, "pref", 50) == [b"p%d" % i for i in range(50)]


def test_kafka_reassign_partitions_adds_catches_up_then_removes(cluster: Cluster, zk_client: KazooClient,
                                                               kafka_java: Java, tmp_path: Path) -> None:  # noqa: F811
    boot = cluster.bootstrap
    kafka_java.tool(TOPICS, "--bootstrap-server", boot, "--create", "--topic", "moved", "--partitions", "1",
                    "--replication-factor", "2")
    wait_until(lambda: _full_isrs(cluster, zk_client, "moved", 1, 2), 30, "a full ISR")
    values = [b"m%04d" % i for i in range(500)]
    produce(boot, "moved", values)
    before = json.loads(zk_client.get("/brokers/topics/moved")[0])["partitions"]["0"]
    newcomer = next(b for b in (1, 2, 3) if b not in before)
    target = [newcomer, before[0]]  # one replica stays, one leaves; the newcomer is the preferred leader
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [{"topic": "moved", "partition": 0,
                                                              "replicas": target, "log_dirs": ["any", "any"]}]}))
    out = kafka_java.tool(REASSIGN, "--bootstrap-server", boot, "--reassignment-json-file", str(plan),
                          "--execute").stdout
    assert "Successfully started partition reassignment" in out, out

    def verified() -> bool:
        text = kafka_java.tool(REASSIGN, "--bootstrap-server", boot, "--reassignment-json-file", str(plan),
                               "--verify").stdout
        return "Reassignment of partition moved-0 is completed" in text

    wait_until(verified, 60, "the reassignment to complete")
    assignment = json.loads(zk_client.get("/brokers/topics/moved")[0])
    assert assignment["partitions"]["0"] == target
    assert not assignment["adding_replicas"] and not assignment["removing_replicas"]
    state = cluster.state(zk_client, "moved", 0)
    assert sorted(state["isr"]) == sorted(target) and state["leader"] in target
    described = _describe(kafka_java, boot, "moved")
    assert described[0][1] == target and sorted(described[0][2]) == sorted(target)
    # The newcomer holds every record: with the replica that left stopped, the two targets still serve all.
    left = next(b for b in before if b not in target)
    cluster.brokers[left].stop(signal.SIGKILL)
    survivors = ",".join(cluster.brokers[b].bootstrap for b in target)
    assert consume(survivors, "moved", 500) == values


def test_kafka_topics_delete_goes_through_the_controller_and_every_copy_goes(
        cluster: Cluster, zk_client: KazooClient, kafka_java: Java) -> None:  # noqa: F811
    boot = cluster.brokers[2].bootstrap
    kafka_java.tool(TOPICS, "--bootstrap-server", boot, "--create", "--topic", "dropped", "--partitions", "2",
                    "--replication-factor", "3")
    wait_until(lambda: _full_isrs(cluster, zk_client, "dropped", 2, 3), 30, "full ISRs")
    produce(cluster.bootstrap, "dropped", [b"d%d" % i for i in range(20)])
    kafka_java.tool(TOPICS, "--bootstrap-server", boot, "--delete", "--topic", "dropped")
    # kafka-topics waits for DeleteTopics, which answers once the controller deleted the topic.
    for path in ("/brokers/topics/dropped", "/config/topics/dropped", "/admin/delete_topics/dropped"):
        assert zk_client.exists(path) is None, path
    wait_until(lambda: not [p for b in cluster.brokers.values() for p in b.data_dir.iterdir()
                            if p.name.startswith("dropped-")], 20, "every broker's copy deleted")
    listed = kafka_java.tool(TOPICS, "--bootstrap-server", cluster.brokers[3].bootstrap, "--list").stdout
    assert "dropped" not in listed.split()
