"""Tenants over SASL: two users, each with PREFIXED ACLs on its own topic and group prefix, against
logbroker and Apache Kafka (``--broker=kafka``) alike.

The broker has a PLAINTEXT listener for the operator (and, on Kafka, the node's own traffic), whose
principal ``User:ANONYMOUS`` is the super user, and a SASL_PLAINTEXT listener where ``alice`` and
``bob`` log in with SASL/PLAIN. The operator grants, as docs/SECURITY.md's tenant recipe says:

    ALLOW User:alice  ALL   TOPIC/GROUP  PREFIXED tenant-a.
    ALLOW User:bob    ALL   TOPIC/GROUP  PREFIXED tenant-b.
    DENY  User:alice  READ  TOPIC        LITERAL  tenant-a.audit
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from tests.conftest import BrokerHandle, launch_broker
from tests.interop.rawclient import RawClient
from tests.interop.test_acls import (
    ALL,
    ALLOW,
    DENY,
    GROUP,
    LITERAL,
    PREFIXED,
    READ,
    TOPIC,
    commit,
    create_acls,
    creation,
    delete_records,
    delete_topic,
    describe,
    fetch,
    find_coordinator,
    join,
    list_offsets,
    metadata,
    produce,
    wait_until,
)

pytestmark = pytest.mark.interop

E = ErrorCode
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}
_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" '
         'password="alice-secret" user_alice="alice-secret" user_bob="bob-secret";')
TOPICS = ["tenant-a.orders", "tenant-a.audit", "tenant-b.orders"]


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[BrokerHandle]:
    base = tmp_path_factory.mktemp("tenants")
    b = launch_broker(broker_kind, base / "data", base / "broker.log", {
        "authorizer.class.name": AUTHORIZER, "super.users": "User:ANONYMOUS",
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": _JAAS,
        "sasl.enabled.mechanisms": "PLAIN"}, listeners={"SASL_PLAINTEXT": "SASL_PLAINTEXT"})
    try:
        with RawClient(b.port) as op:
            grants = [creation(rtype, prefix, PREFIXED, ALL, ALLOW, principal=f"User:{user}")
                      for user, prefix in (("alice", "tenant-a."), ("bob", "tenant-b.")) for rtype in (TOPIC, GROUP)]
            grants.append(creation(TOPIC, "tenant-a.audit", LITERAL, READ, DENY, principal="User:alice"))
            assert create_acls(op, grants) == [0] * len(grants)
            made = op.call(ApiKey.CREATE_TOPICS, 5, {"topics": [
                {"name": t, "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}
                for t in TOPICS], "timeout_ms": 10000, "validate_only": False})
            assert [t["error_code"] for t in made["topics"]] == [0] * len(TOPICS)
            for t in TOPICS:
                wait_until(lambda t=t: produce(op, t) == 0, 60)
            wait_until(lambda: find_coordinator(op, "tenant-b.g") == 0 and commit(op, "tenant-b.g",
                                                                                 "tenant-b.orders") == 0, 60)
        with user(b, "alice") as alice:  # Kafka applies new ACLs a moment after CreateAcls answers
            wait_until(lambda: produce(alice, "tenant-a.orders") == 0, 30)
        yield b
    finally:
        b.stop()


class user:
    def __init__(self, b: BrokerHandle, name: str) -> None:
        self.client = RawClient(b.listener_ports["SASL_PLAINTEXT"])
        self.client.sasl_plain(name, PASSWORDS[name])

    def __enter__(self) -> RawClient:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()


@pytest.fixture
def alice(tenants: BrokerHandle) -> Iterator[RawClient]:
    with user(tenants, "alice") as c:
        yield c


@pytest.fixture
def bob(tenants: BrokerHandle) -> Iterator[RawClient]:
    with user(tenants, "bob") as c:
        yield c


def test_each_tenant_sees_only_its_own_topics(alice: RawClient, bob: RawClient) -> None:
    assert {t["name"] for t in metadata(alice, None)["topics"]} == {"tenant-a.orders", "tenant-a.audit"}
    assert {t["name"] for t in metadata(bob, None)["topics"]} == {"tenant-b.orders"}


def test_a_tenant_works_under_its_prefix(alice: RawClient) -> None:
    assert produce(alice, "tenant-a.orders") == 0
    assert fetch(alice, "tenant-a.orders") == 0
    assert list_offsets(alice, "tenant-a.orders") == 0
    name = f"tenant-a.new-{uuid.uuid4().hex[:6]}"
    made = alice.call(ApiKey.CREATE_TOPICS, 5, {"topics": [
        {"name": name, "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}],
        "timeout_ms": 10000, "validate_only": False})
    assert made["topics"][0]["error_code"] == 0
    wait_until(lambda: find_coordinator(alice, "tenant-a.g") == 0 and commit(alice, "tenant-a.g",
                                                                               "tenant-a.orders") == 0, 30)


def test_another_tenants_topics_are_refused_whether_they_exist_or_not(alice: RawClient) -> None:
    for topic in ("tenant-b.orders", f"tenant-b.{uuid.uuid4().hex[:6]}"):
        for attempt in (produce, fetch, describe, list_offsets, delete_topic, delete_records):
            assert attempt(alice, topic) == E.TOPIC_AUTHORIZATION_FAILED, (attempt.__name__, topic)


def test_another_tenants_groups_are_refused_and_unlisted(alice: RawClient) -> None:
    assert commit(alice, "tenant-b.g", "tenant-a.orders") == E.GROUP_AUTHORIZATION_FAILED
    assert join(alice, "tenant-b.g") == E.GROUP_AUTHORIZATION_FAILED
    assert find_coordinator(alice, "tenant-b.g") == E.GROUP_AUTHORIZATION_FAILED
    described = alice.call(ApiKey.DESCRIBE_GROUPS, 5, {"groups": ["tenant-b.g"], "include_authorized_operations": True})
    assert described["groups"][0]["error_code"] == E.GROUP_AUTHORIZATION_FAILED
    listed = alice.call(ApiKey.LIST_GROUPS, 4, {"states_filter": []})
    assert "tenant-b.g" not in {g["group_id"] for g in listed["groups"]}
    fetched = alice.call(ApiKey.OFFSET_FETCH, 7, {"group_id": "tenant-b.g", "topics": None, "require_stable": False})
    assert fetched["error_code"] == E.GROUP_AUTHORIZATION_FAILED


def test_a_deny_overrides_the_tenants_prefixed_allow(alice: RawClient, bob: RawClient) -> None:
    assert fetch(alice, "tenant-a.audit") == E.TOPIC_AUTHORIZATION_FAILED
    assert produce(alice, "tenant-a.audit") == 0
    assert fetch(bob, "tenant-a.audit") == E.TOPIC_AUTHORIZATION_FAILED  # bob has no ACL there at all


def test_tenants_cannot_manage_acls(alice: RawClient) -> None:
    described = alice.call(ApiKey.DESCRIBE_ACLS, 3, {
        "resource_type_filter": 1, "resource_name_filter": None, "pattern_type_filter": 1,
        "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1})
    assert described["error_code"] == E.CLUSTER_AUTHORIZATION_FAILED
    assert create_acls(alice, [creation(TOPIC, "tenant-b.", PREFIXED, ALL, ALLOW, principal="User:alice")]) == [
        E.CLUSTER_AUTHORIZATION_FAILED]




def test_transactional_id_and_delegation_token_acls_are_kept_and_listed(tenants: BrokerHandle) -> None:
    """The other two resource types of Kafka's model: created, listed by type and deleted like the rest."""
    transactional_id, delegation_token, write, describe_op = 5, 6, 4, 8
    made = [creation(transactional_id, "tenant-a.", PREFIXED, write, ALLOW, principal="User:alice"),
            creation(delegation_token, "token-1", LITERAL, describe_op, ALLOW, principal="User:alice")]

    def listed(c: RawClient, rtype: int) -> list[tuple[str, int, str, int, int]]:
        body = c.call(ApiKey.DESCRIBE_ACLS, 3, {
            "resource_type_filter": rtype, "resource_name_filter": None, "pattern_type_filter": 1,
            "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1})
        assert body["error_code"] == 0
        return [(r["resource_name"], r["pattern_type"], a["principal"], a["operation"], a["permission_type"])
                for r in body["resources"] for a in r["acls"]]

    with RawClient(tenants.port) as op:
        assert create_acls(op, made) == [0, 0]
        wait_until(lambda: listed(op, delegation_token) != [])
        assert listed(op, delegation_token) == [("token-1", LITERAL, "User:alice", describe_op, ALLOW)]
        assert listed(op, transactional_id) == [("tenant-a.", PREFIXED, "User:alice", write, ALLOW)]
        deleted = op.call(ApiKey.DELETE_ACLS, 3, {"filters": [
            {"resource_type_filter": rtype, "resource_name_filter": None, "pattern_type_filter": 1,
             "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1}
            for rtype in (transactional_id, delegation_token)]})
        assert [len(r["matching_acls"]) for r in deleted["filter_results"]] == [1, 1]
        wait_until(lambda: listed(op, delegation_token) == [] and listed(op, transactional_id) == [])


def test_users_cannot_read_or_change_scram_credentials_without_cluster_grants(alice: RawClient) -> None:
    # Users named: Kafka 4.1 fails to answer an unauthorized describe of every user (users null).
    described = alice.call(ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, 0, {"users": [{"name": "bob"}]})
    assert described["error_code"] == E.CLUSTER_AUTHORIZATION_FAILED
    assert [r["error_code"] for r in described["results"]] == [E.CLUSTER_AUTHORIZATION_FAILED]
    altered = alice.call(ApiKey.ALTER_USER_SCRAM_CREDENTIALS, 0, {"deletions": [{"name": "bob", "mechanism": 2}],
                                                                  "upsertions": []})
    assert [r["error_code"] for r in altered["results"]] == [E.CLUSTER_AUTHORIZATION_FAILED]


def test_users_cannot_describe_client_quotas_without_describe_configs_on_the_cluster(alice: RawClient) -> None:
    body = alice.call(ApiKey.DESCRIBE_CLIENT_QUOTAS, 1, {
        "components": [{"entity_type": "user", "match_type": 0, "match": "bob"}], "strict": False})
    assert (body["error_code"], body["entries"]) == (E.CLUSTER_AUTHORIZATION_FAILED, None)
    assert body["error_message"] is None  # as Kafka 4.1 answers it


def test_users_cannot_alter_client_quotas_without_alter_configs_on_the_cluster(alice: RawClient) -> None:
    entity = [{"entity_type": "user", "entity_name": "alice"}]
    body = alice.call(ApiKey.ALTER_CLIENT_QUOTAS, 1, {"entries": [
        {"entity": entity, "ops": [{"key": "producer_byte_rate", "value": 1e12, "remove": False}]}],
        "validate_only": False})
    assert [(e["error_code"], e["entity"]) for e in body["entries"]] == [(E.CLUSTER_AUTHORIZATION_FAILED, entity)]


def heartbeat(c: RawClient, group: str, topics: list[str]) -> int:
    body = c.call(ApiKey.CONSUMER_GROUP_HEARTBEAT, 1, {
        "group_id": group, "member_id": uuid.uuid4().hex[:22], "member_epoch": 0, "instance_id": None,
        "rack_id": None, "rebalance_timeout_ms": 30000, "subscribed_topic_names": topics,
        "subscribed_topic_regex": None, "server_assignor": None, "topic_partitions": []})
    return int(body["error_code"])


def test_kip848_heartbeats_check_the_group_and_the_subscription(alice: RawClient) -> None:
    assert heartbeat(alice, "tenant-b.g848", ["tenant-a.orders"]) == E.GROUP_AUTHORIZATION_FAILED
    assert heartbeat(alice, "tenant-a.g848", ["tenant-b.orders"]) == E.TOPIC_AUTHORIZATION_FAILED
    assert heartbeat(alice, "tenant-a.g848", ["tenant-a.orders"]) == 0
