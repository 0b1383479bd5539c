"""The HTTP API asks the same authorizer as the Kafka front, with the same ACLs.

The broker first runs with ``super.users=User:ANONYMOUS`` to create topics, a group and ACLs (over
Kafka's CreateAcls: one set of ACLs for both fronts), then restarts without super users. An HTTP
request without credentials is ``User:ANONYMOUS``, which has ALL on the topics and READ on the
groups prefixed ``open.``; ``secret.*`` has no ACL, so it is refused, and ``open.denied`` has a
DENY of READ that overrides the prefixed ALLOW.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logbroker.kafka.api_keys import ApiKey
from tests.conftest import BrokerProcess
from tests.http.http_api import Api, start_http_broker
from tests.interop.rawclient import RawClient

pytestmark = pytest.mark.logbroker_only("the HTTP API is logbroker's own")

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ANON = "User:ANONYMOUS"
TOPIC, GROUP = 2, 3
LITERAL, PREFIXED = 3, 4
ALL, READ = 2, 3
DENY, ALLOW = 2, 3


def acl(rtype: int, name: str, pattern: int, op: int, perm: int) -> dict[str, object]:
    return {"resource_type": rtype, "resource_name": name, "resource_pattern_type": pattern, "principal": ANON,
            "host": "*", "operation": op, "permission_type": perm}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    tmp: Path = tmp_path_factory.mktemp("http-authz")
    b = start_http_broker(tmp, **{"authorizer.class.name": AUTHORIZER, "super.users": ANON})
    try:
        api = Api(b.http_port)
        for name in ("open.t", "open.denied", "secret.t"):
            api.create_topic(name)
            assert api.post(f"/topics/{name}/records", {"records": [{"value": "v"}]}).status == 200
        with RawClient(b.port) as c:
            body = c.call(ApiKey.CREATE_ACLS, 3, {"creations": [
                acl(TOPIC, "open.", PREFIXED, ALL, ALLOW), acl(TOPIC, "open.denied", LITERAL, READ, DENY),
                acl(GROUP, "open.", PREFIXED, READ, ALLOW)]})
            assert [r["error_code"] for r in body["results"]] == [0, 0, 0]
        b.overrides.pop("super.users")
        b.restart()
        yield b
    finally:
        if b.proc is not None:
            b.stop()


@pytest.fixture(scope="module")
def api(secured: BrokerProcess) -> Api:
    return Api(secured.http_port)


def test_lists_show_only_describable_topics(api: Api) -> None:
    names = {t["name"] for t in api.get("/topics").body["topics"]}
    assert names == {"open.t", "open.denied"}
    rows = {t["name"] for t in api.get("/stats/topics").body["topics"]}
    assert rows == {"open.t", "open.denied"}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/topics/{t}", None),
    ("GET", "/topics/{t}/partitions", None),
    ("GET", "/topics/{t}/configs", None),
    ("GET", "/topics/{t}/partitions/0/records", None),
    ("POST", "/topics/{t}/records", {"records": [{"value": "x"}]}),
    ("PATCH", "/topics/{t}/configs", {"set": {"retention.ms": "1000"}}),
    ("POST", "/topics/{t}/partitions", {"count": 2}),
    ("DELETE", "/topics/{t}", None),
])
def test_an_undescribable_topic_gets_the_same_403_whether_it_exists_or_not(
        api: Api, method: str, path: str, body: object) -> None:
    existing = api.call(method, path.format(t="secret.t"), body)
    missing = api.call(method, path.format(t="secret.missing"), body)
    assert existing.status == missing.status == 403
    assert existing.error_code == missing.error_code == "TOPIC_AUTHORIZATION_FAILED"
    assert existing.body["message"].replace("secret.t", "X") == missing.body["message"].replace("secret.missing", "X")


def test_the_allowed_prefix_works_and_the_deny_wins(api: Api) -> None:
    assert api.get("/topics/open.t").status == 200
    assert api.post("/topics/open.t/records", {"records": [{"value": "w"}]}).status == 200
    assert api.get("/topics/open.t/partitions/0/records?offset=0").status == 200
    denied = api.get("/topics/open.denied/partitions/0/records?offset=0")
    assert denied.status == 403 and denied.error_code == "TOPIC_AUTHORIZATION_FAILED"
    assert api.post("/topics/open.denied/records", {"records": [{"value": "w"}]}).status == 200
    assert api.get("/topics/open.denied").status == 200  # DENY of READ leaves DESCRIBE


def test_creating_topics_needs_create(api: Api) -> None:
    refused = api.post("/topics", {"name": "secret.new"})
    assert refused.status == 403 and refused.error_code == "TOPIC_AUTHORIZATION_FAILED"
    assert api.post("/topics", {"name": "open.new"}).status == 201


def test_groups_need_their_own_acls(api: Api) -> None:
    refused = api.post("/groups/secret.g/members", {"topics": ["open.t"]})
    assert refused.status == 403 and refused.error_code == "GROUP_AUTHORIZATION_FAILED"
    wrong_topic = api.post("/groups/open.g/members", {"topics": ["secret.t"]})
    assert wrong_topic.status == 403 and wrong_topic.error_code == "TOPIC_AUTHORIZATION_FAILED"
    joined = api.post("/groups/open.g/members", {"topics": ["open.t"], "auto_offset_reset": "earliest"})
    assert joined.status == 200, joined.body
    assert api.delete(f"/groups/open.g/members/{joined.body['member_id']}").status == 204
    assert api.get("/groups/secret.g").status == 403
    assert api.delete("/groups/open.g").error_code == "GROUP_AUTHORIZATION_FAILED"  # READ is not DELETE
    assert "secret.g" not in {g["group_id"] for g in api.get("/groups").body["groups"]}


def test_group_configs_need_describe_configs_and_alter_configs(api: Api) -> None:
    """READ on a group (what its members need) does not show or change its configs: DescribeConfigs
    needs DESCRIBE_CONFIGS on the group and IncrementalAlterConfigs ALTER_CONFIGS, as in Kafka."""
    for group in ("open.g", "secret.g"):
        shown = api.get(f"/groups/{group}/configs")
        changed = api.patch(f"/groups/{group}/configs", {"set": {"consumer.heartbeat.interval.ms": 6000}})
        assert (shown.status, shown.error_code) == (403, "GROUP_AUTHORIZATION_FAILED"), shown.body
        assert (changed.status, changed.error_code) == (403, "GROUP_AUTHORIZATION_FAILED"), changed.body


def test_a_share_join_that_changes_the_groups_auto_offset_reset_needs_alter_configs(api: Api) -> None:
    """A share join's ``auto_offset_reset`` sets the group's ``share.auto.offset.reset``: with READ
    on the group only, joining works, changing that config does not (ALTER_CONFIGS, as
    IncrementalAlterConfigs of a group needs) and leaves it unchanged."""
    refused = api.post("/share-groups/open.q/members", {"topics": ["open.t"], "auto_offset_reset": "earliest"})
    assert refused.status == 403 and refused.error_code == "GROUP_AUTHORIZATION_FAILED", refused.body
    joined = api.post("/share-groups/open.q/members", {"topics": ["open.t"]})
    assert joined.status == 200, joined.body
    # latest is the default already: nothing changes, nothing more is needed
    same = api.post("/share-groups/open.q/members", {"topics": ["open.t"], "auto_offset_reset": "latest"})
    assert same.status == 200, same.body
    for member in (joined.body["member_id"], same.body["member_id"]):
        assert api.delete(f"/share-groups/open.q/members/{member}").status == 204


def test_broker_wide_stats_need_describe_on_the_cluster(api: Api) -> None:
    refused = api.get("/stats")
    assert refused.status == 403 and refused.error_code == "CLUSTER_AUTHORIZATION_FAILED"
    assert api.get("/health").status == 200
