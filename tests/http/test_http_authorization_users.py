"""HTTP as one user against another's resources: Basic credentials map to the same principals the
Kafka front's SASL users have, and the same ACLs decide.

The Kafka PLAINTEXT listener is the operator's (``User:ANONYMOUS`` is the super user); ``alice`` and
``bob`` have SCRAM credentials and PREFIXED ACLs on ``tenant-a.`` and ``tenant-b.`` respectively.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import UserScramCredentialUpsertion

from logbroker.kafka.api_keys import ApiKey
from tests.conftest import BrokerProcess
from tests.http.http_api import start_http_broker
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("the HTTP API is logbroker's own")

PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}
TOPIC, GROUP, PREFIXED, ALL, ALLOW = 2, 3, 4, 2, 3


def call(port: int, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    token = base64.b64encode(f"{who}:{PASSWORDS[who]}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    return status, json.loads(payload) if payload else None


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    b = start_http_broker(tmp_path_factory.mktemp("http-users"), **{
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS", "logbroker.http.auth.enable": "true"})
    try:
        admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        for user, password in PASSWORDS.items():
            admin.alter_user_scram_credentials([UserScramCredentialUpsertion(user, "SCRAM-SHA-512", password)])
        admin.close()
        with RawClient(b.port) as op:
            grants = [{"resource_type": rtype, "resource_name": prefix, "resource_pattern_type": PREFIXED,
                       "principal": f"User:{user}", "host": "*", "operation": ALL, "permission_type": ALLOW}
                      for user, prefix in (("alice", "tenant-a."), ("bob", "tenant-b.")) for rtype in (TOPIC, GROUP)]
            created = op.call(ApiKey.CREATE_ACLS, 3, {"creations": grants})
            assert [r["error_code"] for r in created["results"]] == [0] * len(grants)
        for who, topic in (("alice", "tenant-a.orders"), ("bob", "tenant-b.orders")):
            assert call(b.http_port, who, "POST", "/topics", {"name": topic})[0] == 201
            assert call(b.http_port, who, "POST", f"/topics/{topic}/records", {"records": [{"value": "v"}]})[0] == 200
        yield b
    finally:
        b.stop()


def test_each_user_lists_only_its_tenants_topics(users: BrokerProcess) -> None:
    _, alice = call(users.http_port, "alice", "GET", "/topics")
    _, bob = call(users.http_port, "bob", "GET", "/topics")
    assert {t["name"] for t in alice["topics"]} == {"tenant-a.orders"}
    assert {t["name"] for t in bob["topics"]} == {"tenant-b.orders"}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/topics/{t}", None),
    ("GET", "/topics/{t}/partitions/0/records?offset=0", None),
    ("POST", "/topics/{t}/records", {"records": [{"value": "x"}]}),
    ("DELETE", "/topics/{t}", None),
    ("PATCH", "/topics/{t}/configs", {"set": {"retention.ms": "1000"}}),
])
def test_a_user_is_refused_anothers_topics_existing_or_not(users: BrokerProcess, method: str, path: str,
                                                          body: Any) -> None:
    for topic in ("tenant-b.orders", "tenant-b.missing"):
        status, answer = call(users.http_port, "alice", method, path.format(t=topic), body)
        assert (status, answer["error_code"]) == (403, "TOPIC_AUTHORIZATION_FAILED"), (topic, answer)


def test_a_user_is_refused_anothers_groups(users: BrokerProcess) -> None:
    status, answer = call(users.http_port, "alice", "POST", "/groups/tenant-b.g/members",
                          {"topics": ["tenant-a.orders"]})
    assert (status, answer["error_code"]) == (403, "GROUP_AUTHORIZATION_FAILED")
    status, answer = call(users.http_port, "alice", "GET", "/groups/tenant-b.g")
    assert (status, answer["error_code"]) == (403, "GROUP_AUTHORIZATION_FAILED")


def test_a_user_works_in_its_own_tenant(users: BrokerProcess) -> None:
    status, answer = call(users.http_port, "alice", "GET", "/topics/tenant-a.orders/partitions/0/records?offset=0")
    assert status == 200 and answer["records"]
    status, joined = call(users.http_port, "alice", "POST", "/groups/tenant-a.g/members",
                          {"topics": ["tenant-a.orders"], "auto_offset_reset": "earliest"})
    assert status == 200, joined
    assert call(users.http_port, "alice", "DELETE", f"/groups/tenant-a.g/members/{joined['member_id']}")[0] == 204


def test_health_and_unprotected_metrics_need_no_credentials(users: BrokerProcess) -> None:
    """With authentication on and logbroker.http.metrics.auth unset, /health and /metrics stay open
    (a scraper needs no password); the API does not, and the metrics name no user's secret."""
    def anonymous(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{users.http_port}{path}", timeout=20) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    assert anonymous("/health")[0] == 200
    status, metrics = anonymous("/metrics")
    assert status == 200 and b"logbroker_" in metrics
    assert not [p for p in PASSWORDS.values() if p.encode() in metrics]
    assert anonymous("/topics")[0] == 401
