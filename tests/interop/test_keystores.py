"""Kafka's key store types on an SSL listener: a PKCS12 key store serves TLS on logbroker as on
Apache Kafka (the same client gets the same answers); JKS, which logbroker cannot read, stops it at
start-up with a message naming PKCS12 and PEM."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from tests.conftest import BrokerProcess, launch_broker
from tests.tls_material import make_material, write_pkcs12_key_store

pytestmark = pytest.mark.interop

STORE_PASSWORD = "p12-store-secret"


def test_a_pkcs12_key_store_serves_tls(tmp_path: Path, broker_kind: str) -> None:
    material = make_material(tmp_path / "certs")
    key_store = write_pkcs12_key_store(material.server, material.ca, tmp_path / "server.p12", STORE_PASSWORD)
    props = {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(key_store),
             "ssl.keystore.password": STORE_PASSWORD, "ssl.key.password": STORE_PASSWORD,
             "ssl.truststore.type": "PEM", "ssl.truststore.location": str(material.ca.cert_path)}
    broker = launch_broker(broker_kind, tmp_path / "data", tmp_path / "broker.log", props, listeners={"SSL": "SSL"})
    try:
        tls = {"bootstrap.servers": f"127.0.0.1:{broker.listener_ports['SSL']}", "security.protocol": "SSL",
               "ssl.ca.location": str(material.ca.cert_path)}
        topic = f"p12-{uuid.uuid4().hex[:8]}"
        p = Producer({**tls, "acks": "all"})
        p.produce(topic, b"over-pkcs12")
        assert p.flush(30) == 0
        c = Consumer({**tls, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
        try:
            c.subscribe([topic])
            value = None
            for _ in range(60):
                msg = c.poll(0.5)
                if msg is not None and not msg.error():
                    value = msg.value()
                    break
        finally:
            c.close()
        assert value == b"over-pkcs12"
    finally:
        broker.stop()


@pytest.mark.logbroker_only(reason="Kafka reads JKS key stores; logbroker refuses them by name")
def test_a_jks_key_store_stops_the_broker_with_the_alternatives(tmp_path: Path) -> None:
    b = BrokerProcess(data_dir=tmp_path / "data", log_path=tmp_path / "broker.log",
                      overrides={"listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
                                 "ssl.keystore.type": "JKS", "ssl.keystore.location": str(tmp_path / "server.jks"),
                                 "ssl.keystore.password": "changeit"})
    with pytest.raises(RuntimeError, match=r"ssl\.keystore\.type=JKS is not supported; use PKCS12"):
        b.start()
    log = b.log_text()
    assert "or PEM" in log and "Traceback" not in log and "changeit" not in log
    assert not (tmp_path / "data").exists()  # refused before the data directory is touched
