"""One long-lived connection from this broker to each other broker, for the questions the HTTP
views ask of partition leaders (ListOffsets, DescribeLogDirs) and what else asks another broker on
behalf of a client.

A connection is opened on first use, secured as the inter-broker listener is (TLS and/or SASL,
``broker_connection.py``), and then kept: every question to that broker travels on it. Requests are
pipelined: each is written as soon as it is asked (under the connection's write lock) and its
answer is matched by correlation id by one reader task per connection, so concurrent HTTP requests
share the connection without waiting for one another's round trips (a Kafka broker answers a
connection's requests in order). Each request has its own time limit; a request that runs out of
time is answered ``TimeoutError`` and its late answer, if any, is dropped.

A connection that fails (refused, closed, an unreadable frame, an authentication refused) is dropped
with every request in flight on it failed; the next request opens a new one, but only after Kafka's
reconnect backoff (``reconnect.backoff.ms`` doubling up to ``reconnect.backoff.max.ms``, 20% jitter,
``backoff.py``): meanwhile requests to that broker fail at once (``PeerUnavailable``) rather than
each waiting out a connect timeout. A SASL session due for renewal (KIP-368) is not renewed in
place, since other requests may be in flight on it: new requests go to a fresh connection and the
old one is closed once its last answer arrived. ``close`` (at shutdown) closes every connection
and fails what is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from logbroker.cluster.backoff import ReconnectBackoff
from logbroker.cluster.broker_connection import (
    BrokerConnection,
    InterBrokerAuthenticationFailed,
    InterBrokerSecurity,
    connect,
)
from logbroker.kafka import codec
from logbroker.kafka.errors import ProtocolError

log = logging.getLogger(__name__)

_SIZE = struct.Struct(">i")
_CORRELATION = struct.Struct(">i")
# What a failed connection raises to the requests in flight on it.
CONNECTION_ERRORS = (OSError, ProtocolError, asyncio.IncompleteReadError, TimeoutError,
                     InterBrokerAuthenticationFailed)


class PeerUnavailable(ConnectionError):
    """The broker could not be reached lately; not tried again before its backoff ends."""


@dataclass(slots=True)
class _Link:
    """One open connection with its requests in flight (correlation id -> future, api, version)."""

    conn: BrokerConnection
    pending: dict[int, tuple[asyncio.Future[dict[str, Any]], int, int]] = field(default_factory=dict)
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: asyncio.Task[None] | None = None
    retiring: bool = False  # no new requests: closed once ``pending`` is empty


@dataclass(slots=True)
class _Peer:
    backoff: ReconnectBackoff
    link: _Link | None = None
    connecting: asyncio.Future[_Link] | None = None
    retry_at: float = 0.0  # monotonic seconds: no new connection before
    failure: str | None = None  # the last failure, as logged (None: connected or never failed)


class PeerConnections:
    def __init__(self, address: Callable[[int], tuple[str, int] | None],
                 security: Callable[[], InterBrokerSecurity | None], client_id: str, *,
                 backoff_ms: int = 50, backoff_max_ms: int = 1000) -> None:
        self._address = address  # a broker id's inter-broker address (None: not registered)
        self._security = security
        self.client_id = client_id
        self._backoff = (backoff_ms, backoff_max_ms)
        self._peers: dict[int, _Peer] = {}
        self._closed = False

    async def request(self, broker_id: int, api_key: int, version: int, body: dict[str, Any],
                      timeout_s: float) -> dict[str, Any]:
        """Send one request to ``broker_id`` and return its answer's body, within ``timeout_s`` in
        all (connecting included). Raises ``PeerUnavailable`` (in backoff, or not registered),
        ``TimeoutError``, or what the connection failed with (``CONNECTION_ERRORS``)."""
        if self._closed:
            raise PeerUnavailable("the broker is shutting down")
        async with asyncio.timeout(timeout_s):
            link = await self._link(broker_id)
            return await self._send(link, api_key, version, body)

    async def close(self) -> None:
        """Close every connection; requests in flight fail with ConnectionError."""
        self._closed = True
        for peer in self._peers.values():
            if peer.connecting is not None and not peer.connecting.done():
                peer.connecting.cancel()
            if peer.link is not None:
                await self._drop(peer.link, ConnectionError("the broker is shutting down"))
                peer.link = None
        self._peers.clear()

    # ------------------------------------------------------------------ connections
    async def _link(self, broker_id: int) -> _Link:
        peer = self._peers.get(broker_id)
        if peer is None:
            peer = self._peers[broker_id] = _Peer(ReconnectBackoff(*self._backoff))
        link = peer.link
        if link is not None and link.conn.reauth_due and not link.retiring:
            link.retiring = True  # KIP-368: a fresh connection authenticates anew; this one drains
            peer.link = None
            if not link.pending:
                self._close_idle(link)
            link = None
        if link is not None:
            return link
        if peer.connecting is None:
            wait = peer.retry_at - time.monotonic()
            if wait > 0:
                raise PeerUnavailable(f"broker {broker_id} could not be reached ({peer.failure}); "
                                      f"trying again in {wait * 1000:.0f} ms")
            peer.connecting = asyncio.ensure_future(self._open(broker_id, peer))
        try:
            return await asyncio.shield(peer.connecting)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and task is not None and not task.cancelling():
                # close() cancelled the shared connect, not this request's caller.
                raise PeerUnavailable("the broker is shutting down") from None
            raise

    async def _open(self, broker_id: int, peer: _Peer) -> _Link:
        try:
            address = self._address(broker_id)
            if address is None:
                raise PeerUnavailable(f"broker {broker_id} is not registered")
            conn = await connect(address, self._security(), self.client_id)
        except (*CONNECTION_ERRORS, PeerUnavailable) as exc:
            peer.connecting = None
            self._failed(broker_id, peer, exc)
            raise
        peer.connecting = None
        if self._closed:
            conn.close()
            raise PeerUnavailable("the broker is shutting down")
        if peer.failure is not None:
            log.info("connection to broker %d for %s restored", broker_id, self.client_id)
        peer.failure = None
        peer.backoff.succeeded()
        link = _Link(conn)
        link.reader = asyncio.create_task(self._read(broker_id, peer, link), name=f"peer-{broker_id}-reader")
        peer.link = link
        return link

    def _failed(self, broker_id: int, peer: _Peer, exc: BaseException) -> None:
        what = str(exc) or type(exc).__name__
        if what != peer.failure:  # logged when a failure starts or changes, not at every attempt
            level = logging.ERROR if isinstance(exc, InterBrokerAuthenticationFailed) else logging.INFO
            log.log(level, "connection to broker %d for %s failed: %s", broker_id, self.client_id, what)
        peer.failure = what
        peer.retry_at = time.monotonic() + peer.backoff.next_wait_s()

    async def _send(self, link: _Link, api_key: int, version: int, body: dict[str, Any]) -> dict[str, Any]:
        conn = link.conn
        conn.correlation += 1
        correlation = conn.correlation
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        link.pending[correlation] = (fut, api_key, version)
        try:
            async with link.write_lock:
                conn.writer.write(codec.encode_request(api_key, version, correlation, self.client_id, body))
                await conn.writer.drain()
            return await fut
        finally:
            link.pending.pop(correlation, None)  # a request out of time: its late answer is dropped

    async def _read(self, broker_id: int, peer: _Peer, link: _Link) -> None:
        reader = link.conn.reader
        failure: BaseException
        try:
            while True:
                size = _SIZE.unpack(await reader.readexactly(4))[0]
                frame = await reader.readexactly(size)
                correlation = _CORRELATION.unpack_from(frame, 0)[0] if size >= 4 else -1
                waiting = link.pending.pop(correlation, None)
                if waiting is not None:
                    fut, api_key, version = waiting
                    if not fut.done():
                        try:
                            fut.set_result(dict(codec.decode_response(frame, api_key, version).body))
                        except ProtocolError as exc:
                            fut.set_exception(exc)
                if link.retiring and not link.pending:
                    failure = ConnectionError("connection retired")
                    break
        except asyncio.CancelledError:
            raise
        except (OSError, ProtocolError, asyncio.IncompleteReadError) as exc:
            failure = exc
            if not link.retiring:
                self._failed(broker_id, peer, exc)
        if peer.link is link:
            peer.link = None
        self._fail_pending(link, failure)
        link.conn.close()

    @staticmethod
    def _close_idle(link: _Link) -> None:
        if link.reader is not None:
            link.reader.cancel()
        link.conn.close()

    @staticmethod
    def _fail_pending(link: _Link, exc: BaseException) -> None:
        for fut, _, _ in list(link.pending.values()):
            if not fut.done():
                fut.set_exception(ConnectionError(f"connection lost: {str(exc) or type(exc).__name__}"))
        link.pending.clear()

    async def _drop(self, link: _Link, exc: BaseException) -> None:
        self._fail_pending(link, exc)
        if link.reader is not None:
            link.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link.reader
        link.conn.close()
