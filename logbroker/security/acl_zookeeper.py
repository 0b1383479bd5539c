"""The ACLs of a cluster, in ZooKeeper where Kafka's ZooKeeper-mode AclAuthorizer kept them.

    path                                                content
    /kafka-acl/<ResourceType>/<name>                    LITERAL patterns of one resource:
                                                        {"version":1,"acls":[{"principal":"User:alice",
                                                        "permissionType":"Allow","operation":"Read","host":"*"}]}
    /kafka-acl-extended/prefixed/<ResourceType>/<name>  PREFIXED patterns, the same JSON
    /kafka-acl-changes/acl_changes_<seq>                a change to a LITERAL resource: "TOPIC:<name>" (text)
    /kafka-acl-extended-changes/acl_changes_<seq>       a change to a PREFIXED one: {"version":1,
                                                        "resourceType":"TOPIC","name":"<name>","patternType":"PREFIXED"}

``<ResourceType>`` is Kafka's text name (Topic, Group, Cluster, TransactionalId, DelegationToken).
A change rewrites only the resources it touches, each with a read-modify-write conditional on the
znode's version (retried when another broker wrote in between), then adds a sequential change
notification. Every broker watches both notification paths and reloads its ACLs when one appears,
so an ACL created through any broker applies on all of them. Notifications are only a signal: the
ACL znodes are the truth, and old notifications are removed (Kafka kept them 15 minutes).
Sources: Kafka 3.x ``kafka.zk.ZkData`` (ZkAclStore, ExtendedAclChangeEvent) and KIP-290.

Every ZooKeeper call waits until one deadline at most (``timeout_s``, the broker's
``request.timeout.ms``: ``logbroker/zookeeper_deadline.py``). The watches on the notification paths
only signal; the load they ask for re-arms them first (``logbroker/zookeeper_notices.py``), so they
survive a lost connection or session, the caller retrying the load until ZooKeeper answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, KazooException, NodeExistsError, NoNodeError

from logbroker.errors import ClusterStateUnavailableError
from logbroker.security.acl import (
    AccessControlEntry,
    AclBinding,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    operation_from_name,
    operation_name,
    resource_type_from_name,
    resource_type_name,
)
from logbroker.zookeeper_deadline import ZooKeeperDeadline
from logbroker.zookeeper_notices import ChangeNotices

log = logging.getLogger(__name__)

ROOTS = {PatternType.LITERAL: "/kafka-acl", PatternType.PREFIXED: "/kafka-acl-extended/prefixed"}
CHANGES = {PatternType.LITERAL: "/kafka-acl-changes", PatternType.PREFIXED: "/kafka-acl-extended-changes"}
CHANGE_PREFIX = "acl_changes_"
KEEP_CHANGES = 100  # notifications kept per path; older ones are deleted by the broker that writes


def resource_path(p: ResourcePattern) -> str:
    return f"{ROOTS[p.pattern_type]}/{resource_type_name(p.resource_type)}/{p.name}"


def encode_entries(entries: list[AccessControlEntry]) -> bytes:
    return json.dumps({"version": 1, "acls": [
        {"principal": e.principal, "permissionType": e.permission.name.capitalize(),
         "operation": operation_name(e.operation), "host": e.host} for e in sorted(entries)]}).encode()


def decode_entries(data: bytes) -> list[AccessControlEntry]:
    doc: dict[str, Any] = json.loads(data) if data else {"acls": []}
    return [AccessControlEntry(str(a["principal"]), str(a["host"]), operation_from_name(str(a["operation"])),
                               AclPermissionType[str(a["permissionType"]).upper()]) for a in doc.get("acls", [])]


def change_event(p: ResourcePattern) -> bytes:
    if p.pattern_type == PatternType.LITERAL:
        return f"{p.resource_type.name}:{p.name}".encode()
    return json.dumps({"version": 1, "resourceType": p.resource_type.name, "name": p.name,
                       "patternType": p.pattern_type.name}).encode()


class AclZooKeeperStore:
    """Loads every ACL znode; writes per resource; tells ``on_change`` (from kazoo's thread) of changes."""

    def __init__(self, zk: KazooClient, on_change: Callable[[], None], timeout_s: float) -> None:
        """Blocking (ZooKeeper): built in a worker thread. ``timeout_s``: how long one load or change
        may wait on ZooKeeper. The watches are armed by the first ``load``."""
        self.zk = zk
        self.timeout_s = timeout_s
        calls = ZooKeeperDeadline(zk, timeout_s, "ACL znodes not made")
        for path in (*ROOTS.values(), *CHANGES.values()):
            calls.ensure_path(path)
        self.notices = [ChangeNotices(path, on_change) for path in CHANGES.values()]
        self._lock = threading.Lock()  # one load at a time: a notice is marked read only after it

    def load(self) -> set[AclBinding]:
        """Re-arm the change watches, then read every ACL. Blocking: run it in a worker thread.
        ClusterStateUnavailableError when ZooKeeper does not answer in time."""
        calls = ZooKeeperDeadline(self.zk, self.timeout_s, "ACLs not read")
        if not self._lock.acquire(timeout=calls.remaining()):
            raise calls.expired()
        try:
            pending = [n.pending(calls) for n in self.notices]
            acls = self._read(calls)
            for notices, p in zip(self.notices, pending, strict=True):
                notices.applied(p)
            return acls
        except KazooException as exc:
            raise ClusterStateUnavailableError(f"ACLs not read: ZooKeeper: {exc!r}") from exc
        finally:
            self._lock.release()

    @staticmethod
    def _read(calls: ZooKeeperDeadline) -> set[AclBinding]:
        acls: set[AclBinding] = set()
        for pattern_type, root in ROOTS.items():
            for type_name in calls.get_children(root):
                try:
                    rtype = resource_type_from_name(type_name)
                except ValueError:
                    log.warning("ignoring ACL znodes of unknown resource type %s/%s", root, type_name)
                    continue
                for name in calls.get_children(f"{root}/{type_name}"):
                    pattern = ResourcePattern(rtype, name, pattern_type)
                    try:
                        data, _ = calls.get(resource_path(pattern))
                        acls.update(AclBinding(pattern, e) for e in decode_entries(data))
                    except NoNodeError:
                        continue  # deleted while listing
                    except (KeyError, ValueError) as exc:
                        log.error("skipping unreadable ACL znode %s: %s", resource_path(pattern), exc)
        return acls

    def update(self, after: set[AclBinding], added: set[AclBinding], removed: set[AclBinding]) -> None:
        """Blocking (ZooKeeper writes): the authorizer calls it in a worker thread."""
        calls = ZooKeeperDeadline(self.zk, self.timeout_s, "ACLs not changed")
        try:
            self._update(calls, added, removed)
        except KazooException as exc:
            raise ClusterStateUnavailableError(f"ACLs not changed: ZooKeeper: {exc!r}") from exc

    def _update(self, calls: ZooKeeperDeadline, added: set[AclBinding], removed: set[AclBinding]) -> None:
        touched: dict[ResourcePattern, tuple[set[AccessControlEntry], set[AccessControlEntry]]] = {}
        for acl in added:
            touched.setdefault(acl.pattern, (set(), set()))[0].add(acl.entry)
        for acl in removed:
            touched.setdefault(acl.pattern, (set(), set()))[1].add(acl.entry)
        for pattern, (plus, minus) in touched.items():
            self._rewrite(calls, pattern, plus, minus)
            self._notify(calls, pattern)

    @staticmethod
    def _rewrite(calls: ZooKeeperDeadline, pattern: ResourcePattern, plus: set[AccessControlEntry],
                 minus: set[AccessControlEntry]) -> None:
        path = resource_path(pattern)
        while True:  # read-modify-write, conditional on the version read
            try:
                data, stat = calls.get(path)
            except NoNodeError:
                entries = plus - minus
                if not entries:
                    return
                try:
                    calls.create(path, encode_entries(list(entries)), makepath=True)
                    return
                except NodeExistsError:
                    continue
            entries = (set(decode_entries(data)) | plus) - minus
            try:
                if entries:
                    calls.set(path, encode_entries(list(entries)), version=stat.version)
                else:
                    calls.delete(path, version=stat.version)
                return
            except (BadVersionError, NoNodeError):
                continue  # another broker wrote in between: read again

    @staticmethod
    def _notify(calls: ZooKeeperDeadline, pattern: ResourcePattern) -> None:
        changes = CHANGES[pattern.pattern_type]
        calls.create(f"{changes}/{CHANGE_PREFIX}", change_event(pattern), sequence=True)
        old = sorted(calls.get_children(changes))[:-KEEP_CHANGES]
        for name in old:
            with contextlib.suppress(NoNodeError):  # another broker removed it first
                calls.delete(f"{changes}/{name}")
