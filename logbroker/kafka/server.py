"""The Kafka listener's transport: framing, pipelining, backpressure and zero-copy responses.

It knows nothing of Kafka APIs. Each connection reads size-prefixed frames, hands every frame to a
``RequestHandler`` (one task per request, created in arrival order so their synchronous prefixes,
e.g. appends, run in arrival order) and writes the responses strictly in request order, as Kafka
requires. Requests are received with ``recv_into`` straight into the ``FrameReader``'s buffers
(reused through the listener's ``BufferCache``), so a frame reaches its handler as a writable view of
the bytes the kernel wrote, never copied. Responses that are ready when one is written go out in the
same send. A connection yields the event loop after each share of bytes or requests it received
(``_FAIR_SHARE_BYTES``), so busy connections take turns: a producer pipelining megabytes cannot make
a consumer's fetch wait behind all of it.

A response is a list of chunks. A bytes-like chunk is written with ``socket.send``; a ``FilePart``
(anything with ``fileno``, ``position`` and ``length``) is sent with ``os.sendfile`` straight from the
segment file, so fetched record bytes never pass through Python. Both go through the raw
non-blocking socket, waiting for writability with ``loop.add_writer``; this works the same under the
default loop and uvloop (whose ``loop.sendfile`` would fall back to copying).

Memory is bounded three ways:

- a frame above ``max_frame_bytes`` (``socket.request.max.bytes``) is refused from its 4-byte size,
  before a buffer is sized for it, and a frame's buffer grows with the bytes that arrive, never with
  the size the peer declares (``FrameReader``); an idle connection holds no buffer;
- every byte read is granted by one ``RequestMemoryPool`` shared by all connections
  (``queued.max.request.bytes``) and given back when its request is answered or its connection
  closes; while the pool is empty connections stop reading (the kernel's socket buffers, then the
  clients' sends, absorb the wait), so peers that open requests and never finish them cannot make
  the broker allocate, only wait;
- a connection stops reading while the frames it has in flight exceed ``max_inflight_bytes``
  (backpressure: the client's sends block until the disk catches up).

One sweeper task closes connections whose request has not completed ``request_timeout_s`` after its
first byte arrived (a slow or stalled sender holds pool bytes; time the broker itself held reading
up does not count) and connections idle for ``idle_timeout_s`` (Kafka's ``connections.max.idle.ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from logbroker.kafka.errors import FrameTooLarge
from logbroker.kafka.frame_reader import FrameReader
from logbroker.kafka.memory_pool import RequestMemoryPool
from logbroker.kafka.recv_buffers import BufferCache

log = logging.getLogger(__name__)

# File bytes read per TLS write when a fetch response cannot use sendfile (one pread into a buffer
# taken from the listener's cache, one encryption); the connection yields the loop between slices.
_TLS_FILE_CHUNK = 1024 * 1024
_TLS_HANDSHAKE_TIMEOUT_S = 10.0
T = TypeVar("T")
# Byte chunks of ready responses joined into one send; larger ones go out on their own, uncopied.
_JOIN_BYTES = 64 * 1024
# At most this many ready responses are gathered before a send.
_COALESCE = 256
# A connection's reader yields the event loop once it has received this many bytes or started this
# many requests since it last did: a pipelining producer then cannot queue megabytes of appends
# ahead of other connections' requests (a consumer's fetch waits at most one such share per busy
# connection, not the whole backlog of a producer's in-flight window).
_FAIR_SHARE_BYTES = 256 * 1024
_FAIR_SHARE_REQUESTS = 32


@runtime_checkable
class FilePart(Protocol):
    """A byte range of an open file, sent with ``os.sendfile``."""

    @property
    def fileno(self) -> int: ...

    @property
    def position(self) -> int: ...

    @property
    def length(self) -> int: ...


# A response chunk: bytes-like, or a FilePart (anything else is a programming error). Typed as
# object so any codec's chunk type fits; ``_send_chunks`` checks at run time.
Chunk = object


class ListenError(OSError):
    """A listener could not be opened; the message names the address and what it was for."""

    def __init__(self, host: str, port: int, what: str, cause: OSError) -> None:
        reason = cause.strerror or str(cause)
        super().__init__(cause.errno, f"cannot listen on {host}:{port} for {what}: {reason}")
        self.host, self.port = host, port

    def __str__(self) -> str:
        return str(self.strerror)


def open_listener(host: str, port: int, what: str) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port`` (connections wait in the backlog until
    accepted). Raises ``ListenError`` naming the address when it cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ListenError(host, port, what, exc) from exc
    family, type_, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ListenError(host, port, what, exc) from exc
    sock.setblocking(False)
    return sock


class CloseConnection(Exception):
    """Raised by a handler to close the connection after writing the responses before it."""


class CloseAfterResponse(Exception):
    """Raised by a handler to write ``chunks`` (its response) and then close the connection, as
    Kafka does after a failed authentication."""

    def __init__(self, reason: str, chunks: Sequence[Chunk]) -> None:
        super().__init__(reason)
        self.chunks = chunks


class RequestHandler(Protocol):
    def __call__(self, frame: memoryview, conn: ConnectionInfo, /) -> Awaitable[Sequence[Chunk] | None]: ...


@dataclass(slots=True)
class ConnectionInfo:
    peer: str
    conn_id: int
    tls: bool = False
    # The verified client certificate (``SSLSocket.getpeercert()``) on a TLS listener, else None.
    peer_cert: dict[str, Any] | None = None
    # The request handler's own per-connection state (authentication), opaque to the transport.
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ServerStats:
    connections_total: int = 0
    connections_open: int = 0
    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    refused_frames: int = 0
    request_timeouts: int = 0  # connections closed because a request did not complete in time
    idle_closes: int = 0  # connections closed after connections.max.idle.ms without traffic
    memory_waits: int = 0  # reads that waited for queued.max.request.bytes to free up
    request_bytes_queued: int = 0  # bytes of partial and unanswered requests held right now
    receive_buffers_allocated: int = 0  # receive buffers allocated (a fresh buffer costs page faults)
    receive_buffers_reused: int = 0  # receive buffers taken again from the listener's cache


class KafkaServer:
    """Accepts connections and runs one ``_Connection`` per client."""

    def __init__(self, handler: RequestHandler, *, max_frame_bytes: int, max_inflight_bytes: int,
                 idle_timeout_s: float | None = None, max_queued_request_bytes: int = -1,
                 request_timeout_s: float | None = None, tls: ssl.SSLContext | None = None,
                 pool: RequestMemoryPool | None = None, name: str = "Kafka clients") -> None:
        self._handler = handler
        self.tls = tls
        self.name = name
        self._max_frame = max_frame_bytes
        self._max_inflight = max_inflight_bytes
        self._idle_timeout = idle_timeout_s
        self._request_timeout = request_timeout_s
        # One pool may be shared by several listeners: queued.max.request.bytes bounds them all.
        self.pool = pool if pool is not None else RequestMemoryPool(max_queued_request_bytes)
        self.buffers = BufferCache()
        self._listener: socket.socket | None = None
        self._accept_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._connections: set[_Connection] = set()
        self._next_id = 0
        self.stats = ServerStats()

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None
        addr = self._listener.getsockname()
        return str(addr[0]), int(addr[1])

    async def start(self, host: str, port: int, *, listener: socket.socket | None = None) -> None:
        """Start accepting on ``listener`` (from ``open_listener``), or on a socket bound here."""
        self._listener = listener if listener is not None else open_listener(host, port, self.name)
        self._accept_task = asyncio.create_task(self._accept_loop(), name="kafka-accept")
        timeouts = [t for t in (self._request_timeout, self._idle_timeout) if t is not None]
        if timeouts:
            # Deadlines are checked a few times per shortest timeout, at most once a second.
            interval = min(1.0, max(0.01, min(timeouts) / 4))
            self._sweep_task = asyncio.create_task(self._sweep_loop(interval), name="kafka-deadlines")

    async def _sweep_loop(self, interval_s: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval_s)
            self.close_overdue(loop.time())

    def close_overdue(self, now: float) -> None:
        """Close connections whose request is past its deadline or that have been idle too long."""
        request_timeout, idle_timeout = self._request_timeout, self._idle_timeout
        self.stats.request_bytes_queued = self.pool.used
        self.stats.receive_buffers_allocated = self.buffers.allocated
        self.stats.receive_buffers_reused = self.buffers.reused
        for conn in list(self._connections):
            started = conn.frame_started
            if (request_timeout is not None and started is not None and not conn.held_up
                    and now - started > request_timeout):
                self.stats.request_timeouts += 1
                log.warning("closing connection %s: request incomplete after %.0f ms (%d bytes received, "
                            "%s declared)", conn.info.peer, (now - started) * 1000, conn.partial_bytes,
                            conn.declared_size)
                conn.abort()
            elif (idle_timeout is not None and started is None and conn.idle
                  and now - conn.last_active > idle_timeout):
                self.stats.idle_closes += 1
                log.info("closing idle connection %s", conn.info.peer)
                conn.abort()

    async def _accept_loop(self) -> None:
        assert self._listener is not None
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, addr = await loop.sock_accept(self._listener)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.05)
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._next_id += 1
            peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
            conn = _Connection(self, sock, ConnectionInfo(peer=peer, conn_id=self._next_id, tls=self.tls is not None))
            self._connections.add(conn)
            self.stats.connections_total += 1
            self.stats.connections_open += 1
            conn.task = asyncio.create_task(conn.run(), name=f"kafka-conn-{self._next_id}")

    def _forget(self, conn: _Connection) -> None:
        if conn in self._connections:
            self._connections.discard(conn)
            self.stats.connections_open -= 1

    async def stop_accepting(self) -> None:
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep_task
            self._sweep_task = None
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
            self._accept_task = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish (up to ``grace_s``), then close connections."""
        await self.stop_accepting()
        conns = list(self._connections)
        for conn in conns:
            conn.stop_reading()
        tasks = [c.task for c in conns if c.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for t in pending:
                t.cancel()
            for t in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t


class _Connection:
    def __init__(self, server: KafkaServer, sock: socket.socket, info: ConnectionInfo) -> None:
        self.server = server
        self.sock = sock
        self.info = info
        self.task: asyncio.Task[None] | None = None
        # Requests in arrival order (None: no more), and a flag raised when one is added.
        self._responses: deque[tuple[asyncio.Future[Sequence[Chunk] | None], int] | None] = deque()
        self._queued = asyncio.Event()
        self._inflight = 0
        self._can_read = asyncio.Event()
        self._can_read.set()
        self._reading = True
        self._reader: asyncio.Task[None] | None = None
        self._framer = FrameReader(server._max_frame, server.buffers)
        # Bytes this connection holds from the pool: its partial frame plus unanswered requests.
        self._charged = 0
        # When the first byte of the request being received arrived (loop time), None between requests.
        self.frame_started: float | None = None
        self.last_active = asyncio.get_running_loop().time()
        self.held_up = False  # reading is paused by the broker (memory pool or in-flight bound)
        # Received bytes and started requests since the reader last yielded the loop (fairness).
        self._since_yield_bytes = 0
        self._since_yield_requests = 0

    @property
    def partial_bytes(self) -> int:
        return self._framer.buffered

    @property
    def declared_size(self) -> int | None:
        return self._framer.pending_frame_size

    @property
    def idle(self) -> bool:
        """No request being received or answered."""
        return self._inflight == 0 and self._framer.buffered == 0

    def stop_reading(self) -> None:
        self._reading = False
        if self._reader is not None:
            self._reader.cancel()

    def abort(self) -> None:
        """Close now, dropping unanswered requests (a deadline passed)."""
        self._reading = False
        if self.task is not None:
            self.task.cancel()


    async def _tls_handshake(self, context: ssl.SSLContext) -> bool:
        """Wrap the socket in TLS and complete the handshake (bounded in time); False on failure,
        logged with the peer and the reason (plaintext on a TLS port, an untrusted or expired
        client certificate, ...)."""
        tls_sock = context.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
        self.sock = tls_sock

        async def handshake() -> None:
            while True:
                try:
                    tls_sock.do_handshake()
                    return
                except ssl.SSLWantReadError:
                    await self._wait_fd(write=False)
                except ssl.SSLWantWriteError:
                    await self._wait_fd(write=True)

        try:
            await asyncio.wait_for(handshake(), _TLS_HANDSHAKE_TIMEOUT_S)
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            log.warning("TLS handshake with %s failed: %s", self.info.peer, reason)
            return False
        cert = tls_sock.getpeercert()
        self.info.peer_cert = dict(cert) if cert else None
        return True

    async def run(self) -> None:
        if self.server.tls is not None and not await self._tls_handshake(self.server.tls):
            self.sock.close()
            self.server._forget(self)
            return
        log.debug("connection %s opened (#%d)", self.info.peer, self.info.conn_id)
        self._reader = asyncio.create_task(self._read_loop())
        try:
            await self._write_loop()
        except (ConnectionError, OSError) as exc:
            log.debug("connection %s: %s", self.info.peer, exc)
        except Exception:
            log.exception("connection %s: unexpected error; closing it", self.info.peer)
        finally:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            while self._responses:
                item = self._responses.popleft()
                if item is not None:
                    item[0].cancel()
            self.sock.close()
            self.server.pool.release(self._charged)
            self._charged = 0
            self.server._forget(self)
            log.debug("connection %s closed (#%d)", self.info.peer, self.info.conn_id)

    async def _recv(self) -> int:
        """Read what the socket has into the frame reader's buffer, at most what the memory pool
        grants; the number of bytes read, 0 at end of stream. HOT PATH: the kernel writes the
        bytes where the frames will be handed on from, nothing copies them."""
        pool = self.server.pool
        framer = self._framer
        tls = self.info.tls
        while True:
            target = framer.read_buffer()
            wanted = len(target)
            granted = pool.try_acquire(wanted)
            if not granted:
                del target  # hold no view of the buffer while waiting (it may be given back meanwhile)
                granted = await self._paused(pool.acquire(wanted))
                target = framer.read_buffer()
                if granted > len(target):
                    pool.release(granted - len(target))
                    granted = len(target)
            try:
                n = self.sock.recv_into(target, granted)
                if tls and 0 < n < granted:
                    n = self._recv_rest_tls(target, n, granted)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                pool.release(granted)
                if not self._inflight:
                    framer.release()  # idle: hold no buffer while waiting
                del target
                self._since_yield_bytes = self._since_yield_requests = 0
                await self._wait_readable()
                continue
            except ssl.SSLWantWriteError:
                pool.release(granted)
                await self._wait_writable()
                continue
            except BaseException:
                pool.release(granted)
                raise
            pool.release(granted - n)
            self._charged += n
            return n

    def _recv_rest_tls(self, target: memoryview, have: int, granted: int) -> int:
        """After a TLS read of ``have`` bytes, decrypt every further record already received into
        ``target``, up to ``granted`` bytes in all; the bytes now in ``target``. A TLS read returns
        at most one record (16 KiB): without this, each record would cost a turn of the read loop
        (memory pool, frame reader, fairness accounting), which took more broker CPU than the
        decryption itself on a TLS produce. The read that finds nothing more (``SSLWantReadError``)
        is the one the next call would have made anyway."""
        sock = self.sock
        while have < granted:
            try:
                n = sock.recv_into(target[have:], granted - have)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            if not n:
                break  # end of stream: the next read reports it
            have += n
        return have

    async def _paused(self, wait: Awaitable[T]) -> T:
        """Await ``wait`` while the broker, not the peer, holds reading up: the request deadline
        does not run meanwhile (a client is not closed for the broker's own backpressure)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.held_up = True
        try:
            return await wait
        finally:
            self.held_up = False
            if self.frame_started is not None:
                self.frame_started += loop.time() - start

    async def _wait_readable(self) -> None:
        await self._wait_fd(write=False)

    async def _wait_fd(self, *, write: bool) -> None:
        """Until the socket is writable (``write``) or readable, through the loop's fd watchers."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        fd = self.sock.fileno()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        if write:
            loop.add_writer(fd, ready)
        else:
            loop.add_reader(fd, ready)
        try:
            await fut
        finally:
            if write:
                loop.remove_writer(fd)
            else:
                loop.remove_reader(fd)

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        framer = self._framer
        server = self.server
        stats = server.stats
        pool = server.pool
        try:
            while self._reading:
                if self._inflight > server._max_inflight:
                    self._can_read.clear()
                    await self._paused(self._can_read.wait())
                    continue
                if self._since_yield_bytes >= _FAIR_SHARE_BYTES:
                    await self._yield_turn()
                waits = pool.waits
                n = await self._recv()
                if pool.waits != waits:
                    stats.memory_waits += pool.waits - waits
                stats.request_bytes_queued = pool.used
                if not n:
                    break
                self._since_yield_bytes += n
                stats.bytes_in += n
                now = self.last_active = loop.time()
                try:
                    frames = framer.commit(n)
                except FrameTooLarge as exc:
                    stats.refused_frames += 1
                    log.warning("closing connection %s: %s", self.info.peer, exc)
                    break
                if not framer.buffered:
                    self.frame_started = None
                elif frames or self.frame_started is None:
                    self.frame_started = now
                if frames:
                    await self._start_requests(frames)
                    del frames  # no view of the receive buffer outlives its request
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError) as exc:
            log.debug("connection %s read: %s", self.info.peer, exc)
        finally:
            self._responses.append(None)
            self._queued.set()

    async def _start_requests(self, frames: list[memoryview]) -> None:
        """One handler task per frame, in arrival order."""
        stats = self.server.stats
        handler = self.server._handler
        max_inflight = self.server._max_inflight
        for frame in frames:
            # Backpressure per request: frames already received wait here (at most one
            # receive's worth) until the responses ahead of them are written.
            while self._inflight > max_inflight:
                self._can_read.clear()
                await self._paused(self._can_read.wait())
            stats.requests += 1
            size = len(frame) + 4
            self._inflight += size
            self._responses.append((asyncio.ensure_future(handler(frame, self.info)), size))
            self._queued.set()
            self._since_yield_requests += 1
            if self._since_yield_requests >= _FAIR_SHARE_REQUESTS or self._since_yield_bytes >= _FAIR_SHARE_BYTES:
                await self._yield_turn()

    async def _yield_turn(self) -> None:
        """Let the requests just started run their synchronous part (the append) and other
        connections take their turn before this one reads or starts more (round robin over busy
        connections, as Kafka's request queue serves them; see ``_FAIR_SHARE_BYTES``)."""
        self._since_yield_bytes = 0
        self._since_yield_requests = 0
        await asyncio.sleep(0)

    async def _write_loop(self) -> None:
        """Answer in request order; responses already computed when one is written go out in the
        same send (a pipelining client gets one write per batch of ready answers, not one each)."""
        loop = asyncio.get_running_loop()
        responses = self._responses
        out: list[Chunk] = []
        # Bytes of requests answered since the pool was last given them back: returned once per
        # batch, always before this loop waits for anything.
        answered = 0
        try:
            while True:
                if not responses:
                    answered = self._give_back(answered)
                    if out:
                        await self._send_chunks(out)
                        out = []
                        continue
                    self._queued.clear()
                    await self._queued.wait()
                    continue
                item = responses[0]
                if item is None:
                    break
                task, size = item
                if not task.done() or len(out) >= _COALESCE:
                    answered = self._give_back(answered)
                    if out:
                        await self._send_chunks(out)
                        out = []
                try:
                    chunks = await task
                except CloseConnection as exc:
                    log.info("closing connection %s: %s", self.info.peer, exc)
                    break
                except CloseAfterResponse as exc:
                    log.info("closing connection %s: %s", self.info.peer, exc)
                    out.extend(exc.chunks)
                    break
                except Exception:
                    # A handler failed (a bug): the answers before it still go out, then the
                    # connection closes.
                    answered = self._give_back(answered)
                    if out:
                        await self._send_chunks(out)
                    raise
                finally:
                    responses.popleft()
                    self._inflight -= size
                    self._charged -= size
                    answered += size
                if chunks:
                    out.extend(chunks)
                if not self._inflight:
                    self.last_active = loop.time()
                    self._framer.release()  # nothing in flight: an idle connection holds no buffer
        finally:
            self._give_back(answered)
        if out:
            await self._send_chunks(out)

    def _give_back(self, answered: int) -> int:
        """Return answered requests' bytes to the pool and let reading resume; returns 0."""
        if answered:
            self.server.pool.release(answered)
            if self._inflight <= self.server._max_inflight:
                self._can_read.set()
        return 0

    async def _send_chunks(self, chunks: Sequence[Chunk]) -> None:
        pending: list[bytes | bytearray | memoryview] = []
        for chunk in chunks:
            if isinstance(chunk, (bytes, bytearray, memoryview)):
                if len(chunk) < _JOIN_BYTES:
                    pending.append(chunk)
                    continue
                if pending:
                    await self._send_bytes(b"".join(pending) if len(pending) > 1 else pending[0])
                    pending = []
                await self._send_bytes(chunk)
                continue
            if pending:
                await self._send_bytes(b"".join(pending) if len(pending) > 1 else pending[0])
                pending = []
            if not isinstance(chunk, FilePart):
                raise TypeError(f"cannot send a {type(chunk).__name__} response chunk")
            await self._send_file(chunk)
        if pending:
            await self._send_bytes(b"".join(pending) if len(pending) > 1 else pending[0])

    async def _wait_writable(self) -> None:
        await self._wait_fd(write=True)

    async def _send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        stats = self.server.stats
        while view:
            try:
                n = self.sock.send(view)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                await self._wait_writable()
                continue
            except ssl.SSLWantReadError:
                await self._wait_readable()
                continue
            stats.bytes_out += n
            view = view[n:]

    async def _send_file(self, part: FilePart) -> None:
        """Send a file range with os.sendfile (zero-copy). HOT PATH of Fetch."""
        if self.info.tls:
            await self._send_file_tls(part)
            return
        out = self.sock.fileno()
        offset = part.position
        remaining = part.length
        stats = self.server.stats
        while remaining > 0:
            try:
                n = os.sendfile(out, part.fileno, offset, remaining)
            except (BlockingIOError, InterruptedError):
                await self._wait_writable()
                continue
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    await self._wait_writable()
                    continue
                raise
            if n == 0:
                # The file shrank under us (truncation or deletion): the frame size already sent
                # cannot be honoured, so the only safe move is to drop the connection.
                raise ConnectionError(f"segment file ended {remaining} bytes early during sendfile")
            stats.bytes_out += n
            offset += n
            remaining -= n


    async def _send_file_tls(self, part: FilePart) -> None:
        """Send a file range through TLS. HOT PATH of Fetch on a TLS listener.

        ``sendfile`` cannot encrypt, so the range is read in slices of ``_TLS_FILE_CHUNK`` (``preadv``
        into a buffer from the listener's cache, reused across fetches and connections) and each slice
        is written as a view of that buffer: one copy and one encryption per slice, never per record.
        Between slices the connection yields the loop, so a 32 MiB fetch never holds up the others.
        """
        offset, remaining = part.position, part.length
        buffers = self.server.buffers
        buffer = buffers.take(min(remaining, _TLS_FILE_CHUNK))
        assert buffer is not None
        view = memoryview(buffer)
        try:
            while remaining > 0:
                n = os.preadv(part.fileno, [view[: min(remaining, _TLS_FILE_CHUNK, len(buffer))]], offset)
                if n == 0:
                    raise ConnectionError(f"segment file ended {remaining} bytes early during a TLS fetch")
                await self._send_bytes(view[:n])
                offset += n
                remaining -= n
                if remaining > 0:
                    await asyncio.sleep(0)
        finally:
            # A slice may outlive this on an error (a traceback holds it): the cache reuses the buffer
            # only once no view of it is alive.
            with contextlib.suppress(BufferError):
                view.release()
            buffers.give(buffer)
