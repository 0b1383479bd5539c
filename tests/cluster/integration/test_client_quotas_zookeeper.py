"""A cluster keeps client quotas in ZooKeeper's config znodes (Kafka's ZooKeeper-mode layout): an
alteration through one broker is described by the others, and a user's quotas and SCRAM credentials
share its znode without either change losing the other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialDeletion, UserScramCredentialUpsertion
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.kafka.error_codes import ErrorCode
from tests.cluster.conftest import three_brokers
from tests.interop.test_client_quotas import _alter, _describe, _entity, _op

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode (Kafka 4 has no ZooKeeper mode)")


def _config(zk: KazooClient, path: str) -> dict[str, Any]:
    data, _ = zk.get(path)
    doc = json.loads(data)
    assert doc["version"] == 1
    return dict(doc["config"])


def _scram(port: int, change: UserScramCredentialUpsertion | UserScramCredentialDeletion) -> None:
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
    try:
        admin.alter_user_scram_credentials([change])
    finally:
        admin.close()


def test_quotas_altered_on_one_broker_are_described_on_the_others(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    with three_brokers(zookeeper, tmp_path) as c:
        one, two, three = (c.brokers[i].port for i in (1, 2, 3))
        answers = _alter(one, [
            (_entity(user="q alice"), [_op("producer_byte_rate", 1024), _op("request_percentage", 12.5)]),
            (_entity(user="q alice", client_id="app/1"), [_op("consumer_byte_rate", 2048)]),
            (_entity(client_id=None), [_op("producer_byte_rate", 4096)]),
            (_entity(ip="10.1.2.3"), [_op("connection_creation_rate", 10)]),
            (_entity(user="q-bob"), [_op("consumer_byte_rate", 1.5)]),
        ])
        assert [(code, message) for code, message, _ in answers] == [(0, None)] * 4 + [
            (ErrorCode.INVALID_REQUEST, "consumer_byte_rate cannot be a fractional value.")]
        # Kafka's znodes: names sanitized, the default entity <default>, values as text.
        assert _config(zk_client, "/config/users/q%20alice") == {"producer_byte_rate": "1024",
                                                                  "request_percentage": "12.5"}
        assert _config(zk_client, "/config/users/q%20alice/clients/app%2F1") == {"consumer_byte_rate": "2048"}
        assert _config(zk_client, "/config/clients/<default>") == {"producer_byte_rate": "4096"}
        assert _config(zk_client, "/config/ips/10.1.2.3") == {"connection_creation_rate": "10"}
        assert not zk_client.exists("/config/users/q-bob")
        changes = [json.loads(zk_client.get(f"/config/changes/{n}")[0])["entity_path"]
                   for n in zk_client.get_children("/config/changes")]
        assert "users/q%20alice/clients/app%2F1" in changes and "ips/10.1.2.3" in changes
        everything = {
            ((("user", "q alice"),), (("producer_byte_rate", 1024.0), ("request_percentage", 12.5))),
            ((("client-id", "app/1"), ("user", "q alice")), (("consumer_byte_rate", 2048.0),)),
            ((("client-id", None),), (("producer_byte_rate", 4096.0),)),
            ((("ip", "10.1.2.3"),), (("connection_creation_rate", 10.0),)),
        }
        for port in (two, three):
            assert _describe(port, []) == everything
            assert _describe(port, [("user", 0, "q alice")], strict=True) == {
                ((("user", "q alice"),), (("producer_byte_rate", 1024.0), ("request_percentage", 12.5)))}
            assert _describe(port, [("ip", 2, None)]) == {
                ((("ip", "10.1.2.3"),), (("connection_creation_rate", 10.0),))}
        # A removal through another broker, validate_only storing nothing.
        assert [a[0] for a in _alter(two, [(_entity(client_id=None), [_op("producer_byte_rate", remove=True)])],
                                     validate_only=True)] == [0]
        assert _config(zk_client, "/config/clients/<default>") == {"producer_byte_rate": "4096"}
        assert [a[0] for a in _alter(two, [(_entity(client_id=None), [_op("producer_byte_rate", remove=True)])])
                ] == [0]
        assert _describe(one, [("client-id", 1, None)]) == set()
        assert _config(zk_client, "/config/clients/<default>") == {}


def test_a_users_credentials_and_quotas_share_its_znode_and_survive_each_others_changes(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    with three_brokers(zookeeper, tmp_path) as c:
        one, two, three = (c.brokers[i].port for i in (1, 2, 3))
        _scram(one, UserScramCredentialUpsertion("carol", "SCRAM-SHA-512", "pw-1"))
        credential = _config(zk_client, "/config/users/carol")["SCRAM-SHA-512"]
        assert credential.startswith("salt=")
        # A quota change through another broker keeps the credential.
        assert [a[0] for a in _alter(two, [(_entity(user="carol"), [_op("producer_byte_rate", 1000)])])] == [0]
        assert _config(zk_client, "/config/users/carol") == {"SCRAM-SHA-512": credential,
                                                             "producer_byte_rate": "1000"}
        # A credential change keeps the quota.
        _scram(three, UserScramCredentialUpsertion("carol", "SCRAM-SHA-256", "pw-2"))
        config = _config(zk_client, "/config/users/carol")
        assert config["SCRAM-SHA-512"] == credential and config["producer_byte_rate"] == "1000"
        assert config["SCRAM-SHA-256"].startswith("salt=")
        _scram(one, UserScramCredentialDeletion("carol", "SCRAM-SHA-512"))
        assert _describe(three, [("user", 0, "carol")]) == {
            ((("user", "carol"),), (("producer_byte_rate", 1000.0),))}
        # Removing the quota keeps the remaining credential.
        assert [a[0] for a in _alter(three, [(_entity(user="carol"), [_op("producer_byte_rate", remove=True)])])
                ] == [0]
        assert set(_config(zk_client, "/config/users/carol")) == {"SCRAM-SHA-256"}
        assert _describe(one, [("user", 0, "carol")]) == set()

