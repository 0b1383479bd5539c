"""Mutual TLS: the client certificate's subject, mapped by ``ssl.principal.mapping.rules``, is the
principal the ACLs decide for, on logbroker and Apache Kafka (``--broker=kafka``) alike.

Rules, first full match wins: a subject in OU ``ops`` becomes ``<CN>-ops`` upper-cased, any other
``CN=..,OU=..`` its CN lower-cased. So alice's certificate (``CN=alice,OU=eng,...``) is ``User:alice``
and bob's (``CN=bob,OU=ops,...``) ``User:BOB-OPS``; each may describe only the topic granted to that
name. The PLAINTEXT listener's ``User:ANONYMOUS`` is the super user that sets things up.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerHandle, launch_broker
from tests.interop.rawclient import RawClient
from tests.interop.test_acls import ALLOW, LITERAL, TOPIC, create_acls, creation, metadata, produce, wait_until
from tests.tls_material import Pair, TlsMaterial, make_material

pytestmark = pytest.mark.interop

DESCRIBE = 8
RULES = "RULE:^CN=([^,]*),OU=ops,.*$/$1-ops/U,RULE:^CN=([^,]*),OU=([^,]*),.*$/$1/L,DEFAULT"
GRANTS = {"User:alice": "mapped.alice", "User:BOB-OPS": "mapped.bob"}


@dataclass
class Mapped:
    broker: BrokerHandle
    material: TlsMaterial


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Mapped]:
    base = tmp_path_factory.mktemp("mapped")
    material = make_material(base / "certs")
    broker = launch_broker(broker_kind, base / "data", base / "broker.log", {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS",
        "ssl.keystore.type": "PEM", "ssl.keystore.location": str(material.server.both),
        "ssl.truststore.type": "PEM", "ssl.truststore.location": str(material.ca.cert_path),
        "listener.name.ssl.ssl.client.auth": "required", "ssl.principal.mapping.rules": RULES,
    }, listeners={"SSL": "SSL"})
    try:
        with RawClient(broker.port) as op:
            grants = [creation(TOPIC, topic, LITERAL, DESCRIBE, ALLOW, principal=who) for who, topic in GRANTS.items()]
            assert create_acls(op, grants) == [0, 0]
            made = op.call(ApiKey.CREATE_TOPICS, 5, {"topics": [
                {"name": t, "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}
                for t in GRANTS.values()], "timeout_ms": 10000, "validate_only": False})
            assert [t["error_code"] for t in made["topics"]] == [0, 0]
            for topic in GRANTS.values():
                wait_until(lambda t=topic: produce(op, t) == 0, 60)  # led
        yield Mapped(broker, material)
    finally:
        broker.stop()


def _as(m: Mapped, pair: Pair) -> RawClient:
    """A raw client on the SSL listener presenting ``pair``'s certificate."""
    ctx = ssl.create_default_context(cafile=str(m.material.ca.cert_path))
    ctx.load_cert_chain(str(pair.cert), str(pair.key))
    sock = socket.create_connection(("127.0.0.1", m.broker.listener_ports["SSL"]), timeout=15)
    client = RawClient.__new__(RawClient)
    client.sock, client.client_id, client.correlation = ctx.wrap_socket(sock, server_hostname="127.0.0.1"), "t", 0
    return client


def _codes(m: Mapped, pair: Pair) -> dict[str, int]:
    with _as(m, pair) as c:
        return {t["name"]: t["error_code"] for t in metadata(c, list(GRANTS.values()))["topics"]}


def test_each_certificate_is_the_principal_its_rule_makes(mapped: Mapped) -> None:
    # (Kafka applies new ACLs a moment after CreateAcls answers.)
    wait_until(lambda: _codes(mapped, mapped.material.alice)["mapped.alice"] == 0)
    assert _codes(mapped, mapped.material.alice) == {
        "mapped.alice": 0, "mapped.bob": ErrorCode.TOPIC_AUTHORIZATION_FAILED}
    wait_until(lambda: _codes(mapped, mapped.material.bob)["mapped.bob"] == 0)
    assert _codes(mapped, mapped.material.bob) == {
        "mapped.alice": ErrorCode.TOPIC_AUTHORIZATION_FAILED, "mapped.bob": 0}


def test_a_principal_with_describe_only_cannot_write(mapped: Mapped) -> None:
    with _as(mapped, mapped.material.alice) as c:
        assert produce(c, "mapped.alice") == ErrorCode.TOPIC_AUTHORIZATION_FAILED
