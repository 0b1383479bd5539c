"""The HTTP API answers for the whole cluster whichever broker is asked: ``GET /groups`` lists the
groups every broker coordinates, and a logout or an operator's revocation of HTTP tokens holds on
every broker (revocations in ZooKeeper). Three real brokers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.security.scram_store import from_password
from tests.cluster.conftest import Cluster, three_brokers, wait_until
from tests.cluster.integration.test_http_any_broker import _coordinator
from tests.cluster.integration.test_replication import create_topic
from tests.http.http_api import Api
from tests.http.test_http_sessions import basic, bearer, call

pytestmark = pytest.mark.logbroker_only("logbroker's ZooKeeper cluster mode and HTTP API (Kafka has neither)")


def _commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


@pytest.mark.slow
def test_every_broker_lists_the_groups_of_every_coordinator(cluster: Cluster) -> None:
    create_topic(cluster.bootstrap, "listed")
    port = cluster.brokers[1].port
    by_coordinator: dict[int, str] = {}

    def one_group_per_broker() -> bool:
        for i in range(300):
            group = f"listed-{i}"
            by_coordinator.setdefault(_coordinator(port, group), group)
            if len(by_coordinator) == 3:
                return True
        return False

    wait_until(one_group_per_broker, 60, "a group coordinated by each broker")
    for group in by_coordinator.values():
        _commit(cluster.bootstrap, group, "listed", 5)
    wanted = sorted(by_coordinator.values())
    for b in cluster.brokers.values():
        listed = Api(b.http_port).get("/groups")
        assert listed.status == 200, listed.body
        assert sorted(g["group_id"] for g in listed.body["groups"]) == wanted, listed.body


def _add_user(zk: KazooClient, user: str, password: str) -> None:
    text = from_password("SCRAM-SHA-512", password).to_text()
    zk.create(f"/config/users/{user}", json.dumps({"version": 1, "config": {"SCRAM-SHA-512": text}}).encode(),
              makepath=True)


def test_a_logout_and_a_revocation_on_one_broker_hold_on_every_broker(
        zookeeper: LocalZooKeeper, zk_client: KazooClient, tmp_path: Path) -> None:
    _add_user(zk_client, "alice", "alice-secret")
    _add_user(zk_client, "admin", "admin-secret")
    settings = {"logbroker.http.auth.enable": "true", "logbroker.http.token.secret": "one-secret-for-the-cluster",
                "super.users": "User:admin;User:ANONYMOUS"}
    with three_brokers(zookeeper, tmp_path, **settings) as c:
        ports = {i: b.http_port for i, b in c.brokers.items()}

        def token_from(broker: int) -> str:
            issued = call(ports[broker], "POST", "/auth/token", {"username": "alice", "password": "alice-secret"})
            assert issued.status == 200, issued.body
            return str(issued.body["access_token"])

        def accepted(broker: int, token: str) -> bool:
            return call(ports[broker], "GET", "/auth/whoami", headers=bearer(token)).status == 200

        first = token_from(1)
        for i in ports:
            wait_until(lambda i=i: accepted(i, first), 20, f"broker {i} accepting alice's token")  # type: ignore[misc]
        assert call(ports[1], "POST", "/auth/logout", headers=bearer(first)).status == 204
        assert not accepted(1, first)
        for i in (2, 3):
            wait_until(lambda i=i: not accepted(i, first), 10, f"broker {i} refusing the logged-out token")  # type: ignore[misc]

        second = token_from(2)
        assert all(accepted(i, second) for i in ports)
        revoked = call(ports[3], "POST", "/auth/revoke", {"user": "alice"}, headers=basic("admin", "admin-secret"))
        assert revoked.status == 200, revoked.body
        for i in ports:
            wait_until(lambda i=i: not accepted(i, second), 10, f"broker {i} refusing alice's revoked token")  # type: ignore[misc]
        assert zk_client.exists("/config/http_token_revocations") is not None

        # A broker restarted reads the revocations back from ZooKeeper; new tokens work.
        c.brokers[1].restart()
        ports[1] = c.brokers[1].http_port
        assert not accepted(1, first) and not accepted(1, second)
        third = token_from(3)
        assert all(accepted(i, third) for i in ports)
