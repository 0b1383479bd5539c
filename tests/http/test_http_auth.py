"""The HTTP API with TLS and authentication on: Basic, bearer tokens, the console's cookie and CSRF."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialUpsertion

from tests.conftest import BrokerProcess
from tests.http.http_api import start_http_broker
from tests.tls_material import TlsMaterial, make_material


@dataclass
class Answer:
    status: int
    headers: Any
    body: Any


@dataclass
class Https:
    port: int
    ca: Path

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", data=data, method=method, headers=hdrs)
        ctx = ssl.create_default_context(cafile=str(self.ca))
        try:
            with urllib.request.urlopen(req, timeout=20, context=ctx) as resp:
                status, rheaders, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            status, rheaders, payload = exc.code, exc.headers, exc.read()
        decoded = json.loads(payload) if payload and "json" in rheaders.get("Content-Type", "") else payload
        return Answer(status, rheaders, decoded)


@pytest.fixture(scope="module")
def secured_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BrokerProcess, Https, TlsMaterial]]:
    tmp = tmp_path_factory.mktemp("http-auth")
    material = make_material(tmp / "certs")
    broker = start_http_broker(tmp, **{
        "logbroker.http.ssl.enable": "true",
        "logbroker.http.ssl.keystore.location": str(material.server.both),
        "logbroker.http.auth.enable": "true", "logbroker.http.metrics.auth": "true",
        "logbroker.http.token.secret": "token-signing-secret-xyz"})
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    for user, password in (("alice", "alice-secret"), ("bob", "bob-secret")):
        admin.alter_user_scram_credentials([UserScramCredentialUpsertion(user, "SCRAM-SHA-512", password)])
    admin.close()
    yield broker, Https(broker.http_port, material.ca.cert_path), material
    broker.stop()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_health_is_open_and_everything_else_needs_credentials(secured_http) -> None:  # type: ignore[no-untyped-def]
    _, https, _ = secured_http
    assert https.call("GET", "/health").status == 200
    for path in ("/topics", "/stats", "/metrics", "/groups"):
        refused = https.call("GET", path)
        assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Basic"), path
        assert refused.body["error_code"] == "SASL_AUTHENTICATION_FAILED" and refused.body["message"]
    assert https.call("GET", "/", ).status == 200 and https.call("GET", "/login").status == 200


def test_http_basic_against_the_scram_store(secured_http) -> None:  # type: ignore[no-untyped-def]
    _, https, _ = secured_http
    assert https.call("GET", "/topics", headers=_basic("alice", "alice-secret")).status == 200
    assert https.call("GET", "/auth/whoami", headers=_basic("bob", "bob-secret")).body["principal"] == "User:bob"
    for user, password in (("alice", "wrong"), ("nobody", "alice-secret")):
        assert https.call("GET", "/topics", headers=_basic(user, password)).status == 401


def test_bearer_tokens_are_issued_for_a_password_and_checked(secured_http) -> None:  # type: ignore[no-untyped-def]
    broker, https, _ = secured_http
    issued = https.call("POST", "/auth/token", {"username": "alice", "password": "alice-secret"})
    assert issued.status == 200 and issued.body["token_type"] == "Bearer" and issued.body["expires_in"] > 0
    token = issued.body["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert https.call("GET", "/auth/whoami", headers=bearer).body["principal"] == "User:alice"
    assert https.call("GET", "/metrics", headers=bearer).status == 200
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert https.call("GET", "/topics", headers={"Authorization": f"Bearer {tampered}"}).status == 401
    assert https.call("POST", "/auth/token", {"username": "alice", "password": "nope"}).status == 401
    log = broker.log_text()
    assert token not in log and "alice-secret" not in log and "token-signing-secret-xyz" not in log
    assert "failed HTTP" in log


def test_the_console_session_is_an_http_only_cookie_and_writes_need_the_csrf_token(secured_http) -> None:  # type: ignore[no-untyped-def]
    _, https, _ = secured_http
    login = https.call("POST", "/auth/login", {"username": "alice", "password": "alice-secret"})
    assert login.status == 200
    cookies = SimpleCookie()
    for header in login.headers.get_all("Set-Cookie"):
        cookies.load(header)
    session, csrf = cookies["logbroker_session"], cookies["logbroker_csrf"]
    assert session["httponly"] and session["samesite"] == "Strict" and session["secure"]
    assert not csrf["httponly"] and csrf.value == login.body["csrf_token"]
    cookie = {"Cookie": f"logbroker_session={session.value}; logbroker_csrf={csrf.value}"}
    assert https.call("GET", "/topics", headers=cookie).status == 200
    no_csrf = https.call("POST", "/topics", {"name": "csrf-t", "partitions": 1}, headers=cookie)
    assert no_csrf.status == 403 and no_csrf.body["error_code"] == "CSRF_TOKEN_INVALID"
    wrong = https.call("POST", "/topics", {"name": "csrf-t", "partitions": 1},
                       headers={**cookie, "X-CSRF-Token": "forged"})
    assert wrong.status == 403
    ok = https.call("POST", "/topics", {"name": "csrf-t", "partitions": 1},
                    headers={**cookie, "X-CSRF-Token": csrf.value})
    assert ok.status == 201, ok.body


def test_plain_http_to_the_tls_port_is_refused(secured_http) -> None:  # type: ignore[no-untyped-def]
    _, https, _ = secured_http
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"http://127.0.0.1:{https.port}/health", timeout=10).read()
