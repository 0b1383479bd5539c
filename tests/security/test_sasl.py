"""The SASL mechanisms, sans-IO: tokens in, tokens out."""

from __future__ import annotations

from pathlib import Path

import pytest
from scramp import ScramClient

from logbroker.security.sasl import AuthenticationFailed, PlainServer, SaslConfig, ScramServer, plain_users
from logbroker.security.scram_store import FileCredentialStore, from_password


@pytest.fixture
def store(tmp_path: Path) -> FileCredentialStore:
    s = FileCredentialStore(tmp_path)
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        s.upsert("alice", mechanism, from_password(mechanism, "alice-secret"))
    return s


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_a_scram_exchange_authenticates_and_the_client_verifies_the_server(store: FileCredentialStore,
                                                                           mechanism: str) -> None:
    server = ScramServer(mechanism, store)
    client = ScramClient([mechanism], "alice", "alice-secret")
    client.set_server_first(server.evaluate(client.get_client_first().encode()).decode())
    client.set_server_final(server.evaluate(client.get_client_final().encode()).decode())
    assert server.complete and server.username == "alice"


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("nobody", "alice-secret")])
def test_wrong_password_and_unknown_user_fail_alike(store: FileCredentialStore, user: str, password: str) -> None:
    server = ScramServer("SCRAM-SHA-256", store)
    client = ScramClient(["SCRAM-SHA-256"], user, password)
    with pytest.raises(AuthenticationFailed) as caught:
        client.set_server_first(server.evaluate(client.get_client_first().encode()).decode())
        server.evaluate(client.get_client_final().encode())
    assert str(caught.value).endswith("invalid credentials with SASL mechanism SCRAM-SHA-256")
    assert not server.complete and password not in str(caught.value)


def test_plain_checks_the_store_or_a_users_list(store: FileCredentialStore) -> None:
    by_store = SaslConfig(("PLAIN",), lambda: store)
    assert by_store.check_plain("alice", "alice-secret") and not by_store.check_plain("alice", "x")
    users = plain_users('PlainLoginModule required username="a" password="b" user_bob="bob-secret" '
                        'user_carol="c\\"q";')
    assert users == {"bob": "bob-secret", "carol": 'c"q'}
    by_file = SaslConfig(("PLAIN",), lambda: store, users)
    assert by_file.check_plain("bob", "bob-secret") and not by_file.check_plain("alice", "alice-secret")


@pytest.mark.parametrize(("token", "message"), [
    (b"\x00alice\x00alice-secret", None),
    (b"alice\x00alice\x00alice-secret", None),
    (b"bob\x00alice\x00alice-secret", "authorization id that is different"),
    (b"\x00alice", "expected 3 tokens"),
    (b"\x00\x00pw", "username not specified"),
    (b"\x00alice\x00", "password not specified"),
    (b"\x00alice\x00wrong", "^Authentication failed: Invalid username or password$"),
    (b"\x00nobody\x00alice-secret", "^Authentication failed: Invalid username or password$"),
])
def test_plain_tokens(store: FileCredentialStore, token: bytes, message: str | None) -> None:
    server = PlainServer(SaslConfig(("PLAIN",), lambda: store).check_plain)
    if message is None:
        assert server.evaluate(token) == b"" and server.complete and server.username == "alice"
    else:
        with pytest.raises(AuthenticationFailed, match=message):
            server.evaluate(token)
