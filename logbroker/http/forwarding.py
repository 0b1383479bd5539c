"""Group requests made to a broker that does not coordinate the group go to the one that does.

In a cluster a group's coordinator is the leader of its ``__consumer_offsets`` partition (share
groups too). The HTTP routes of one group (``/groups/{group}/...``, ``/share-groups/{group}/...``)
reach a broker that is not it: this middleware sends the request on to the coordinator's HTTP API
(its base URL from its broker registration) and answers with what that broker answered, so the HTTP
API and the console work against any broker. A request is forwarded once at most (the
``X-Logbroker-Forwarded-By`` header). Whenever a request cannot be sent on (it was forwarded here
already and leadership moved meanwhile; the coordinator is not known here yet, no leader or no URL;
or it did not answer) and this broker does not coordinate the group, the middleware answers 503
NOT_COORDINATOR, as Kafka answers a group request at the wrong broker, and the client retries: no
route serves a group another broker coordinates (served here, a join made a member the coordinator
never knew). The one exception is a coordinator asking for this broker's own part of an answer
(``ask_brokers``). Credentials (Authorization, cookies) go along: the coordinator checks them again.

A listing of every group (``GET /groups``) is gathered instead: the broker asked lists its own
groups and asks every other live broker for theirs (``gather``), as Kafka's admin client answers
ListGroups by asking every broker; one that does not answer makes the listing 503, as the admin
client's ``all()`` fails then.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web

from logbroker.errors import StorageError
from logbroker.groups.schema import OFFSETS_TOPIC
from logbroker.http.context import context
from logbroker.http.errors import Handler, HttpError

log = logging.getLogger(__name__)

FORWARDED_BY = "X-Logbroker-Forwarded-By"
OWN_PART = "X-Logbroker-Own-Part"  # answer with what this broker holds, not the whole (never forwarded)
GROUP_ROUTES = ("/groups/{group}", "/share-groups/{group}")
TIMEOUT_S = 75  # above the longest poll a route lets a client ask for (30 s)
# Hop-by-hop and framing headers: aiohttp sets its own on each leg.
_NOT_COPIED = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive",
                         "upgrade", "te", "trailer", "proxy-authorization", "proxy-connection"})

SESSION: web.AppKey[list[aiohttp.ClientSession]] = web.AppKey("logbroker_forwarding_session", list)


def install_forwarding(app: web.Application) -> None:
    """One client session per application, opened on first use and closed with the application."""
    app[SESSION] = []

    async def close(app: web.Application) -> None:
        for session in app[SESSION]:
            await session.close()
        app[SESSION].clear()

    app.on_cleanup.append(close)


def _group_of(request: web.Request) -> str | None:
    route = request.match_info.route.resource
    canonical = route.canonical if route is not None else ""
    if not any(canonical == prefix or canonical.startswith(prefix + "/") for prefix in GROUP_ROUTES):
        return None
    return request.match_info.get("group")


async def _coordinator_url(request: web.Request, group: str) -> str | None:
    ctx = context(request)
    coordinator = ctx.coordinator
    if coordinator is None or coordinator.owns(group):
        return None
    if not ctx.broker.has_topic(OFFSETS_TOPIC):
        try:
            await coordinator.ensure_offsets_topic()  # as FindCoordinator does: the first group creates it
        except (StorageError, OSError) as exc:
            log.info("cannot create %s for group %s: %s", OFFSETS_TOPIC, group, exc)
            return None
    return ctx.broker.leader_http_url(OFFSETS_TOPIC, coordinator.partition_of(group))


def _session(request: web.Request) -> aiohttp.ClientSession:
    sessions = request.app[SESSION]
    if not sessions:
        sessions.append(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
                                              auto_decompress=False))
    return sessions[0]


def _headers(request: web.Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_COPIED}
    headers[FORWARDED_BY] = str(context(request).broker.node_id)
    return headers


def forwarded(request: web.Request) -> bool:
    """The request came from another broker (answer it from this broker alone)."""
    return FORWARDED_BY in request.headers


async def gather(request: web.Request) -> list[Any]:
    """The same GET (path and query) answered by every other live broker of the cluster, as JSON
    documents (empty without a cluster). Credentials go along and each broker checks them.
    Raises HttpError 503 when a broker does not answer, or not with 200."""
    broker = context(request).broker
    ownership = broker.ownership
    if ownership is None or forwarded(request):
        return []
    others = [b.broker_id for b in ownership.live_brokers() if b.broker_id != broker.node_id]
    headers = _headers(request)
    headers["Accept"] = "application/json"
    session = _session(request)

    async def ask(broker_id: int) -> Any:
        base = ownership.http_url(broker_id)
        if base is None:
            raise HttpError(503, "BROKER_NOT_AVAILABLE", f"broker {broker_id} has no HTTP API registered yet; retry")
        try:
            async with session.get(base.rstrip("/") + request.rel_url.path_qs, headers=headers,
                                   allow_redirects=False) as answer:
                if answer.status != 200:
                    raise HttpError(503, "BROKER_NOT_AVAILABLE",
                                    f"broker {broker_id} answered {answer.status}: {(await answer.text())[:200]}")
                return await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("HTTP %s: broker %d at %s did not answer (%s)", request.path, broker_id, base, exc)
            raise HttpError(503, "BROKER_NOT_AVAILABLE", f"broker {broker_id} did not answer; retry") from None

    return list(await asyncio.gather(*(ask(i) for i in others)))


def asked_for_own_part(request: web.Request) -> bool:
    """The request comes from a broker gathering each broker's own part of an answer (``ask_brokers``)."""
    return OWN_PART in request.headers


async def ask_brokers(request: web.Request, path: str, broker_ids: list[int]) -> dict[int, Any]:
    """``GET path`` answered by each of ``broker_ids`` from itself (marked forwarded and
    ``OWN_PART``; credentials along): per broker its JSON document, None for a 404, or the error
    text why it could not be asked. Empty without a cluster, or when this request is itself such a
    question."""
    broker = context(request).broker
    ownership = broker.ownership
    if ownership is None or asked_for_own_part(request):
        return {}
    headers = _headers(request)
    headers["Accept"] = "application/json"
    headers[OWN_PART] = "1"
    session = _session(request)

    async def ask(broker_id: int) -> Any:
        base = ownership.http_url(broker_id)
        if base is None:
            return f"broker {broker_id} has no HTTP API registered yet"
        try:
            async with session.get(base.rstrip("/") + path, headers=headers, allow_redirects=False) as answer:
                if answer.status == 404:
                    return None
                if answer.status != 200:
                    return f"broker {broker_id} answered {answer.status}"
                return await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("HTTP %s: broker %d at %s did not answer (%s)", path, broker_id, base, exc)
            return f"broker {broker_id} did not answer"

    wanted = sorted(set(broker_ids) - {broker.node_id})
    return dict(zip(wanted, await asyncio.gather(*(ask(i) for i in wanted)), strict=True))


def _refuse_unless_coordinating(request: web.Request, group: str) -> None:
    coordinator = context(request).coordinator
    if coordinator is not None and not coordinator.owns(group):
        raise HttpError(503, "NOT_COORDINATOR", f"this broker does not coordinate group {group!r}, and the request "
                                                f"could not be sent to the one that does (not known here yet, or "
                                                f"not answering); retry")


@web.middleware
async def forwarding_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    group = _group_of(request)
    if group is None or asked_for_own_part(request):
        return await handler(request)
    if FORWARDED_BY not in request.headers:
        base = await _coordinator_url(request, group)
        if base is not None:
            answer = await _forward(request, group, base)
            if answer is not None:
                return answer
    _refuse_unless_coordinating(request, group)
    return await handler(request)


async def _forward(request: web.Request, group: str, base: str) -> web.Response | None:
    """The coordinator's answer to the request; None when it did not answer."""
    headers = _headers(request)
    body = await request.read() if request.can_read_body else None
    url = base.rstrip("/") + request.rel_url.path_qs
    try:
        async with _session(request).request(request.method, url, headers=headers, data=body,
                                       allow_redirects=False) as answer:
            payload = await answer.read()
            out = web.Response(status=answer.status, body=payload)
            for name, value in answer.headers.items():
                if name.lower() not in _NOT_COPIED and name.lower() not in ("date", "server"):
                    out.headers.add(name, value)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.info("HTTP %s %s: the coordinator of group %s at %s did not answer (%s)", request.method,
                 request.path, group, base, exc)
        return None
    log.debug("HTTP %s %s forwarded to the coordinator of group %s at %s: %d", request.method, request.path,
              group, base, answer.status)
    return out
