"""Authorization over the Kafka protocol, against logbroker and Apache Kafka (``--broker=kafka``) alike.

Both brokers run with ``authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer``.
Every connection here is PLAINTEXT, so its principal is ``User:ANONYMOUS``. The module's broker
first runs with ``super.users=User:ANONYMOUS`` and creates, over CreateAcls, the ACLs below plus the
topics and a group; then it restarts without super users, so every check that follows is decided by
ACLs that had to survive the restart:

    ALLOW User:ANONYMOUS  CLUSTER_ACTION  CLUSTER kafka-cluster   (Kafka's node talks to itself as ANONYMOUS)
    ALLOW User:ANONYMOUS  ALL             TOPIC   PREFIXED open.
    DENY  User:ANONYMOUS  READ            TOPIC   LITERAL  open.denied
    ALLOW User:ANONYMOUS  READ            GROUP   PREFIXED open.
    ALLOW User:tenant-b   ALL             TOPIC   PREFIXED tenant-b.   (another tenant)
    ALLOW User:tenant-b   ALL             GROUP   PREFIXED tenant-b.
    ALLOW User:ANONYMOUS  WRITE           TOPIC   PREFIXED write-only.

``secret.*`` topics and groups have no ACL at all: refused, and ``allow.everyone.if.no.acl.found``
is false by default.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from logbroker.kafka.api_keys import ApiKey
from logbroker.kafka.error_codes import ErrorCode
from segments.records import RecordInput, build_batch
from tests.conftest import BrokerFactory, BrokerHandle
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.interop

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ANON = "User:ANONYMOUS"
TOPIC, GROUP, CLUSTER = 2, 3, 4
LITERAL, PREFIXED = 3, 4
ALL, READ, WRITE, CLUSTER_ACTION = 2, 3, 4, 9
DENY, ALLOW = 2, 3
E = ErrorCode

BOOTSTRAP_ACLS: list[tuple[int, str, int, int, int, str]] = [
    (CLUSTER, "kafka-cluster", LITERAL, CLUSTER_ACTION, ALLOW, ANON),
    (TOPIC, "open.", PREFIXED, ALL, ALLOW, ANON),
    (TOPIC, "open.denied", LITERAL, READ, DENY, ANON),
    (GROUP, "open.", PREFIXED, READ, ALLOW, ANON),
    # Another tenant: its own principal and prefix.
    (TOPIC, "tenant-b.", PREFIXED, ALL, ALLOW, "User:tenant-b"),
    (GROUP, "tenant-b.", PREFIXED, ALL, ALLOW, "User:tenant-b"),
    (TOPIC, "write-only.", PREFIXED, WRITE, ALLOW, ANON),  # WRITE without CREATE
]
TOPICS = ["open.t", "open.denied", "secret.t", "tenant-b.orders"]


def batch(n: int = 2) -> bytes:
    now = int(time.time() * 1000)
    return build_batch([RecordInput(key=b"k", value=b"v%d" % i, timestamp=now + i) for i in range(n)])


def creation(rtype: int, name: str, pattern: int, op: int, perm: int, principal: str = ANON) -> dict[str, Any]:
    return {"resource_type": rtype, "resource_name": name, "resource_pattern_type": pattern, "principal": principal,
            "host": "*", "operation": op, "permission_type": perm}


def create_acls(c: RawClient, creations: list[dict[str, Any]]) -> list[int]:
    body = c.call(ApiKey.CREATE_ACLS, 3, {"creations": creations})
    return [r["error_code"] for r in body["results"]]


def produce(c: RawClient, topic: str) -> int:
    body = c.call(ApiKey.PRODUCE, 9, {"acks": -1, "timeout_ms": 10000, "transactional_id": None, "topic_data": [
        {"name": topic, "partition_data": [{"index": 0, "records": batch()}]}]})
    return int(body["responses"][0]["partition_responses"][0]["error_code"])


def fetch(c: RawClient, topic: str) -> int:
    body = c.call(ApiKey.FETCH, 12, {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20,
                                     "isolation_level": 0, "session_id": 0, "session_epoch": -1,
                                     "topics": [{"topic": topic, "partitions": [
                                         {"partition": 0, "current_leader_epoch": -1, "fetch_offset": 0,
                                          "last_fetched_epoch": -1, "log_start_offset": -1,
                                          "partition_max_bytes": 1 << 20}]}],
                                     "forgotten_topics_data": [], "rack_id": ""})
    return int(body["responses"][0]["partitions"][0]["error_code"])


def metadata(c: RawClient, topics: list[str] | None, *, auto_create: bool = False) -> dict[str, Any]:
    return c.call(ApiKey.METADATA, 12, {
        "topics": None if topics is None else [{"name": t, "topic_id": None} for t in topics],
        "allow_auto_topic_creation": auto_create, "include_topic_authorized_operations": True})


def list_offsets(c: RawClient, topic: str) -> int:
    body = c.call(ApiKey.LIST_OFFSETS, 5, {"replica_id": -1, "isolation_level": 0, "topics": [
        {"name": topic, "partitions": [{"partition_index": 0, "current_leader_epoch": -1, "timestamp": -1}]}]})
    return int(body["topics"][0]["partitions"][0]["error_code"])


def commit(c: RawClient, group: str, topic: str) -> int:
    body = c.call(ApiKey.OFFSET_COMMIT, 8, {"group_id": group, "generation_id_or_member_epoch": -1, "member_id": "",
                                            "group_instance_id": None, "topics": [
                                                {"name": topic, "partitions": [
                                                    {"partition_index": 0, "committed_offset": 1,
                                                     "committed_leader_epoch": -1, "committed_metadata": ""}]}]})
    return int(body["topics"][0]["partitions"][0]["error_code"])


def join(c: RawClient, group: str) -> int:
    body = c.call(ApiKey.JOIN_GROUP, 5, {"group_id": group, "session_timeout_ms": 10000,
                                         "rebalance_timeout_ms": 10000, "member_id": "", "group_instance_id": None,
                                         "protocol_type": "consumer",
                                         "protocols": [{"name": "range", "metadata": b""}]})
    return int(body["error_code"])


def find_coordinator(c: RawClient, group: str) -> int:
    body = c.call(ApiKey.FIND_COORDINATOR, 4, {"key_type": 0, "coordinator_keys": [group]})
    return int(body["coordinators"][0]["error_code"])


def wait_until(check: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def secured(module_broker_factory: BrokerFactory) -> Iterator[BrokerHandle]:
    b = module_broker_factory(authorizer_class_name=AUTHORIZER, super_users=ANON)
    with RawClient(b.port) as c:
        assert create_acls(c, [creation(*a) for a in BOOTSTRAP_ACLS]) == [0] * len(BOOTSTRAP_ACLS)
        body = c.call(ApiKey.CREATE_TOPICS, 5, {"topics": [
            {"name": t, "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}
            for t in TOPICS], "timeout_ms": 10000, "validate_only": False})
        assert [t["error_code"] for t in body["topics"]] == [0] * len(TOPICS)
        for t in TOPICS:
            wait_until(lambda t=t: produce(c, t) == 0)
        # FindCoordinator creates __consumer_offsets on Kafka; commits work once it is led.
        wait_until(lambda: find_coordinator(c, "secret.g") == 0 and commit(c, "secret.g", "secret.t") == 0, 60)
        assert commit(c, "tenant-b.g", "tenant-b.orders") == 0
    b.overrides.pop("super.users")
    b.restart()
    with RawClient(b.port) as c:  # the authorizer has caught up once the ACLs decide
        wait_until(lambda: produce(c, "open.t") == 0, 60)
    yield b


@pytest.fixture
def client(secured: BrokerHandle) -> Iterator[RawClient]:
    with RawClient(secured.port) as c:
        yield c


def test_metadata_of_every_topic_lists_only_describable_ones(client: RawClient) -> None:
    names = {t["name"] for t in metadata(client, None)["topics"]}
    assert {"open.t", "open.denied"} <= names
    assert not any(n.startswith("secret.") or n.startswith("__") for n in names)


def test_an_undescribable_topic_answers_the_same_whether_it_exists_or_not(client: RawClient) -> None:
    missing = f"secret.{uuid.uuid4().hex[:8]}"
    topics = metadata(client, ["secret.t", missing], auto_create=True)["topics"]
    assert [t["error_code"] for t in topics] == [E.TOPIC_AUTHORIZATION_FAILED] * 2
    assert all(t["partitions"] == [] for t in topics)
    assert produce(client, "secret.t") == produce(client, missing) == E.TOPIC_AUTHORIZATION_FAILED
    assert fetch(client, "secret.t") == fetch(client, missing) == E.TOPIC_AUTHORIZATION_FAILED
    assert list_offsets(client, "secret.t") == list_offsets(client, missing) == E.TOPIC_AUTHORIZATION_FAILED
    # ...and nothing was created by asking.
    assert missing not in {t["name"] for t in metadata(client, None)["topics"]}


def test_allowed_prefix_produces_fetches_and_reports_its_operations(client: RawClient) -> None:
    assert produce(client, "open.t") == 0
    assert fetch(client, "open.t") == 0
    assert list_offsets(client, "open.t") == 0
    (topic,) = metadata(client, ["open.t"])["topics"]
    ops = topic["topic_authorized_operations"]
    for op in (3, 4, 5, 6, 7, 8, 10, 11):  # READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE/ALTER_CONFIGS
        assert ops & (1 << op), (op, ops)


def test_auto_create_under_the_allowed_prefix(client: RawClient) -> None:
    name = f"open.auto-{uuid.uuid4().hex[:8]}"
    wait_until(lambda: metadata(client, [name], auto_create=True)["topics"][0]["error_code"] == 0)


def test_write_without_create_creates_no_topic(client: RawClient) -> None:
    """Neither a Produce nor an auto-creating Metadata makes a topic for a principal without CREATE;
    WRITE implies DESCRIBE, so the topic is then seen not to exist."""
    name = f"write-only.{uuid.uuid4().hex[:8]}"
    assert produce(client, name) == E.UNKNOWN_TOPIC_OR_PARTITION
    assert metadata(client, [name], auto_create=True)["topics"][0]["error_code"] == E.TOPIC_AUTHORIZATION_FAILED
    assert metadata(client, [name])["topics"][0]["error_code"] == E.UNKNOWN_TOPIC_OR_PARTITION


def test_a_deny_overrides_the_prefixed_allow(client: RawClient) -> None:
    assert fetch(client, "open.denied") == E.TOPIC_AUTHORIZATION_FAILED
    assert produce(client, "open.denied") == 0  # only READ is denied
    (topic,) = metadata(client, ["open.denied"])["topics"]
    assert topic["error_code"] == 0  # a DENY of READ does not deny DESCRIBE
    assert not topic["topic_authorized_operations"] & (1 << READ)


def test_groups_need_their_own_acls(client: RawClient) -> None:
    assert commit(client, "secret.g", "open.t") == E.GROUP_AUTHORIZATION_FAILED
    assert join(client, "secret.g") == E.GROUP_AUTHORIZATION_FAILED
    assert find_coordinator(client, "secret.g") == E.GROUP_AUTHORIZATION_FAILED
    assert find_coordinator(client, "open.g") == 0
    wait_until(lambda: find_coordinator(client, "open.g") == 0 and commit(client, "open.g", "open.t") == 0)
    assert commit(client, "open.g", "secret.t") == E.TOPIC_AUTHORIZATION_FAILED
    listed = client.call(ApiKey.LIST_GROUPS, 4, {"states_filter": []})
    assert listed["error_code"] == 0
    assert "secret.g" not in {g["group_id"] for g in listed["groups"]}
    described = client.call(ApiKey.DESCRIBE_GROUPS, 5, {"groups": ["secret.g"], "include_authorized_operations": True})
    assert described["groups"][0]["error_code"] == E.GROUP_AUTHORIZATION_FAILED
    fetched = client.call(ApiKey.OFFSET_FETCH, 7, {"group_id": "secret.g", "topics": None, "require_stable": False})
    assert fetched["error_code"] == E.GROUP_AUTHORIZATION_FAILED


def test_admin_operations_without_acls_are_refused(client: RawClient) -> None:
    deleted = client.call(ApiKey.DELETE_TOPICS, 4, {"topic_names": ["secret.t"], "timeout_ms": 5000})
    assert deleted["responses"][0]["error_code"] == E.TOPIC_AUTHORIZATION_FAILED
    created = client.call(ApiKey.CREATE_TOPICS, 5, {"topics": [
        {"name": "secret.new", "num_partitions": 1, "replication_factor": 1, "assignments": [], "configs": []}],
        "timeout_ms": 5000, "validate_only": False})
    assert created["topics"][0]["error_code"] == E.TOPIC_AUTHORIZATION_FAILED
    records = client.call(ApiKey.DELETE_RECORDS, 2, {"topics": [
        {"name": "secret.t", "partitions": [{"partition_index": 0, "offset": 1}]}], "timeout_ms": 5000})
    assert records["topics"][0]["partitions"][0]["error_code"] == E.TOPIC_AUTHORIZATION_FAILED
    configs = client.call(ApiKey.DESCRIBE_CONFIGS, 4, {"resources": [
        {"resource_type": 2, "resource_name": "secret.t", "configuration_keys": None}],
        "include_synonyms": False, "include_documentation": False})
    assert configs["results"][0]["error_code"] == E.TOPIC_AUTHORIZATION_FAILED


def test_acl_apis_need_cluster_permissions(client: RawClient) -> None:
    described = client.call(ApiKey.DESCRIBE_ACLS, 3, {
        "resource_type_filter": 1, "resource_name_filter": None, "pattern_type_filter": 1, "principal_filter": None,
        "host_filter": None, "operation": 1, "permission_type": 1})
    assert described["error_code"] == E.CLUSTER_AUTHORIZATION_FAILED
    assert create_acls(client, [creation(TOPIC, "secret.", PREFIXED, ALL, ALLOW)]) == [
        E.CLUSTER_AUTHORIZATION_FAILED]
    deleted = client.call(ApiKey.DELETE_ACLS, 3, {"filters": [
        {"resource_type_filter": 1, "resource_name_filter": None, "pattern_type_filter": 1, "principal_filter": None,
         "host_filter": None, "operation": 1, "permission_type": 1}]})
    assert deleted["filter_results"][0]["error_code"] == E.CLUSTER_AUTHORIZATION_FAILED
    assert produce(client, "secret.t") == E.TOPIC_AUTHORIZATION_FAILED  # nothing was granted


def test_idempotent_producer_id_with_write_on_some_topic(client: RawClient) -> None:
    def init() -> dict[str, Any]:
        return client.call(ApiKey.INIT_PRODUCER_ID, 4, {"transactional_id": None, "transaction_timeout_ms": -1,
                                                        "producer_id": -1, "producer_epoch": -1})

    # Kafka answers COORDINATOR_LOAD_IN_PROGRESS until its first producer-id block arrives.
    wait_until(lambda: init()["error_code"] != E.COORDINATOR_LOAD_IN_PROGRESS)
    body = init()
    assert body["error_code"] == 0 and body["producer_id"] >= 0


def test_a_transactional_id_needs_write_on_it(client: RawClient) -> None:
    body = client.call(ApiKey.INIT_PRODUCER_ID, 4, {"transactional_id": "secret.txn", "transaction_timeout_ms": 60000,
                                                    "producer_id": -1, "producer_epoch": -1})
    assert body["error_code"] == E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


def delete_topic(c: RawClient, topic: str) -> int:
    body = c.call(ApiKey.DELETE_TOPICS, 4, {"topic_names": [topic], "timeout_ms": 5000})
    return int(body["responses"][0]["error_code"])


def delete_records(c: RawClient, topic: str) -> int:
    body = c.call(ApiKey.DELETE_RECORDS, 2, {"topics": [
        {"name": topic, "partitions": [{"partition_index": 0, "offset": 1}]}], "timeout_ms": 5000})
    return int(body["topics"][0]["partitions"][0]["error_code"])


def describe(c: RawClient, topic: str) -> int:
    return int(metadata(c, [topic])["topics"][0]["error_code"])


# The bypass matrix of docs/SECURITY.md ("Bypass matrix: authorization"): each row's attempts, all refused
# with one code. Existing and missing names alternate, so no answer tells whether a topic exists.
NO_ACL_TOPICS = ["secret.t", "secret.missing-1", "secret.missing-2", "nothing.here"]
OTHER_TENANT_TOPICS = ["tenant-b.orders", "tenant-b.missing"]
NO_ACL_GROUPS = ["secret.g", "secret.other", "nothing.g"]
OTHER_TENANT_GROUPS = ["tenant-b.g", "tenant-b.new"]


def test_bypass_matrix(client: RawClient) -> None:
    rows: dict[str, list[int]] = {
        "produce without the ACL": [produce(client, t) for t in NO_ACL_TOPICS],
        "fetch without the ACL": [fetch(client, t) for t in NO_ACL_TOPICS],
        "describe (Metadata, ListOffsets) without the ACL": [
            f(client, t) for t in NO_ACL_TOPICS for f in (describe, list_offsets)],
        "delete (DeleteTopics, DeleteRecords) without the ACL": [
            f(client, t) for t in NO_ACL_TOPICS for f in (delete_topic, delete_records)],
        "commit to a group without the ACL": [commit(client, g, "open.t") for g in NO_ACL_GROUPS],
        "join a group without the ACL": [join(client, g) for g in NO_ACL_GROUPS],
        "another tenant's topics (produce, fetch, describe, delete)": [
            f(client, t) for t in OTHER_TENANT_TOPICS for f in (produce, fetch, describe, delete_topic)],
        "another tenant's groups (commit, join, find coordinator)": [
            f(client, g) for g in OTHER_TENANT_GROUPS
            for f in (lambda c, g: commit(c, g, "open.t"), join, find_coordinator)],
        "a DENY overriding a prefixed ALLOW (fetch)": [fetch(client, "open.denied") for _ in range(3)],
    }
    expected = {row: (E.GROUP_AUTHORIZATION_FAILED if "group" in row else E.TOPIC_AUTHORIZATION_FAILED)
                for row in rows}
    for row, codes in rows.items():
        assert codes == [expected[row]] * len(codes), (row, codes)
    assert sum(len(c) for c in rows.values()) == 47


def test_authorized_operations_reported_for_cluster_and_groups(client: RawClient) -> None:
    cluster = client.call(ApiKey.DESCRIBE_CLUSTER, 1, {"include_cluster_authorized_operations": True,
                                                       "endpoint_type": 1})
    assert cluster["cluster_authorized_operations"] == 0  # no DESCRIBE on the cluster: nothing reported
    meta = client.call(ApiKey.METADATA, 10, {"topics": [], "allow_auto_topic_creation": False,
                                             "include_cluster_authorized_operations": True,
                                             "include_topic_authorized_operations": False})
    assert meta["cluster_authorized_operations"] == 0
    described = client.call(ApiKey.DESCRIBE_GROUPS, 5, {"groups": ["open.g"], "include_authorized_operations": True})
    assert described["groups"][0]["authorized_operations"] == (1 << READ) | (1 << 8)  # READ implies DESCRIBE




def test_invalid_acls_get_kafkas_answers(broker_factory: BrokerFactory) -> None:
    """Refused one by one (the rest created); a filter value in a creation fails the whole request; an
    UNKNOWN code is a malformed request that closes the connection. What Kafka 4.1 answers."""
    b = broker_factory(authorizer_class_name=AUTHORIZER, super_users=ANON)
    valid = creation(TOPIC, "valid", LITERAL, READ, ALLOW, principal="User:alice")
    with RawClient(b.port) as c:
        codes = create_acls(c, [
            creation(CLUSTER, "not-the-cluster", LITERAL, ALL, ALLOW),
            creation(TOPIC, "", LITERAL, READ, ALLOW),
            creation(TOPIC, "t", LITERAL, READ, ALLOW, principal="alice"),
            valid])
        assert codes == [E.INVALID_REQUEST, E.INVALID_REQUEST, E.INVALID_REQUEST, 0]
        for filter_value in (creation(TOPIC, "t", LITERAL, 1, ALLOW), creation(TOPIC, "t", 2, READ, ALLOW),
                             creation(1, "t", LITERAL, READ, ALLOW), creation(TOPIC, "t", LITERAL, READ, 1)):
            assert create_acls(c, [filter_value, creation(TOPIC, "other", LITERAL, READ, ALLOW)]) == [
                E.UNKNOWN_SERVER_ERROR] * 2
        listed = c.call(ApiKey.DESCRIBE_ACLS, 3, {
            "resource_type_filter": 1, "resource_name_filter": None, "pattern_type_filter": 1,
            "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1})
        assert [(r["resource_name"], [a["principal"] for a in r["acls"]]) for r in listed["resources"]] == [
            ("valid", ["User:alice"])]
    unknown_filter = {"resource_type_filter": 0, "resource_name_filter": None, "pattern_type_filter": 1,
                      "principal_filter": None, "host_filter": None, "operation": 1, "permission_type": 1}
    for api, body in ((ApiKey.CREATE_ACLS, {"creations": [creation(TOPIC, "t", LITERAL, 0, ALLOW)]}),
                      (ApiKey.DESCRIBE_ACLS, unknown_filter), (ApiKey.DELETE_ACLS, {"filters": [unknown_filter]})):
        with RawClient(b.port) as c:
            c.send(api, 3, body)
            assert c.is_closed_by_peer(), api
