"""The SCRAM credentials of a cluster, in ZooKeeper where Kafka's ZooKeeper mode kept them.

    path                                  content
    /config/users/<name>                  {"version":1,"config":{"SCRAM-SHA-512":"salt=...,stored_key=...,
                                          server_key=...,iterations=4096", ...}}  (the user's config znode)
    /config/changes/config_change_<seq>   {"version":2,"entity_path":"users/<name>"}  (a change notification)

The user's znode is shared with its client quotas (``logbroker/client_quotas_zookeeper.py``): a change
rewrites only the credential's key and keeps every other entry (``logbroker/config_znodes.py``), and
the name in the path is sanitized as Kafka sanitized it (``alice@example.com`` is
``alice%40example.com``, ``team/carol`` is ``team%2Fcarol``); users are listed and authenticated by
the name itself. Credentials an older logbroker wrote under the name as typed are still read, and
moved to the encoded znode (``logbroker/security/scram_legacy_znodes.py``).
Each broker keeps every credential in memory (authentication never waits for ZooKeeper) and
reads a user's again when a change notification names the user (every user's after a lost
connection), so a user created through any broker can log in on all of them. A change is a
read-modify-write of the user's znode conditional on its version (retried when another broker
wrote in between), then a notification. Old notifications are removed. Sources: Kafka 3.x
``kafka.zk.ZkData`` (ConfigEntityZNode, ConfigEntityChangeNotificationZNode) and
``ScramCredentialUtils`` (the credential text).

Every ZooKeeper call runs in a worker thread, and each change or reload ends by one deadline
(``timeout_s``, the broker's ``request.timeout.ms``: ``logbroker/zookeeper_deadline.py``), so a
stalled ZooKeeper answers AlterUserScramCredentials REQUEST_TIMED_OUT in time. The watch on the
notifications only signals (``on_change``, from kazoo's thread, which never waits on ZooKeeper); the
reload it asks for re-arms the watch before it reads, so a notification posted meanwhile is not
missed (``logbroker/zookeeper_notices.py``). kazoo fires and drops every watch when its connection
is lost: the reload that signal asks for fails until ZooKeeper answers again, and the caller retries
it (``logbroker/change_follower.py``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError

from logbroker.config_znodes import (
    CHANGES,
    Config,
    change_config,
    decode,
    desanitize,
    is_sanitized,
    notice_entity_paths,
    sanitize,
)
from logbroker.errors import ClusterStateUnavailableError
from logbroker.security import scram_legacy_znodes as legacy
from logbroker.security.scram_store import MECHANISMS, ScramCredential, with_credential
from logbroker.zookeeper_deadline import ZooKeeperDeadline
from logbroker.zookeeper_notices import ChangeNotices

log = logging.getLogger(__name__)

USERS = "/config/users"


class ScramZooKeeperStore:
    """A ``CredentialStore`` over ZooKeeper (see the module docstring)."""

    def __init__(self, zk: KazooClient, on_change: Callable[[], None], timeout_s: float) -> None:
        """Blocking (ZooKeeper reads): built in a worker thread. ``timeout_s``: how long one change or
        reload may wait on ZooKeeper."""
        self.zk = zk
        self.timeout_s = timeout_s
        self.notices = ChangeNotices(CHANGES, on_change)
        calls = ZooKeeperDeadline(zk, timeout_s, "SCRAM credential znodes not made")
        for path in (USERS, CHANGES):
            calls.ensure_path(path)
        try:
            legacy.move_all(ZooKeeperDeadline(zk, timeout_s, "legacy SCRAM znodes not moved"))
        except (KazooException, ClusterStateUnavailableError) as exc:  # read as they are until moved
            log.warning("SCRAM credentials under unencoded user names not moved: %s", exc)
        # Replaced whole, never changed in place: changes and reloads run in worker threads (the event
        # loop never waits on ZooKeeper) while authentication reads on the loop.
        self._users: dict[str, dict[str, ScramCredential]] = {}
        self._lock = threading.Lock()  # one change or reload at a time
        self.catch_up()

    def catch_up(self) -> None:
        """Re-arm the watch on the notifications and read again the credentials of the users the new
        notices name (every user's the first time, after a lost connection, or when notices went
        unread: ``logbroker/zookeeper_notices.py``). Blocking: run it in a worker thread.
        ClusterStateUnavailableError when ZooKeeper does not answer in time."""
        calls = ZooKeeperDeadline(self.zk, self.timeout_s, "SCRAM credentials not reloaded")
        with self._locked(calls):
            try:
                pending = self.notices.pending(calls)
                users = None if pending.everything else _named_users(
                    notice_entity_paths(self.notices.contents(calls, pending)))
                if users is None:
                    self._users = self._read_users(calls)
                else:
                    current = dict(self._users)
                    for user in users:
                        credentials = self._read_user(calls, user)
                        if credentials:
                            current[user] = credentials
                        else:
                            current.pop(user, None)
                    self._users = current
                self.notices.applied(pending)
            except KazooException as exc:
                raise ClusterStateUnavailableError(f"SCRAM credentials not reloaded: ZooKeeper: {exc!r}") from exc

    @contextlib.contextmanager
    def _locked(self, calls: ZooKeeperDeadline) -> Iterator[None]:
        """The store's lock, waited for until ``calls``' deadline at most (another change or reload may
        hold it while it waits on ZooKeeper)."""
        if not self._lock.acquire(timeout=calls.remaining()):
            raise calls.expired()
        try:
            yield
        finally:
            self._lock.release()

    def _read_users(self, calls: ZooKeeperDeadline) -> dict[str, dict[str, ScramCredential]]:
        """Every user's credentials, by name: encoded znodes first, then legacy ones (written under
        the name as typed, not yet moved) for the mechanisms an encoded znode does not hold."""
        users: dict[str, dict[str, ScramCredential]] = {}
        znodes = calls.get_children(USERS)
        for znode in sorted(znodes, key=lambda z: not is_sanitized(z)):
            name = desanitize(znode) if is_sanitized(znode) else znode
            if name is None:
                continue  # the default user's znode holds quotas only
            _read_znode(calls, znode, name, users.setdefault(name, {}))
        return {name: mechanisms for name, mechanisms in users.items() if mechanisms}

    @staticmethod
    def _read_user(calls: ZooKeeperDeadline, user: str) -> dict[str, ScramCredential]:
        """One user's credentials, as ``_read_users`` reads them: its encoded znode, then a legacy
        one directly under ``/config/users``."""
        found: dict[str, ScramCredential] = {}
        _read_znode(calls, sanitize(user), user, found)
        legacy_znode = legacy.legacy_path(user)
        if legacy_znode is not None and "/" not in user:
            _read_znode(calls, user, user, found)
        return found

    def get(self, user: str, mechanism: str) -> ScramCredential | None:
        return self._users.get(user, {}).get(mechanism)

    def users(self) -> dict[str, dict[str, ScramCredential]]:
        return {u: dict(m) for u, m in self._users.items()}

    def upsert(self, user: str, mechanism: str, credential: ScramCredential) -> None:
        """Blocking (ZooKeeper writes): run it in a worker thread."""
        calls = ZooKeeperDeadline(self.zk, self.timeout_s, f"credential of {user!r} not changed")
        with self._locked(calls):
            self._change(calls, user, mechanism, credential.to_text())
            self._users = with_credential(self._users, user, mechanism, credential)

    def delete(self, user: str, mechanism: str) -> bool:
        """Blocking (ZooKeeper writes): run it in a worker thread."""
        calls = ZooKeeperDeadline(self.zk, self.timeout_s, f"credential of {user!r} not deleted")
        with self._locked(calls):
            if self.get(user, mechanism) is None:
                return False
            self._change(calls, user, mechanism, None)
            self._users = with_credential(self._users, user, mechanism, None)
            return True

    def _change(self, calls: ZooKeeperDeadline, user: str, mechanism: str, text: str | None) -> None:
        def change(config: Config) -> None:
            if text is None:
                config.pop(mechanism, None)
            else:
                config[mechanism] = text

        try:
            path = legacy.legacy_path(user)
            if path is not None:  # moved first: a credential deleted here must not come back from it
                legacy.move_legacy(calls, user, path)
            change_config(calls, f"users/{sanitize(user)}", change)
        except KazooException as exc:
            raise ClusterStateUnavailableError(f"credential of {user!r} not changed: ZooKeeper: {exc!r}") from exc


def _read_znode(calls: ZooKeeperDeadline, znode: str, name: str, into: dict[str, ScramCredential]) -> None:
    """Add the credentials ``/config/users/<znode>`` holds for ``name`` to ``into``, for the
    mechanisms ``into`` does not hold yet (an encoded znode's, read first, win over a legacy one's)."""
    try:
        data, _ = calls.get(f"{USERS}/{znode}")
    except NoNodeError:
        return
    try:
        config = decode(data)
    except ValueError as exc:
        log.error("skipping unreadable user config znode %s/%s: %s", USERS, znode, exc)
        return
    for mechanism, text in config.items():
        if mechanism not in MECHANISMS or not isinstance(text, str):
            continue  # quotas and other user configs share the znode
        if mechanism in into:
            continue  # a legacy znode's credential, replaced since under the encoded name
        try:
            into[mechanism] = ScramCredential.from_text(text)
        except ValueError as exc:
            log.error("skipping the %s credential of user %r: %s", mechanism, name, exc)


def _named_users(paths: list[str] | None) -> set[str] | None:
    """The users whose credentials notices for ``paths`` may have changed; None when one cannot be
    told (a legacy name with a ``/``, written as typed, reads as a deeper path): read every user."""
    if paths is None:
        return None
    users: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if parts[0] != "users":
            continue  # another entity type's config
        if len(parts) == 4 and parts[2] == "clients":
            continue  # a user's client-id quotas
        if len(parts) != 2:
            return None
        name = desanitize(parts[1]) if is_sanitized(parts[1]) else parts[1]
        if name is not None:
            users.add(name)
    return users
