"""Brokers register, one wins the controller election, topics and partition states live in znodes."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.api_keys import ApiKey
from tests.cluster.conftest import Cluster, broker_properties, wait_until
from tests.conftest import BrokerProcess
from tests.interop.rawclient import RawClient


def test_brokers_register_and_one_controller_is_elected(cluster: Cluster, zk_client: KazooClient) -> None:
    wait_until(lambda: sorted(zk_client.get_children("/brokers/ids")) == ["1", "2", "3"], 20, "3 registrations")
    for node_id, b in cluster.brokers.items():
        doc = json.loads(zk_client.get(f"/brokers/ids/{node_id}")[0])
        assert doc["endpoints"] == [f"PLAINTEXT://127.0.0.1:{b.port}"]
        assert doc["port"] == b.port
    controller = json.loads(zk_client.get("/controller")[0])["brokerid"]
    assert controller in (1, 2, 3)
    assert int(zk_client.get("/controller_epoch")[0]) >= 1


def test_a_joining_broker_first_answers_with_the_cluster_it_joined(zookeeper: LocalZooKeeper, tmp_path: Path,
                                                                   zk_client: KazooClient) -> None:
    """A client connected while a broker is still joining (its port listens from the process's
    start) has its first Metadata answered only once the broker knows the cluster: the controller
    and every registered broker, never a view from before the join (no controller, or itself as the
    only broker and controller). An admin client given such an answer waits for a controller it is
    never told about."""
    c = Cluster(zookeeper, tmp_path)
    try:
        c.add(1)
        wait_until(lambda: json.loads(zk_client.get("/controller")[0])["brokerid"] == 1, 20, "broker 1 controller")
        with socket.socket() as probe:  # a port for broker 2 known before it starts
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        joining = BrokerProcess(data_dir=tmp_path / "broker2", log_path=tmp_path / "broker2.log",
                                overrides=broker_properties(zookeeper.connect, 2))
        c.brokers[2] = joining
        starting = threading.Thread(target=joining.launch,
                                    args=(joining.serve_command(f"127.0.0.1:{port}", "127.0.0.1:0"),))
        starting.start()
        try:
            client = wait_until(lambda: RawClient(port), 20, "broker 2's port to accept", interval=0.005)
            assert isinstance(client, RawClient)
            with client:
                answer = client.call(ApiKey.METADATA, 12, {"topics": [], "allow_auto_topic_creation": False,
                                                           "include_topic_authorized_operations": False})
        finally:
            starting.join(40)
        assert answer["controller_id"] == 1
        assert sorted(b["node_id"] for b in answer["brokers"]) == [1, 2]
        assert "has joined the cluster" in joining.log_text()
    finally:
        c.stop_all()
