"""The HTTP front: an aiohttp application over the broker core, and its listener.

``build_app`` assembles the route tables (one ``web.RouteTableDef`` per ``routes_*`` module: topics,
records, groups, group members, operations), the shared state (``context.py``: typed ``AppKey``s),
the error middleware (``errors.py``: one mapping from exceptions to statuses) and the metrics
middleware (latency per route). ``HttpServer`` runs it on ``--http-listen`` with an
``AppRunner``/``TCPSite``. Imports point one way: this module imports the routes modules, they
import ``context.py``, never this module.

Request bodies are bounded by ``socket.request.max.bytes`` (aiohttp's ``client_max_size``): a larger
body is refused with 413 before it is buffered. Like the Kafka front, this module calls only the
broker core (``logbroker.broker``); it never imports the Kafka front.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from logbroker.http import (
    routes_auth,
    routes_console,
    routes_consumers,
    routes_group_configs,
    routes_groups,
    routes_ops,
    routes_records,
    routes_share,
    routes_stats,
    routes_topics,
)
from logbroker.http.auth import AUTH, HttpAuth, auth_middleware
from logbroker.http.context import METRICS, HttpContext, install
from logbroker.http.errors import Handler, error_middleware
from logbroker.http.forwarding import forwarding_middleware, install_forwarding

__all__ = ["HttpContext", "HttpServer", "build_app"]

log = logging.getLogger(__name__)


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
        request.app[METRICS].observe(route, request.method, status, time.perf_counter() - started)


def build_app(ctx: HttpContext) -> web.Application:
    max_body = ctx.broker.config.get_int("socket.request.max.bytes")
    app = web.Application(client_max_size=max_body,
                          middlewares=[metrics_middleware, error_middleware, auth_middleware,
                                       forwarding_middleware])
    install(app, ctx)
    install_forwarding(app)
    broker = ctx.broker
    app[AUTH] = HttpAuth.from_config(broker.config, lambda: broker.credentials, broker.password_checks,
                                     broker.data_dir, lambda: broker.token_revocations)
    app.add_routes(routes_auth.routes)
    for module in (routes_topics, routes_records, routes_groups, routes_group_configs, routes_consumers, routes_share,
                   routes_ops):
        app.add_routes(module.routes)
    app.add_routes(routes_stats.routes)
    app.add_routes(routes_console.routes)
    routes_stats.install_history(app)
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

    def __init__(self, ctx: HttpContext, *, tls: ssl.SSLContext | None = None) -> None:
        self.ctx = ctx
        self.app = build_app(ctx)
        # TLS on the HTTP listener (logbroker.http.ssl.enable): the context App built from the
        # logbroker.http.ssl.* settings (else the broker-wide ssl.* ones) before anything started.
        self.tls = tls
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
        site = web.TCPSite(runner, host, port, ssl_context=self.tls)
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
