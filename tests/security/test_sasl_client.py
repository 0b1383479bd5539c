"""The client side of SASL (a broker authenticating to another) against the server side, and the
broker's own credentials read from Kafka's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbroker.errors import InvalidConfigError
from logbroker.security.sasl import AuthenticationFailed, SaslConfig
from logbroker.security.sasl_client import SaslClient, SaslClientFailed, SaslCredentials, inter_broker_credentials
from logbroker.security.scram_store import FileCredentialStore, from_password


def _exchange(config: SaslConfig, credentials: SaslCredentials) -> str:
    """Run one exchange to the end; the user the server authenticated."""
    server = config.server(credentials.mechanism)
    client = SaslClient(credentials)
    token: bytes | None = client.first()
    while token is not None:
        answer = server.evaluate(token)
        token = client.next(answer)
    assert server.complete
    return server.username


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_client_logs_in_and_a_wrong_password_fails(tmp_path: Path, mechanism: str) -> None:
    store = FileCredentialStore(tmp_path)
    store.upsert("broker", mechanism, from_password(mechanism, "s3cret"))
    config = SaslConfig((mechanism,), lambda: store)
    assert _exchange(config, SaslCredentials(mechanism, "broker", "s3cret")) == "broker"
    with pytest.raises(AuthenticationFailed, match="invalid credentials"):
        _exchange(config, SaslCredentials(mechanism, "broker", "wrong"))


def test_scram_client_refuses_a_wrong_server_signature(tmp_path: Path) -> None:
    """The server-final signature is checked: a peer that does not hold the credential cannot pass for
    the leader (a tampered signature stands for one)."""
    store = FileCredentialStore(tmp_path)
    store.upsert("broker", "SCRAM-SHA-512", from_password("SCRAM-SHA-512", "s3cret"))
    server = SaslConfig(("SCRAM-SHA-512",), lambda: store).server("SCRAM-SHA-512")
    client = SaslClient(SaslCredentials("SCRAM-SHA-512", "broker", "s3cret"))
    final = client.next(server.evaluate(client.first()))
    assert final is not None
    server_final = server.evaluate(final)
    assert server_final.startswith(b"v=")
    with pytest.raises(SaslClientFailed, match="does not hold"):
        client.next(b"v=" + bytes(reversed(server_final[2:])))


def test_plain_client_logs_in_against_jaas_users() -> None:
    config = SaslConfig(("PLAIN",), lambda: FileCredentialStore(Path("/nonexistent")), {"broker": "pw"})
    assert _exchange(config, SaslCredentials("PLAIN", "broker", "pw")) == "broker"
    with pytest.raises(AuthenticationFailed):
        _exchange(config, SaslCredentials("PLAIN", "broker", "nope"))


def test_credentials_come_from_the_listener_jaas_config_else_logbroker_names() -> None:
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" '
            'password="p\\"w" user_broker="p\\"w" user_alice="a";')
    props = {"sasl.mechanism.inter.broker.protocol": "PLAIN", "listener.name.internal.plain.sasl.jaas.config": jaas}
    assert inter_broker_credentials(props, "INTERNAL") == SaslCredentials("PLAIN", "broker", 'p"w')
    props = {"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
             "logbroker.inter.broker.sasl.username": "b", "logbroker.inter.broker.sasl.password": "x"}
    credentials = inter_broker_credentials(props, "SASL_SSL")
    assert credentials == SaslCredentials("SCRAM-SHA-512", "b", "x")
    assert "x" not in repr(credentials).replace("SaslCredentials", "")


@pytest.mark.parametrize(("props", "message"), [
    ({}, "GSSAPI"),
    ({"sasl.mechanism.inter.broker.protocol": "PLAIN"}, "own credentials are missing"),
    ({"sasl.mechanism.inter.broker.protocol": "PLAIN", "sasl.enabled.mechanisms": "SCRAM-SHA-512"},
     "not in the sasl.enabled.mechanisms"),
])
def test_settings_that_do_not_hold_are_refused(props: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message):
        inter_broker_credentials(props, "SASL_PLAINTEXT")
