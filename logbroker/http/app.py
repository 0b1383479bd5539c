"""The HTTP front: an aiohttp application over the broker core, and its listener.

``build_app`` assembles the routes (topics, records, groups, operations), the error middleware
(``errors.py``: one mapping from exceptions to statuses) and the metrics middleware (latency per
route). ``HttpServer`` runs it on ``--http-listen`` with an ``AppRunner``/``TCPSite``.

Request bodies are bounded by ``socket.request.max.bytes`` (aiohttp's ``client_max_size``): a larger
body is refused with 413 before it is buffered. Like the Kafka front, this module calls only the
broker core (``logbroker.broker``); it never imports the Kafka front.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from logbroker.broker import Broker
from logbroker.groups import GroupCoordinator
from logbroker.http.errors import Handler, error_middleware
from logbroker.http.metrics import HttpMetrics
from logbroker.http.partitioner import RoundRobin
from logbroker.metrics import RequestLatencies

if TYPE_CHECKING:
    from logbroker.http.routes_consumers import AssignmentController

log = logging.getLogger(__name__)

# Largest wait a long-polling read may ask for, in ms (Kafka's fetch.max.wait.ms is usually 500).
MAX_WAIT_MS = 30_000


@dataclass(slots=True)
class HttpContext:
    """What the routes need: the broker core and the front's own state."""

    broker: Broker
    metrics: HttpMetrics = field(default_factory=HttpMetrics)
    round_robin: RoundRobin = field(default_factory=RoundRobin)
    coordinator: GroupCoordinator | None = None  # group routes answer 503 without one
    controller: AssignmentController | None = None  # broker-assigned (HTTP member) routes answer 503 without one
    kafka_stats: Callable[[], Mapping[str, int]] | None = None  # the Kafka listener's counters
    kafka_latency: RequestLatencies | None = None  # Kafka request latency per API, recorded by the dispatcher
    http_connections: Callable[[], int] | None = None
    clock: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)


CONTEXT: web.AppKey[HttpContext] = web.AppKey("logbroker_context", HttpContext)


def context(request: web.Request) -> HttpContext:
    return request.app[CONTEXT]


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request by its route template (``/topics/{topic}``), not by its concrete path."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        info = request.match_info
        route = info.route.resource.canonical if info.route.resource is not None else "unmatched"
        request.app[CONTEXT].metrics.observe(route, request.method, status, time.perf_counter() - started)


def build_app(ctx: HttpContext) -> web.Application:
    from logbroker.http import routes_consumers, routes_groups, routes_ops, routes_records, routes_topics

    max_body = ctx.broker.config.get_int("socket.request.max.bytes")
    app = web.Application(client_max_size=max_body, middlewares=[metrics_middleware, error_middleware])
    app[CONTEXT] = ctx
    routes_topics.add_routes(app)
    routes_records.add_routes(app)
    routes_groups.add_routes(app)
    routes_consumers.add_routes(app)
    routes_ops.add_routes(app)
    return app


class _ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's connection-level log: a malformed request (bad header bytes, bad request line) is the
    client's error, answered 400 by aiohttp before any route runs; log it as one line, not a traceback."""

    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            context = str(msg) % args if args else str(msg)
            self.info("malformed HTTP request refused (%s): %s", context, " ".join(str(exc_info).split()))
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)


class HttpServer:
    """The HTTP listener: start on a host/port, stop in one call."""

    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
        self.app = build_app(ctx)
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._address is not None, "the server is not started"
        return self._address

    async def start(self, host: str, port: int) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               logger=cast(logging.Logger, _ServerLog(log, {})))
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        server = runner.server
        if server is not None and self.ctx.http_connections is None:
            self.ctx.http_connections = lambda: len(server.connections)
        sockets = runner.addresses
        bound = sockets[0] if sockets else (host, port)
        self._address = (str(bound[0]), int(bound[1]))

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
