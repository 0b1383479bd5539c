"""DescribeAcls (29), CreateAcls (30), DeleteAcls (31): the wire form of the core's ACL management.

As Kafka's AclApis: DescribeAcls needs DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED for
the whole answer), CreateAcls and DeleteAcls ALTER on the cluster (else that code per creation or
filter). Without an authorizer (``authorizer.class.name`` unset) all three answer SECURITY_DISABLED.
A creation Kafka refuses (a CLUSTER resource not named ``kafka-cluster``, an empty name, a principal
without a type) gets INVALID_REQUEST; the others are still created. As Kafka 4.1 answers (checked
against it in tests/interop/test_acls.py): a creation carrying a filter value (resource type,
operation or permission ANY, pattern ANY or MATCH) fails the whole request with UNKNOWN_SERVER_ERROR
on every creation, nothing created; an UNKNOWN (0) or unknown code anywhere in the three requests is a
malformed request and closes the connection.

Operations are Kafka's ``AclOperation`` codes; an ``*AuthorizedOperations`` value is a bit field,
bit ``code`` set for each operation (``Utils.to32BitField``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import groupby
from typing import TypeVar

from logbroker.errors import StorageError
from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.error_map import error_code_for
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed
from logbroker.kafka.server import CloseConnection
from logbroker.security.acl import (
    SUPPORTED_OPERATIONS,
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourceType,
)

log = logging.getLogger(__name__)

NOT_REQUESTED = -2147483648
_NO_AUTHORIZER = "No Authorizer is configured."
_DENIED = "Cluster authorization failed."

# Every operation per resource type: what is reported when no authorizer restricts anything.
TOPIC_OPERATIONS = SUPPORTED_OPERATIONS[ResourceType.TOPIC]
CLUSTER_OPERATIONS = SUPPORTED_OPERATIONS[ResourceType.CLUSTER]


def bit_field(operations: Iterable[AclOperation]) -> int:
    field = 0
    for op in operations:
        field |= 1 << int(op)
    return field


E = TypeVar("E", ResourceType, PatternType, AclOperation, AclPermissionType)


def _enum(kind: type[E], value: int) -> E:
    """The enum member of a wire code; UNKNOWN (0) or a code Kafka does not define is a malformed request."""
    try:
        member = kind(value)
    except ValueError:
        member = kind(0)
    if member == 0:
        raise CloseConnection(f"{kind.__name__} {value} is not a valid ACL value")
    return member


def _is_filter_value(b: AclBinding) -> bool:
    """A value that only a filter may carry (ANY, MATCH): Kafka cannot build the binding at all."""
    return (b.pattern.resource_type == ResourceType.ANY or b.entry.operation == AclOperation.ANY
            or b.entry.permission == AclPermissionType.ANY
            or b.pattern.pattern_type in (PatternType.ANY, PatternType.MATCH))


def _filter(body: Body) -> AclBindingFilter:
    return AclBindingFilter(
        resource_type=_enum(ResourceType, body["resource_type_filter"]),
        name=body.get("resource_name_filter"),
        pattern_type=_enum(PatternType, body.get("pattern_type_filter", PatternType.LITERAL)),
        principal=body.get("principal_filter"), host=body.get("host_filter"),
        operation=_enum(AclOperation, body["operation"]),
        permission=_enum(AclPermissionType, body["permission_type"]))


async def handle_describe_acls(ctx: RequestContext, body: Body) -> Body:
    authorizer = ctx.broker.authorizer
    if not authorizer.enabled:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.SECURITY_DISABLED, "error_message": _NO_AUTHORIZER,
                "resources": []}
    if not cluster_allowed(ctx, Op.DESCRIBE):
        return {"throttle_time_ms": 0, "error_code": ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                "error_message": _DENIED, "resources": []}
    resources = []
    for pattern, acls in groupby(authorizer.acls(_filter(body)), key=lambda a: a.pattern):
        resources.append({"resource_type": pattern.resource_type, "resource_name": pattern.name,
                          "pattern_type": pattern.pattern_type,
                          "acls": [{"principal": a.entry.principal, "host": a.entry.host,
                                    "operation": a.entry.operation, "permission_type": a.entry.permission}
                                   for a in acls]})
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": "", "resources": resources}


async def handle_create_acls(ctx: RequestContext, body: Body) -> Body:
    authorizer = ctx.broker.authorizer
    creations = body["creations"]
    if not authorizer.enabled or not cluster_allowed(ctx, Op.ALTER):
        code, message = ((ErrorCode.SECURITY_DISABLED, _NO_AUTHORIZER) if not authorizer.enabled
                         else (ErrorCode.CLUSTER_AUTHORIZATION_FAILED, _DENIED))
        return {"throttle_time_ms": 0, "results": [{"error_code": code, "error_message": message}
                                                   for _ in creations]}
    bindings = [AclBinding(
        ResourcePattern(_enum(ResourceType, c["resource_type"]), c["resource_name"],
                        _enum(PatternType, c.get("resource_pattern_type", PatternType.LITERAL))),
        AccessControlEntry(c["principal"], c["host"], _enum(AclOperation, c["operation"]),
                           _enum(AclPermissionType, c["permission_type"])))
        for c in creations]
    if any(_is_filter_value(b) for b in bindings):
        log.info("CreateAcls from %s carries filter values (ANY/MATCH); nothing created", ctx.principal)
        return {"throttle_time_ms": 0, "results": [{"error_code": ErrorCode.UNKNOWN_SERVER_ERROR, "error_message": None}
                                                   for _ in bindings]}
    results: list[Body] = []
    try:
        outcomes = await authorizer.create_acls_async(bindings)
    except StorageError as exc:  # the store (ZooKeeper in a cluster) refused the write: nothing changed
        log.warning("CreateAcls from %s not stored: %s", ctx.principal, exc)
        return {"throttle_time_ms": 0, "results": [{"error_code": error_code_for(exc), "error_message": str(exc)}
                                                   for _ in bindings]}
    for outcome in outcomes:
        if outcome is None:
            results.append({"error_code": 0, "error_message": ""})  # Kafka's success carries "" here
        else:
            log.info("CreateAcls from %s refused an ACL: %s", ctx.principal, outcome)
            results.append({"error_code": ErrorCode.INVALID_REQUEST, "error_message": str(outcome)})
    return {"throttle_time_ms": 0, "results": results}


async def handle_delete_acls(ctx: RequestContext, body: Body) -> Body:
    authorizer = ctx.broker.authorizer
    filters_in = body["filters"]
    if not authorizer.enabled or not cluster_allowed(ctx, Op.ALTER):
        code, message = ((ErrorCode.SECURITY_DISABLED, _NO_AUTHORIZER) if not authorizer.enabled
                         else (ErrorCode.CLUSTER_AUTHORIZATION_FAILED, _DENIED))
        return {"throttle_time_ms": 0, "filter_results": [
            {"error_code": code, "error_message": message, "matching_acls": []} for _ in filters_in]}
    try:
        matched = await authorizer.delete_acls_async([_filter(f) for f in filters_in])
    except StorageError as exc:
        log.warning("DeleteAcls from %s not stored: %s", ctx.principal, exc)
        return {"throttle_time_ms": 0, "filter_results": [
            {"error_code": error_code_for(exc), "error_message": str(exc), "matching_acls": []} for _ in filters_in]}
    results = [{"error_code": 0, "error_message": None, "matching_acls": [
        {"error_code": 0, "error_message": None, "resource_type": a.pattern.resource_type,
         "resource_name": a.pattern.name, "pattern_type": a.pattern.pattern_type,
         "principal": a.entry.principal, "host": a.entry.host, "operation": a.entry.operation,
         "permission_type": a.entry.permission} for a in acls]} for acls in matched]
    return {"throttle_time_ms": 0, "filter_results": results}
