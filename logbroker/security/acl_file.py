"""The ACLs of a single broker, kept in ``<data dir>/acls.json`` (the cluster keeps them in ZooKeeper).

    field         type      meaning
    version       int       1
    acls          array     one object per ACL binding:
      resourceType  string  Kafka's text name (Topic, Group, Cluster, TransactionalId, DelegationToken, User)
      name          string  the resource name or prefix, ``*`` for every resource (LITERAL)
      patternType   string  LITERAL or PREFIXED
      principal     string  Type:name
      host          string  address or ``*``
      operation     string  Kafka's text name (Read, Write, IdempotentWrite, All, ...)
      permission    string  Allow or Deny

The file is replaced, never edited (temporary file, fsync, rename, directory fsync), so a crash leaves
the old or the new set of ACLs whole; Kafka keeps them in its metadata log for the same reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
from segments.checkpoint import atomic_write

log = logging.getLogger(__name__)

ACL_FILE = "acls.json"


def binding_to_json(acl: AclBinding) -> dict[str, str]:
    p, e = acl.pattern, acl.entry
    return {"resourceType": resource_type_name(p.resource_type), "name": p.name, "patternType": p.pattern_type.name,
            "principal": e.principal, "host": e.host, "operation": operation_name(e.operation),
            "permission": e.permission.name.capitalize()}


def binding_from_json(doc: dict[str, Any]) -> AclBinding:
    pattern = ResourcePattern(resource_type_from_name(doc["resourceType"]), str(doc["name"]),
                              PatternType[str(doc["patternType"]).upper()])
    entry = AccessControlEntry(str(doc["principal"]), str(doc["host"]), operation_from_name(doc["operation"]),
                               AclPermissionType[str(doc["permission"]).upper()])
    return AclBinding(pattern, entry)


class AclFile:
    """Loads and saves the whole ACL set of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ACL_FILE

    def load(self) -> set[AclBinding]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        acls = set()
        for item in doc.get("acls", []):
            try:
                acls.add(binding_from_json(item))
            except (KeyError, ValueError) as exc:
                # One unreadable entry must not open everything up or stop the broker: it is skipped.
                log.error("skipping an unreadable ACL in %s: %r (%s)", self.path, item, exc)
        return acls

    def update(self, after: set[AclBinding], added: set[AclBinding], removed: set[AclBinding]) -> None:
        self.save(after)

    def save(self, acls: Iterable[AclBinding]) -> None:
        body = {"version": 1, "acls": [binding_to_json(a) for a in sorted(acls)]}
        atomic_write(self.path, json.dumps(body, indent=1).encode())
