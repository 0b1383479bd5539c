"""The HTTP front's questions to the core's authorizer: the same ACLs and calls as the Kafka front.

The principal is the one the authentication middleware put on the request (``request[PRINCIPAL]``),
ANONYMOUS when there is none; the host is the client's address. Each route asks for the Kafka
operation on the Kafka resource its Kafka counterpart needs (the table is in docs/SECURITY.md), and a
refusal is ``403`` with the Kafka error name as ``error_code``. A topic the principal may not describe
gets the same 403 whether it exists or not: routes check before they look the topic up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from logbroker.http.context import BROKER, PRINCIPAL
from logbroker.http.errors import HttpError
from logbroker.security.acl import CLUSTER_NAME, AclOperation, ResourceType
from logbroker.security.principal import ANONYMOUS, Principal

log = logging.getLogger(__name__)

Op = AclOperation
Res = ResourceType
_CODES = {Res.TOPIC: "TOPIC_AUTHORIZATION_FAILED", Res.GROUP: "GROUP_AUTHORIZATION_FAILED",
          Res.CLUSTER: "CLUSTER_AUTHORIZATION_FAILED"}


def principal_of(request: web.Request) -> Principal:
    found = request.get(PRINCIPAL)
    return found if isinstance(found, Principal) else ANONYMOUS


def allowed(request: web.Request, op: AclOperation, rtype: ResourceType, name: str) -> bool:
    return request.app[BROKER].authorizer.authorize(principal_of(request), request.remote or "", op, rtype, name)


def require(request: web.Request, op: AclOperation, rtype: ResourceType, name: str) -> None:
    """403 unless the principal may ``op`` the resource."""
    if allowed(request, op, rtype, name):
        return
    principal = principal_of(request)
    log.info("HTTP %s %s refused: %s may not %s %s %s", request.method, request.path, principal, op.name,
             rtype.name, name)
    what = rtype.name.lower().replace("_", " ")
    raise HttpError(403, _CODES[rtype], f"{principal} is not authorized to {op.name} {what} {name}")


def require_topic(request: web.Request, op: AclOperation, topic: str) -> None:
    require(request, op, Res.TOPIC, topic)


def require_group(request: web.Request, op: AclOperation, group: str) -> None:
    require(request, op, Res.GROUP, group)


def require_cluster(request: web.Request, op: AclOperation) -> None:
    require(request, op, Res.CLUSTER, CLUSTER_NAME)


def visible_topics(request: web.Request, names: Iterable[str]) -> set[str]:
    """The topics among ``names`` the principal may describe (lists leave the others out silently)."""
    return {n for n in names if allowed(request, Op.DESCRIBE, Res.TOPIC, n)}


def visible_groups(request: web.Request, names: Iterable[str]) -> set[str]:
    """Kafka's ListGroups rule (the core's): every group with DESCRIBE on the cluster, else describable ones."""
    authorizer = request.app[BROKER].authorizer
    return set(authorizer.listable_groups(principal_of(request), request.remote or "", names))


def may_create_topic(request: web.Request, topic: str) -> bool:
    """Kafka's CreateTopics rule (the core's): CREATE on the cluster, or on the topic."""
    return request.app[BROKER].authorizer.may_create_topic(principal_of(request), request.remote or "", topic)
