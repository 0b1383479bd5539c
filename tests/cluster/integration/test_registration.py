"""Brokers register, one wins the controller election, topics and partition states live in znodes."""

from __future__ import annotations

import json

from kazoo.client import KazooClient

from tests.cluster.conftest import Cluster, wait_until


def test_brokers_register_and_one_controller_is_elected(cluster: Cluster, zk_client: KazooClient) -> None:
    wait_until(lambda: sorted(zk_client.get_children("/brokers/ids")) == ["1", "2", "3"], 20, "3 registrations")
    for node_id, b in cluster.brokers.items():
        doc = json.loads(zk_client.get(f"/brokers/ids/{node_id}")[0])
        assert doc["endpoints"] == [f"PLAINTEXT://127.0.0.1:{b.port}"]
        assert doc["port"] == b.port
    controller = json.loads(zk_client.get("/controller")[0])["brokerid"]
    assert controller in (1, 2, 3)
    assert int(zk_client.get("/controller_epoch")[0]) >= 1
