"""HTTP login hardening: failed password attempts limited per client address and per user name
(429 + Retry-After, the same for users that do not exist), and broker-issued tokens revoked by a
logout, by an operator, by a password change and by deleting the user (also across a restart)."""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialDeletion, UserScramCredentialUpsertion

from tests.conftest import BrokerProcess
from tests.http.http_api import start_http_broker

PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret", "admin": "admin-secret"}


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: Any


def call(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         source: str = "127.0.0.1") -> Answer:
    """One request from the client address ``source`` (any 127.0.0.0/8 address is this host)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        decoded = json.loads(payload) if payload and "json" in resp.headers.get("Content-Type", "") else payload
        return Answer(resp.status, resp.headers, decoded)
    finally:
        conn.close()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_password(broker: BrokerProcess, user: str, password: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        result = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(user, "SCRAM-SHA-512", password)])
        assert all(message is None for message in result.values()), result
    finally:
        admin.close()


def _start(tmp: Path, **props: str) -> BrokerProcess:
    broker = start_http_broker(tmp, **{"logbroker.http.auth.enable": "true",
                                       "logbroker.http.token.secret": "sessions-test-secret", **props})
    for user, password in PASSWORDS.items():
        set_password(broker, user, password)
    return broker


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[BrokerProcess]:
    broker = _start(tmp_path, **{"logbroker.http.auth.max.failures": "3",
                                 "logbroker.http.auth.failure.window.ms": "3000"})
    yield broker
    broker.stop()


def test_failed_logins_are_limited_per_address_and_per_user_alike_for_unknown_users(limited: BrokerProcess) -> None:
    port = limited.http_port
    # Three failures from one address lock that address, whatever the password of the next attempt.
    for _ in range(3):
        assert call(port, "GET", "/auth/whoami", headers=basic("alice", "wrong"), source="127.0.0.2").status == 401
    locked = call(port, "GET", "/auth/whoami", headers=basic("alice", "alice-secret"), source="127.0.0.2")
    assert locked.status == 429 and locked.body["error_code"] == "TOO_MANY_AUTHENTICATION_FAILURES"
    assert 1 <= int(locked.headers["Retry-After"]) <= 3
    # ... and the user name, from any address; another user from a fresh address is untouched.
    assert call(port, "GET", "/auth/whoami", headers=basic("alice", "alice-secret"), source="127.0.0.3").status == 429
    assert call(port, "GET", "/auth/whoami", headers=basic("bob", "bob-secret"), source="127.0.0.3").status == 200
    # A user that does not exist is answered, and locked, exactly like one that does.
    unknown = [call(port, "GET", "/auth/whoami", headers=basic("nobody", "wrong"), source="127.0.0.4")
               for _ in range(3)]
    known_refusal = call(port, "GET", "/auth/whoami", headers=basic("bob", "wrong"), source="127.0.0.9")
    assert {(a.status, json.dumps(a.body)) for a in unknown} == {(401, json.dumps(known_refusal.body))}
    unknown_locked = call(port, "GET", "/auth/whoami", headers=basic("nobody", "x"), source="127.0.0.5")
    assert unknown_locked.status == 429 and unknown_locked.body == locked.body
    # JSON logins count too: three wrong /auth/token for bob lock bob's Basic attempts elsewhere.
    for _ in range(2):  # bob already has one failure above
        assert call(port, "POST", "/auth/token", {"username": "bob", "password": "x"}, source="127.0.0.6").status == 401
    assert call(port, "POST", "/auth/login", {"username": "bob", "password": "bob-secret"},
                source="127.0.0.7").status == 429
    # Once the window has passed, the right password works again.
    time.sleep(3.2)
    assert call(port, "GET", "/auth/whoami", headers=basic("alice", "alice-secret"), source="127.0.0.2").status == 200
    log = limited.log_text()
    assert "too many failed attempts" in log and "alice-secret" not in log


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[BrokerProcess]:
    broker = _start(tmp_path, **{"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                                 "super.users": "User:admin;User:ANONYMOUS"})
    yield broker
    broker.stop()


def _token(port: int, user: str, password: str | None = None) -> str:
    issued = call(port, "POST", "/auth/token", {"username": user, "password": password or PASSWORDS[user]})
    assert issued.status == 200, issued.body
    return str(issued.body["access_token"])


def _valid(port: int, token: str) -> bool:
    answer = call(port, "GET", "/auth/whoami", headers=bearer(token))
    assert answer.status in (200, 401), answer.body
    return answer.status == 200


def test_tokens_are_revoked_by_logout_operator_password_change_and_deletion(sessions: BrokerProcess) -> None:
    port = sessions.http_port
    # The console's logout revokes its session token: a copy of the cookie is worthless afterwards.
    login = call(port, "POST", "/auth/login", {"username": "alice", "password": "alice-secret"})
    session = next(c.split(";")[0] for c in login.headers.get_all("Set-Cookie") or [] if "logbroker_session=" in c)
    assert call(port, "GET", "/auth/whoami", headers={"Cookie": session}).status == 200
    assert call(port, "POST", "/auth/logout", headers={"Cookie": session}).status == 204
    assert call(port, "GET", "/auth/whoami", headers={"Cookie": session}).status == 401
    # So does a logout with a bearer token, and only that token.
    first, second = _token(port, "alice"), _token(port, "alice")
    assert call(port, "POST", "/auth/logout", headers=bearer(first)).status == 204
    assert not _valid(port, first) and _valid(port, second)
    # An operator (ALTER on the cluster) revokes every token of a user; a user cannot.
    bobs = _token(port, "bob")
    refused = call(port, "POST", "/auth/revoke", {"user": "bob"}, headers=bearer(second))
    assert refused.status == 403 and refused.body["error_code"] == "CLUSTER_AUTHORIZATION_FAILED"
    assert call(port, "POST", "/auth/revoke", {"user": "alice"}, headers=basic("admin", "admin-secret")).status == 200
    assert not _valid(port, second) and _valid(port, bobs)
    fresh = _token(port, "alice")
    assert _valid(port, fresh)
    # A password change ends the user's tokens; the new password gets new ones.
    set_password(sessions, "alice", "alice-new-secret")
    assert not _valid(port, fresh)
    renewed = _token(port, "alice", "alice-new-secret")
    assert _valid(port, renewed)
    # Deleting the user ends them too.
    admin = KafkaAdminClient(bootstrap_servers=sessions.bootstrap)
    try:
        admin.alter_user_scram_credentials([UserScramCredentialDeletion("bob", "SCRAM-SHA-512")])
    finally:
        admin.close()
    assert not _valid(port, bobs)
    # Revocations outlive a restart (the token secret is configured, so tokens would).
    kept = _token(port, "admin")
    assert call(port, "POST", "/auth/logout", headers=bearer(kept)).status == 204
    sessions.restart()  # returns once both listeners are bound (the ready file)
    port = sessions.http_port
    assert _valid(port, renewed) and not _valid(port, kept) and not _valid(port, second)
