"""A change notice makes a store read what it names, not everything: the group configs and SCRAM
credentials of a cluster against a real ZooKeeper, changed through a second client as another
broker would (``logbroker/zookeeper_notices.py``).

What proves it: a znode changed without a notice (as no broker writes, so nothing announces it) is
not read by a catch-up for another entity's notice, only once the connection was lost (the
catch-up after a reconnection reads everything).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from logbroker.cluster.zkserver import LocalZooKeeper
from logbroker.config_znodes import Config, change_config, encode
from logbroker.group_configs_zookeeper import GroupConfigZooKeeperStore
from logbroker.security.scram_store import ScramCredential
from logbroker.security.scram_zookeeper import ScramZooKeeperStore
from logbroker.zookeeper_deadline import ZooKeeperDeadline
from tests.cluster.conftest import kazoo_client, wait_until

LIMIT = "share.delivery.count.limit"


@pytest.fixture
def broker_zk(zookeeper: LocalZooKeeper) -> Iterator[KazooClient]:
    """The client of the broker whose store is watched (apart from the test's ``zk_client``)."""
    with kazoo_client(zookeeper) as client:
        yield client


class Signals:
    """``on_change``: counts the store's signals (kazoo's thread)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.changed.set()

    def wait(self) -> None:
        assert self.changed.wait(10), "no signal from the store's watch"
        self.changed.clear()


def _calls(zk: KazooClient) -> ZooKeeperDeadline:
    return ZooKeeperDeadline(zk, 10.0, "test")


def _set_group(zk: KazooClient, group: str, limit: str) -> None:
    """What another broker's alteration writes: the znode, then a notice."""
    change_config(_calls(zk), f"groups/{group}", lambda config: config.update({LIMIT: limit}))


def _set_silently(zk: KazooClient, path: str, config: Config) -> None:
    """The znode alone, with no notice."""
    if zk.exists(path):
        zk.set(path, encode(config))
    else:
        zk.create(path, encode(config), makepath=True)


def _restart(zookeeper: LocalZooKeeper, client: KazooClient) -> None:
    """Drop every connection (the sessions outlive it) and wait until ``client`` is back."""
    zookeeper.stop()
    wait_until(lambda: not client.connected, 10, "the connection dropped")
    zookeeper.start()
    wait_until(lambda: client.connected, 30, "the connection back")


def test_group_configs_read_only_the_named_group_and_everything_after_a_reconnect(
        zookeeper: LocalZooKeeper, broker_zk: KazooClient, zk_client: KazooClient) -> None:
    signals = Signals()
    _set_group(zk_client, "g1", "3")
    store = GroupConfigZooKeeperStore(broker_zk, signals)
    assert store.get("g1") == {LIMIT: "3"}

    _set_silently(zk_client, "/config/groups/g2", {LIMIT: "4"})
    _set_group(zk_client, "g1", "5")
    signals.wait()
    store.catch_up()
    assert store.get("g1") == {LIMIT: "5"}
    assert store.get("g2") == {}, "a notice naming g1 made the store read g2 too"

    # A deletion the notice names (the znode emptied) is read too.
    def remove(config: Config) -> None:
        config.pop(LIMIT)

    change_config(_calls(zk_client), "groups/g1", remove)
    signals.wait()
    store.catch_up()
    assert store.get("g1") == {}

    _restart(zookeeper, broker_zk)
    signals.wait()  # the watch fired on the lost connection
    store.catch_up()
    assert store.get("g2") == {LIMIT: "4"}, "the catch-up after a reconnection read everything"


def _credential(salt: bytes) -> ScramCredential:
    return ScramCredential(salt=salt, stored_key=b"s" * 64, server_key=b"k" * 64, iterations=4096)


def test_scram_credentials_read_only_the_named_user_and_everything_after_a_reconnect(
        zookeeper: LocalZooKeeper, broker_zk: KazooClient, zk_client: KazooClient) -> None:
    signals = Signals()
    other = ScramZooKeeperStore(zk_client, lambda: None, 10.0)  # another broker
    other.upsert("alice@example.com", "SCRAM-SHA-512", _credential(b"a1"))
    store = ScramZooKeeperStore(broker_zk, signals, 10.0)
    first = store.get("alice@example.com", "SCRAM-SHA-512")
    assert first is not None and first.salt == b"a1"

    silent: Config = {"SCRAM-SHA-512": _credential(b"b1").to_text()}
    _set_silently(zk_client, "/config/users/bob", silent)
    other.upsert("alice@example.com", "SCRAM-SHA-512", _credential(b"a2"))
    change_config(_calls(zk_client), "clients/app", lambda config: config.update({"producer_byte_rate": "1"}))
    signals.wait()
    store.catch_up()
    changed = store.get("alice@example.com", "SCRAM-SHA-512")
    assert changed is not None and changed.salt == b"a2"
    assert store.get("bob", "SCRAM-SHA-512") is None, "a notice naming alice made the store read bob too"

    other.delete("alice@example.com", "SCRAM-SHA-512")
    signals.wait()
    store.catch_up()
    assert "alice@example.com" not in store.users()

    _restart(zookeeper, broker_zk)
    signals.wait()
    store.catch_up()
    assert store.get("bob", "SCRAM-SHA-512") is not None, "the catch-up after a reconnection read everything"
