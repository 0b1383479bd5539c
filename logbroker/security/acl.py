"""Kafka's ACL model: resource patterns, access control entries, bindings and the filters over them.

The numbering of every enum is Kafka's wire numbering (``org.apache.kafka.common.resource.ResourceType``,
``PatternType``, ``org.apache.kafka.common.acl.AclOperation``, ``AclPermissionType``), so a CreateAcls,
DescribeAcls or DeleteAcls body maps onto these types without a table. A binding is one ACL:

    field            meaning
    resource_type    TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, DELEGATION_TOKEN (USER for user quotas/tokens)
    name             a resource name, or ``*`` (LITERAL only: every resource of the type)
    pattern_type     LITERAL (the name exactly) or PREFIXED (every name starting with it; KIP-290)
    principal        ``Type:name``; ``User:*`` matches every principal
    host             a client address, or ``*``
    operation        what is allowed or denied; ALL covers every operation
    permission       ALLOW or DENY

Filters (DescribeAcls, DeleteAcls) use ANY for "whatever the value", a null name/principal/host for
the same, and the pattern type MATCH: every stored pattern that would apply to the named resource
(the literal name, the wildcard ``*`` and every prefix of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from logbroker.security.principal import Principal

WILDCARD = "*"
WILDCARD_PRINCIPAL = "User:*"
CLUSTER_NAME = "kafka-cluster"  # the one name of the CLUSTER resource


class ResourceType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class AclOperation(IntEnum):
    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14
    TWO_PHASE_COMMIT = 15


class AclPermissionType(IntEnum):
    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


_Op = AclOperation
# The operations that make sense per resource type (Kafka's AclEntry.supportedOperations): the bit
# field of authorized operations a response reports is built from these.
SUPPORTED_OPERATIONS: dict[ResourceType, tuple[AclOperation, ...]] = {
    ResourceType.TOPIC: (_Op.READ, _Op.WRITE, _Op.CREATE, _Op.DESCRIBE, _Op.DELETE, _Op.ALTER, _Op.DESCRIBE_CONFIGS,
                         _Op.ALTER_CONFIGS),
    ResourceType.GROUP: (_Op.READ, _Op.DESCRIBE, _Op.DELETE, _Op.DESCRIBE_CONFIGS, _Op.ALTER_CONFIGS),
    ResourceType.CLUSTER: (_Op.CREATE, _Op.CLUSTER_ACTION, _Op.DESCRIBE_CONFIGS, _Op.ALTER_CONFIGS,
                           _Op.IDEMPOTENT_WRITE, _Op.ALTER, _Op.DESCRIBE),
    ResourceType.TRANSACTIONAL_ID: (_Op.DESCRIBE, _Op.WRITE, _Op.TWO_PHASE_COMMIT),
    ResourceType.DELEGATION_TOKEN: (_Op.DESCRIBE,),
    ResourceType.USER: (_Op.CREATE_TOKENS, _Op.DESCRIBE_TOKENS),
}

# An ALLOW of any of these grants DESCRIBE (resp. DESCRIBE_CONFIGS) too; a DENY implies nothing.
IMPLIES_DESCRIBE = frozenset({_Op.DESCRIBE, _Op.READ, _Op.WRITE, _Op.DELETE, _Op.ALTER})
IMPLIES_DESCRIBE_CONFIGS = frozenset({_Op.DESCRIBE_CONFIGS, _Op.ALTER_CONFIGS})

# The names Kafka uses for these values in text (kafka-acls output, ZooKeeper ACL znodes).
_RESOURCE_TYPE_NAMES = {ResourceType.TOPIC: "Topic", ResourceType.GROUP: "Group", ResourceType.CLUSTER: "Cluster",
                        ResourceType.TRANSACTIONAL_ID: "TransactionalId",
                        ResourceType.DELEGATION_TOKEN: "DelegationToken", ResourceType.USER: "User"}


def resource_type_name(rtype: ResourceType) -> str:
    return _RESOURCE_TYPE_NAMES[rtype]


def resource_type_from_name(name: str) -> ResourceType:
    for rtype, text in _RESOURCE_TYPE_NAMES.items():
        if text.lower() == name.lower():
            return rtype
    raise ValueError(f"unknown resource type {name!r}")


def operation_name(op: AclOperation) -> str:
    """READ -> Read, IDEMPOTENT_WRITE -> IdempotentWrite (Kafka's SecurityUtils.operationName)."""
    return "".join(part.capitalize() for part in op.name.split("_"))


def operation_from_name(name: str) -> AclOperation:
    key = name.replace("_", "").lower()
    for op in AclOperation:
        if op.name.replace("_", "").lower() == key and op not in (_Op.UNKNOWN, _Op.ANY):
            return op
    raise ValueError(f"unknown operation {name!r}")


class InvalidAclError(ValueError):
    """An ACL or filter that cannot be stored or applied (Kafka: InvalidRequestException)."""


@dataclass(frozen=True, slots=True, order=True)
class ResourcePattern:
    resource_type: ResourceType
    name: str
    pattern_type: PatternType

    def matches(self, resource_type: ResourceType, name: str) -> bool:
        """Whether this stored pattern applies to the resource ``name`` of ``resource_type``."""
        if self.resource_type != resource_type:
            return False
        if self.pattern_type == PatternType.LITERAL:
            return self.name == name or self.name == WILDCARD
        return self.pattern_type == PatternType.PREFIXED and name.startswith(self.name)


@dataclass(frozen=True, slots=True, order=True)
class AccessControlEntry:
    principal: str
    host: str
    operation: AclOperation
    permission: AclPermissionType


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    pattern: ResourcePattern
    entry: AccessControlEntry

    def validate(self) -> None:
        """Refuse what Kafka refuses to store (AclApis and AclControlManager's checks)."""
        p, e = self.pattern, self.entry
        if p.resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
            raise InvalidAclError("Invalid resourceType " + p.resource_type.name)
        if p.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
            raise InvalidAclError("Invalid patternType " + p.pattern_type.name)
        if e.operation in (_Op.UNKNOWN, _Op.ANY):
            raise InvalidAclError("Invalid operation " + e.operation.name)
        if e.permission not in (AclPermissionType.ALLOW, AclPermissionType.DENY):
            raise InvalidAclError("Invalid permissionType " + e.permission.name)
        if p.resource_type == ResourceType.CLUSTER and p.name != CLUSTER_NAME:
            raise InvalidAclError("The only valid name for the CLUSTER resource is " + CLUSTER_NAME)
        if not p.name:
            raise InvalidAclError("Invalid empty resource name")
        try:
            Principal.parse(e.principal)
        except ValueError as exc:
            raise InvalidAclError(f"Could not parse principal from `{e.principal}` (no colon is used)") from exc
        if not e.host:
            raise InvalidAclError("Invalid empty host")


@dataclass(frozen=True, slots=True)
class AclBindingFilter:
    """A DescribeAcls/DeleteAcls filter; None or ANY in a field matches every value."""

    resource_type: ResourceType = ResourceType.ANY
    name: str | None = None
    pattern_type: PatternType = PatternType.ANY
    principal: str | None = None
    host: str | None = None
    operation: AclOperation = _Op.ANY
    permission: AclPermissionType = AclPermissionType.ANY

    def matches(self, acl: AclBinding) -> bool:
        p, e = acl.pattern, acl.entry
        if self.resource_type != ResourceType.ANY and self.resource_type != p.resource_type:
            return False
        if not self._matches_pattern(p):
            return False
        if self.principal is not None and self.principal != e.principal:
            return False
        if self.host is not None and self.host != e.host:
            return False
        if self.operation != _Op.ANY and self.operation != e.operation:
            return False
        return self.permission == AclPermissionType.ANY or self.permission == e.permission

    def _matches_pattern(self, p: ResourcePattern) -> bool:
        if self.pattern_type == PatternType.MATCH:
            # Every stored pattern that applies to the named resource (all of them without a name).
            if self.name is None:
                return True
            if p.pattern_type == PatternType.LITERAL:
                return p.name == self.name or p.name == WILDCARD
            return p.pattern_type == PatternType.PREFIXED and self.name.startswith(p.name)
        if self.pattern_type != PatternType.ANY and self.pattern_type != p.pattern_type:
            return False
        return self.name is None or self.name == p.name
