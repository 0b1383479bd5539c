"""One broker with every security protocol, configured the same way for logbroker and Apache Kafka.

Listeners: PLAINTEXT (bootstrap, admin), SSL (client certificates required), SASL_PLAINTEXT (PLAIN
from a JAAS user list, SCRAM-SHA-256 with a 2 s re-authentication lifetime) and SASL_SSL
(SCRAM-SHA-512 and SCRAM-SHA-256). Certificates are made at test time (``tests/tls_material.py``);
SCRAM users are created through AlterUserScramCredentials on the PLAINTEXT listener, as an operator
would with kafka-configs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from tests.conftest import BrokerHandle, launch_broker
from tests.tls_material import TlsMaterial, make_material

LISTENERS = {"SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}
REAUTH_MS = 2000
_PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" '
               'password="alice-secret" user_alice="alice-secret" user_bob="bob-secret";')
_SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


def security_properties(m: TlsMaterial) -> dict[str, str]:
    return {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(m.server.both),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(m.ca.cert_path),
        "listener.name.ssl.ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]*),OU=([^,]*),.*$/$1/L,DEFAULT",
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": _PLAIN_JAAS,
        "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": _SCRAM_JAAS,
        "listener.name.sasl_plaintext.scram-sha-256.connections.max.reauth.ms": str(REAUTH_MS),
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": _SCRAM_JAAS,
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": _SCRAM_JAAS,
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    }


@dataclass
class Secured:
    broker: BrokerHandle
    material: TlsMaterial

    def port(self, listener: str) -> int:
        return self.broker.listener_ports[listener]

    def bootstrap(self, listener: str) -> str:
        return f"127.0.0.1:{self.port(listener)}"


def add_scram_users(bootstrap: str, users: dict[str, str]) -> None:
    """One request per mechanism: Kafka refuses a user named twice in one request."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
        upsertions: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(user, ScramCredentialInfo(mechanism, 4096), password.encode())
            for user, password in users.items()]
        for future in admin.alter_user_scram_credentials(upsertions, request_timeout=20).values():
            future.result(20)


def start_secured(kind: str, base: Path) -> Secured:
    material = make_material(base / "certs")
    broker = launch_broker(kind, base / "data", base / "broker.log", security_properties(material),
                           listeners=LISTENERS)
    add_scram_users(broker.bootstrap, PASSWORDS)
    return Secured(broker, material)


def wait_for_scram(secured: Secured, user: str, password: str, timeout_s: float = 20) -> None:
    """Until ``user`` can log in with SCRAM-SHA-512 (Kafka applies credentials a moment after it answers)."""
    from confluent_kafka.admin import AdminClient as _Admin

    deadline = time.monotonic() + timeout_s
    while True:
        admin = _Admin({"bootstrap.servers": secured.bootstrap("SASL_SSL"), "security.protocol": "SASL_SSL",
                        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": user, "sasl.password": password,
                        "ssl.ca.location": str(secured.material.ca.cert_path)})
        try:
            admin.list_topics(timeout=5)
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
