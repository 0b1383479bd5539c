"""A replica reassigned away deletes its copy (Kafka's StopReplica with delete), three real brokers."""

from __future__ import annotations

import json

from kazoo.client import KazooClient

from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_replication import consume, create_topic, produce
from tests.interop.rawclient import RawClient


def test_a_replica_reassigned_away_deletes_its_copy(cluster: Cluster, zk_client: KazooClient) -> None:
    create_topic(cluster.bootstrap, "moved", rf=2)
    wait_until(lambda: len(cluster.state(zk_client, "moved", 0)["isr"]) == 2, 30, "a full ISR")
    values = [b"m%04d" % i for i in range(300)]
    produce(cluster.bootstrap, "moved", values)
    before = json.loads(zk_client.get("/brokers/topics/moved")[0])["partitions"]["0"]
    newcomer = next(b for b in (1, 2, 3) if b not in before)
    left = before[1]
    target = [newcomer, before[0]]
    copy = cluster.brokers[left].data_dir / "moved-0"
    wait_until(lambda: any(p.suffix == ".log" and p.stat().st_size > 0 for p in copy.iterdir()), 30,
               "the leaving replica holding data")

    controller = int(json.loads(zk_client.get("/controller")[0])["brokerid"])
    with RawClient(cluster.brokers[controller].port) as c:
        body = c.call(ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, {"timeout_ms": 5000, "topics": [
            {"name": "moved", "partitions": [{"partition_index": 0, "replicas": target}]}]})
    assert body["error_code"] == 0 and body["responses"][0]["partitions"][0]["error_code"] == 0, body

    def completed() -> bool:
        assignment = json.loads(zk_client.get("/brokers/topics/moved")[0])
        return bool(assignment["partitions"]["0"] == target and not assignment.get("adding_replicas")
                    and not assignment.get("removing_replicas"))

    wait_until(completed, 60, "the reassignment to complete")
    data_dir = cluster.brokers[left].data_dir
    wait_until(lambda: not copy.exists() and not [p for p in data_dir.iterdir() if p.name.startswith("moved-")],
               30, "the leaving replica's directory removed")
    # The topic is still known there (every broker holds every topic's metadata), and the two target
    # replicas serve every record.
    assert (cluster.brokers[left].data_dir / "__topics").is_dir()
    survivors = ",".join(cluster.brokers[b].bootstrap for b in target)
    assert consume(survivors, "moved", len(values)) == values
