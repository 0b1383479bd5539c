"""logbroker/config_znodes.py against a real ZooKeeper: a change is conditional on the version it
read, so a write another broker made in between is kept, never overwritten."""

from __future__ import annotations

import json

from kazoo.client import KazooClient

from logbroker.config_znodes import Config, change_config, encode, read_config
from logbroker.zookeeper_deadline import ZooKeeperDeadline


def _calls(zk: KazooClient) -> ZooKeeperDeadline:
    return ZooKeeperDeadline(zk, 10.0, "test")


def _notifications(zk: KazooClient) -> list[str]:
    return [json.loads(zk.get(f"/config/changes/{n}")[0])["entity_path"]
            for n in sorted(zk.get_children("/config/changes"))]


def test_a_write_in_between_is_kept_and_the_change_retried(zk_client: KazooClient) -> None:
    zk_client.create("/config/users/erin", encode({"SCRAM-SHA-256": "salt=a"}), makepath=True)
    calls: list[Config] = []

    def change(config: Config) -> None:
        calls.append(dict(config))
        if len(calls) == 1:  # another broker writes after this read, before this write
            zk_client.set("/config/users/erin", encode({"SCRAM-SHA-256": "salt=a", "SCRAM-SHA-512": "salt=b"}))
        config["producer_byte_rate"] = "1024"

    change_config(_calls(zk_client), "users/erin", change)
    assert calls == [{"SCRAM-SHA-256": "salt=a"}, {"SCRAM-SHA-256": "salt=a", "SCRAM-SHA-512": "salt=b"}]
    assert read_config(_calls(zk_client), "/config/users/erin") == {
        "SCRAM-SHA-256": "salt=a", "SCRAM-SHA-512": "salt=b", "producer_byte_rate": "1024"}
    assert _notifications(zk_client) == ["users/erin"]


def test_a_missing_znode_is_created_and_a_removal_from_none_writes_nothing(zk_client: KazooClient) -> None:
    change_config(_calls(zk_client), "users/frank/clients/app",
                  lambda config: config.update({"consumer_byte_rate": "5"}))
    assert read_config(_calls(zk_client), "/config/users/frank/clients/app") == {"consumer_byte_rate": "5"}
    assert read_config(_calls(zk_client), "/config/users/frank") == {}  # the parent made on the way: empty

    def remove(config: Config) -> None:
        config.pop("connection_creation_rate", None)

    change_config(_calls(zk_client), "ips/10.0.0.9", remove)
    assert zk_client.exists("/config/ips/10.0.0.9") is None
    assert _notifications(zk_client) == ["users/frank/clients/app"]
