"""Brokers replicate over an SSL inter-broker listener (inter.broker.listener.name); SASL between
brokers is tested in test_inter_broker_sasl.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from tests.cluster.conftest import Cluster, wait_until
from tests.cluster.integration.test_replication import consume, create_topic, produce
from tests.tls_material import make_material

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")


def test_followers_fetch_through_tls_on_the_inter_broker_listener(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    material = make_material(tmp_path / "certs")
    tls = {"listeners": "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
           "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:SSL",
           "inter.broker.listener.name": "INTERNAL",
           "listener.name.internal.ssl.client.auth": "required",
           "ssl.keystore.location": str(material.server.both),
           "ssl.truststore.location": str(material.ca.cert_path)}
    c = Cluster(zookeeper, tmp_path)
    try:
        brokers = [c.add(node_id, **tls) for node_id in (1, 2)]
        wait_until(lambda: len(zk_client.get_children("/brokers/ids")) == 2, 20, "two registered brokers")
        create_topic(c.bootstrap, "secure-orders", rf=2)
        wait_until(lambda: len(c.state(zk_client, "secure-orders", 0)["isr"]) == 2, 30, "a full ISR over TLS")
        values = [f"v{i}".encode() for i in range(50)]
        assert produce(c.bootstrap, "secure-orders", values) == list(range(50))  # acks=all over the ISR
        assert consume(c.bootstrap, "secure-orders", 50) == values
        logs = "".join(b.log_text() for b in brokers)
        # The follower presented its certificate to the leader's INTERNAL listener (mutual TLS).
        assert "(TLS client certificate CN=127.0.0.1,O=logbroker-tests)" in logs
        assert "TLS handshake" not in logs  # no failed handshake on either side
    finally:
        c.stop_all()

