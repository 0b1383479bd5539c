"""What the HTTP routes share: the application's state, under typed ``web.AppKey``s.

``app.py`` builds the application and puts an ``HttpContext`` and its parts under these keys; the
routes modules read them from ``request.app``. This module imports no routes module and no
``app.py``, so the HTTP front has no import cycle: ``app.py`` imports the routes, the routes import
this.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from logbroker.broker import Broker
from logbroker.groups import GroupCoordinator
from logbroker.groups.http_members import HttpMembers
from logbroker.groups.share_remote import RemoteShares
from logbroker.http.errors import HttpError
from logbroker.http.metrics import HttpMetrics
from logbroker.http.partitioner import RoundRobin
from logbroker.metrics import RequestLatencies
from logbroker.security.principal import Principal

# Largest wait a long-polling read may ask for, in ms (Kafka's fetch.max.wait.ms is usually 500).
MAX_WAIT_MS = 30_000


@dataclass(slots=True)
class HttpContext:
    """What the routes need: the broker core, the group coordinator and the front's own state."""

    broker: Broker
    metrics: HttpMetrics = field(default_factory=HttpMetrics)
    round_robin: RoundRobin = field(default_factory=RoundRobin)
    coordinator: GroupCoordinator | None = None  # group routes answer 503 without one
    members: HttpMembers | None = None  # the HTTP members' sessions; made from the coordinator when None
    kafka_stats: Callable[[], Mapping[str, int]] | None = None  # the Kafka listener's counters
    kafka_latency: RequestLatencies | None = None  # Kafka request latency per API, recorded by the dispatcher
    http_connections: Callable[[], int] | None = None
    # In a cluster: how the share-group routes reach share-partitions led by other brokers.
    share_remote: RemoteShares | None = None
    clock: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)


CONTEXT: web.AppKey[HttpContext] = web.AppKey("logbroker_context", HttpContext)
BROKER: web.AppKey[Broker] = web.AppKey("logbroker_broker", Broker)
METRICS: web.AppKey[HttpMetrics] = web.AppKey("logbroker_http_metrics", HttpMetrics)
COORDINATOR: web.AppKey[GroupCoordinator | None] = web.AppKey("logbroker_coordinator")
MEMBERS: web.AppKey[HttpMembers | None] = web.AppKey("logbroker_http_members")
# Who the request is: set by the authentication middleware (http/auth.py) on every request.
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("logbroker_principal", Principal)


def install(app: web.Application, ctx: HttpContext) -> None:
    """Put the context and its parts under their keys (once, when the application is built)."""
    if ctx.members is None and ctx.coordinator is not None:
        ctx.members = HttpMembers(ctx.coordinator, ctx.broker.offsets)
    app[CONTEXT] = ctx
    app[BROKER] = ctx.broker
    app[METRICS] = ctx.metrics
    app[COORDINATOR] = ctx.coordinator
    app[MEMBERS] = ctx.members


def context(request: web.Request) -> HttpContext:
    return request.app[CONTEXT]


def coordinator(request: web.Request) -> GroupCoordinator:
    """The group coordinator; 503 when this front runs without one."""
    found = request.app[COORDINATOR]
    if found is None:
        raise HttpError(503, "COORDINATOR_NOT_AVAILABLE", "the group coordinator is not running")
    return found


def members(request: web.Request) -> HttpMembers:
    """The HTTP members' sessions; 503 when this front runs without a group coordinator."""
    found = request.app[MEMBERS]
    if found is None:
        raise HttpError(503, "COORDINATOR_NOT_AVAILABLE", "the group coordinator is not running")
    return found
