"""logbroker/security/scram_legacy_znodes.py against a real ZooKeeper: credentials written under a
user name as typed are found (at any depth, never a user's ``clients``), and moved into the encoded
znode in one transaction, what the encoded znode holds winning and other entries kept."""

from __future__ import annotations

import json
import threading

import pytest
from kazoo.client import KazooClient

from logbroker.config_znodes import encode, sanitize
from logbroker.security.scram_legacy_znodes import find_legacy, legacy_path, move_all, move_legacy
from logbroker.zookeeper_deadline import ZooKeeperDeadline


def _calls(zk: KazooClient) -> ZooKeeperDeadline:
    return ZooKeeperDeadline(zk, 10.0, "test")


def _config(zk: KazooClient, path: str) -> dict[str, object]:
    return dict(json.loads(zk.get(path)[0])["config"])


@pytest.mark.parametrize(("user", "path"), [
    ("alice", None), ("a.b-c_d", None),  # the encoded name is the name
    ("alice@example.com", "/config/users/alice@example.com"), ("josé", "/config/users/josé"),
    ("a+b", "/config/users/a+b"), ("team/carol", "/config/users/team/carol"), ("a/b/c", "/config/users/a/b/c"),
    ("a%40b", None),  # looks encoded: the znode of "a@b"
    ("alice/clients", None), ("a//b", None), ("a/..", None),
])
def test_where_an_older_broker_wrote_a_user(user: str, path: str | None) -> None:
    assert legacy_path(user) == path


def test_legacy_znodes_are_found_and_moved(zk_client: KazooClient) -> None:
    zk_client.create("/config/users/bob%40x", encode({"SCRAM-SHA-512": "new", "producer_byte_rate": "5"}),
                     makepath=True)
    zk_client.create("/config/users/bob@x", encode({"SCRAM-SHA-512": "old", "SCRAM-SHA-256": "old-256"}))
    zk_client.create("/config/users/team/carol", encode({"SCRAM-SHA-256": "c"}), makepath=True)
    zk_client.create("/config/users/team/clients/app", encode({"consumer_byte_rate": "1"}), makepath=True)
    zk_client.create("/config/users/x+y", encode({"SCRAM-SHA-256": "xy", "other": "kept"}))
    zk_client.create("/config/users/x+y/deeper", encode({"SCRAM-SHA-256": "deep"}))
    calls = _calls(zk_client)
    assert find_legacy(calls) == {"bob@x": "/config/users/bob@x", "team/carol": "/config/users/team/carol",
                                  "x+y": "/config/users/x+y", "x+y/deeper": "/config/users/x+y/deeper"}
    assert move_all(calls) == 4
    # The encoded znode's own credential wins; the legacy one only adds what it lacks.
    assert _config(zk_client, "/config/users/bob%40x") == {"SCRAM-SHA-512": "new", "SCRAM-SHA-256": "old-256",
                                                           "producer_byte_rate": "5"}
    assert zk_client.exists("/config/users/bob@x") is None
    assert _config(zk_client, "/config/users/team%2Fcarol") == {"SCRAM-SHA-256": "c"}
    assert zk_client.exists("/config/users/team/carol") is None
    assert _config(zk_client, "/config/users/team/clients/app") == {"consumer_byte_rate": "1"}
    assert _config(zk_client, "/config/users/x%2By") == {"SCRAM-SHA-256": "xy"}
    assert _config(zk_client, "/config/users/x+y") == {"other": "kept"}  # what is not a credential stays
    assert _config(zk_client, "/config/users/x%2By%2Fdeeper") == {"SCRAM-SHA-256": "deep"}
    notices = [json.loads(zk_client.get(f"/config/changes/{n}")[0])["entity_path"]
               for n in sorted(zk_client.get_children("/config/changes"))]
    assert notices == ["users/bob%40x", "users/team%2Fcarol", "users/x%2By", "users/x%2By%2Fdeeper"]
    assert find_legacy(calls) == {"x+y": "/config/users/x+y"} and move_all(calls) == 0  # nothing left to move
    assert not move_legacy(calls, "nobody@x", "/config/users/nobody@x")


def test_brokers_moving_at_once_move_each_znode_once(zk_client: KazooClient) -> None:
    """Brokers started together all move what they find: every legacy znode is moved by exactly one of
    them, and none fails because another moved (and deleted) a znode between its reads."""
    users = [f"u{i}@x" for i in range(12)] + [f"team{i}/carol" for i in range(6)]
    for user in users:
        zk_client.create(f"/config/users/{user}", encode({"SCRAM-SHA-256": user}), makepath=True)
    moved: list[int] = []
    failures: list[BaseException] = []

    def broker() -> None:
        try:
            moved.append(move_all(_calls(zk_client)))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=broker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures, failures
    assert sum(moved) == len(users), moved
    for user in users:
        assert _config(zk_client, f"/config/users/{sanitize(user)}") == {"SCRAM-SHA-256": user}
    assert find_legacy(_calls(zk_client)) == {}
