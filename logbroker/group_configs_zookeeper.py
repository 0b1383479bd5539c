"""The group configs of a cluster (config resource type GROUP, any group type: the ``share.*`` and
``consumer.*`` names of ``logbroker/groups/group_configs.py``) in ZooKeeper's entity config znodes,
beside the users' and clients' (layout, names and writing: ``logbroker/config_znodes.py``):

    path                                          content
    /config/groups/<group>                        {"version":1,"config":{"share.auto.offset.reset":"earliest"}}
    /config/changes/config_change_<seq>           {"version":2,"entity_path":"groups/<group>"}

Kafka 4 keeps a group's configs in its metadata log, seen by every broker; ZooKeeper is this
cluster's shared metadata, so they are kept there as the other entity configs are, under the entity
type name Kafka gives groups (``ConfigResource.Type.GROUP``, "groups"). A value is its text; an
alteration is one conditional read-modify-write of the group's znode (retried when another broker
wrote in between; keys it does not change survive) and a change notification.

Every broker holds every group's configs in memory (``get``: a partition leader applies them to
the share-partitions it serves without waiting for ZooKeeper) and reads a group's again when a
change notification names it (``catch_up``, a worker thread; every group's after a lost
connection). The watch on the notifications only signals; the catch-up re-arms it before it reads
(``logbroker/zookeeper_notices.py``), so it survives a lost connection or session, the caller
retrying the catch-up until ZooKeeper answers. DescribeConfigs reads the group's znode itself
(``read_async``), so an alteration through one broker is described by every broker at once.

ZooKeeper calls block: ``read_async`` and ``change_async`` run them in a worker thread, waited for
``ZOOKEEPER_TIMEOUT_S`` at most; without a connection, after the wait or on a ZooKeeper error they
raise ClusterStateUnavailableError (REQUEST_TIMED_OUT to a client, which retries).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from logbroker.config_znodes import (
    CHANGES,
    CONFIG,
    Config,
    change_config,
    desanitize,
    notice_entity_paths,
    read_config,
    sanitize,
)
from logbroker.errors import ClusterStateUnavailableError
from logbroker.zookeeper_deadline import ZooKeeperDeadline
from logbroker.zookeeper_notices import ChangeNotices

log = logging.getLogger(__name__)

GROUPS = f"{CONFIG}/groups"
ZOOKEEPER_TIMEOUT_S = 30.0  # longest wait on ZooKeeper (Kafka's request.timeout.ms default)

GroupConfigs = dict[str, str]


def _strings(config: Config) -> GroupConfigs:
    return {k: v for k, v in config.items() if isinstance(v, str)}


class GroupConfigZooKeeperStore:
    """A cluster's group configs (see the module docstring)."""

    def __init__(self, zk: KazooClient, on_change: Callable[[], None]) -> None:
        """Blocking (ZooKeeper reads): built in a worker thread. ``on_change`` is called on kazoo's
        thread when a change notification appears or the connection drops; it should start a
        ``catch_up`` off the loop, again until one succeeds."""
        self.zk = zk
        calls = ZooKeeperDeadline(zk, ZOOKEEPER_TIMEOUT_S, "group config znodes not made")
        for path in (GROUPS, CHANGES):
            calls.ensure_path(path)
        self.notices = ChangeNotices(CHANGES, on_change)
        # Replaced whole, never changed in place: reloads and changes run in worker threads while
        # the event loop reads.
        self._configs: dict[str, GroupConfigs] = {}
        self._lock = threading.Lock()  # one reload or change at a time
        self.catch_up()

    # ------------------------------------------------------------------ on the event loop
    def get(self, group_id: str) -> Mapping[str, str]:
        """The group's configs as this broker last read them (empty: none set)."""
        return self._configs.get(group_id, {})

    async def read_async(self, group_id: str) -> GroupConfigs:
        """The group's configs as ZooKeeper holds them now."""
        return await self._off_loop(f"configs of group {group_id!r} not read", self.read, group_id)

    async def change_async(self, group_id: str, changes: Mapping[str, str | None]) -> None:
        """Set (a value) or delete (None) configs of a group, for every broker."""
        await self._off_loop(f"configs of group {group_id!r} not changed", self.change, group_id, dict(changes))

    async def _off_loop(self, what: str, fn: Callable[..., object], *args: object) -> GroupConfigs:
        if not self.zk.connected:  # kazoo would hold the request until it reconnects
            raise ClusterStateUnavailableError(f"{what}: ZooKeeper is not connected")
        try:
            result = await asyncio.wait_for(asyncio.to_thread(fn, *args), ZOOKEEPER_TIMEOUT_S)
        except TimeoutError:
            raise ClusterStateUnavailableError(
                f"{what}: ZooKeeper did not answer within {ZOOKEEPER_TIMEOUT_S:.0f}s") from None
        except KazooException as exc:
            raise ClusterStateUnavailableError(f"{what}: ZooKeeper: {exc!r}") from exc
        return result if isinstance(result, dict) else {}

    # ------------------------------------------------------------------ blocking (worker threads)
    def read(self, group_id: str) -> GroupConfigs:
        calls = ZooKeeperDeadline(self.zk, ZOOKEEPER_TIMEOUT_S, f"configs of group {group_id!r} not read")
        return _strings(read_config(calls, f"{GROUPS}/{sanitize(group_id)}"))

    def change(self, group_id: str, changes: Mapping[str, str | None]) -> GroupConfigs:
        """One conditional read-modify-write of the group's znode and a change notification; the
        group's configs after it (this broker's copy updated at once, the others on the notice)."""
        after: list[GroupConfigs] = []

        def apply(config: Config) -> None:
            for name, value in changes.items():
                if value is None:
                    config.pop(name, None)
                else:
                    config[name] = value
            after[:] = [_strings(config)]

        with self._lock:
            calls = ZooKeeperDeadline(self.zk, ZOOKEEPER_TIMEOUT_S, f"configs of group {group_id!r} not changed")
            change_config(calls, f"groups/{sanitize(group_id)}", apply)
            configs = after[0] if after else {}
            current = dict(self._configs)
            if configs:
                current[group_id] = configs
            else:
                current.pop(group_id, None)
            self._configs = current
        log.info("configs of group %s changed: %s", group_id, configs)
        return configs

    def catch_up(self) -> None:
        """Re-arm the change watch, then read the configs of the groups the new notices name (every
        group's the first time, after a lost connection, or when notices went unread:
        ``logbroker/zookeeper_notices.py``). ClusterStateUnavailableError when ZooKeeper does not
        answer in time (or at all)."""
        with self._lock:
            calls = ZooKeeperDeadline(self.zk, ZOOKEEPER_TIMEOUT_S, "group configs not reloaded")
            try:
                pending = self.notices.pending(calls)
                paths = None if pending.everything else notice_entity_paths(self.notices.contents(calls, pending))
                configs = self._read_all(calls) if paths is None else self._read_named(calls, paths)
            except KazooException as exc:
                raise ClusterStateUnavailableError(f"group configs not reloaded: ZooKeeper: {exc!r}") from exc
            self._configs = configs
            self.notices.applied(pending)

    @staticmethod
    def _read_all(calls: ZooKeeperDeadline) -> dict[str, GroupConfigs]:
        configs: dict[str, GroupConfigs] = {}
        for znode in calls.get_children(GROUPS):
            group_id = desanitize(znode)
            if group_id is None:
                continue
            values = _strings(read_config(calls, f"{GROUPS}/{znode}"))
            if values:
                configs[group_id] = values
        return configs

    def _read_named(self, calls: ZooKeeperDeadline, paths: list[str]) -> dict[str, GroupConfigs]:
        """This broker's configs with those of the groups ``paths`` name read again (other entity
        types' notices are not ours)."""
        configs = dict(self._configs)
        for znode in {p.split("/", 1)[1] for p in paths if p.startswith("groups/")}:
            group_id = desanitize(znode)
            if group_id is None or "/" in znode:
                continue
            values = _strings(read_config(calls, f"{GROUPS}/{znode}"))
            if values:
                configs[group_id] = values
            else:
                configs.pop(group_id, None)
        return configs
