"""A cluster keeps SCRAM credentials in ZooKeeper (/config/users/<name>, Kafka's znode and text),
and a user created through one broker logs in on another, also after a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialDeletion, UserScramCredentialUpsertion
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from tests.cluster.conftest import Cluster, wait_until
from tests.conftest import BrokerProcess

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")

SASL = {"listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512"}


def _logs_in(b: BrokerProcess, user: str, password: str) -> bool:
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{b.listener_ports['SASL_PLAINTEXT']}",
                         "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                         "sasl.username": user, "sasl.password": password})
    try:
        admin.list_topics(timeout=5)
        return True
    except Exception:
        return False


@pytest.mark.slow
def test_a_user_made_on_one_broker_logs_in_on_another_and_after_a_restart(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    c = Cluster(zookeeper, tmp_path)
    try:
        one, two = c.add(1, **SASL), c.add(2, **SASL)
        admin = KafkaAdminClient(bootstrap_servers=one.bootstrap)
        try:
            admin.alter_user_scram_credentials([UserScramCredentialUpsertion("alice", "SCRAM-SHA-512", "pw-1")])
        finally:
            admin.close()
        data, _ = zk_client.get("/config/users/alice")
        text = json.loads(data)["config"]["SCRAM-SHA-512"]
        assert text.startswith("salt=") and "iterations=4096" in text and "pw-1" not in data.decode()
        assert zk_client.get_children("/config/changes")
        wait_until(lambda: _logs_in(two, "alice", "pw-1"), 20, "alice logging in on broker 2")
        assert not _logs_in(two, "alice", "wrong")
        two.restart()
        assert _logs_in(two, "alice", "pw-1")
        admin = KafkaAdminClient(bootstrap_servers=two.bootstrap)
        try:
            admin.alter_user_scram_credentials([UserScramCredentialDeletion("alice", "SCRAM-SHA-512")])
        finally:
            admin.close()
        wait_until(lambda: not _logs_in(one, "alice", "pw-1"), 20, "alice refused on broker 1 once deleted")
    finally:
        c.stop_all()
