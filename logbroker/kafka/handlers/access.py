"""The Kafka front's questions to the core's authorizer, asked with the connection's principal and address.

Every handler asks what Kafka's KafkaApis/AuthHelper ask for the same API (the operation and resource
per API are listed in docs/SECURITY.md); the decision itself is the core's
(``logbroker.security.authorizer``), shared with the HTTP front.
"""

from __future__ import annotations

from collections.abc import Iterable

from logbroker.kafka.handlers import RequestContext
from logbroker.security.acl import CLUSTER_NAME, AclOperation, ResourceType
from logbroker.security.authorizer import host_of

Op = AclOperation
Res = ResourceType


def allowed(ctx: RequestContext, op: AclOperation, rtype: ResourceType, name: str) -> bool:
    return ctx.broker.authorizer.authorize(ctx.principal, host_of(ctx.peer), op, rtype, name)


def topic_allowed(ctx: RequestContext, op: AclOperation, topic: str) -> bool:
    return allowed(ctx, op, Res.TOPIC, topic)


def group_allowed(ctx: RequestContext, op: AclOperation, group: str) -> bool:
    return allowed(ctx, op, Res.GROUP, group)


def cluster_allowed(ctx: RequestContext, op: AclOperation) -> bool:
    return allowed(ctx, op, Res.CLUSTER, CLUSTER_NAME)


def may_create_topic(ctx: RequestContext, topic: str) -> bool:
    """Kafka's CreateTopics and auto-creation rule (the core's): CREATE on the cluster or the topic."""
    return ctx.broker.authorizer.may_create_topic(ctx.principal, host_of(ctx.peer), topic)


def listable_groups(ctx: RequestContext, groups: Iterable[str]) -> set[str]:
    """Kafka's ListGroups rule (the core's): every group with DESCRIBE on the cluster, else describable ones."""
    return set(ctx.broker.authorizer.listable_groups(ctx.principal, host_of(ctx.peer), groups))


def any_allowed(ctx: RequestContext, op: AclOperation, rtype: ResourceType) -> bool:
    """May the principal ``op`` at least one resource of ``rtype``? (Kafka's authorizeByResourceType.)"""
    return ctx.broker.authorizer.authorize_any(ctx.principal, host_of(ctx.peer), op, rtype)


def allowed_topics(ctx: RequestContext, op: AclOperation, topics: Iterable[str]) -> set[str]:
    """The names among ``topics`` the principal may ``op`` (each asked once)."""
    return {t for t in set(topics) if topic_allowed(ctx, op, t)}


def authorized_operations(ctx: RequestContext, requested: bool, rtype: ResourceType, name: str) -> int:
    """The value of an ``*AuthorizedOperations`` field: INT32_MIN when not asked for, else the bit field."""
    if not requested:
        return NOT_REQUESTED
    return ctx.broker.authorizer.authorized_operations(ctx.principal, host_of(ctx.peer), rtype, name)


NOT_REQUESTED = -2147483648
