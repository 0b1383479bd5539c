"""The authorizer: may this principal, from this host, do this operation on this resource?

One object in the core answers for both fronts (the Kafka front per API, the HTTP front per route),
so a rule is written once. It follows Kafka's StandardAuthorizer (KIP-11, KIP-290 prefixed ACLs):

1. A principal listed in ``super.users`` may do everything.
2. The ACLs that apply to a resource are the LITERAL ones naming it, the LITERAL ones named ``*``
   and the PREFIXED ones whose name starts it. Of those, an entry matches when its principal is the
   caller or ``User:*``, its host the caller's address or ``*``, and its operation the one asked,
   or ALL, or (ALLOW entries only) one implying it: READ, WRITE, DELETE and ALTER imply DESCRIBE;
   ALTER_CONFIGS implies DESCRIBE_CONFIGS.
3. A matching DENY refuses, whatever ALLOWs match too; else a matching ALLOW allows.
4. No matching entry: refused if any ACL applies to the resource at all (for any principal);
   if none does, ``allow.everyone.if.no.acl.found`` decides (false by default).

Without ``authorizer.class.name`` there is no authorizer: everything is allowed and the ACL APIs
answer SECURITY_DISABLED, as in Kafka. ``authorizer.class.name`` set to Kafka's StandardAuthorizer
or AclAuthorizer (or logbroker's own name) turns this one on.

ACLs are kept by an ``AclStore``: the data directory on a single broker (``acl_file.py``), ZooKeeper
in a cluster (``acl_zookeeper.py``), which tells every broker of a change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from logbroker.security.acl import (
    CLUSTER_NAME,
    IMPLIES_DESCRIBE,
    IMPLIES_DESCRIBE_CONFIGS,
    SUPPORTED_OPERATIONS,
    WILDCARD,
    WILDCARD_PRINCIPAL,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    InvalidAclError,
    PatternType,
    ResourcePattern,
    ResourceType,
)
from logbroker.security.principal import Principal

log = logging.getLogger(__name__)

# Values of authorizer.class.name that turn the authorizer on: Kafka's two, and logbroker's own.
AUTHORIZER_CLASS_NAMES = frozenset({
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
    "logbroker.security.authorizer.Authorizer",
})

ALLOW, DENY = AclPermissionType.ALLOW, AclPermissionType.DENY
Op = AclOperation
Res = ResourceType


class AclStore(Protocol):
    """Where ACLs are kept. ``update`` persists a change before it takes effect: the whole set after it
    (a file rewrites it) and what was added and removed (ZooKeeper rewrites only those resources)."""

    def load(self) -> set[AclBinding]: ...

    def update(self, after: set[AclBinding], added: set[AclBinding], removed: set[AclBinding]) -> None: ...


@dataclass(frozen=True, slots=True)
class DeleteResult:
    deleted: list[AclBinding]


def host_of(peer: str) -> str:
    """The address part of ``host:port`` / ``[v6]:port`` as ACL hosts name it."""
    host = peer.rsplit(":", 1)[0] if ":" in peer else peer
    return host.strip("[]")


def parse_super_users(value: str) -> frozenset[str]:
    """``super.users``: principals separated by semicolons (Kafka's syntax), e.g. ``User:admin;User:ops``."""
    return frozenset(p.strip() for p in value.split(";") if p.strip())


class Authorizer:
    """Decides with the ACLs held in memory; changes go to the store first, then to memory."""

    enabled = True

    def __init__(self, store: AclStore | None, *, super_users: Iterable[str] = (),
                 allow_if_no_acl: bool = False) -> None:
        self.store = store
        self.super_users = frozenset(super_users)
        self.allow_if_no_acl = allow_if_no_acl
        self._acls: set[AclBinding] = store.load() if store is not None else set()
        self._by_type: dict[ResourceType, list[AclBinding]] = {}
        self._patterns: dict[ResourceType, _PatternIndex] = {}
        self._writing = asyncio.Lock()  # one ACL change at a time reaches the store (the async methods)
        self._index()

    # ------------------------------------------------------------------ decisions
    def authorize(self, principal: Principal, host: str, op: AclOperation, rtype: ResourceType,
                  name: str) -> bool:
        if str(principal) in self.super_users:
            return True
        index = self._patterns.get(rtype)
        if index is None:
            return self.allow_if_no_acl  # no ACL of this resource type at all
        who = (str(principal), WILDCARD_PRINCIPAL)
        applies = False
        allowed = False
        for acl in index.applying_to(name):
            applies = True
            e = acl.entry
            if e.principal not in who or (e.host != WILDCARD and e.host != host):
                continue
            if not _operation_matches(e.operation, e.permission, op):
                continue
            if e.permission == DENY:
                return False
            allowed = True
        return allowed or (not applies and self.allow_if_no_acl)

    def authorize_cluster(self, principal: Principal, host: str, op: AclOperation) -> bool:
        return self.authorize(principal, host, op, Res.CLUSTER, CLUSTER_NAME)

    def authorize_any(self, principal: Principal, host: str, op: AclOperation, rtype: ResourceType) -> bool:
        """May the principal do ``op`` on at least one resource of ``rtype``? (Kafka's authorizeByResourceType:
        InitProducerId lets a producer that may WRITE some topic be idempotent.) A super user may; a DENY of
        ``*`` refuses; an ALLOW counts unless a DENY of the same literal name or of a prefix of it covers it."""
        if self.authorize(principal, host, op, rtype, "hardcode"):
            return True  # the super users (and, with no ACL at all, allow.everyone.if.no.acl.found)
        who = (str(principal), WILDCARD_PRINCIPAL)
        deny: dict[PatternType, set[str]] = {PatternType.LITERAL: set(), PatternType.PREFIXED: set()}
        allow: dict[PatternType, set[str]] = {PatternType.LITERAL: set(), PatternType.PREFIXED: set()}
        for acl in self._by_type.get(rtype, ()):
            e, p = acl.entry, acl.pattern
            if e.principal not in who or (e.host != WILDCARD and e.host != host):
                continue
            if e.operation != op and e.operation != Op.ALL:
                continue
            if e.permission == DENY:
                if p.pattern_type == PatternType.LITERAL and p.name == WILDCARD:
                    return False
                deny[p.pattern_type].add(p.name)
            elif p.pattern_type == PatternType.LITERAL and p.name == WILDCARD:
                return True
            else:
                allow[p.pattern_type].add(p.name)
        for kind, names in allow.items():
            for name in names:
                if kind == PatternType.LITERAL and name in deny[PatternType.LITERAL]:
                    continue
                if not any(name[:i] in deny[PatternType.PREFIXED] for i in range(1, len(name) + 1)):
                    return True
        return False

    def authorized_operations(self, principal: Principal, host: str, rtype: ResourceType, name: str) -> int:
        """The bit field of the operations of ``rtype`` this principal may do on ``name`` (bit n: code n)."""
        field = 0
        for op in SUPPORTED_OPERATIONS[rtype]:
            if self.authorize(principal, host, op, rtype, name):
                field |= 1 << int(op)
        return field

    def filter_authorized(self, principal: Principal, host: str, op: AclOperation, rtype: ResourceType,
                          names: Iterable[str]) -> list[str]:
        return [n for n in names if self.authorize(principal, host, op, rtype, n)]

    # Rules that combine checks, asked by both fronts (Kafka's KafkaApis/AuthHelper), kept here once.
    def may_create_topic(self, principal: Principal, host: str, topic: str) -> bool:
        """CreateTopics and auto-creation: CREATE on the cluster, or CREATE on the topic."""
        return (self.authorize_cluster(principal, host, AclOperation.CREATE)
                or self.authorize(principal, host, AclOperation.CREATE, ResourceType.TOPIC, topic))

    def listable_groups(self, principal: Principal, host: str, groups: Iterable[str]) -> list[str]:
        """ListGroups: every group to DESCRIBE on the cluster, else the groups the principal may describe."""
        if self.authorize_cluster(principal, host, AclOperation.DESCRIBE):
            return list(groups)
        return self.filter_authorized(principal, host, AclOperation.DESCRIBE, ResourceType.GROUP, groups)

    # ------------------------------------------------------------------ ACL management
    def acls(self, flt: AclBindingFilter | None = None) -> list[AclBinding]:
        return sorted(a for a in self._acls if flt is None or flt.matches(a))

    def create_acls(self, bindings: Sequence[AclBinding]) -> list[InvalidAclError | None]:
        """Add the valid bindings (one store write for all); per binding, None or why it was refused."""
        results, after = self._plan_creation(bindings)
        if after != self._acls:
            self._replace(after, after - self._acls, set())
            self._log_added(bindings, results)
        return results

    async def create_acls_async(self, bindings: Sequence[AclBinding]) -> list[InvalidAclError | None]:
        """``create_acls`` for the fronts: the store is written in a worker thread (ZooKeeper in a
        cluster), so the event loop never waits on it; the ACLs apply once written."""
        async with self._writing:
            results, after = self._plan_creation(bindings)
            if after != self._acls:
                await self._replace_async(after - self._acls, set(), after)
                self._log_added(bindings, results)
            return results

    def _plan_creation(self, bindings: Sequence[AclBinding]) -> tuple[list[InvalidAclError | None], set[AclBinding]]:
        results: list[InvalidAclError | None] = []
        after = set(self._acls)
        for binding in bindings:
            try:
                binding.validate()
            except InvalidAclError as exc:
                results.append(exc)
                continue
            after.add(binding)
            results.append(None)
        return results, after

    @staticmethod
    def _log_added(bindings: Sequence[AclBinding], results: list[InvalidAclError | None]) -> None:
        log.info("ACLs added: %s", ", ".join(describe(b) for b, r in zip(bindings, results, strict=True)
                                             if r is None))

    def delete_acls(self, filters: Sequence[AclBindingFilter]) -> list[list[AclBinding]]:
        """Remove every binding some filter matches; per filter, the bindings it matched."""
        matched = [[a for a in sorted(self._acls) if f.matches(a)] for f in filters]
        gone = {a for group in matched for a in group}
        if gone:
            self._replace(self._acls - gone, set(), gone)
            log.info("ACLs deleted: %s", ", ".join(describe(b) for b in sorted(gone)))
        return matched

    async def delete_acls_async(self, filters: Sequence[AclBindingFilter]) -> list[list[AclBinding]]:
        """``delete_acls`` for the fronts: the store is written in a worker thread."""
        async with self._writing:
            matched = [[a for a in sorted(self._acls) if f.matches(a)] for f in filters]
            gone = {a for group in matched for a in group}
            if gone:
                await self._replace_async(set(), gone, self._acls - gone)
                log.info("ACLs deleted: %s", ", ".join(describe(b) for b in sorted(gone)))
            return matched

    def reload(self) -> None:
        """Take the store's ACLs again (a cluster broker told of a change another broker made)."""
        if self.store is not None:
            self._acls = self.store.load()
            self._index()

    async def reload_async(self) -> None:
        """``reload`` with the store read in a worker thread (a cluster's reads ZooKeeper)."""
        store = self.store
        if store is None:
            return
        async with self._writing:  # never a read older than a change this broker is writing
            acls = await asyncio.to_thread(store.load)
            self._acls = acls
            self._index()

    async def use_store_async(self, store: AclStore) -> None:
        """Keep ACLs in ``store`` from now on (a broker joining a cluster switches to ZooKeeper's); its
        ACLs are read in a worker thread."""
        self.store = store
        await self.reload_async()
        log.info("ACLs now kept in %s: %d ACL(s)", type(store).__name__, len(self._acls))

    def _replace(self, acls: set[AclBinding], added: set[AclBinding], removed: set[AclBinding]) -> None:
        if self.store is not None:
            self.store.update(acls, added, removed)
        self._acls = acls
        self._index()

    async def _replace_async(self, added: set[AclBinding], removed: set[AclBinding], after: set[AclBinding]) -> None:
        if self.store is not None:
            await asyncio.to_thread(self.store.update, after, added, removed)
        self._acls = after
        self._index()

    def _index(self) -> None:
        by_type: dict[ResourceType, list[AclBinding]] = {}
        for acl in self._acls:
            by_type.setdefault(acl.pattern.resource_type, []).append(acl)
        self._by_type = by_type
        self._patterns = {rtype: _PatternIndex(acls) for rtype, acls in by_type.items()}


class _PatternIndex:
    """The ACLs of one resource type by pattern, so a decision looks at the ones applying to a name only:
    the literal ones naming it and ``*``, and the prefixed ones keyed by each prefix length in use (a
    few dictionary lookups, whatever the number of ACLs; Kafka's StandardAuthorizerData sorts for the same)."""

    __slots__ = ("lengths", "literal", "prefixed")

    def __init__(self, acls: Iterable[AclBinding]) -> None:
        self.literal: dict[str, list[AclBinding]] = {}
        self.prefixed: dict[str, list[AclBinding]] = {}
        for acl in acls:
            target = self.literal if acl.pattern.pattern_type == PatternType.LITERAL else self.prefixed
            target.setdefault(acl.pattern.name, []).append(acl)
        self.lengths = sorted({len(p) for p in self.prefixed})

    def applying_to(self, name: str) -> Iterator[AclBinding]:
        yield from self.literal.get(name, ())
        if name != WILDCARD:
            yield from self.literal.get(WILDCARD, ())
        for n in self.lengths:
            if n > len(name):
                break
            yield from self.prefixed.get(name[:n], ())


class AllowEverything(Authorizer):
    """No authorizer configured: every request is allowed and the ACL APIs answer SECURITY_DISABLED."""

    enabled = False

    def __init__(self) -> None:
        super().__init__(None, allow_if_no_acl=True)

    def authorize(self, principal: Principal, host: str, op: AclOperation, rtype: ResourceType,
                  name: str) -> bool:
        return True

    def authorize_any(self, principal: Principal, host: str, op: AclOperation, rtype: ResourceType) -> bool:
        return True


def _operation_matches(entry_op: AclOperation, permission: AclPermissionType, asked: AclOperation) -> bool:
    if entry_op == Op.ALL or entry_op == asked:
        return True
    if permission != ALLOW:
        return False  # a DENY of READ does not deny DESCRIBE
    if asked == Op.DESCRIBE:
        return entry_op in IMPLIES_DESCRIBE
    return asked == Op.DESCRIBE_CONFIGS and entry_op in IMPLIES_DESCRIBE_CONFIGS


def describe(acl: AclBinding) -> str:
    p, e = acl.pattern, acl.entry
    return (f"{e.permission.name} {e.principal} from {e.host} {e.operation.name} on "
            f"{p.resource_type.name}:{p.pattern_type.name}:{p.name}")


def pattern_of(rtype: ResourceType, name: str, pattern_type: PatternType = PatternType.LITERAL) -> ResourcePattern:
    return ResourcePattern(rtype, name, pattern_type)
