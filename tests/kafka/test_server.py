"""The Kafka transport on its own: ordering, backpressure, oversized frames, file parts (sendfile)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from logbroker.kafka.server import Chunk, ConnectionInfo, KafkaServer


@dataclass(frozen=True)
class Part:
    fileno: int
    position: int
    length: int


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


async def read_frames(reader: asyncio.StreamReader, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        size = struct.unpack(">i", await reader.readexactly(4))[0]
        out.append(await reader.readexactly(size))
    return out


def test_responses_follow_request_order_even_when_handlers_finish_out_of_order() -> None:
    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        n = int(bytes(data))
        await asyncio.sleep(0.002 * (20 - n))  # later requests finish first
        return [frame(b"r%d" % n)]

    async def main() -> list[bytes]:
        server = KafkaServer(handler, max_frame_bytes=1024, max_inflight_bytes=1 << 20)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(b"".join(frame(b"%d" % i) for i in range(20)))
        got = await read_frames(reader, 20)
        writer.close()
        await server.close()
        return got

    assert asyncio.run(main()) == [b"r%d" % i for i in range(20)]


def test_reading_pauses_while_inflight_bytes_exceed_the_cap() -> None:
    started = 0
    release = asyncio.Event()

    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        nonlocal started
        started += 1
        await release.wait()
        return [frame(b"ok")]

    async def main() -> tuple[int, int]:
        # Each request is 1004 bytes on the wire; the cap admits about 3 before reading pauses.
        server = KafkaServer(handler, max_frame_bytes=4096, max_inflight_bytes=3000)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(b"".join(frame(b"x" * 1000) for _ in range(50)))
        await asyncio.sleep(0.3)
        while_blocked = started
        release.set()
        got = await read_frames(reader, 50)
        writer.close()
        await server.close()
        return while_blocked, len(got)

    while_blocked, answered = asyncio.run(main())
    assert 1 <= while_blocked <= 4, while_blocked
    assert answered == 50


def test_oversized_frame_is_refused_before_its_body_and_others_keep_working() -> None:
    calls = 0

    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        nonlocal calls
        calls += 1
        return [frame(b"ok")]

    async def main() -> bytes:
        server = KafkaServer(handler, max_frame_bytes=100, max_inflight_bytes=1 << 20)
        await server.start("127.0.0.1", 0)
        r1, w1 = await asyncio.open_connection(*server.address)
        w1.write(struct.pack(">i", 1_000_000))  # no body follows: refused from the size alone
        assert await r1.read(10) == b""
        r2, w2 = await asyncio.open_connection(*server.address)
        w2.write(frame(b"hello"))
        got = (await read_frames(r2, 1))[0]
        w1.close()
        w2.close()
        assert server.stats.refused_frames == 1
        await server.close()
        return got

    assert asyncio.run(main()) == b"ok"
    assert calls == 1


def test_file_parts_are_sent_with_sendfile(tmp_path: Path) -> None:
    path = tmp_path / "segment"
    content = os.urandom(3 * 1024 * 1024)
    path.write_bytes(content)
    fd = os.open(path, os.O_RDONLY)

    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        body = content[100 : 100 + 2_000_000]
        return [struct.pack(">i", len(body) + 2), b"hd", Part(fd, 100, 2_000_000)]

    async def main() -> bytes:
        server = KafkaServer(handler, max_frame_bytes=100, max_inflight_bytes=1 << 20)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(frame(b"fetch"))
        got = (await read_frames(reader, 1))[0]
        writer.close()
        await server.close()
        return got

    try:
        got = asyncio.run(main())
    finally:
        os.close(fd)
    assert got[:2] == b"hd" and got[2:] == content[100 : 100 + 2_000_000]


def test_server_listens_only_where_told() -> None:
    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        return []

    async def main() -> tuple[str, int]:
        server = KafkaServer(handler, max_frame_bytes=100, max_inflight_bytes=100)
        await server.start("127.0.0.1", 0)
        address = server.address
        await server.close()
        return address

    host, port = asyncio.run(main())
    assert host == "127.0.0.1" and port > 0
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # closed after close()


def test_a_declared_size_costs_nothing_until_its_bytes_arrive_and_a_stalled_request_is_closed() -> None:
    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        return [frame(b"ok")]

    async def main() -> tuple[int, int, bytes, bytes]:
        server = KafkaServer(handler, max_frame_bytes=100 << 20, max_inflight_bytes=1 << 20,
                             max_queued_request_bytes=(100 << 20) + 4, request_timeout_s=0.3)
        await server.start("127.0.0.1", 0)
        r1, w1 = await asyncio.open_connection(*server.address)
        w1.write(struct.pack(">i", 100 << 20) + b"12345")  # claims 100 MiB, sends 5 bytes
        await asyncio.sleep(0.1)
        held = server.pool.used
        r2, w2 = await asyncio.open_connection(*server.address)
        w2.write(frame(b"hello"))
        other = (await read_frames(r2, 1))[0]
        closed = await asyncio.wait_for(r1.read(10), 3)  # EOF once the deadline passes
        after = server.pool.used
        assert server.stats.request_timeouts == 1
        w1.close()
        w2.close()
        await server.close()
        return held, after, other, closed

    held, after, other, closed = asyncio.run(main())
    assert held == 9, held
    assert other == b"ok" and closed == b""
    assert after == 0


def test_reading_waits_while_the_shared_request_memory_is_exhausted() -> None:
    release = asyncio.Event()
    peak = 0

    async def main() -> tuple[int, int]:
        server: KafkaServer

        async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
            nonlocal peak
            peak = max(peak, server.pool.used)
            await release.wait()
            return [frame(b"ok")]

        # Three connections of 10 requests of 1004 bytes; the pool holds about 4 requests at once.
        server = KafkaServer(handler, max_frame_bytes=2000, max_inflight_bytes=1 << 20,
                             max_queued_request_bytes=4100)
        await server.start("127.0.0.1", 0)
        conns = [await asyncio.open_connection(*server.address) for _ in range(3)]
        for _, w in conns:
            w.write(b"".join(frame(b"x" * 1000) for _ in range(10)))
        await asyncio.sleep(0.3)
        held = server.pool.used
        release.set()
        answered = 0
        for r, w in conns:
            answered += len(await read_frames(r, 10))
            w.close()
        assert server.stats.memory_waits > 0
        await server.close()
        return held, answered

    held, answered = asyncio.run(main())
    assert held <= 4100 and peak <= 4100, (held, peak)
    assert answered == 30


def test_idle_connections_are_closed() -> None:
    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        return [frame(b"ok")]

    async def main() -> bytes:
        server = KafkaServer(handler, max_frame_bytes=100, max_inflight_bytes=1 << 20, idle_timeout_s=0.2)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(frame(b"hi"))
        await read_frames(reader, 1)
        got = await asyncio.wait_for(reader.read(10), 3)
        assert server.stats.idle_closes == 1
        writer.close()
        await server.close()
        return got

    assert asyncio.run(main()) == b""


def test_the_request_deadline_does_not_run_while_the_broker_holds_reading_up() -> None:
    async def main() -> int:
        async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
            await asyncio.sleep(0.8)  # slower than the request deadline
            return [frame(b"ok")]

        # The pool holds two requests and part of a third: that part waits for the pool, not the peer.
        server = KafkaServer(handler, max_frame_bytes=2000, max_inflight_bytes=1 << 20,
                             max_queued_request_bytes=2500, request_timeout_s=0.3)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(b"".join(frame(b"x" * 1000) for _ in range(5)))
        got = await asyncio.wait_for(read_frames(reader, 5), 10)
        assert server.stats.request_timeouts == 0
        writer.close()
        await server.close()
        return len(got)

    assert asyncio.run(main()) == 5


def test_requests_split_across_reads_are_answered_and_an_idle_connection_holds_no_buffer() -> None:
    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        return [frame(bytes(data[:8]) + str(len(data)).encode())]

    async def main() -> tuple[list[bytes], int, int]:
        server = KafkaServer(handler, max_frame_bytes=4 << 20, max_inflight_bytes=64 << 20)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address)
        bodies = [b"a" * 10, b"b" * 300_000, b"c" * 5, b"d" * 2_000_000, b"e" * 70_000]
        wire = b"".join(frame(b) for b in bodies)
        for i in range(0, len(wire), 99_991):  # pieces that cut sizes and bodies anywhere
            writer.write(wire[i : i + 99_991])
            await writer.drain()
        got = await asyncio.wait_for(read_frames(reader, len(bodies)), 10)
        await asyncio.sleep(0.05)
        [conn] = list(server._connections)
        held = conn._framer.capacity
        queued = server.pool.used
        writer.close()
        await server.close()
        return got, held, queued

    got, held, queued = asyncio.run(main())
    assert got == [b"aaaaaaaa10", b"bbbbbbbb300000", b"ccccc5", b"dddddddd2000000", b"eeeeeeee70000"]
    assert held == 0 and queued == 0


def test_answers_ready_before_a_failing_handler_are_sent_then_the_connection_closes() -> None:
    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        if bytes(data) == b"boom":
            raise RuntimeError("handler bug")
        return [frame(bytes(data))]

    async def main() -> tuple[list[bytes], bytes]:
        server = KafkaServer(handler, max_frame_bytes=100, max_inflight_bytes=1 << 20)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address)
        writer.write(frame(b"one") + frame(b"two") + frame(b"boom") + frame(b"four"))
        got = await asyncio.wait_for(read_frames(reader, 2), 5)
        rest = await asyncio.wait_for(reader.read(100), 5)
        writer.close()
        await server.close()
        return got, rest

    got, rest = asyncio.run(main())
    assert got == [b"one", b"two"] and rest == b""


def test_a_pipelining_producer_does_not_queue_its_whole_window_ahead_of_another_connection() -> None:
    # 64 requests of 64 KiB pipelined on one connection, each costing 2 ms of loop time (an
    # append's synchronous part); a small request on a second connection, sent once the first
    # big one is handled, must be handled after a few of them, not after every one already read.
    handled: list[str] = []
    first_big = asyncio.Event()

    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        if len(data) > 100:
            time.sleep(0.002)
            handled.append("big")
            first_big.set()
        else:
            handled.append("small")
        return [frame(b"ok")]

    def send_all(sock: socket.socket, payload: bytes) -> None:
        sock.sendall(payload)

    async def main() -> None:
        server = KafkaServer(handler, max_frame_bytes=1 << 20, max_inflight_bytes=64 << 20)
        await server.start("127.0.0.1", 0)
        big = socket.create_connection(server.address)
        small = socket.create_connection(server.address)
        payload = b"".join(frame(b"b" * (64 * 1024)) for _ in range(64))
        sender = threading.Thread(target=send_all, args=(big, payload))
        sender.start()
        await first_big.wait()
        await asyncio.to_thread(send_all, small, frame(b"s"))
        await asyncio.to_thread(sender.join)
        while len(handled) < 65:
            await asyncio.sleep(0.01)
        big.close()
        small.close()
        await server.close()

    asyncio.run(main())
    assert handled.index("small") < 24, handled.index("small")


def test_a_large_file_part_over_tls_goes_out_whole_in_slices_while_other_connections_are_served(
        tmp_path: Path) -> None:
    from tests.tls_material import make_material

    material = make_material(tmp_path / "certs")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(material.server.both))
    client_ctx = ssl.create_default_context(cafile=str(material.ca.cert_path))
    data = os.urandom(3 * 1024 * 1024 + 12345)  # more than two slices, not a multiple of one
    path = tmp_path / "segment.log"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    start, length = 1000, len(data) - 1500

    async def handler(frame_: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        if bytes(frame_) == b"big":
            return [struct.pack(">i", length), Part(fd, start, length)]
        return [frame(b"small")]

    async def main() -> tuple[bytes, bytes]:
        server = KafkaServer(handler, max_frame_bytes=1024, max_inflight_bytes=1 << 20, tls=server_ctx)
        await server.start("127.0.0.1", 0)
        big_r, big_w = await asyncio.open_connection(*server.address, ssl=client_ctx, server_hostname="localhost")
        small_r, small_w = await asyncio.open_connection(*server.address, ssl=client_ctx,
                                                         server_hostname="localhost")
        big_w.write(frame(b"big"))
        await asyncio.sleep(0.05)  # the big answer is being written (the client is not reading yet)
        small_w.write(frame(b"s"))
        small = (await read_frames(small_r, 1))[0]
        big = (await read_frames(big_r, 1))[0]
        for w in (big_w, small_w):
            w.close()
        await server.close()
        return big, small

    try:
        big, small = asyncio.run(main())
    finally:
        os.close(fd)
    assert small == b"small"
    assert big == data[start:start + length]


def _tls_contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    from tests.tls_material import make_material

    material = make_material(tmp_path / "certs")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(material.server.both))
    return server_ctx, ssl.create_default_context(cafile=str(material.ca.cert_path))


def test_pipelined_requests_spanning_many_tls_records_arrive_whole_and_in_order(tmp_path: Path) -> None:
    # A TLS read hands over one record (16 KiB) at a time; the connection keeps reading the records
    # already received into the same buffer. Sizes straddle record and buffer boundaries.
    server_ctx, client_ctx = _tls_contexts(tmp_path)
    payloads = [os.urandom(n) for n in (300_000, 17, 1_000_000, 16_384, 16_385, 70_000, 5)]

    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        assert conn.tls
        return [frame(hashlib.sha256(data).digest() + struct.pack(">i", len(data)))]

    async def main() -> tuple[list[bytes], int]:
        server = KafkaServer(handler, max_frame_bytes=2 << 20, max_inflight_bytes=4 << 20, tls=server_ctx)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address, ssl=client_ctx, server_hostname="localhost")
        writer.write(b"".join(frame(p) for p in payloads))
        answers = await asyncio.wait_for(read_frames(reader, len(payloads)), 30)
        writer.close()
        await server.close()
        return answers, server.pool.used

    answers, held = asyncio.run(main())
    assert answers == [hashlib.sha256(p).digest() + struct.pack(">i", len(p)) for p in payloads]
    assert held == 0


@pytest.mark.parametrize("close", ["close_notify", "abort"])
def test_a_tls_peer_closing_in_the_middle_of_a_request_frees_what_it_sent(tmp_path: Path, close: str) -> None:
    # The peer sends part of a large request (many TLS records), then closes: with a close_notify
    # alert, or dropping the TCP connection without one. The broker closes its side, never runs the
    # request and gives its bytes back to the memory pool.
    server_ctx, client_ctx = _tls_contexts(tmp_path)
    handled: list[int] = []

    async def handler(data: memoryview, conn: ConnectionInfo) -> Sequence[Chunk]:
        handled.append(len(data))
        return [frame(b"ok")]

    async def main() -> tuple[int, int, int]:
        server = KafkaServer(handler, max_frame_bytes=2 << 20, max_inflight_bytes=4 << 20, tls=server_ctx)
        await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.address, ssl=client_ctx, server_hostname="localhost")
        writer.write(frame(b"first"))
        assert await asyncio.wait_for(read_frames(reader, 1), 30) == [b"ok"]
        writer.write(struct.pack(">i", 900_000) + os.urandom(400_000))
        await writer.drain()
        deadline = time.monotonic() + 30
        while server.stats.bytes_in < 4 + 5 + 4 + 400_000 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        received = server.stats.bytes_in
        if close == "abort":
            writer.transport.abort()
        else:
            writer.close()
        while server.stats.connections_open and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        open_after, held = server.stats.connections_open, server.pool.used
        await server.close()
        return received, open_after, held

    received, open_after, held = asyncio.run(main())
    assert received == 4 + 5 + 4 + 400_000
    assert open_after == 0
    assert held == 0
    assert handled == [5]
