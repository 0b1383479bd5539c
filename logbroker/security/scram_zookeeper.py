"""The SCRAM credentials of a cluster, in ZooKeeper where Kafka's ZooKeeper mode kept them.

    path                                  content
    /config/users/<name>                  {"version":1,"config":{"SCRAM-SHA-512":"salt=...,stored_key=...,
                                          server_key=...,iterations=4096", ...}}  (the user's config znode)
    /config/changes/config_change_<seq>   {"version":2,"entity_path":"users/<name>"}  (a change notification)

The user's znode is shared with its client quotas (``logbroker/client_quotas_zookeeper.py``): a change
rewrites only the credential's key and keeps every other entry (``logbroker/config_znodes.py``), and
the name in the path is sanitized as Kafka sanitized it.
Each broker keeps every credential in memory (authentication never waits for ZooKeeper) and
reloads them when a change notification appears, so a user created through any broker can log in
on all of them. A change is a read-modify-write of the user's znode conditional on its version
(retried when another broker wrote in between), then a notification. Notifications are a signal
only; old ones are removed. Sources: Kafka 3.x ``kafka.zk.ZkData`` (ConfigEntityZNode,
ConfigEntityChangeNotificationZNode) and ``ScramCredentialUtils`` (the credential text).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError

from logbroker.config_znodes import CHANGES, Config, change_config, decode, desanitize, sanitize
from logbroker.errors import ClusterStateUnavailableError
from logbroker.security.scram_store import MECHANISMS, ScramCredential, with_credential

log = logging.getLogger(__name__)

USERS = "/config/users"


class ScramZooKeeperStore:
    """A ``CredentialStore`` over ZooKeeper (see the module docstring)."""

    def __init__(self, zk: KazooClient, on_change: Callable[[], None]) -> None:
        """Blocking (ZooKeeper reads): built in a worker thread."""
        self.zk = zk
        self.on_change = on_change
        for path in (USERS, CHANGES):
            zk.ensure_path(path)
        # Replaced whole, never changed in place: changes and reloads run in worker threads (the event
        # loop never waits on ZooKeeper) while authentication reads on the loop.
        self._users: dict[str, dict[str, ScramCredential]] = {}
        self._lock = threading.Lock()  # one change or reload at a time
        self.reload()
        self._watch()

    def _watch(self) -> None:
        def fired(_: object) -> None:  # kazoo's thread: only signal, reload on the loop
            self.on_change()
            try:
                self.zk.get_children(CHANGES, watch=fired)  # one-shot watches: arm it again
            except Exception as exc:  # the session is going away; the next start reads everything
                log.info("credential change watch not re-armed: %s", exc)

        self.zk.get_children(CHANGES, watch=fired)

    def reload(self) -> None:
        """Read every credential again. Blocking: run it in a worker thread."""
        with self._lock:
            self._users = self._read_users()

    def _read_users(self) -> dict[str, dict[str, ScramCredential]]:
        users: dict[str, dict[str, ScramCredential]] = {}
        for znode in self.zk.get_children(USERS):
            name = desanitize(znode)
            if name is None:
                continue  # the default user's znode holds quotas only
            try:
                data, _ = self.zk.get(f"{USERS}/{znode}")
            except NoNodeError:
                continue
            try:
                config = decode(data)
            except ValueError as exc:
                log.error("skipping unreadable user config znode %s/%s: %s", USERS, znode, exc)
                continue
            for mechanism, text in config.items():
                if mechanism not in MECHANISMS or not isinstance(text, str):
                    continue  # quotas and other user configs share the znode
                try:
                    users.setdefault(name, {})[mechanism] = ScramCredential.from_text(text)
                except ValueError as exc:
                    log.error("skipping the %s credential of user %r: %s", mechanism, name, exc)
        return users

    def get(self, user: str, mechanism: str) -> ScramCredential | None:
        return self._users.get(user, {}).get(mechanism)

    def users(self) -> dict[str, dict[str, ScramCredential]]:
        return {u: dict(m) for u, m in self._users.items()}

    def upsert(self, user: str, mechanism: str, credential: ScramCredential) -> None:
        """Blocking (ZooKeeper writes): run it in a worker thread."""
        with self._lock:
            self._change(user, mechanism, credential.to_text())
            self._users = with_credential(self._users, user, mechanism, credential)

    def delete(self, user: str, mechanism: str) -> bool:
        """Blocking (ZooKeeper writes): run it in a worker thread."""
        with self._lock:
            if self.get(user, mechanism) is None:
                return False
            self._change(user, mechanism, None)
            self._users = with_credential(self._users, user, mechanism, None)
            return True

    def _change(self, user: str, mechanism: str, text: str | None) -> None:
        if not self.zk.connected:  # kazoo would hold the request until it reconnects
            raise ClusterStateUnavailableError(f"credential of {user!r} not changed: ZooKeeper is not connected")
        try:
            self._write(user, mechanism, text)
        except KazooException as exc:
            raise ClusterStateUnavailableError(f"credential of {user!r} not changed: ZooKeeper: {exc!r}") from exc

    def _write(self, user: str, mechanism: str, text: str | None) -> None:
        def change(config: Config) -> None:
            if text is None:
                config.pop(mechanism, None)
            else:
                config[mechanism] = text

        change_config(self.zk, f"users/{sanitize(user)}", change)
