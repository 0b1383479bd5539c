"""Kafka API handlers, one module per API family.

A handler is ``async def handle(ctx: RequestContext, body: dict) -> dict | None``: it takes the
decoded request body (snake_case keys, as the codec produces them) and returns the response body,
or None when no response is due (Produce with acks=0). Fields a version does not carry are ignored
by the encoder, so a handler fills every field of the newest version it serves.

Ordering contract: the server creates handler tasks in request order; a handler must do its
order-sensitive work (appends) before its first ``await`` so appends happen in arrival order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from logbroker.broker import Broker
from logbroker.security.principal import ANONYMOUS, Principal

if TYPE_CHECKING:
    from logbroker.groups import GroupCoordinator
    from logbroker.kafka.fetch_sessions import FetchSessionCache


@dataclass(frozen=True, slots=True)
class RequestContext:
    broker: Broker
    api_version: int
    client_id: str | None
    peer: str
    advertised_host: str
    advertised_port: int
    coordinator: GroupCoordinator | None = None  # every group (classic and KIP-848) and committed offsets
    fetch_sessions: FetchSessionCache | None = None  # incremental fetch sessions (KIP-227)
    principal: Principal = ANONYMOUS  # who the connection authenticated as
    listener: str | None = None  # the listener the request came in on (Metadata answers its addresses)


Body = dict[str, Any]
Handler = Callable[[RequestContext, Body], Awaitable[Body | None]]
