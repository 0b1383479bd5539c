"""Brokers authenticate to each other with SASL on a SASL_SSL or SASL_PLAINTEXT inter-broker
listener (sasl.mechanism.inter.broker.protocol, the broker's own credentials in
listener.name.<l>.<mechanism>.sasl.jaas.config): followers replicate with the authorizer on and the
broker user a super user; a broker with a wrong password never replicates and says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.security.acl import AccessControlEntry, AclOperation, AclPermissionType
from logbroker.security.acl_zookeeper import encode_entries
from logbroker.security.scram_store import from_password
from tests.cluster.conftest import Cluster, three_brokers, wait_until
from tests.conftest import BrokerProcess
from tests.tls_material import make_material

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

BROKER_USER, BROKER_PASSWORD = "broker", "broker-secret"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-secret"


def _scram_jaas(user: str, password: str) -> str:
    return (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" '
            f'password="{password}";')


def _add_user_in_zookeeper(zk: KazooClient, user: str, password: str) -> None:
    """What Kafka's ZooKeeper-mode operators did before starting brokers: the broker user's SCRAM
    credential in its config znode (Kafka's text), so the brokers can authenticate to each other."""
    text = from_password("SCRAM-SHA-512", password).to_text()
    zk.create(f"/config/users/{user}", json.dumps({"version": 1, "config": {"SCRAM-SHA-512": text}}).encode(),
              makepath=True)


def _sasl_ssl(tmp_path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Broker properties of a SASL_SSL-only cluster with SCRAM-SHA-512 between brokers, and the
    client settings of the admin user."""
    material = make_material(tmp_path / "certs")
    broker = {"listeners": "SASL_SSL://127.0.0.1:0",
              "inter.broker.listener.name": "SASL_SSL",
              "sasl.enabled.mechanisms": "SCRAM-SHA-512",
              "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
              "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": _scram_jaas(BROKER_USER, BROKER_PASSWORD),
              "ssl.keystore.location": str(material.server.both),
              "ssl.truststore.location": str(material.ca.cert_path),
              "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
              "super.users": f"User:{BROKER_USER};User:{ADMIN_USER}"}
    client = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": ADMIN_USER,
              "sasl.password": ADMIN_PASSWORD, "ssl.ca.location": str(material.ca.cert_path)}
    return broker, client


def _bootstrap(c: Cluster) -> str:
    return ",".join(f"127.0.0.1:{b.listener_ports['SASL_SSL']}" for b in c.brokers.values() if b.proc is not None)


def _create(bootstrap: str, client: dict[str, Any], name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, **client})
    futures = admin.create_topics([NewTopic(name, partitions, 3)], operation_timeout=10)
    futures[name].result(timeout=30)


def _produce(bootstrap: str, client: dict[str, Any], topic: str, values: list[bytes],
             partition: int = 0) -> list[int]:
    acked: list[int] = []
    errors: list[KafkaError] = []

    def done(err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            errors.append(err)
        else:
            acked.append(msg.offset())

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "message.timeout.ms": 60000, "linger.ms": 5, **client})
    for v in values:
        p.produce(topic, v, partition=partition, callback=done)
        p.poll(0)
    assert p.flush(90) == 0, "records left unacknowledged"
    assert not errors, errors
    return acked


def _consume(bootstrap: str, client: dict[str, Any], topic: str, count: int) -> list[bytes]:
    import time

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-inter-broker-sasl", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, **client})
    c.subscribe([topic])
    out: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            out.append(msg.value() or b"")
    finally:
        c.close()
    return out


def test_three_brokers_replicate_over_sasl_ssl_with_scram(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    _add_user_in_zookeeper(zk_client, BROKER_USER, BROKER_PASSWORD)
    _add_user_in_zookeeper(zk_client, ADMIN_USER, ADMIN_PASSWORD)
    props, client = _sasl_ssl(tmp_path)
    with three_brokers(zookeeper, tmp_path, **props) as c:
        bootstrap = _bootstrap(c)
        _create(bootstrap, client, "secure-orders", 1)
        wait_until(lambda: sorted(c.state(zk_client, "secure-orders", 0)["isr"]) == [1, 2, 3], 30,
                   "all three replicas in the ISR")
        values = [f"v{i}".encode() for i in range(50)]
        assert _produce(bootstrap, client, "secure-orders", values) == list(range(50))  # acks=all
        # Each follower holds the writes: it is in the ISR after them (one that lagged past
        # replica.lag.time.max.ms on a loaded machine rejoins once it has caught up over SASL_SSL).
        wait_until(lambda: sorted(c.state(zk_client, "secure-orders", 0)["isr"]) == [1, 2, 3], 30,
                   "all three replicas in the ISR after the writes")
        assert _consume(bootstrap, client, "secure-orders", 50) == values
        logs = {i: b.log_text() for i, b in c.brokers.items()}
        # The leader authenticated both followers as the broker user over SCRAM.
        leader = c.state(zk_client, "secure-orders", 0)["leader"]
        assert logs[leader].count(f"as User:{BROKER_USER} (SCRAM-SHA-512)") >= 2
        assert not any("failed authentication" in text or "cannot replicate" in text for text in logs.values())


@pytest.mark.slow
def test_a_broker_with_a_wrong_password_cannot_join_replication(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    _add_user_in_zookeeper(zk_client, BROKER_USER, BROKER_PASSWORD)
    _add_user_in_zookeeper(zk_client, ADMIN_USER, ADMIN_PASSWORD)
    props, client = _sasl_ssl(tmp_path)
    c = Cluster(zookeeper, tmp_path)
    try:
        c.add(1, **props)
        c.add(2, **props)
        wrong = dict(props)
        wrong["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"] = _scram_jaas(BROKER_USER, "not-the-password")
        c.add(3, **wrong)
        wait_until(lambda: len(zk_client.get_children("/brokers/ids")) == 3, 20, "three registered brokers")
        bootstrap = _bootstrap(c)
        _create(bootstrap, client, "guarded", 3)

        def followed_by_3() -> list[int]:
            """Partitions broker 3 only follows (it leads the others, which need no fetch of its own)."""
            states = [c.state(zk_client, "guarded", p) for p in range(3)]
            return [p for p, st in enumerate(states) if st["leader"] != 3]

        partitions = wait_until(followed_by_3, 20, "partitions led by brokers 1 and 2")
        assert isinstance(partitions, list)
        # Broker 3 is registered but never fetches: each leader drops it from the ISR after the lag time.
        wait_until(lambda: all(3 not in c.state(zk_client, "guarded", p)["isr"] for p in partitions), 30,
                   "ISRs without broker 3")
        leader = c.state(zk_client, "guarded", partitions[0])["leader"]
        wait_until(lambda: f"cannot replicate from leader {leader}" in c.brokers[3].log_text(), 20,
                   "broker 3's log line")
        line = next(x for x in c.brokers[3].log_text().splitlines() if f"cannot replicate from leader {leader}" in x)
        assert "SCRAM-SHA-512 as 'broker'" in line and "invalid credentials" in line
        assert "not-the-password" not in "".join(b.log_text() for b in c.brokers.values())
        assert "failed authentication from" in c.brokers[leader].log_text()  # the leader's side, once per attempt
        assert "Traceback" not in c.brokers[3].log_text()
        # Attempts go on with Kafka's reconnect backoff, and the refusal is logged once, not per attempt.
        wait_until(lambda: c.brokers[leader].log_text().count("failed authentication from") >= 4, 20,
                   "several attempts refused by the leader")
        refusals = [x for x in c.brokers[3].log_text().splitlines() if f"cannot replicate from leader {leader}" in x]
        assert len(refusals) == 1, refusals
        # The partitions still take acks=all writes from the shrunk ISRs, and broker 3 stays out.
        assert _produce(bootstrap, client, "guarded", [b"a", b"b"], partition=partitions[0]) == [0, 1]
        assert all(3 not in c.state(zk_client, "guarded", p)["isr"] for p in partitions)
    finally:
        c.stop_all()


def test_sasl_plaintext_with_plain_between_brokers(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    """PLAIN with Kafka's PlainLoginModule block: the broker's own username/password and the
    user_NAME entries the listener checks against. The broker user is no super user: an ACL grants it
    CLUSTER_ACTION on the cluster (written to ZooKeeper before the brokers start, as Kafka's
    ZooKeeper-mode kafka-acls did). Sessions last 2 s (connections.max.reauth.ms): followers renew
    them on their open connections before the leader would end them (KIP-368, no reconnect), and stay
    in the ISR."""
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" '
            'password="broker-secret" user_broker="broker-secret" user_admin="admin-secret";')
    props = {"listeners": "SASL_PLAINTEXT://127.0.0.1:0", "inter.broker.listener.name": "SASL_PLAINTEXT",
             "sasl.enabled.mechanisms": "PLAIN", "sasl.mechanism.inter.broker.protocol": "PLAIN",
             "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas, "connections.max.reauth.ms": "2000",
             "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
             "super.users": "User:admin"}
    zk_client.create("/kafka-acl/Cluster/kafka-cluster", encode_entries([AccessControlEntry(
        "User:broker", "*", AclOperation.CLUSTER_ACTION, AclPermissionType.ALLOW)]), makepath=True)
    client = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "admin",
              "sasl.password": "admin-secret"}
    with three_brokers(zookeeper, tmp_path, **props) as c:
        bootstrap = ",".join(f"127.0.0.1:{b.listener_ports['SASL_PLAINTEXT']}" for b in c.brokers.values())
        _create(bootstrap, client, "plain-orders", 1)
        wait_until(lambda: sorted(c.state(zk_client, "plain-orders", 0)["isr"]) == [1, 2, 3], 30, "a full ISR")
        assert _produce(bootstrap, client, "plain-orders", [b"x"] * 10) == list(range(10))
        leader = c.state(zk_client, "plain-orders", 0)["leader"]

        def sessions() -> tuple[list[str], list[str]]:
            """The leader's log: peers authenticated on a new connection, and peers re-authenticated."""
            lines = c.brokers[leader].log_text().splitlines()
            return ([line.split("authenticated ", 1)[1].split(" ")[0] for line in lines
                     if " authenticated " in line and "as User:broker (PLAIN)" in line],
                    [line.split("re-authenticated ", 1)[1].split(" ")[0] for line in lines
                     if "re-authenticated " in line and "as User:broker (PLAIN)" in line])

        # Both followers renew their session at least every 1.6 s (80 % of it) on the connection they have.
        wait_until(lambda: len(sessions()[1]) >= 2, 20, "followers re-authenticating")
        opened_before, _ = sessions()
        wait_until(lambda: len(sessions()[1]) >= 8, 30, "followers re-authenticating again and again")
        assert _produce(bootstrap, client, "plain-orders", [b"y"] * 10) == list(range(10, 20))
        assert sorted(c.state(zk_client, "plain-orders", 0)["isr"]) == [1, 2, 3]
        opened, renewed = sessions()
        assert opened == opened_before, "a follower opened a new connection instead of re-authenticating"
        assert set(renewed) <= set(opened)  # every renewal on a connection authenticated before
        assert "SASL session expired" not in c.brokers[leader].log_text()


def test_inter_broker_sasl_settings_that_do_not_hold_stop_the_broker_at_start_up(tmp_path: Path) -> None:
    """Checked before the broker opens a port or reaches ZooKeeper (none runs here). Kafka's default
    mechanism, GSSAPI, is not served; the other refusals (no credentials, a mechanism not enabled)
    are the same check, in tests/security/test_sasl_client.py."""
    b = BrokerProcess(data_dir=tmp_path / "data", log_path=tmp_path / "broker.log",
                      overrides={"zookeeper.connect": "127.0.0.1:1", "node.id": "1",
                                 "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
                                 "inter.broker.listener.name": "SASL_PLAINTEXT"})
    with pytest.raises(RuntimeError, match=r"sasl\.mechanism\.inter\.broker\.protocol=GSSAPI"):
        b.start()
    assert "Traceback" not in b.log_text()
    assert not (tmp_path / "data").exists()
