"""DescribeAcls (29), CreateAcls (30), DeleteAcls (31): the wire form of the core's ACL management.

As Kafka's AclApis: DescribeAcls needs DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED for
the whole answer), CreateAcls and DeleteAcls ALTER on the cluster (else that code per creation or
filter). Without an authorizer (``authorizer.class.name`` unset) all three answer SECURITY_DISABLED.
A creation Kafka would refuse (a CLUSTER resource not named ``kafka-cluster``, an empty name, a
principal without a type, ANY/UNKNOWN values) gets INVALID_REQUEST with Kafka's message; the others
are still created.

Operations are Kafka's ``AclOperation`` codes; an ``*AuthorizedOperations`` value is a bit field,
bit ``code`` set for each operation (``Utils.to32BitField``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import groupby
from typing import TypeVar

from logbroker.kafka.error_codes import ErrorCode
from logbroker.kafka.handlers import Body, RequestContext
from logbroker.kafka.handlers.access import Op, cluster_allowed
from logbroker.security.acl import (
    SUPPORTED_OPERATIONS,
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    InvalidAclError,
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
    try:
        return kind(value)
    except ValueError:
        return kind(0)  # an unknown code reads as UNKNOWN, which validation refuses


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
    flt = _filter(body)
    try:
        flt.validate()
    except InvalidAclError as exc:
        return {"throttle_time_ms": 0, "error_code": ErrorCode.INVALID_REQUEST, "error_message": str(exc),
                "resources": []}
    resources = []
    for pattern, acls in groupby(authorizer.acls(flt), key=lambda a: a.pattern):
        resources.append({"resource_type": pattern.resource_type, "resource_name": pattern.name,
                          "pattern_type": pattern.pattern_type,
                          "acls": [{"principal": a.entry.principal, "host": a.entry.host,
                                    "operation": a.entry.operation, "permission_type": a.entry.permission}
                                   for a in acls]})
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None, "resources": resources}


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
    results: list[Body] = []
    for outcome in authorizer.create_acls(bindings):
        if outcome is None:
            results.append({"error_code": 0, "error_message": None})
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
    filters = [_filter(f) for f in filters_in]
    valid: list[AclBindingFilter] = []
    errors: dict[int, str] = {}
    for i, flt in enumerate(filters):
        try:
            flt.validate()
            valid.append(flt)
        except InvalidAclError as exc:
            errors[i] = str(exc)
    matched = iter(authorizer.delete_acls(valid))
    results: list[Body] = []
    for i in range(len(filters)):
        if i in errors:
            results.append({"error_code": ErrorCode.INVALID_REQUEST, "error_message": errors[i], "matching_acls": []})
            continue
        results.append({"error_code": 0, "error_message": None, "matching_acls": [
            {"error_code": 0, "error_message": None, "resource_type": a.pattern.resource_type,
             "resource_name": a.pattern.name, "pattern_type": a.pattern.pattern_type,
             "principal": a.entry.principal, "host": a.entry.host, "operation": a.entry.operation,
             "permission_type": a.entry.permission} for a in next(matched)]})
    return {"throttle_time_ms": 0, "filter_results": results}
