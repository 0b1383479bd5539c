"""SCRAM credentials an older logbroker wrote under user names as typed, and their move to the znode
Kafka names a user by.

Kafka names a user's config znode by its sanitized name (``/config/users/alice%40example.com``;
``logbroker/config_znodes.py``). logbroker's first cluster release wrote the credentials under the
name as typed: ``/config/users/alice@example.com``, and ``/config/users/team/carol`` (a znode
``carol`` below ``team``) for ``team/carol``. Such a "legacy" znode is recognised by its name (one
``sanitize`` could not have written: ``is_sanitized``) or, for a name with ``/``, by lying below a
user's znode where only ``clients`` belongs. A raw name that happens to look encoded (``a%40b``
typed as such) cannot be told apart and is read as Kafka reads it (``a@b``).

A legacy znode is moved by one ZooKeeper transaction: its credentials are merged into the encoded
znode (a mechanism the encoded znode holds already wins: it was written later), and the legacy znode
is deleted (or keeps what else it holds), both conditional on the versions read, so a broker moving
it at the same time, or a change in between, makes the transaction fail and it is read again. Then a
change notification tells the other brokers. Every broker moves what it finds when it starts, and a
change of a user's credentials moves that user's legacy znode first, so a deleted credential cannot
come back from it. Until moved, a legacy znode directly under ``/config/users`` is still read (the
encoded znode winning per mechanism).

Blocking (ZooKeeper): run in a worker thread, its calls bounded by the caller's deadline.
"""

from __future__ import annotations

import logging

from kazoo.exceptions import NoNodeError

from logbroker.config_znodes import decode, encode, is_sanitized, notify, sanitize
from logbroker.security.scram_store import MECHANISMS
from logbroker.zookeeper_deadline import ZooKeeperDeadline

log = logging.getLogger(__name__)

USERS = "/config/users"
CLIENTS = "clients"  # below a user's znode: its client-id quotas (Kafka's layout)


def legacy_path(user: str) -> str | None:
    """Where an older logbroker wrote ``user``'s credentials, or None when that place is the user's
    encoded znode, another entity's, or a path ZooKeeper refuses (so nothing can be there)."""
    if sanitize(user) == user:
        return None
    parts = user.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    if len(parts) == 1 and is_sanitized(user):
        return None  # it is (or would be) the encoded znode of another name
    if len(parts) > 1 and parts[1] == CLIENTS:
        return None  # a user's client-id quotas live there
    return f"{USERS}/{user}"


def find_legacy(calls: ZooKeeperDeadline) -> dict[str, str]:
    """Every legacy znode, by the user name it holds: those directly under ``/config/users`` and
    those below a user's znode other than ``clients``, at any depth."""
    found: dict[str, str] = {}

    def below(path: str, name: str, depth: int) -> None:
        try:
            children = calls.get_children(path)
        except NoNodeError:
            return
        for child in children:
            if depth == 1 and child == CLIENTS:
                continue
            found[f"{name}/{child}"] = f"{path}/{child}"
            below(f"{path}/{child}", f"{name}/{child}", depth + 1)

    for znode in calls.get_children(USERS):
        if not is_sanitized(znode):
            found[znode] = f"{USERS}/{znode}"
        below(f"{USERS}/{znode}", znode, 1)
    return found


def move_legacy(calls: ZooKeeperDeadline, user: str, path: str) -> bool:
    """Move the credentials of the legacy znode ``path`` (holding ``user``'s) into the user's encoded
    znode; True when something was moved. KazooException on ZooKeeper's failures."""
    target = f"{USERS}/{sanitize(user)}"
    while True:
        try:
            data, stat = calls.get(path)
        except NoNodeError:
            return False
        try:
            legacy = decode(data)
        except ValueError as exc:
            log.error("legacy SCRAM znode %s is unreadable, left as it is: %s", path, exc)
            return False
        moved = {k: v for k, v in legacy.items() if k in MECHANISMS}
        kept = {k: v for k, v in legacy.items() if k not in MECHANISMS}
        if not moved:
            return False
        try:
            current_data, current_stat = calls.get(target)
        except NoNodeError:
            current, current_version = {}, None
        else:
            try:
                current, current_version = decode(current_data), current_stat.version
            except ValueError as exc:
                log.error("SCRAM znode %s is unreadable; %s not moved into it: %s", target, path, exc)
                return False
        tx = calls.transaction()
        merged = encode({**moved, **current})
        if current_version is None:
            tx.create(target, merged)
        else:
            tx.set_data(target, merged, version=current_version)
        if kept or calls.get_children(path):
            tx.set_data(path, encode(kept), version=stat.version)
        else:
            tx.delete(path, version=stat.version)
        if not any(isinstance(result, Exception) for result in tx.commit()):
            break
    notify(calls, f"users/{sanitize(user)}")
    log.info("SCRAM credentials %s of user %r moved from %s to %s (Kafka's encoded name)",
             sorted(moved), user, path, target)
    return True


def move_all(calls: ZooKeeperDeadline) -> int:
    """Move every legacy znode found; how many moved."""
    return sum(move_legacy(calls, user, path) for user, path in sorted(find_legacy(calls).items()))
